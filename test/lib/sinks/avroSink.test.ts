import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipOrFail } from '../../support/keytool.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { createBatch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { avroSink } from '../../../lib/sinks/avroSink.js';
import { FrameDecoder, encodeFrame } from '../../../lib/avro/frames.js';
import { avroSource, type AvroSourceOptions } from '../../../lib/sources/avroSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, sleep, waitFor } from '../../support/net.js';

const subscriptions: Subscription[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

function serve(options: Partial<AvroSourceOptions> = {}) {
  const l = listening();
  const source = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  const subscription = source.pipe(memoryChannel({ capacity: 10_000, transactionCapacity: 1000 })).subscribe(sink);
  subscriptions.push(subscription);
  return { sink, port: l.port, counters: metricsOf(source)!, subscription };
}

const events = (n: number, tag = 'e'): FlumeEvent[] => Array.from({ length: n }, (_, i) => ({ headers: { i: String(i) }, body: Buffer.from(`${tag}${i}`) }));

/** Writes one batch; resolves 'ack' or the nack error. */
function write(sink: ReturnType<typeof avroSink>, batch: FlumeEvent[]): Promise<'ack' | Error> {
  return new Promise((resolve) => sink.next(createBatch(batch, { onAck: () => resolve('ack'), onNack: resolve })));
}

/** A TCP server that answers the handshake ping and then never answers a call. */
function silentServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  return new Promise((resolve) => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder(1 << 20);
      let pinged = false;
      socket.on('data', (c: Buffer) => {
        for (const f of decoder.push(c)) {
          if (pinged) continue;
          pinged = true;
          socket.write(encodeFrame(f.serial, [Buffer.from([0, 0, 0, 0])])); // HandshakeResponse BOTH
        }
      });
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, sockets }));
  });
}

