/**
 * Interoperability with a real Apache Flume 1.11.0 agent (one JVM for the whole file):
 * - Flume seq sources → Flume avro sinks (plain and deflate) → rxflume avroSource;
 * - rxflume avroSink (plain and deflate) → Flume avro sources → Flume file_roll sinks.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipOrFail } from '../support/keytool.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { createBatch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { metricsOf } from '../../lib/core/metrics.js';
import { avroSink } from '../../lib/sinks/avroSink.js';
import { avroSource } from '../../lib/sources/avroSource.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { FlumeConf, startFlumeAgent, flumeEnv, freePort, rolledLines, type FlumeAgent } from '../support/flume.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../support/net.js';

const env = flumeEnv();
const SEQ_EVENTS = 2000;
const SINK_EVENTS = 3000;
const FULL_EVENTS = 500;
const TLS_EVENTS = 500;

describe.skipIf(env.skip)(`Apache Flume 1.11.0 interop${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  const subscriptions: Subscription[] = [];
  const received: Record<'none' | 'deflate', RecordingSink> = { none: recordingSink(), deflate: recordingSink() };
  const flumePorts: Record<'none' | 'deflate', number> = { none: 0, deflate: 0 };
  const full: { sink: RecordingSink; source?: ReturnType<typeof avroSource> } = { sink: recordingSink() };
  const sources: Partial<Record<'none' | 'deflate', ReturnType<typeof avroSource>>> = {};
  // TLS (with deflate inside it, Flume's pipeline order) both ways; needs openssl for the certificate.
  const certDir = mkdtempSync(join(tmpdir(), 'rxflume-flume-tls-'));
  let tlsWhy = '';
  const tls = { sink: recordingSink(), flumePort: 0 };

  beforeAll(async () => {
    // Our sources first: Flume's seq sources start sending as soon as the agent is up.
    const ours: Record<string, number> = {};
    for (const compression of ['none', 'deflate'] as const) {
      const l = listening();
      const source = avroSource({ name: `avro-${compression}`, bind: '127.0.0.1', port: 0, compressionType: compression, onListening: l.onListening });
      sources[compression] = source;
      subscriptions.push(source.pipe(memoryChannel({ capacity: 10_000, transactionCapacity: 1000 })).subscribe(received[compression]));
      ours[compression] = await l.port;
    }
    // A tiny channel whose sink holds everything at first: the source answers FAILED to Flume.
    {
      const l = listening();
      const source = avroSource({ name: 'avro-full', bind: '127.0.0.1', port: 0, onListening: l.onListening });
      full.source = source;
      full.sink.hold = true;
      subscriptions.push(source.pipe(memoryChannel({ capacity: 100, transactionCapacity: 100, keepAliveMs: 20 })).subscribe(full.sink));
      ours['full'] = await l.port;
    }
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
      execFileSync('openssl', ['pkcs12', '-export', '-in', join(certDir, 'cert.pem'), '-inkey', join(certDir, 'key.pem'), '-out', join(certDir, 'ks.p12'), '-passout', 'pass:secret', '-name', 'flume'], { stdio: 'pipe' });
    } catch (error) {
      tlsWhy = `openssl could not make a certificate and PKCS12 keystore: ${(error as Error).message}`;
    }
    flumePorts.none = await freePort();
    flumePorts.deflate = await freePort();
    const conf = new FlumeConf()
      // Flume → rxflume, plain and deflate
      .seq('s1', 'c1', SEQ_EVENTS, { batchSize: 100, header: ['origin', 'flume-plain'], timestamp: true })
      .seq('s2', 'c2', SEQ_EVENTS, { batchSize: 100, header: ['origin', 'flume-deflate'] })
      .rpcSink('k1', 'avro', 'c1', ours['none']!, { 'batch-size': 100 })
      .rpcSink('k2', 'avro', 'c2', ours['deflate']!, { 'compression-type': 'deflate' })
      // rxflume → Flume, plain and deflate
      .rpcSource('r3', 'avro', 'c3', flumePorts.none)
      .rpcSource('r4', 'avro', 'c4', flumePorts.deflate, { 'compression-type': 'deflate' })
      .fileRoll('k3', 'c3', 'out-none', 'header_and_text')
      .fileRoll('k4', 'c4', 'out-deflate', 'header_and_text')
      // Flume → rxflume whose channel is full at first
      .seq('s5', 'c5', FULL_EVENTS, { batchSize: 100 })
      .rpcSink('k5', 'avro', 'c5', ours['full']!, { 'batch-size': 100 })
      .memory('c5', 1000, 100)
      .memory('c1')
      .memory('c2')
      .memory('c3')
      .memory('c4');
    if (!tlsWhy) {
      const l = listening();
      const source = avroSource({ name: 'avro-tls', bind: '127.0.0.1', port: 0, ssl: true, sslKeyFile: join(certDir, 'key.pem'), sslCertFile: join(certDir, 'cert.pem'), compressionType: 'deflate', onListening: l.onListening });
      subscriptions.push(source.pipe(memoryChannel({ capacity: 10_000, transactionCapacity: 1000 })).subscribe(tls.sink));
      const ourTlsPort = await l.port;
      tls.flumePort = await freePort();
      conf
        .seq('s7', 'c7', TLS_EVENTS, { batchSize: 100 })
        .rpcSink('k7', 'avro', 'c7', ourTlsPort, { ssl: true, 'trust-all-certs': true, 'compression-type': 'deflate' })
        .rpcSource('r6', 'avro', 'c6', tls.flumePort, { ssl: true, keystore: join(certDir, 'ks.p12'), 'keystore-password': 'secret', 'keystore-type': 'PKCS12', 'compression-type': 'deflate' })
        .fileRoll('k6', 'c6', 'out-tls')
        .memory('c6')
        .memory('c7');
    }
    agent = await startFlumeAgent({ conf: String(conf), mkdirs: ['out-none', 'out-deflate', 'out-tls'] });
    await agent.waitForLog(/Avro source r3 started/);
    await agent.waitForLog(/Avro source r4 started/);
    if (!tlsWhy) await agent.waitForLog(/Avro source r6 started/);
  }, 240_000);

  afterAll(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await agent?.stop();
    rmSync(certDir, { recursive: true, force: true });
  }, 60_000);

  it('TLS + deflate: a Flume avro sink (ssl, trust-all-certs) delivers every event to avroSource (ssl, PEM)', async (ctx) => {
    if (tlsWhy) skipOrFail(ctx, tlsWhy);
    await waitFor(() => tls.sink.events.length >= TLS_EVENTS, `${TLS_EVENTS} events over TLS`, 120_000);
    const bodies = tls.sink.events.map((e) => Number(e.body.toString())).sort((a, b) => a - b);
    expect(bodies).toEqual(Array.from({ length: TLS_EVENTS }, (_, i) => i));
  }, 150_000);

  it('TLS + deflate: avroSink (ssl, PEM CA) delivers every event to a Flume avro source (ssl, PKCS12 keystore)', async (ctx) => {
    if (tlsWhy) skipOrFail(ctx, tlsWhy);
    const sink = avroSink({ name: 'to-flume-tls', hostname: 'localhost', port: tls.flumePort, ssl: true, sslCaFile: join(certDir, 'cert.pem'), compressionType: 'deflate' });
    const events: FlumeEvent[] = Array.from({ length: TLS_EVENTS }, (_, i) => ({ headers: {}, body: Buffer.from(`secure ${i}`) }));
    await new Promise<void>((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
    sink.complete();
    await sink.closed;
    const lines = await rolledLines(join(agent!.dir, 'out-tls'), TLS_EVENTS);
    expect(lines.sort()).toEqual(events.map((e) => e.body.toString()).sort());
  }, 150_000);

  for (const compression of ['none', 'deflate'] as const) {
    it(`a Flume avro sink (${compression}) delivers every seq event with its headers to avroSource`, async () => {
      const sink = received[compression];
      await waitFor(() => sink.events.length >= SEQ_EVENTS, `${SEQ_EVENTS} events from Flume (${compression})`, 120_000);
      const bodies = sink.events.map((e) => Number(e.body.toString()));
      expect(new Set(bodies).size).toBe(SEQ_EVENTS);
      expect(Math.min(...bodies)).toBe(0);
      expect(Math.max(...bodies)).toBe(SEQ_EVENTS - 1);
      for (const e of sink.events) {
        expect(e.headers['origin']).toBe(compression === 'none' ? 'flume-plain' : 'flume-deflate');
        if (compression === 'none') expect(e.headers['timestamp']).toMatch(/^\d{13}$/);
      }
    }, 150_000);

    it(`avroSink (${compression}) delivers every event to a Flume avro source → file_roll`, async () => {
      const sink = avroSink({ name: `to-flume-${compression}`, hostname: '127.0.0.1', port: flumePorts[compression], compressionType: compression, batchSize: 100 });
      const events: FlumeEvent[] = Array.from({ length: SINK_EVENTS }, (_, i) => ({
        headers: { n: String(i), kind: i % 2 ? 'odd' : 'even' },
        body: Buffer.from(`event ${i} ${compression} ünïcödé`),
      }));
      // Channel-sized batches of 500, each acked only once Flume answered OK for all its calls.
      for (let i = 0; i < SINK_EVENTS; i += 500) {
        await new Promise<void>((resolve, reject) => sink.next(createBatch(events.slice(i, i + 500), { onAck: resolve, onNack: reject })));
      }
      sink.complete();
      await sink.closed;
      const counters = metricsOf(sink)!;
      expect(counters.get('EventDrainSuccessCount')).toBe(SINK_EVENTS);
      expect(counters.get('ConnectionCreatedCount')).toBe(1);

      const lines = await rolledLines(join(agent!.dir, `out-${compression}`), SINK_EVENTS);
      expect(lines).toHaveLength(SINK_EVENTS);
      // header_and_text: Java's Map.toString of the headers, a space, the body.
      const seen = new Set<number>();
      for (const line of lines) {
        const m = /^\{(.*)\} (event (\d+) (none|deflate) ünïcödé)$/.exec(line);
        expect(m, line).not.toBeNull();
        const n = Number(m![3]);
        const headers = Object.fromEntries(m![1]!.split(', ').map((kv) => kv.split('=') as [string, string]));
        expect(headers).toEqual({ n: String(n), kind: n % 2 ? 'odd' : 'even' });
        expect(m![4]).toBe(compression);
        seen.add(n);
      }
      expect(seen.size).toBe(SINK_EVENTS);
    }, 150_000);
  }

  it('answers FAILED while the channel is full; the Flume avro sink retries and nothing is lost', async () => {
    const counters = metricsOf(full.source!)!;
    await waitFor(() => counters.get('ChannelWriteFail') > 0, 'a FAILED answer to Flume', 120_000);
    expect(full.sink.events).toHaveLength(0);
    full.sink.release();
    // Flume's sink runner backs off (up to 5 s) after each failed delivery before retrying.
    await waitFor(() => full.sink.events.length >= FULL_EVENTS, `${FULL_EVENTS} events after the channel freed up`, 120_000);
    const bodies = full.sink.events.map((e) => Number(e.body.toString())).sort((a, b) => a - b);
    expect(bodies).toEqual(Array.from({ length: FULL_EVENTS }, (_, i) => i));
    const log = await agent!.log();
    expect(log).toMatch(/Status: FAILED/);
  }, 150_000);

  it('Flume logged no error other than the FAILED answers, and our sources read no bad input', async () => {
    // Drop the k5 delivery failures (an ERROR line, then its stack trace) the previous test caused.
    const log = (await agent!.log()).split(/\n(?=\d{4}-\d\d-\d\dT)/).filter((entry) => !/Status: FAILED/.test(entry)).join('\n');
    expect(log).not.toMatch(/ ERROR |EventDeliveryException|Unable to deliver|Avro source .* failed/i);
    for (const compression of ['none', 'deflate'] as const) {
      const counters = metricsOf(sources[compression]!)!;
      expect(counters.get('EventReadFail')).toBe(0);
      expect(counters.get('EventAcceptedCount')).toBe(SEQ_EVENTS);
    }
  });
});
