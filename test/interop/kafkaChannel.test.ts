/**
 * The Kafka channel against a real Apache Flume 1.11.0 agent (org.apache.flume.channel.kafka.KafkaChannel,
 * scripts/flume.ts FLUME_KAFKA_CHANNEL_JAR beside FLUME_SINK_JARS' Kafka client) and the run's Kafka broker
 * (test/support/kafkaGlobalSetup.ts): one properties text per side (rxflume loaded with
 * loadAgentConfigTexts, run by runAgent), each side on its own topics and consumer groups.
 *
 * - Put and take, per probe a netcat source (static headers) → kafka channel → file_roll
 *   (header_and_text): the records each side stored in its channel topic (partition, key, value bytes,
 *   record headers) and the events each side delivered must be the same — `parseAsFlumeEvent` true
 *   (Avro-framed AvroFlumeEvent values) and false (the body alone, and the `key` header back from the
 *   record key), `partitionIdHeader`, `defaultPartitionId`, `kafka.pollTimeout`.
 * - Across, what a migrating user meets: each side's channel with no source reads the OTHER side's
 *   channel topic (its own group) into file_roll, with parseAsFlumeEvent true and false: what it
 *   delivers must be what the writing side delivered from its own topic.
 * - A channel with no source over a topic another producer wrote (keyed and unkeyed records, Kafka
 *   record headers, two partitions), parseAsFlumeEvent = false: the same events on both sides.
 *
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1 (and RXFLUME_REQUIRE_KAFKA=1).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { scratch } from '../support/cli.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { FLUME_KAFKA_CHANNEL_JAR, FLUME_SINK_JARS, flumeExtraJars, flumeJarPath, withFlumeJars } from '../support/flumeJars.js';
import { consumeRecords, createTopic, kafkaEnv, requireKafka, testKafka, type ConsumedRecord } from '../support/kafka.js';
import { netcatSend } from '../support/net.js';
import { rolledHeaderAndText, type HeaderAndText } from '../support/sideBySide.js';

const flume = withFlumeJars(withFlumeJars(flumeEnv(), FLUME_SINK_JARS), FLUME_KAFKA_CHANNEL_JAR);
const kafka = kafkaEnv();
const env = { skip: flume.skip || kafka.skip, note: flume.note || kafka.note };
type SideName = 'flume' | 'rxflume';
const SIDES: SideName[] = ['flume', 'rxflume'];
const other = (side: SideName): SideName => (side === 'flume' ? 'rxflume' : 'flume');

/** A channel fed by a netcat source whose events carry `headers`, on a topic of its own per side. */
interface PutProbe {
  name: string;
  headers: Record<string, string>;
  /** Channel key lines besides type, servers, topic and group. */
  keys: string[];
  partitions?: number;
}
const PUT_PROBES: PutProbe[] = [
  { name: 'avro', headers: { h: 'v', key: 'K1' }, keys: ['kafka.pollTimeout = 200'] },
  { name: 'raw', headers: { h: 'v', key: 'K1' }, keys: ['parseAsFlumeEvent = false'] },
  { name: 'raw_nokey', headers: { h: 'v' }, keys: ['parseAsFlumeEvent = false'] },
  { name: 'pid', headers: { p: '2' }, keys: ['partitionIdHeader = p', 'defaultPartitionId = 1'], partitions: 3 },
  { name: 'dpid', headers: {}, keys: ['defaultPartitionId = 1'], partitions: 3 },
];
const LINES = ['one', 'two é€', '', 'three'];

/** A channel with no source, reading a topic someone else wrote. */
interface ReadProbe {
  name: string;
  keys: string[];
  /** The put probe whose topic, as the other side wrote it, this reads; else the external topic. */
  across?: string;
}
const READ_PROBES: ReadProbe[] = [
  { name: 'x_avro', keys: [], across: 'avro' },
  { name: 'x_raw', keys: ['parseAsFlumeEvent = false'], across: 'raw' },
  { name: 'ext', keys: ['parseAsFlumeEvent = false'] },
];
const EXTERNAL = [
  { partition: 0, value: 'e0' },
  { partition: 0, key: 'k1', value: 'e1 é€', headers: { kh: 'kv' } },
  { partition: 1, key: 'k2', value: 'e2' },
  { partition: 1, value: 'e3', headers: { key: 'from-header' } },
];

