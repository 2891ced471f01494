/**
 * The Kafka sink and source against a real Apache Flume 1.11.0 agent and the run's Kafka broker
 * (test/support/kafkaGlobalSetup.ts): one properties text per side (Flume with its Kafka jars:
 * scripts/flume.ts FLUME_SINK_JARS; rxflume loaded with loadAgentConfigTexts, run by runAgent); the test
 * reads and writes Kafka with kafkajs.
 *
 * Sink: per probe a netcat source, static interceptors setting headers, a memory channel and a kafka
 * sink, each side writing its own topics; the records each side wrote (topic, partition, key, value
 * bytes, record headers) must be the same: the `key` header as record key, `partitionIdHeader`,
 * `defaultPartitionId`, `useFlumeEventFormat` (Avro-wrapped records, bytes compared), the `topic` header
 * overriding the topic, `allowTopicOverride = false`, a custom `topicHeader`, and record headers: none
 * without `header.<flume> = <kafka>` keys (Flume 1.11 copies none; rxflume's library default copies all,
 * so a Flume file maps to copyHeaders: false), only the mapped one with them.
 * Source: both sides read the same topics (each its own group) into file_roll (header_and_text): the
 * events (headers Flume sets: topic, partition, offset, key, timestamp; bodies) must be the same, with
 * `setTopicHeader = false`, a custom `topicHeader`, `batchSize`/`batchDurationMillis`, and
 * `useFlumeEventFormat` reading Flume's own Avro-wrapped records, Kafka record headers (one named
 * `topic`) not copied without `header.*` keys, and `header.fh = kh` copying one.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1 (and RXFLUME_REQUIRE_KAFKA=1).
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { scratch } from '../support/cli.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { FLUME_SINK_JARS, flumeExtraJars, withFlumeJars } from '../support/flumeJars.js';
import { consumeRecords, createTopic, kafkaEnv, requireKafka, testKafka, type ConsumedRecord } from '../support/kafka.js';
import { netcatSend } from '../support/net.js';
import { rolledHeaderAndText, type HeaderAndText } from '../support/sideBySide.js';

const flume = withFlumeJars(flumeEnv(), FLUME_SINK_JARS);
const kafka = kafkaEnv();
const env = { skip: flume.skip || kafka.skip, note: flume.note || kafka.note };
type SideName = 'flume' | 'rxflume';
const SIDES: SideName[] = ['flume', 'rxflume'];

interface SinkProbe {
  name: string;
  /** Static headers set on every event. */
  headers: Record<string, string>;
  /** Sink key lines besides type, channel, servers and topic. */
  keys: string[];
  partitions?: number;
  /** The header `topic` (or `topicHeader`) value names this probe's second topic (`<probe>_other`). */
  overrideTopic?: string;
}

const SINK_PROBES: SinkProbe[] = [
  { name: 'plain', headers: {}, keys: [] },
  { name: 'key', headers: { key: 'K1', other: 'o' }, keys: [], partitions: 3 },
  { name: 'pid', headers: { p: '2' }, keys: ['partitionIdHeader = p'], partitions: 3 },
  { name: 'dpid', headers: {}, keys: ['defaultPartitionId = 1'], partitions: 3 },
  { name: 'avro', headers: { h: 'v', key: 'K2' }, keys: ['useFlumeEventFormat = true'] },
  { name: 'override', headers: {}, keys: [], overrideTopic: 'topic' },
  { name: 'no_override', headers: {}, keys: ['allowTopicOverride = false'], overrideTopic: 'topic' },
  { name: 'custom_header', headers: {}, keys: ['topicHeader = dest'], overrideTopic: 'dest' },
  { name: 'hmap', headers: { other: 'o', skip: 's' }, keys: ['header.other = X-Other'] },
];
const SINK_LINES = ['one', 'two é€', 'three'];

interface SourceProbe {
  name: string;
  keys: string[];
  /** Reads the topic the Flume side's `avro` sink probe wrote instead of the test's. */
  readsFlumeAvro?: boolean;
}
const SOURCE_PROBES: SourceProbe[] = [
  { name: 'src', keys: ['batchSize = 2', 'batchDurationMillis = 200'] },
  { name: 'src_notopic', keys: ['setTopicHeader = false'] },
  { name: 'src_topichdr', keys: ['topicHeader = from'] },
  { name: 'src_avro', keys: ['useFlumeEventFormat = true'], readsFlumeAvro: true },
  { name: 'src_hmap', keys: ['header.fh = kh'] },
];

/** createTopic, again (a new name) when the fresh broker's metadata lags behind it (seen once in CI-like runs). */
async function newTopic(bootstrap: string, prefix: string, partitions = 1): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createTopic(bootstrap, prefix, partitions);
    } catch (error) {
      if (attempt >= 3 || !(error as { retriable?: boolean }).retriable) throw error;
    }
  }
}

