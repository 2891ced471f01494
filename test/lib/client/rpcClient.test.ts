import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { createRpcClient, rpcClientFromProperties, type RpcClient } from '../../../lib/client/rpcClient.js';
import { avroSource } from '../../../lib/sources/avroSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../../support/net.js';

interface Served {
  sink: RecordingSink;
  port: number;
  counters: () => Record<string, number>;
  kill(): void;
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A real rxflume avroSource → memory channel → recording sink, on `port` (0: any); `direct`: no channel, the source answers when the sink acks. */
async function serve(port = 0, direct = false): Promise<Served> {
  const l = listening();
  const source = avroSource({ bind: '127.0.0.1', port, onListening: l.onListening });
  const sink = recordingSink();
  const subscription: Subscription = (direct ? source : source.pipe(memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }))).subscribe(sink);
  cleanup.push(() => subscription.unsubscribe());
  return { sink, port: await l.port, counters: () => metricsOf(source)!.snapshot(), kill: () => subscription.unsubscribe() };
}

function client(options: Parameters<typeof createRpcClient>[0]): RpcClient {
  const c = createRpcClient({ connectTimeoutMs: 2000, requestTimeoutMs: 2000, reconnectBackoffMs: 50, maxReconnectBackoffMs: 200, ...options });
  cleanup.push(() => c.close());
  return c;
}

const events = (n: number, tag = 'e', from = 0): FlumeEvent[] => Array.from({ length: n }, (_, i) => event(`${tag}${from + i}`, { i: String(from + i), tag }));
const bodies = (s: { sink: RecordingSink }): string[] => s.sink.events.map((e) => e.body.toString());
const counters = (c: RpcClient): Record<string, number> => metricsOf(c)!.snapshot();

describe('createRpcClient (default)', () => {
  it('append and appendBatch deliver events with their headers; a list is split into batchSize calls', async () => {
    const s = await serve();
    const c = client({ hosts: [`127.0.0.1:${s.port}`], batchSize: 10 });
    await c.append(event('one', { a: '1' }));
    await c.appendBatch(events(25));
    expect(bodies(s)).toEqual(['one', ...events(25).map((e) => e.body.toString())]);
    expect(s.sink.events[0]!.headers).toEqual({ a: '1' });
    expect(s.sink.events[5]!.headers).toEqual({ i: '4', tag: 'e' });
    expect(s.counters()).toMatchObject({ AppendReceivedCount: 1, AppendBatchReceivedCount: 3 });
    expect(counters(c)).toMatchObject({ EventDrainAttemptCount: 26, EventDrainSuccessCount: 26, BatchCompleteCount: 2, ConnectionCreatedCount: 1 });
    expect(c.isActive()).toBe(true);
    await c.close();
    expect(c.isActive()).toBe(false);
    await expect(c.append(event('late'))).rejects.toMatchObject({ code: 'FLUME_CLIENT_FAILED', retriable: false });
  });

  it('deflate: speaks to a source with compressionType deflate; close releases the connection', async () => {
    const l = listening();
    const sink = recordingSink();
    const source = avroSource({ bind: '127.0.0.1', port: 0, compressionType: 'deflate', onListening: l.onListening });
    const subscription = source.pipe(memoryChannel()).subscribe(sink);
    cleanup.push(() => subscription.unsubscribe());
    const c = client({ hosts: [`127.0.0.1:${await l.port}`], compressionType: 'deflate', compressionLevel: 9 });
    await c.appendBatch(events(50, 'z'));
    expect(sink.events.map((e) => e.body.toString())).toEqual(events(50, 'z').map((e) => e.body.toString()));
    expect(metricsOf(source)!.snapshot().OpenConnectionCount).toBe(1);
    await c.close();
    await waitFor(() => metricsOf(source)!.snapshot().OpenConnectionCount === 0, 'the connection closed');
    expect(counters(c)).toMatchObject({ ConnectionCreatedCount: 1, ConnectionClosedCount: 1 });
  });

  it('keeps call order when calls are not awaited one by one', async () => {
    const s = await serve();
    const c = client({ hosts: [`127.0.0.1:${s.port}`], batchSize: 3 });
    await Promise.all(Array.from({ length: 20 }, (_, k) => c.appendBatch(events(5, 'p', k * 5))));
    expect(bodies(s)).toEqual(events(100, 'p').map((e) => e.body.toString()));
  });

  it('rejects with a retriable FLUME_CLIENT_FAILED when nothing listens, and is inactive during the reconnect back-off', async () => {
    const s = await serve();
    s.kill();
    const c = client({ hosts: [`127.0.0.1:${s.port}`], reconnectBackoffMs: 60_000, maxReconnectBackoffMs: 60_000 });
    await expect(c.append(event('x'))).rejects.toMatchObject({ code: 'FLUME_CLIENT_FAILED', retriable: true });
    expect(c.isActive()).toBe(false);
    expect(counters(c)).toMatchObject({ ConnectionFailedCount: 1, EventWriteFail: 1 });
  });

  it('fails a call after requestTimeoutMs without an answer, and a connection after connectTimeoutMs without a handshake', async () => {
    const s = await serve(0, true);
    s.sink.hold = true; // the source answers once its sink acked: never, here
    const c = client({ hosts: [`127.0.0.1:${s.port}`], requestTimeoutMs: 300 });
    await expect(c.appendBatch(events(2))).rejects.toThrow(/no answer within 300 ms/);
    expect(counters(c)).toMatchObject({ ConnectionClosedCount: 1 });

    const accepted: Socket[] = [];
    const mute: Server = createServer((socket) => accepted.push(socket.on('error', () => undefined)));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    cleanup.push(() => {
      for (const socket of accepted) socket.destroy();
      return new Promise((r) => mute.close(r));
    });
    const c2 = client({ hosts: [`127.0.0.1:${(mute.address() as { port: number }).port}`], connectTimeoutMs: 300 });
    await expect(c2.append(event('x'))).rejects.toThrow(/no connection and handshake within 300 ms/);
  });
});