describe.skipIf(env.skip)(`Kafka channel vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-kafka-channel-interop-');
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  let bootstrap = '';
  let external = '';
  /** `<side>/<put probe>` → that side's channel topic. */
  const topics = new Map<string, string>();
  const records = new Map<string, ConsumedRecord[]>();
  const events = new Map<string, HeaderAndText[]>();
  const topicOf = (side: SideName, probe: string): string => topics.get(`${side}/${probe}`)!;

  function conf(side: SideName, ports: number[], out: string): string {
    const all = [...PUT_PROBES, ...READ_PROBES];
    const lines = [
      `a1.sources = ${PUT_PROBES.map((p) => `r_${p.name}`).join(' ')}`,
      `a1.channels = ${all.map((p) => `c_${p.name}`).join(' ')}`,
      `a1.sinks = ${all.map((p) => `k_${p.name}`).join(' ')}`,
    ];
    const channel = (name: string, topic: string, keys: string[]) => {
      const c = `a1.channels.c_${name}`;
      lines.push(`${c}.type = org.apache.flume.channel.kafka.KafkaChannel`, `${c}.kafka.bootstrap.servers = ${bootstrap}`, `${c}.kafka.topic = ${topic}`);
      lines.push(`${c}.kafka.consumer.group.id = ${side}-${name}-${process.pid}`, ...keys.map((k) => `${c}.${k}`));
      const k = `a1.sinks.k_${name}`;
      lines.push(`${k}.type = file_roll`, `${k}.channel = c_${name}`, `${k}.sink.directory = ${out}/${name}`, `${k}.sink.rollInterval = 0`, `${k}.sink.serializer = header_and_text`);
    };
    for (const [i, p] of PUT_PROBES.entries()) {
      const r = `a1.sources.r_${p.name}`;
      lines.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${ports[i]!}`, `${r}.channels = c_${p.name}`);
      const names = Object.keys(p.headers).map((_, j) => `i${j}`);
      if (names.length > 0) lines.push(`${r}.interceptors = ${names.join(' ')}`);
      for (const [j, [h, v]] of Object.entries(p.headers).entries()) lines.push(`${r}.interceptors.i${j}.type = static`, `${r}.interceptors.i${j}.key = ${h}`, `${r}.interceptors.i${j}.value = ${v}`);
      channel(p.name, topicOf(side, p.name), p.keys);
    }
    for (const p of READ_PROBES) channel(p.name, p.across ? topicOf(other(side), p.across) : external, p.keys);
    return `${lines.join('\n')}\n`;
  }

  beforeAll(async () => {
    bootstrap = requireKafka();
    for (const side of SIDES) for (const p of PUT_PROBES) topics.set(`${side}/${p.name}`, await createTopic(bootstrap, `kc-${side}-${p.name}`, p.partitions ?? 1));
    external = await createTopic(bootstrap, 'kc-external', 2);
    const producer = testKafka(bootstrap).producer();
    await producer.connect();
    await producer.send({ topic: external, acks: -1, messages: EXTERNAL });
    await producer.disconnect();

    const ports = await freePorts(2 * PUT_PROBES.length);
    const flumePorts = ports.slice(0, PUT_PROBES.length);
    const ourPorts = ports.slice(PUT_PROBES.length);
    const ourOut = join(work.dir, 'out');
    const names = [...PUT_PROBES, ...READ_PROBES].map((p) => p.name);
    for (const n of names) mkdirSync(join(ourOut, n), { recursive: true });
    const classpath = [...(await flumeExtraJars(FLUME_SINK_JARS)), await flumeJarPath(FLUME_KAFKA_CHANNEL_JAR)];
    agent = await startFlumeAgent({ conf: conf('flume', flumePorts, '{{dir}}/out'), mkdirs: names.map((n) => `out/${n}`), classpath });
    const loaded = await loadAgentConfigTexts([{ file: 'kafkaChannel.conf', text: conf('rxflume', ourPorts, ourOut) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    ours = runAgent(loaded.topology);
    const answers = await Promise.all(PUT_PROBES.flatMap((p, i) => [netcatSend(flumePorts[i]!, LINES, true), netcatSend(ourPorts[i]!, LINES, true)]));
    expect(answers).toEqual(Array(2 * PUT_PROBES.length).fill(Array(LINES.length).fill('OK')));
    await Promise.all(
      SIDES.flatMap((side) =>
        PUT_PROBES.map(async (p) => {
          const got: ConsumedRecord[] = [];
          await consumeRecords(bootstrap, topicOf(side, p.name), LINES.length, (batch) => got.push(...batch), 60_000).catch(() => undefined);
          records.set(`${side}/${p.name}`, got);
        }),
      ),
    );
    await Promise.all(
      SIDES.flatMap((side) =>
        names.map(async (n) => {
          const dir = side === 'flume' ? join(agent!.dir, 'out', n) : join(ourOut, n);
          const count = n === 'ext' ? EXTERNAL.length : LINES.length;
          events.set(`${side}/${n}`, await rolledHeaderAndText(dir, { count, timeoutMs: 60_000 }));
        }),
      ),
    );
  }, 240_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 3000 }).catch(() => undefined);
    await agent?.stop();
    work.cleanup();
  }, 60_000);

  /** A record as compared: what Kafka stored. */
  const stored = (side: SideName, probe: string) =>
    (records.get(`${side}/${probe}`) ?? []).map((r) => ({
      partition: r.partition,
      key: r.message.key?.toString('utf8') ?? null,
      value: r.message.value?.toString('base64'),
      headers: Object.keys(r.message.headers ?? {}),
    }));
  /** Delivered events in order (one partition), or sorted by body (`ext`: two partitions). */
  const delivered = (side: SideName, probe: string) => {
    const list = (events.get(`${side}/${probe}`) ?? []).map((e) => ({ headers: e.headers, body: e.body }));
    return probe === 'ext' ? list.sort((a, b) => (a.body < b.body ? -1 : a.body > b.body ? 1 : 0)) : list;
  };

  for (const p of PUT_PROBES)
    it(`put ${p.name} (${[...p.keys, ...Object.entries(p.headers).map(([k, v]) => `${k}=${v}`)].join(', ') || 'defaults'}): the same records in the channel topic`, () => {
      const f = stored('flume', p.name);
      expect(f).toHaveLength(LINES.length);
      expect(stored('rxflume', p.name)).toEqual(f);
    });

  for (const p of PUT_PROBES)
    it(`take ${p.name}: the same events delivered, headers included`, () => {
      const f = delivered('flume', p.name);
      expect(f).toHaveLength(LINES.length);
      expect(delivered('rxflume', p.name)).toEqual(f);
    });

  for (const p of READ_PROBES.filter((r) => r.across))
    it(`across ${p.name}: each side's channel reads the other side's ${p.across} topic into what the writer delivered`, () => {
      for (const side of SIDES) expect({ side, events: delivered(side, p.name) }).toEqual({ side, events: delivered(other(side), p.across!) });
    });

  it('a channel with no source over records another producer wrote (parseAsFlumeEvent = false): the same events', () => {
    const f = delivered('flume', 'ext');
    expect(f).toHaveLength(EXTERNAL.length);
    expect(delivered('rxflume', 'ext')).toEqual(f);
  });

  it("the cases carry what they test, on Flume's side: Avro values, bare bodies, the record key as `key` header, partitions", () => {
    const avro = stored('flume', 'avro');
    expect(avro.map((r) => [r.key, r.partition])).toEqual(Array(LINES.length).fill(['K1', 0]));
    expect(avro.map((r) => r.value)).not.toEqual(LINES.map((l) => Buffer.from(l).toString('base64')));
    expect(stored('flume', 'raw').map((r) => r.value)).toEqual(LINES.map((l) => Buffer.from(l).toString('base64')));
    expect(delivered('flume', 'avro').map((e) => e.headers)).toEqual(Array(LINES.length).fill({ h: 'v', key: 'K1' }));
    expect(delivered('flume', 'raw').map((e) => e.headers)).toEqual(Array(LINES.length).fill({ key: 'K1' }));
    expect(delivered('flume', 'raw_nokey').map((e) => e.headers)).toEqual(Array(LINES.length).fill({}));
    expect(delivered('flume', 'raw').map((e) => e.body)).toEqual(LINES);
    expect(stored('flume', 'pid').map((r) => r.partition)).toEqual(Array(LINES.length).fill(2));
    expect(stored('flume', 'dpid').map((r) => r.partition)).toEqual(Array(LINES.length).fill(1));
    expect(delivered('flume', 'ext').map((e) => e.headers)).toEqual([{}, { key: 'k1' }, { key: 'k2' }, {}]);
  });
});