describe('avroSink', () => {
  it('sends a channel batch as appendBatch calls of batchSize and acks after the last OK', async () => {
    const { sink, port, counters } = serve();
    const out = avroSink({ hostname: '127.0.0.1', port: await port, batchSize: 100 });
    expect(await write(out, events(250))).toBe('ack');
    expect(counters.get('AppendBatchReceivedCount')).toBe(3);
    await waitFor(() => sink.events.length === 250, '250 events');
    expect(sink.events.map((e) => e.body.toString())).toEqual(events(250).map((e) => e.body.toString()));
    const m = metricsOf(out)!;
    expect(m.get('EventDrainSuccessCount')).toBe(250);
    expect(m.get('BatchCompleteCount')).toBe(1);
    expect(m.get('ConnectionCreatedCount')).toBe(1);
    out.complete();
    await out.closed;
    expect(m.get('ConnectionClosedCount')).toBe(1);
  });

  it('nacks with a retriable error when nothing listens, and backs off before the next attempt', async () => {
    const { port: portP, subscription } = serve();
    const port = await portP;
    subscription.unsubscribe();
    await sleep(20);
    const out = avroSink({ hostname: '127.0.0.1', port, reconnectBackoffMs: 60_000 });
    const first = await write(out, events(1));
    expect(first).toBeInstanceOf(FlumeError);
    expect((first as FlumeError).retriable).toBe(true);
    expect((first as FlumeError).code).toBe('FLUME_SINK_FAILED');
    const second = await write(out, events(1));
    expect((second as Error).message).toMatch(/next attempt in/);
    const m = metricsOf(out)!;
    expect(m.get('ConnectionFailedCount')).toBe(1);
    expect(m.get('EventWriteFail')).toBe(2);
    out.complete();
    await out.closed;
  });

  it('reconnects after the server went away and came back on the same port', async () => {
    const first = serve();
    const port = await first.port;
    const out = avroSink({ hostname: '127.0.0.1', port, reconnectBackoffMs: 10, maxReconnectBackoffMs: 50 });
    expect(await write(out, events(10, 'a'))).toBe('ack');
    first.subscription.unsubscribe();
    await waitFor(() => first.counters.get('OpenConnectionCount') === 0, 'server closed');
    expect(await write(out, events(10, 'b'))).toBeInstanceOf(Error);

    const l = listening();
    const again = recordingSink();
    subscriptions.push(avroSource({ bind: '127.0.0.1', port, onListening: l.onListening }).pipe(memoryChannel()).subscribe(again));
    await l.port;
    let result: 'ack' | Error = new Error('not sent');
    for (let i = 0; i < 200 && result !== 'ack'; i++) {
      result = await write(out, events(10, 'b'));
      if (result !== 'ack') await sleep(25);
    }
    expect(result).toBe('ack');
    await waitFor(() => again.events.length === 10, 'events after reconnect');
    const m = metricsOf(out)!;
    expect(m.get('ConnectionCreatedCount')).toBe(2);
    out.complete();
    await out.closed;
  });

  it('nacks after requestTimeoutMs without an answer and drops the connection', async () => {
    const silent = await silentServer();
    try {
      const out = avroSink({ hostname: '127.0.0.1', port: silent.port, requestTimeoutMs: 200 });
      const result = await write(out, events(5));
      expect(result).toBeInstanceOf(Error);
      expect((result as Error).message).toMatch(/no answer within 200 ms/);
      const m = metricsOf(out)!;
      expect(m.get('ConnectionCreatedCount')).toBe(1);
      expect(m.get('ConnectionClosedCount')).toBe(1);
      out.complete();
      await out.closed;
    } finally {
      for (const s of silent.sockets) s.destroy();
      silent.server.close();
    }
  });

  it('nacks when the handshake does not finish within connectTimeoutMs', async () => {
    const server = createServer((s) => s.on('error', () => undefined)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const out = avroSink({ hostname: '127.0.0.1', port: (server.address() as { port: number }).port, connectTimeoutMs: 200 });
      const result = await write(out, events(1));
      expect((result as Error).message).toMatch(/within 200 ms/);
      expect(metricsOf(out)!.get('ConnectionFailedCount')).toBe(1);
      out.complete();
    } finally {
      server.close();
    }
  });

  it('replaces the connection after resetConnectionIntervalS', async () => {
    const { sink, port } = serve();
    const out = avroSink({ hostname: '127.0.0.1', port: await port, resetConnectionIntervalS: 0.1 });
    expect(await write(out, events(3))).toBe('ack');
    await sleep(150);
    expect(await write(out, events(3))).toBe('ack');
    const m = metricsOf(out)!;
    expect(m.get('ConnectionCreatedCount')).toBe(2);
    expect(m.get('ConnectionClosedCount')).toBe(1);
    await waitFor(() => sink.events.length === 6, '6 events');
    out.complete();
    await out.closed;
  });

  it('rejects bad options with a ConfigError and maps Flume keys', () => {
    expect(() => avroSink({ hostname: 'h', port: 1, truststore: 'x.jks', truststoreType: 'JKS' } as never)).toThrow(ConfigError);
    expect(() => avroSink({ hostname: 'h', port: 0 })).toThrow(ConfigError);
    expect(avroSink.spec.flumeKeys?.['batch-size']).toEqual({ option: 'batchSize', convert: Number });
    expect(avroSink.spec.flumeKeys?.['reset-connection-interval']).toEqual({ option: 'resetConnectionIntervalS', convert: Number });
    expect(avroSink.spec.flumeTypes).toContain('org.apache.flume.sink.AvroSink');
  });

  describe('TLS', () => {
    let dir = '';
    let why = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'rxflume-avro-tls-'));
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
      } catch (error) {
        why = `openssl could not make a self-signed certificate: ${(error as Error).message}`;
      }
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    for (const compression of ['none', 'deflate'] as const) {
      it(`round-trips over TLS (compression ${compression}) behind an ip filter with a PEM CA, and refuses an untrusted server`, async (ctx) => {
        if (why) skipOrFail(ctx, why);
        const { sink, port: portP, counters } = serve({ ssl: true, sslKeyFile: join(dir, 'key.pem'), sslCertFile: join(dir, 'cert.pem'), compressionType: compression, ipFilter: true, ipFilterRules: 'allow:ip:127.0.0.1' });
        const port = await portP;
        const untrusted = avroSink({ hostname: 'localhost', port, ssl: true, compressionType: compression });
        expect(await write(untrusted, events(1))).toBeInstanceOf(Error);
        expect(metricsOf(untrusted)!.get('ConnectionFailedCount')).toBe(1);
        untrusted.complete();

        const out = avroSink({ hostname: 'localhost', port, ssl: true, sslCaFile: join(dir, 'cert.pem'), compressionType: compression });
        expect(await write(out, events(300, 'tls'))).toBe('ack');
        await waitFor(() => sink.events.length === 300, '300 events over TLS');
        expect(sink.events[299]!.body.toString()).toBe('tls299');
        out.complete();
        await out.closed;
        await waitFor(() => counters.get('OpenConnectionCount') === 0, 'connections closed');
        expect(counters.get('EventReadFail')).toBe(0);
      });
    }
  });
});
