import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { createBatch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { thriftSink } from '../../../lib/sinks/thriftSink.js';
import { thriftSource, type ThriftSourceOptions } from '../../../lib/sources/thriftSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { keytoolIn, keytoolProblem, skipOrFail } from '../../support/keytool.js';
import { listening, recordingSink, sleep, waitFor } from '../../support/net.js';
import { thrown } from '../../support/thrown.js';

const subscriptions: Subscription[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

function serve(options: Partial<ThriftSourceOptions> = {}, channel = memoryChannel({ capacity: 10_000, transactionCapacity: 1000 })) {
  const l = listening();
  const source = thriftSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscriptions.push(source.pipe(channel).subscribe(sink));
  return { sink, port: l.port, counters: metricsOf(source)! };
}

const events = (n: number, tag = 'e'): FlumeEvent[] => Array.from({ length: n }, (_, i) => ({ headers: { i: String(i), tag }, body: Buffer.from(`${tag}${i}`) }));

/** Writes one batch; resolves 'ack' or the nack error. */
function write(sink: ReturnType<typeof thriftSink>, batch: FlumeEvent[]): Promise<'ack' | Error> {
  return new Promise((resolve) => sink.next(createBatch(batch, { onAck: () => resolve('ack'), onNack: resolve })));
}

describe('thriftSink', () => {
  for (const protocol of ['compact', 'binary'] as const) {
    it(`${protocol}: sends a batch as batchSize appendBatch calls and acks after the last OK`, async () => {
      const { sink, port, counters } = serve({ protocol });
      const out = thriftSink({ hostname: '127.0.0.1', port: await port, protocol, batchSize: 100 });
      const batch = events(250, protocol);
      expect(await write(out, batch)).toBe('ack');
      expect(sink.events).toEqual(batch);
      expect(counters.get('AppendBatchReceivedCount')).toBe(3);
      const m = metricsOf(out)!;
      expect([m.get('ConnectionCreatedCount'), m.get('EventDrainSuccessCount')]).toEqual([1, 250]);
      out.complete();
      await out.closed;
      expect(m.get('ConnectionClosedCount')).toBe(1);
    });
  }

  it('nacks (retriable FLUME_SINK_FAILED) when the source answers FAILED, keeps the connection, and delivers once there is room', async () => {
    const { sink, port } = serve({}, memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 20 }));
    sink.hold = true;
    const out = thriftSink({ hostname: '127.0.0.1', port: await port });
    expect(await write(out, events(2, 'a'))).toBe('ack');
    const failed = await write(out, events(1, 'b'));
    expect(failed).toBeInstanceOf(FlumeError);
    expect((failed as FlumeError).code).toBe('FLUME_SINK_FAILED');
    expect((failed as FlumeError).retriable).toBe(true);
    expect((failed as Error).message).toMatch(/answered FAILED to appendBatch of 1 events/);
    sink.release();
    expect(await write(out, events(1, 'b'))).toBe('ack');
    await waitFor(() => sink.events.length === 3, 'three events');
    expect(metricsOf(out)!.get('ConnectionCreatedCount')).toBe(1);
    out.complete();
  });

  it('times a call out after requestTimeoutMs, drops that connection and reconnects for the next batch', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => (sockets.add(s), s.on('error', () => undefined))); // reads, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const out = thriftSink({ hostname: '127.0.0.1', port: (server.address() as { port: number }).port, requestTimeoutMs: 100 });
      const first = await write(out, events(1));
      expect((first as Error).message).toMatch(/no answer within 100 ms/);
      expect(await write(out, events(1))).toBeInstanceOf(Error);
      const m = metricsOf(out)!;
      expect([m.get('ConnectionCreatedCount'), m.get('ConnectionClosedCount')]).toEqual([2, 2]);
      out.complete();
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('after a refused connection, fails at once until its back-off is over, then connects', async () => {
    const l = listening();
    const probe = createServer().listen(0, '127.0.0.1', () => l.onListening(probe.address() as { port: number }));
    const port = await l.port;
    await new Promise((r) => probe.close(r));
    const out = thriftSink({ hostname: '127.0.0.1', port, reconnectBackoffMs: 300 });
    expect(((await write(out, events(1))) as Error).message).toMatch(/cannot connect to 127\.0\.0\.1:\d+/);
    expect(((await write(out, events(1))) as Error).message).toMatch(/not connected to 127\.0\.0\.1:\d+; next attempt in \d+ ms/);
    expect(metricsOf(out)!.get('ConnectionFailedCount')).toBe(1);
    const { sink } = serve({ port });
    await sleep(300);
    expect(await write(out, events(1, 'late'))).toBe('ack');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['late0']);
    out.complete();
  });

  it('replaces the connection once it is resetConnectionIntervalS old', async () => {
    const { port } = serve();
    const out = thriftSink({ hostname: '127.0.0.1', port: await port, resetConnectionIntervalS: 0.2 });
    expect(await write(out, events(1))).toBe('ack');
    await sleep(250);
    expect(await write(out, events(1))).toBe('ack');
    const m = metricsOf(out)!;
    expect([m.get('ConnectionCreatedCount'), m.get('ConnectionClosedCount')]).toEqual([2, 1]);
    out.complete();
  });

  describe('TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxflume-thrift-tls-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('trusts the certificates of a PEM or JKS truststore, and refuses a server it does not trust', async (ctx) => {
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
      } catch (error) {
        skipOrFail(ctx, `openssl could not make a self-signed certificate: ${(error as Error).message}`);
      }
      if (keytoolProblem) skipOrFail(ctx, keytoolProblem);
      keytoolIn(dir)('-importcert', '-noprompt', '-alias', 'server', '-file', 'cert.pem', '-keystore', 'trust.jks', '-storetype', 'JKS', '-storepass', 'changeit');
      const { sink, port: portP } = serve({ ssl: true, sslKeyFile: join(dir, 'key.pem'), sslCertFile: join(dir, 'cert.pem') });
      const port = await portP;
      const untrusted = thriftSink({ hostname: 'localhost', port, ssl: true });
      expect(((await write(untrusted, events(1))) as Error).message).toMatch(/cannot connect.*self-signed certificate/);
      untrusted.complete();
      for (const [truststore, extra] of [
        [join(dir, 'cert.pem'), {}],
        [join(dir, 'trust.jks'), { truststorePassword: 'changeit', truststoreType: 'JKS' }],
      ] as const) {
        const out = thriftSink({ hostname: 'localhost', port, ssl: true, truststore, ...extra });
        expect(await write(out, events(2, 'tls'))).toBe('ack');
        out.complete();
      }
      expect(sink.events.map((e) => e.body.toString())).toEqual(['tls0', 'tls1', 'tls0', 'tls1']);
      expect(() => thriftSink({ hostname: 'localhost', port, ssl: true, truststore: join(dir, 'trust.jks'), truststorePassword: 'wrong' })).toThrow(/thriftSink\.truststorePassword/);
    });
  });

  it('refuses Kerberos keys, cipher-suite lists and a PKCS12 truststore type, naming each', () => {
    const error = thrown(() => thriftSink({ hostname: 'h', port: 1, kerberos: true, clientPrincipal: 'c@R', serverPrincipal: 's@R', excludeCipherSuites: 'X', truststoreType: 'PKCS12' }));
    expect(error).toBeInstanceOf(ConfigError);
    for (const key of ['kerberos', 'clientPrincipal', 'serverPrincipal', 'excludeCipherSuites', 'truststoreType']) expect((error as Error).message).toContain(`thriftSink.${key}`);
  });
});
