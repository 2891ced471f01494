import { afterEach, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import avro from 'avsc';
import { Subject, type Subscription } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { avroSink } from '../../../lib/sinks/avroSink.js';
import { FrameDecoder, encodeFrame } from '../../../lib/avro/frames.js';
import { AVRO_SOURCE_PROTOCOL } from '../../../lib/avro/rpc.js';
import { avroSource, type AvroSourceOptions } from '../../../lib/sources/avroSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, sleep, waitFor } from '../../support/net.js';

const subscriptions: Subscription[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

function start(options: Partial<AvroSourceOptions> = {}, channel = memoryChannel({ capacity: 20_000, transactionCapacity: 1000 })) {
  const l = listening();
  const source = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscriptions.push(source.pipe(channel).subscribe(sink));
  return { sink, port: l.port, counters: metricsOf(source)! };
}

/** Sends `events` through avroSink in channel batches of `per`, resolving once all were acked. */
async function sendAll(sink: ReturnType<typeof avroSink>, events: readonly FlumeEvent[], per = 1000): Promise<void> {
  for (let i = 0; i < events.length; i += per) {
    await new Promise<void>((resolve, reject) => sink.next(createBatch(events.slice(i, i + per), { onAck: resolve, onNack: reject })));
  }
}

/** A raw TCP client: what the server answered, and whether it closed the connection. */
async function raw(port: number): Promise<{ socket: Socket; data: () => Buffer; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => Buffer.concat(chunks), closed };
}

const HASH = createHash('md5').update(AVRO_SOURCE_PROTOCOL).digest();
const HANDSHAKE = Buffer.concat([HASH, Buffer.from([0]), HASH, Buffer.from([0])]);

describe('avroSource', () => {
  it("uses Flume's protocol text, whose MD5 is the one Java's AvroSourceProtocol hashes", () => {
    expect(Buffer.byteLength(AVRO_SOURCE_PROTOCOL)).toBe(1334);
    expect(HASH.toString('hex')).toBe('86aadae2c45474c0fe93ffd0f2350a65');
  });

  it('round-trips 10k events with every header and body from avroSink', async () => {
    const { sink, port, counters } = start();
    const events: FlumeEvent[] = Array.from({ length: 10_000 }, (_, i) => ({
      headers: i % 7 === 0 ? {} : { n: String(i), host: `h${i % 13}`, 'ü-key': 'välüe ✓', ...(i % 11 === 0 ? { ['__proto__']: 'x' } : {}) },
      body: i % 5 === 0 ? Buffer.alloc(0) : i % 3 === 0 ? Buffer.from([0, 255, i & 0xff, 10, 13]) : Buffer.from(`event ${i}`),
    }));
    // __proto__ as a plain key (the literal above would set the prototype).
    for (let i = 0; i < events.length; i += 11) {
      if (i % 7) Object.defineProperty(events[i]!.headers, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
    }
    const out = avroSink({ hostname: '127.0.0.1', port: await port, batchSize: 250 });
    await sendAll(out, events);
    out.complete();
    await out.closed;
    await waitFor(() => sink.events.length === events.length, '10k events');
    for (let i = 0; i < events.length; i++) {
      expect(sink.events[i]!.body.equals(events[i]!.body), `body ${i}`).toBe(true);
      expect({ ...sink.events[i]!.headers }, `headers ${i}`).toEqual({ ...events[i]!.headers });
      expect(Object.keys(sink.events[i]!.headers)).toEqual(Object.keys(events[i]!.headers));
    }
    expect(counters.get('AppendBatchReceivedCount')).toBe(40);
    expect(counters.get('AppendBatchAcceptedCount')).toBe(40);
    expect(counters.get('EventReceivedCount')).toBe(10_000);
    expect(counters.get('EventAcceptedCount')).toBe(10_000);
    expect(counters.get('EventReadFail')).toBe(0);
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'connection closed');
  });

  it("answers a lone connection's call before making its events while the loop has idle time; makes them at once while it is saturated or another connection is open", async () => {
    const l = listening();
    const source = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const seen: Array<{ deferred: boolean; events: FlumeEvent[] }> = [];
    subscriptions.push(
      source.subscribe((batch) => {
        seen.push({ deferred: batch.deferred !== undefined, events: [...batch.events] });
        batch.ack();
      }),
    );
    const events: FlumeEvent[] = Array.from({ length: 300 }, (_, i) => ({
      headers: { n: String(i), 'ü-key': 'välüe ✓', ...(i % 3 === 0 ? {} : { host: `h${i % 7}` }) },
      body: Buffer.from(`event ${i} `.repeat(1 + (i % 5))),
    }));
    Object.defineProperty(events[150]!.headers, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
    const out = avroSink({ hostname: '127.0.0.1', port: await l.port, batchSize: 100 });
    // The source reads the loop's utilization at most every 100 ms, over the time since it last did.
    await sleep(150);
    await sendAll(out, events.slice(0, 100), 100);
    const until = performance.now() + 150;
    while (performance.now() < until); // the loop saturated: nothing else runs meanwhile
    await sendAll(out, events.slice(100, 200), 100);
    await sleep(150);
    await sendAll(out, events.slice(200, 250), 100);
    // A second connection open: its calls would fill the time, so the making is not deferred.
    const other = await raw(await l.port);
    await waitFor(() => metricsOf(source)!.get('OpenConnectionCount') === 2, 'the second connection');
    await sendAll(out, events.slice(250), 100);
    other.socket.destroy();
    out.complete();
    await out.closed;
    expect(seen.map((s) => s.deferred)).toEqual([true, false, true, false]);
    const received = seen.flatMap((s) => s.events);
    expect(received.map((e) => e.body.toString())).toEqual(events.map((e) => e.body.toString()));
    expect(received.map((e) => ({ ...e.headers }))).toEqual(events.map((e) => ({ ...e.headers })));
    expect(Object.keys(received[150]!.headers)).toEqual(Object.keys(events[150]!.headers));
  });

  it('round-trips with deflate', async () => {
    const { sink, port, counters } = start({ compressionType: 'deflate' });
    const events = Array.from({ length: 500 }, (_, i) => ({ headers: { i: String(i) }, body: Buffer.from('x'.repeat(i)) }));
    const out = avroSink({ hostname: '127.0.0.1', port: await port, compressionType: 'deflate', compressionLevel: 9 });
    await sendAll(out, events, 100);
    out.complete();
    await out.closed;
    await waitFor(() => sink.events.length === 500, '500 events');
    expect(sink.events.map((e) => e.body.length)).toEqual(events.map((e) => e.body.length));
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'connection closed');
    expect(counters.get('EventReadFail')).toBe(0);
  });

  it('answers FAILED when the channel is full; the sink nacks and the events are redelivered, none lost', async () => {
    // rxflume → (upstream channel) → avroSink → avroSource → (small channel) → held sink
    const { sink, port, counters } = start({}, memoryChannel({ capacity: 100, transactionCapacity: 100, keepAliveMs: 20 }));
    sink.hold = true;
    const input = new Subject<Batch>();
    const out = avroSink({ hostname: '127.0.0.1', port: await port, batchSize: 100 });
    subscriptions.push(input.pipe(memoryChannel({ capacity: 1000, transactionCapacity: 100, backoffSleepIncrementMs: 20, maxBackoffSleepMs: 100 })).subscribe(out));
    for (let b = 0; b < 5; b++) input.next(createBatch(Array.from({ length: 60 }, (_, i) => ({ headers: {}, body: Buffer.from(String(b * 60 + i)) }))));
    await waitFor(() => counters.get('ChannelWriteFail') > 0 && metricsOf(out)!.get('EventWriteFail') > 0, 'a FAILED answer and a nack');
    expect(sink.events).toHaveLength(0);
    sink.release();
    await waitFor(() => sink.events.length >= 300, 'all 300 events after release', 30_000);
    await sleep(100);
    const bodies = sink.events.map((e) => Number(e.body.toString())).sort((a, b) => a - b);
    expect(bodies).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(metricsOf(out)!.get('ConnectionCreatedCount')).toBe(1);
  });

  it('answers append (single event) and speaks to an avsc stateful client (handshake NONE, then a match on its protocol)', async () => {
    const { sink, port, counters } = start();
    // avsc's own protocol JSON hashes differently from Java's: the first handshake is NONE.
    const service = avro.Service.forProtocol({
      protocol: 'AvroSourceProtocol',
      namespace: 'org.apache.flume.source.avro',
      types: (JSON.parse(AVRO_SOURCE_PROTOCOL) as { types: unknown[] }).types,
      messages: (JSON.parse(AVRO_SOURCE_PROTOCOL) as { messages: unknown }).messages,
    } as never);
    const socket = connect(await port, '127.0.0.1');
    socket.on('error', () => undefined);
    const client = service.createClient({ transport: socket });
    // Its channel becomes active once the handshake is done: NONE for its hash, then a match once it sent its protocol.
    await waitFor(() => client.activeChannels().length > 0, 'avsc handshake');
    const status = await new Promise<string>((resolve, reject) =>
      client.emitMessage('append', { event: { headers: { a: '1' }, body: Buffer.from('single') } }, {}, ((err: unknown, res: string) => (err ? reject(err) : resolve(res))) as never),
    );
    expect(status).toBe('OK');
    const batchStatus = await new Promise<string>((resolve, reject) =>
      client.emitMessage('appendBatch', { events: [{ headers: {}, body: Buffer.from('b1') }, { headers: { z: 'z' }, body: Buffer.from('b2') }] }, {}, ((err: unknown, res: string) =>
        err ? reject(err) : resolve(res)) as never,
      ),
    );
    expect(batchStatus).toBe('OK');
    client.destroyChannels();
    socket.destroy();
    await waitFor(() => sink.events.length === 3, '3 events');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['single', 'b1', 'b2']);
    expect(sink.events[0]!.headers).toEqual({ a: '1' });
    expect(counters.get('AppendReceivedCount')).toBe(1);
    expect(counters.get('AppendAcceptedCount')).toBe(1);
    expect(counters.get('AppendBatchAcceptedCount')).toBe(1);
  });

  it('closes connections denied by ipFilter, first matching rule wins', async () => {
    const denied = start({ ipFilter: true, ipFilterRules: 'deny:ip:127.*,allow:ip:*' });
    const out = avroSink({ hostname: '127.0.0.1', port: await denied.port, reconnectBackoffMs: 0 });
    await expect(sendAll(out, [{ headers: {}, body: Buffer.from('no') }])).rejects.toThrow(/cannot connect/);
    expect(denied.counters.get('ConnectionRejectedCount')).toBeGreaterThanOrEqual(1);
    expect(denied.sink.events).toHaveLength(0);
    expect(metricsOf(out)!.get('ConnectionFailedCount')).toBe(1);

    const allowed = start({ ipFilter: true, ipFilterRules: 'allow:name:localhost,deny:ip:*' });
    const out2 = avroSink({ hostname: '127.0.0.1', port: await allowed.port });
    await sendAll(out2, [{ headers: {}, body: Buffer.from('yes') }]);
    out2.complete();
    await waitFor(() => allowed.sink.events.length === 1, 'allowed event');
    expect(allowed.counters.get('ConnectionRejectedCount')).toBe(0);
  });

  it('survives garbage, truncated and oversized frames, bad messages and many dropped connections', async () => {
    const { sink, port: portP, counters } = start({ maxMessageBytes: 1024 * 1024 });
    const port = await portP;

    // Not Netty framing at all: the buffer count is absurd → closed.
    const http = await raw(port);
    http.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await http.closed;

    // A frame announcing a 2 GB buffer → closed without allocating it.
    const huge = await raw(port);
    const header = Buffer.alloc(12);
    header.writeInt32BE(0, 0);
    header.writeInt32BE(1, 4);
    header.writeInt32BE(0x7fffffff, 8);
    huge.socket.write(header);
    await huge.closed;

    // A negative count → closed.
    const negative = await raw(port);
    negative.socket.write(Buffer.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]));
    await negative.closed;

    // A valid frame whose message is not a handshake → closed.
    const badHandshake = await raw(port);
    badHandshake.socket.write(encodeFrame(0, [Buffer.from([1, 2, 3])]));
    await badHandshake.closed;

    // After a good handshake: a truncated message and an unknown message name are answered with
    // system errors on their serials; the connection stays usable.
    const good = await raw(port);
    good.socket.write(encodeFrame(0, [HANDSHAKE, Buffer.from([0, 0])])); // ping
    good.socket.write(encodeFrame(1, [Buffer.concat([Buffer.from([0]), avro.Type.forSchema('string').toBuffer('appendBatch'), Buffer.from([0x02, 0x02])])]));
    good.socket.write(encodeFrame(2, [Buffer.concat([Buffer.from([0]), avro.Type.forSchema('string').toBuffer('nope')])]));
    good.socket.write(encodeFrame(3, [Buffer.concat([Buffer.from([0]), avro.Type.forSchema('string').toBuffer('appendBatch'), Buffer.from([0x02, 0x00, 0x04]), Buffer.from('ok'), Buffer.from([0])])]));
    // A block count claiming more items than there are bytes left → system error, no huge loop.
    good.socket.write(encodeFrame(4, [Buffer.concat([Buffer.from([0]), avro.Type.forSchema('string').toBuffer('appendBatch'), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f])])]));
    const answers = (): Map<number, Buffer> => {
      const decoder = new FrameDecoder(1 << 20);
      return new Map(decoder.push(good.data()).map((f) => [f.serial, f.message]));
    };
    await waitFor(() => answers().size === 5, '5 answers');
    const a = answers();
    expect([...a.get(0)!]).toEqual([0, 0, 0, 0]); // BOTH, no protocol, no hash, no meta
    expect(a.get(1)!.subarray(0, 2)).toEqual(Buffer.from([0, 1])); // error
    expect(a.get(1)!.toString()).toMatch(/truncated|block of/);
    expect(a.get(2)!.toString()).toMatch(/No message named nope/);
    expect([...a.get(3)!]).toEqual([0, 0, 0]); // OK
    expect(a.get(4)!.subarray(0, 2)).toEqual(Buffer.from([0, 1]));
    good.socket.destroy();

    // A truncated frame followed by a close, and many connections opened and dropped.
    const cut = await raw(port);
    cut.socket.end(encodeFrame(0, [HANDSHAKE]).subarray(0, 15));
    await Promise.all(
      Array.from({ length: 300 }, async () => {
        const s = await raw(port);
        s.socket.destroy();
      }),
    );
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'all connections closed');

    expect(counters.get('EventReadFail')).toBe(7);
    expect(sink.events.map((e) => e.body.toString())).toEqual(['ok']);

    // Still serving.
    const out = avroSink({ hostname: '127.0.0.1', port });
    await sendAll(out, [{ headers: { still: 'here' }, body: Buffer.from('after') }]);
    out.complete();
    await waitFor(() => sink.events.length === 2, 'event after the abuse');
  });

  it('closes a deflate connection whose bytes are not a zlib stream, and keeps serving', async () => {
    const { sink, port: portP, counters } = start({ compressionType: 'deflate' });
    const port = await portP;
    const bad = await raw(port);
    bad.socket.write(encodeFrame(0, [HANDSHAKE, Buffer.from([0, 0])])); // uncompressed
    await bad.closed;
    expect(counters.get('EventReadFail')).toBe(1);
    const out = avroSink({ hostname: '127.0.0.1', port, compressionType: 'deflate' });
    await sendAll(out, [{ headers: {}, body: Buffer.from('fine') }]);
    out.complete();
    await waitFor(() => sink.events.length === 1, 'event after the bad stream');
  });

  // Netty framing properties (FrameDecoder, including issue #19's frame-size property): test/lib/avro/frames.test.ts.

  it('rejects bad options with a ConfigError naming each', () => {
    expect(() => avroSource({ bind: '127.0.0.1', port: 0, ipFilter: true, ipFilterRules: 'permit:ip:1.2.3.4' })).toThrow(ConfigError);
    const error = thrown(() => avroSource({ bind: '127.0.0.1', port: 0, ssl: true, keystore: 'x.jks', keystoreType: 'PEM', sslCertFile: 'c', ipFilter: true, ipFilterRules: 'permit:ip:1.2.3.4' }));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['avroSource.keystoreType', 'avroSource.sslCertFile', 'avroSource.ipFilterRules']));
    expect(avroSource.spec.flumeTypes).toContain('org.apache.flume.source.AvroSource');
    expect(() => avroSource({ bind: '127.0.0.1', port: 0, threads: 4 })).not.toThrow();
  });

  it('fails with FLUME_SOURCE_FAILED when the port is taken, and releases everything on unsubscribe', async () => {
    const first = start();
    const port = await first.port;
    const errors: unknown[] = [];
    const sub = avroSource({ bind: '127.0.0.1', port }).subscribe({ error: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1, 'listen error');
    expect((errors[0] as { code: string }).code).toBe('FLUME_SOURCE_FAILED');
    sub.unsubscribe();
    const c = await raw(port);
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    await c.closed;
    await waitFor(() => first.counters.get('OpenConnectionCount') === 0, 'closed');
  });
});
