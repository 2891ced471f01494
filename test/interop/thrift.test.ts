/**
 * Interoperability with a real Apache Flume 1.11.0 agent over Thrift (one JVM for the whole file):
 * - Flume seq sources → Flume thrift sinks (compact, binary; and TLS with a JKS truststore) → rxflume thriftSource;
 * - rxflume thriftSink (compact, binary; and TLS with a PEM truststore) → Flume thrift sources → file_roll;
 * - a Flume thrift sink against a full rxflume channel: FAILED, retried, nothing lost.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { createBatch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { metricsOf } from '../../lib/core/metrics.js';
import { thriftSink } from '../../lib/sinks/thriftSink.js';
import { thriftSource } from '../../lib/sources/thriftSource.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { FlumeConf, flumeEnv, freePort, rolledLines, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { keytoolIn, keytoolProblem, skipOrFail } from '../support/keytool.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../support/net.js';

const env = flumeEnv();
const SEQ_EVENTS = 1000;
const SINK_EVENTS = 1000;
const FULL_EVENTS = 300;
const TLS_EVENTS = 200;
const PROTOCOLS = ['compact', 'binary'] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** Sends the events through `sink` in channel-sized batches, each acked only once Flume answered OK. */
async function sendAll(sink: ReturnType<typeof thriftSink>, events: FlumeEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 250) {
    await new Promise<void>((resolve, reject) => sink.next(createBatch(events.slice(i, i + 250), { onAck: resolve, onNack: reject })));
  }
  sink.complete();
  await sink.closed;
}