describe('createRpcClient (failover)', () => {
  it('stays on a host until it fails, then takes the next in host order without failing back (FailoverRpcClient); every event arrives', async () => {
    const [a, b, cc] = [await serve(), await serve(), await serve()];
    // No reconnect back-off: a host that is back is connectable at once, so only the order decides.
    const c = client({ type: 'failover', hosts: [a, b, cc].map((s) => `127.0.0.1:${s.port}`), batchSize: 4, reconnectBackoffMs: 0 });
    for (let k = 0; k < 5; k++) await c.appendBatch(events(10, 'x', k * 10));
    expect(bodies(a)).toHaveLength(50);

    // Killed while calls are under way: none is lost (a call cut off may arrive twice).
    const sending = Array.from({ length: 10 }, (_, k) => c.appendBatch(events(10, 'x', 50 + k * 10)));
    await sending[2]; // calls 0-2 answered by a; a later one is in flight, the rest are queued
    a.kill();
    await Promise.all(sending);
    expect(new Set([...bodies(a), ...bodies(b)])).toEqual(new Set(events(150, 'x').map((e) => e.body.toString())));
    expect(bodies(cc)).toEqual([]);
    expect(bodies(b).length).toBeGreaterThanOrEqual(60);

    // a comes back: Flume's failover client does not fail back; when b dies it goes on to c, after b.
    const a2 = await serve(a.port);
    await c.appendBatch(events(3, 'y'));
    expect(bodies(b).slice(-3)).toEqual(['y0', 'y1', 'y2']);
    b.kill();
    await c.appendBatch(events(3, 'z'));
    expect(bodies(cc)).toEqual(['z0', 'z1', 'z2']);
    expect(bodies(a2)).toEqual([]);
  });

  it('fails after maxAttempts hosts', async () => {
    const [a, b] = [await serve(), await serve()];
    const c = client({ type: 'failover', hosts: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], maxAttempts: 1 });
    await c.append(event('first'));
    a.kill();
    await expect(c.append(event('second'))).rejects.toMatchObject({ code: 'FLUME_CLIENT_FAILED', message: /tried 1 host/ });
    await c.append(event('third'));
    expect(bodies(b)).toEqual(['third']);
  });
});