describe.skipIf(env.skip)(`Kafka sink and source vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-kafka-interop-');
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  /** `<side>/<topic key>` → topic name. */
  const topics = new Map<string, string>();
  const records = new Map<string, ConsumedRecord[]>();
  const events = new Map<string, HeaderAndText[]>();
  let sourceTopic = '';
  let bootstrap = '';

  const topicOf = (side: SideName, key: string): string => topics.get(`${side}/${key}`)!;

  function conf(side: SideName, ports: number[], out: string): string {
    const lines = [
      `a1.sources = ${[...SINK_PROBES.map((p) => `r_${p.name}`), ...SOURCE_PROBES.map((p) => `r_${p.name}`)].join(' ')}`,
      `a1.channels = ${[...SINK_PROBES, ...SOURCE_PROBES].map((p) => `c_${p.name}`).join(' ')}`,
      `a1.sinks = ${[...SINK_PROBES, ...SOURCE_PROBES].map((p) => `k_${p.name}`).join(' ')}`,
    ];
    for (const [i, p] of SINK_PROBES.entries()) {
      const [r, c, k] = [`a1.sources.r_${p.name}`, `a1.channels.c_${p.name}`, `a1.sinks.k_${p.name}`];
      lines.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${ports[i]!}`, `${r}.channels = c_${p.name}`);
      const headers = { ...p.headers, ...(p.overrideTopic ? { [p.overrideTopic]: topicOf(side, `${p.name}_other`) } : {}) };
      const names = Object.keys(headers).map((h, j) => `i${j}`);
      if (names.length > 0) lines.push(`${r}.interceptors = ${names.join(' ')}`);
      for (const [j, [h, v]] of Object.entries(headers).entries()) lines.push(`${r}.interceptors.i${j}.type = static`, `${r}.interceptors.i${j}.key = ${h}`, `${r}.interceptors.i${j}.value = ${v}`);
      lines.push(`${c}.type = memory`, `${c}.capacity = 100`, `${c}.transactionCapacity = 10`);
      lines.push(`${k}.type = org.apache.flume.sink.kafka.KafkaSink`, `${k}.channel = c_${p.name}`, `${k}.kafka.bootstrap.servers = ${bootstrap}`);
      lines.push(`${k}.kafka.topic = ${topicOf(side, p.name)}`, `${k}.flumeBatchSize = 10`, ...p.keys.map((key) => `${k}.${key}`));
    }
    for (const p of SOURCE_PROBES) {
      const [r, c, k] = [`a1.sources.r_${p.name}`, `a1.channels.c_${p.name}`, `a1.sinks.k_${p.name}`];
      lines.push(`${r}.type = org.apache.flume.source.kafka.KafkaSource`, `${r}.channels = c_${p.name}`, `${r}.kafka.bootstrap.servers = ${bootstrap}`);
      lines.push(`${r}.kafka.topics = ${p.readsFlumeAvro ? topicOf('flume', 'avro') : sourceTopic}`, `${r}.kafka.consumer.group.id = ${side}-${p.name}-${process.pid}`);
      lines.push(`${r}.kafka.consumer.auto.offset.reset = earliest`, ...p.keys.map((key) => `${r}.${key}`));
      lines.push(`${c}.type = memory`, `${c}.capacity = 10000`, `${c}.transactionCapacity = 1000`);
      lines.push(`${k}.type = file_roll`, `${k}.channel = c_${p.name}`, `${k}.sink.directory = ${out}/${p.name}`, `${k}.sink.rollInterval = 0`, `${k}.sink.serializer = header_and_text`);
    }
    return `${lines.join('\n')}\n`;
  }

  beforeAll(async () => {
    bootstrap = requireKafka();
    for (const side of SIDES)
      for (const p of SINK_PROBES) {
        topics.set(`${side}/${p.name}`, await newTopic(bootstrap, `fi-${side}-${p.name}`, p.partitions ?? 1));
        if (p.overrideTopic) topics.set(`${side}/${p.name}_other`, await newTopic(bootstrap, `fi-${side}-${p.name}-other`));
      }
    // The source's records: keyed and not, with Kafka headers, across 2 partitions.
    sourceTopic = await newTopic(bootstrap, 'fi-source', 2);
    const producer = testKafka(bootstrap).producer();
    await producer.connect();
    await producer.send({
      topic: sourceTopic,
      acks: -1,
      messages: [
        { partition: 0, value: 's0' },
        { partition: 0, key: 'k1', value: 's1 é€', headers: { kh: 'kv' } },
        { partition: 1, key: 'k2', value: 's2' },
        { partition: 1, value: 's3', headers: { topic: 'from-header' } },
      ],
    });
    await producer.disconnect();

    const ports = await freePorts(2 * SINK_PROBES.length);
    const flumePorts = ports.slice(0, SINK_PROBES.length);
    const ourPorts = ports.slice(SINK_PROBES.length);
    const ourOut = join(work.dir, 'out');
    for (const p of SOURCE_PROBES) mkdirSync(join(ourOut, p.name), { recursive: true });
    agent = await startFlumeAgent({ conf: conf('flume', flumePorts, '{{dir}}/out'), mkdirs: SOURCE_PROBES.map((p) => `out/${p.name}`), classpath: await flumeExtraJars(FLUME_SINK_JARS) });
    const loaded = await loadAgentConfigTexts([{ file: 'kafka.conf', text: conf('rxflume', ourPorts, ourOut) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    ours = runAgent(loaded.topology);
    await Promise.all(SINK_PROBES.flatMap((p, i) => [netcatSend(flumePorts[i]!, SINK_LINES, true), netcatSend(ourPorts[i]!, SINK_LINES, true)]));
    const read = async (key: string, topic: string, count: number): Promise<void> => {
      const got: ConsumedRecord[] = [];
      await consumeRecords(bootstrap, topic, count, (batch) => got.push(...batch), 60_000).catch(() => undefined);
      records.set(key, got);
    };
    await Promise.all(
      SIDES.flatMap((side) =>
        SINK_PROBES.map((p) => {
          const [key, count] = p.overrideTopic && p.name !== 'no_override' ? [`${p.name}_other`, SINK_LINES.length] : [p.name, SINK_LINES.length];
          return read(`${side}/${p.name}`, topicOf(side, key), count);
        }),
      ),
    );
    const expected: Record<string, number> = { src: 4, src_notopic: 4, src_topichdr: 4, src_avro: SINK_LINES.length, src_hmap: 4 };
    await Promise.all(
      SIDES.flatMap((side) =>
        SOURCE_PROBES.map(async (p) => {
          const dir = side === 'flume' ? join(agent!.dir, 'out', p.name) : join(ourOut, p.name);
          events.set(`${side}/${p.name}`, await rolledHeaderAndText(dir, { count: expected[p.name]!, timeoutMs: 60_000 }));
        }),
      ),
    );
  }, 240_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 3000 }).catch(() => undefined);
    await agent?.stop();
    work.cleanup();
  }, 60_000);

  /** A record as compared: what Kafka stored, the topic names made side-neutral. */
  const view = (side: SideName, r: ConsumedRecord) => ({
    partition: r.partition,
    key: r.message.key?.toString('latin1') ?? null,
    value: r.message.value?.toString('base64'),
    headers: Object.fromEntries(Object.entries(r.message.headers ?? {}).map(([k, v]) => [k, String(v).replaceAll(`-${side}-`, '-SIDE-')])),
  });
  const sinkRecords = (side: SideName, probe: string) => (records.get(`${side}/${probe}`) ?? []).map((r) => view(side, r));

  for (const p of SINK_PROBES)
    it(`sink ${p.name} (${[...p.keys, ...Object.entries(p.headers).map(([k, v]) => `${k}=${v}`)].join(', ') || 'defaults'}): the same records`, () => {
      const f = sinkRecords('flume', p.name);
      expect(f).toHaveLength(SINK_LINES.length);
      expect(sinkRecords('rxflume', p.name)).toEqual(f);
    });

  it("the cases carry what they test, on Flume's side: key, partitions, a mapped record header, the override topic", () => {
    expect(sinkRecords('flume', 'key').map((r) => [r.key, r.partition])).toEqual(Array(3).fill(['K1', 2]));
    expect(sinkRecords('flume', 'pid').map((r) => r.partition)).toEqual([2, 2, 2]);
    expect(sinkRecords('flume', 'dpid').map((r) => r.partition)).toEqual([1, 1, 1]);
    expect(sinkRecords('flume', 'hmap').map((r) => r.headers)).toEqual(Array(3).fill({ 'X-Other': 'o' }));
    expect(sinkRecords('flume', 'plain').map((r) => r.headers)).toEqual(Array(3).fill({}));
    expect(sourceEvents('flume', 'src_hmap').find((e) => e.body === 's1 é€')?.headers).toMatchObject({ fh: 'kv', key: 'k1' });
    expect(sourceEvents('flume', 'src_notopic').every((e) => !('topic' in e.headers))).toBe(true);
    expect(sourceEvents('flume', 'src_topichdr').every((e) => e.headers['from'] === sourceTopic)).toBe(true);
  });

  const sourceEvents = (side: SideName, probe: string) =>
    (events.get(`${side}/${probe}`) ?? [])
      .map((e) => ({ body: e.body, headers: e.headers }))
      .sort((a, b) => (a.body < b.body ? -1 : a.body > b.body ? 1 : 0));

  for (const p of SOURCE_PROBES)
    it(`source ${p.name} (${p.keys.join(', ')}): the same events, headers included`, () => {
      const f = sourceEvents('flume', p.name);
      expect(f.length).toBeGreaterThan(0);
      expect(sourceEvents('rxflume', p.name)).toEqual(f);
    });
});