describe.skipIf(env.skip)(`Thrift source and sink vs Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  const subscriptions: Subscription[] = [];
  const received = { compact: recordingSink(), binary: recordingSink() } satisfies Record<Protocol, RecordingSink>;
  const sources: Partial<Record<Protocol | 'full' | 'tls', ReturnType<typeof thriftSource>>> = {};
  const flumePorts = { compact: 0, binary: 0, tls: 0 };
  const full = recordingSink();
  const tls = { sink: recordingSink(), why: '' };
  const certDir = mkdtempSync(join(tmpdir(), 'rxflume-thrift-flume-'));

  beforeAll(async () => {
    // Our sources first: Flume's seq sources send as soon as the agent is up.
    const ours: Record<string, number> = {};
    const serve = async (key: Protocol | 'full' | 'tls', sink: RecordingSink, options: Partial<Parameters<typeof thriftSource>[0]>, capacity = 10_000) => {
      const l = listening();
      const source = thriftSource({ name: `thrift-${key}`, bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
      sources[key] = source;
      subscriptions.push(source.pipe(memoryChannel({ capacity, transactionCapacity: Math.min(capacity, 1000), keepAliveMs: 20 })).subscribe(sink));
      ours[key] = await l.port;
    };
    for (const protocol of PROTOCOLS) await serve(protocol, received[protocol], { protocol });
    // A channel of 100 whose sink holds everything at first: the source answers FAILED to Flume.
    full.hold = true;
    await serve('full', full, {}, 100);

    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
      execFileSync('openssl', ['pkcs12', '-export', '-in', join(certDir, 'cert.pem'), '-inkey', join(certDir, 'key.pem'), '-out', join(certDir, 'ks.p12'), '-passout', 'pass:secret', '-name', 'flume'], { stdio: 'pipe' });
      if (keytoolProblem) throw new Error(keytoolProblem);
      keytoolIn(certDir)('-importcert', '-noprompt', '-alias', 'rxflume', '-file', 'cert.pem', '-keystore', 'trust.jks', '-storetype', 'JKS', '-storepass', 'changeit');
    } catch (error) {
      tls.why = `openssl/keytool could not make the certificate and stores: ${(error as Error).message}`;
    }
    if (!tls.why) await serve('tls', tls.sink, { ssl: true, sslKeyFile: join(certDir, 'key.pem'), sslCertFile: join(certDir, 'cert.pem') });
    flumePorts.compact = await freePort();
    flumePorts.binary = await freePort();
    const conf = new FlumeConf()
      // Flume → rxflume, compact (Flume's default protocol) and binary
      .seq('s1', 'c1', SEQ_EVENTS, { batchSize: 100, header: ['origin', 'flume-compact'], timestamp: true })
      .seq('s2', 'c2', SEQ_EVENTS, { batchSize: 100, header: ['origin', 'flume-binary'] })
      .rpcSink('k1', 'thrift', 'c1', ours['compact']!, { 'batch-size': 100 })
      .rpcSink('k2', 'thrift', 'c2', ours['binary']!, { protocol: 'binary' })
      // rxflume → Flume, compact and binary
      .rpcSource('r3', 'thrift', 'c3', flumePorts.compact)
      .rpcSource('r4', 'thrift', 'c4', flumePorts.binary, { protocol: 'binary' })
      .fileRoll('k3', 'c3', 'out-compact', 'header_and_text')
      .fileRoll('k4', 'c4', 'out-binary', 'header_and_text')
      // Flume → rxflume whose channel is full at first
      .seq('s5', 'c5', FULL_EVENTS, { batchSize: 100 })
      .rpcSink('k5', 'thrift', 'c5', ours['full']!, { 'batch-size': 100 })
      .memory('c1')
      .memory('c2')
      .memory('c3')
      .memory('c4')
      .memory('c5', 1000, 100);
    if (!tls.why) {
      flumePorts.tls = await freePort();
      conf
        .seq('s7', 'c7', TLS_EVENTS)
        .rpcSink('k7', 'thrift', 'c7', ours['tls']!, { ssl: true, truststore: join(certDir, 'trust.jks'), 'truststore-password': 'changeit', 'truststore-type': 'JKS' })
        .memory('c7')
        .rpcSource('r6', 'thrift', 'c6', flumePorts.tls, { ssl: true, keystore: join(certDir, 'ks.p12'), 'keystore-password': 'secret', 'keystore-type': 'PKCS12' })
        .fileRoll('k6', 'c6', 'out-tls')
        .memory('c6');
    }
    agent = await startFlumeAgent({ conf: String(conf), mkdirs: ['out-compact', 'out-binary', 'out-tls'] });
    const thriftSources = tls.why ? 2 : 3;
    let log = '';
    await waitFor(() => (void agent!.log().then((l) => (log = l)), (log.match(/Started Thrift source/g) ?? []).length >= thriftSources), "Flume's Thrift sources to start", 120_000);
  }, 240_000);

  afterAll(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await agent?.stop();
    rmSync(certDir, { recursive: true, force: true });
  }, 60_000);

  for (const protocol of PROTOCOLS) {
    it(`a Flume thrift sink (${protocol}) delivers every seq event with its headers to thriftSource`, async () => {
      const sink = received[protocol];
      await waitFor(() => sink.events.length >= SEQ_EVENTS, `${SEQ_EVENTS} events from Flume (${protocol})`, 120_000);
      const bodies = sink.events.map((e) => Number(e.body.toString())).sort((a, b) => a - b);
      expect(bodies).toEqual(Array.from({ length: SEQ_EVENTS }, (_, i) => i));
      for (const e of sink.events) {
        expect(e.headers['origin']).toBe(`flume-${protocol}`);
        if (protocol === 'compact') expect(e.headers['timestamp']).toMatch(/^\d{13}$/);
        else expect(Object.keys(e.headers)).toEqual(['origin']);
      }
    }, 150_000);

    it(`thriftSink (${protocol}) delivers every event with its headers to a Flume thrift source → file_roll`, async () => {
      const sink = thriftSink({ name: `to-flume-${protocol}`, hostname: '127.0.0.1', port: flumePorts[protocol], protocol, batchSize: 100 });
      const events: FlumeEvent[] = Array.from({ length: SINK_EVENTS }, (_, i) => ({
        headers: { n: String(i), kind: i % 2 ? 'odd' : 'even' },
        body: Buffer.from(`event ${i} ${protocol} ünïcödé`),
      }));
      await sendAll(sink, events);
      const counters = metricsOf(sink)!;
      expect([counters.get('EventDrainSuccessCount'), counters.get('ConnectionCreatedCount')]).toEqual([SINK_EVENTS, 1]);
      const lines = await rolledLines(join(agent!.dir, `out-${protocol}`), SINK_EVENTS);
      expect(lines).toHaveLength(SINK_EVENTS);
      // header_and_text: Java's Map.toString of the headers, a space, the body.
      const seen = new Set<number>();
      for (const line of lines) {
        const [, map = '', body] = /^\{(.*)\} (.*)$/.exec(line) ?? [];
        const headers = Object.fromEntries(map.split(', ').map((kv) => kv.split('=')));
        const n = Number(headers['n']);
        expect({ headers, body }, line).toEqual({ headers: { n: String(n), kind: n % 2 ? 'odd' : 'even' }, body: `event ${n} ${protocol} ünïcödé` });
        seen.add(n);
      }
      expect(seen.size).toBe(SINK_EVENTS);
    }, 150_000);
  }

  it('TLS: a Flume thrift sink (ssl, JKS truststore) delivers to thriftSource (ssl, PEM), and thriftSink (PEM truststore) to a Flume thrift source (PKCS12 keystore)', async (ctx) => {
    if (tls.why) skipOrFail(ctx, tls.why);
    await waitFor(() => tls.sink.events.length >= TLS_EVENTS, `${TLS_EVENTS} events over TLS`, 120_000);
    expect(tls.sink.events.map((e) => Number(e.body.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: TLS_EVENTS }, (_, i) => i));
    const sink = thriftSink({ name: 'to-flume-tls', hostname: 'localhost', port: flumePorts.tls, ssl: true, truststore: join(certDir, 'cert.pem') });
    const events: FlumeEvent[] = Array.from({ length: TLS_EVENTS }, (_, i) => ({ headers: {}, body: Buffer.from(`secure ${i}`) }));
    await sendAll(sink, events);
    const lines = await rolledLines(join(agent!.dir, 'out-tls'), TLS_EVENTS);
    expect(lines.sort()).toEqual(events.map((e) => e.body.toString()).sort());
  }, 150_000);

  it('answers FAILED while the channel is full; the Flume thrift sink retries and nothing is lost', async () => {
    const counters = metricsOf(sources.full!)!;
    await waitFor(() => counters.get('ChannelWriteFail') > 0, 'a FAILED answer to Flume', 120_000);
    full.release();
    // Flume's sink runner backs off (up to 5 s) after each failed delivery before retrying.
    await waitFor(() => full.events.length >= FULL_EVENTS, `${FULL_EVENTS} events after the channel freed up`, 120_000);
    const bodies = [...new Set(full.events.map((e) => Number(e.body.toString())))].sort((a, b) => a - b);
    expect(bodies).toEqual(Array.from({ length: FULL_EVENTS }, (_, i) => i));
    expect(await agent!.log()).toMatch(/FAILED/);
  }, 150_000);

  it('Flume logged no error other than the FAILED answers, and our sources read no bad input', async () => {
    const log = (await agent!.log()).split(/\n(?=\d{4}-\d\d-\d\dT)/).filter((entry) => !/FAILED/.test(entry)).join('\n');
    expect(log).not.toMatch(/ ERROR |EventDeliveryException|Unable to deliver/i);
    for (const protocol of PROTOCOLS) {
      const counters = metricsOf(sources[protocol]!)!;
      expect([counters.get('EventReadFail'), counters.get('EventAcceptedCount')]).toEqual([0, SEQ_EVENTS]);
    }
  });
});