describe('createRpcClient (loadBalance)', () => {
  it('round_robin spreads calls over the hosts in turn', async () => {
    const [a, b, cc] = [await serve(), await serve(), await serve()];
    const c = client({ type: 'loadBalance', hosts: [a, b, cc].map((s) => `127.0.0.1:${s.port}`) });
    for (let k = 0; k < 9; k++) await c.append(event(`r${k}`));
    expect(bodies(a)).toEqual(['r0', 'r3', 'r6']);
    expect(bodies(b)).toEqual(['r1', 'r4', 'r7']);
    expect(bodies(cc)).toEqual(['r2', 'r5', 'r8']);
  });

  it('a dead host passes its call on at once; with backoff it is left out afterwards, without backoff it is tried again', async () => {
    for (const backoff of [true, false]) {
      const [a, b] = [await serve(), await serve()];
      const c = client({ type: 'loadBalance', hosts: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], backoff });
      b.kill();
      for (let k = 0; k < 8; k++) await c.append(event(`d${k}`));
      expect(bodies(a)).toEqual(Array.from({ length: 8 }, (_, k) => `d${k}`));
      // Calls 2, 4, 6, 8 start at b: without backoff each moves on to a; with it only the first does.
      expect(counters(c).FailoverCount).toBe(backoff ? 1 : 4);
    }
  });

  it('fails when every host is down', async () => {
    const [a, b] = [await serve(), await serve()];
    a.kill();
    b.kill();
    const c = client({ type: 'loadBalance', hosts: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
    await expect(c.appendBatch(events(2))).rejects.toMatchObject({ code: 'FLUME_CLIENT_FAILED', message: /unable to send to any host/ });
  });
});

describe('options', () => {
  it('bad options name the option and the value', () => {
    const bad = (o: unknown) => () => createRpcClient(o as Parameters<typeof createRpcClient>[0]);
    expect(bad({ hosts: ['nohost'] })).toThrow(ConfigError);
    expect(bad({ hosts: ['nohost'] })).toThrow(/rpcClient\.hosts\.0: .*'host:port'.*"nohost"/);
    expect(bad({ hosts: ['h:1'], batchSize: 0 })).toThrow(/rpcClient\.batchSize.*0/);
    expect(bad({ hosts: ['h:1', 'h:2'] })).toThrow(/rpcClient\.hosts: expected one host for type 'default'/);
    expect(bad({ hosts: ['h:1'], type: 'loadBalance' })).toThrow(/at least two hosts/);
    expect(bad({ hosts: ['h:1'], type: 'roundabout' })).toThrow(/rpcClient\.type.*"roundabout"/);
    expect(bad({ hosts: ['h:1'], truststore: '/x.jks' })).toThrow(/rpcClient\.truststore.*PEM CA/);
    expect(bad({ hosts: ['h:1'], hots: [] })).toThrow(/rpcClient\.hots/);
  });

  it("reads Flume's client properties", async () => {
    const [a, b] = [await serve(), await serve()];
    const c = rpcClientFromProperties({
      'client.type': 'default_loadbalance',
      hosts: 'h1 h2 unset',
      'hosts.h1': `127.0.0.1:${a.port}`,
      'hosts.h2': `127.0.0.1:${b.port}`,
      'batch-size': '2',
      'host-selector': 'ROUND_ROBIN',
      backoff: 'true',
      maxBackoff: '0',
      'request-timeout': '5000',
    });
    cleanup.push(() => c.close());
    expect(c.batchSize).toBe(2);
    await c.appendBatch(events(3));
    await c.appendBatch(events(1, 'f'));
    expect(bodies(a)).toEqual(['e0', 'e1', 'e2']);
    expect(a.counters()).toMatchObject({ AppendBatchReceivedCount: 2 });
    expect(bodies(b)).toEqual(['f0']);
    expect(() => rpcClientFromProperties({ hosts: 'h1', 'hosts.h1': 'x:1', 'client.type': 'thrift' })).toThrow(/rpcClient\.client\.type.*"thrift"/);
    expect(() => rpcClientFromProperties({ hosts: 'h1', 'hosts.h1': 'x:1', 'bacth-size': '5' })).toThrow(/rpcClient\.bacth-size.*batch-size/);
    expect(() => rpcClientFromProperties({ hosts: 'h1', 'hosts.h1': 'x:1', 'connect-timeout': 'soon' })).toThrow(/rpcClient\.connectTimeoutMs/);
  });
});
