/**
 * Flume 1.11's batch-size rule (AbstractConfigurationProvider.checkSourceChannelCompatibility /
 * checkSinkChannelCompatibility): a source or sink whose class implements BatchSizeSupported, on a
 * channel whose class implements TransactionCapacitySupported, with a batch size larger than the
 * channel's transactionCapacity — defaults included — is dropped at start. rxflume marks those
 * components (spec.flumeChecksBatchSize) and refuses such a configuration, at the line that decides it;
 * other pairs are compared only where the configuration sets both values. What Flume itself does with
 * these configurations: test/interop/batchSize.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTopology } from '../../../lib/agent/build.js';
import { formatDiagnostic } from '../../../lib/agent/diagnostic.js';
import { readAgentConfig } from '../../../lib/agent/flumeConfig.js';
import { registry } from '../../../lib/agent/components.js';
import { runCli, scratch } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';

async function load(text: string) {
  const read = await readAgentConfig(text, 'a1', 'agent.properties');
  const built = buildTopology(read.config, registry);
  return [...read.diagnostics, ...built.diagnostics].filter((d) => d.severity === 'error').map(formatDiagnostic);
}

/** One source → channel c1 → one sink; `source`, `channel` and `sink` are key lines below their prefixes. */
const conf = (source: string[], channel: string[], sink: string[]) =>
  [
    'a1.sources = r1',
    'a1.channels = c1',
    'a1.sinks = k1',
    ...source.map((l) => `a1.sources.r1.${l}`),
    'a1.sources.r1.channels = c1',
    ...channel.map((l) => `a1.channels.c1.${l}`),
    ...sink.map((l) => `a1.sinks.k1.${l}`),
    'a1.sinks.k1.channel = c1',
    '',
  ].join('\n');

const seq = ['type = seq'];
const logger = ['type = logger'];

describe("Flume's batch-size rule", () => {
  it('is declared by exactly the components whose Flume classes implement BatchSizeSupported / TransactionCapacitySupported', () => {
    const flagged = registry.components.filter((c) => c.spec.flumeChecksBatchSize === true).map((c) => `${c.spec.kind} ${c.spec.flumeTypes.find((t) => t.includes('.'))}`);
    expect(flagged.sort()).toEqual(
      [
        // BatchSizeSupported sources (flume-ng-core, taildir, kafka and jms sources; Twitter rxflume has not).
        'source org.apache.flume.source.ExecSource',
        'source org.apache.flume.source.MultiportSyslogTCPSource',
        'source org.apache.flume.source.SequenceGeneratorSource',
        'source org.apache.flume.source.SpoolDirectorySource',
        'source org.apache.flume.source.StressSource',
        'source org.apache.flume.source.kafka.KafkaSource',
        'source org.apache.flume.source.jms.JMSSource',
        'source org.apache.flume.source.taildir.TaildirSource',
        // BatchSizeSupported sinks (AbstractRpcSink: avro, thrift; HBase, Hive, Morphline rxflume has not).
        'sink org.apache.flume.sink.AvroSink',
        'sink org.apache.flume.sink.ThriftSink',
        'sink org.apache.flume.sink.NullSink',
        'sink org.apache.flume.sink.RollingFileSink',
        'sink org.apache.flume.sink.hdfs.HDFSEventSink',
        'sink org.apache.flume.sink.kafka.KafkaSink',
        // TransactionCapacitySupported channels (SpillableMemoryChannel extends FileChannel); not KafkaChannel.
        'channel org.apache.flume.channel.MemoryChannel',
        'channel org.apache.flume.channel.file.FileChannel',
        'channel org.apache.flume.channel.SpillableMemoryChannel',
      ].sort(),
    );
  });

  it("compares defaults where Flume checks both: an exec source's 20 over a memory channel's transactionCapacity 10, at the channels line", async () => {
    expect(await load(conf(['type = exec', 'command = true'], ['type = memory', 'transactionCapacity = 10'], logger))).toEqual([
      'agent.properties:6: error: a1.sources.r1.channels: batchSize 20 (its default) exceeds channel `c1`\'s transactionCapacity 10: Flume 1.11 drops this source at start ("Incompatible source and channel settings") and runs without it; set batchSize ≤ 10 or the channel\'s transactionCapacity ≥ 20',
    ]);
  });

  it("a Kafka source's default 1000 over the memory channel's default 100: both defaults named", async () => {
    const kafka = ['type = org.apache.flume.source.kafka.KafkaSource', 'kafka.bootstrap.servers = 127.0.0.1:9', 'kafka.topics = t'];
    expect(await load(conf(kafka, ['type = memory'], logger))).toEqual([
      expect.stringMatching(/^agent\.properties:7: error: a1\.sources\.r1\.channels: batchSize 1000 \(its default\) exceeds channel `c1`'s transactionCapacity 100 \(its default\): Flume 1\.11 drops this source/),
    ]);
    expect(await load(conf(kafka, ['type = memory', 'capacity = 1000', 'transactionCapacity = 1000'], logger))).toEqual([]);
    expect(await load(conf([...kafka, 'batchSize = 100'], ['type = memory'], logger))).toEqual([]);
  });

  it("sinks: a file_roll sink's default 100 over transactionCapacity 50 at the channel line; hdfs.batchSize and avro's batch-size at their own lines", async () => {
    expect(await load(conf(seq, ['type = memory', 'transactionCapacity = 50'], ['type = file_roll', 'sink.directory = /tmp']))).toEqual([
      expect.stringMatching(/^agent\.properties:10: error: a1\.sinks\.k1\.channel: batchSize 100 \(its default\) exceeds channel `c1`'s transactionCapacity 50: Flume 1\.11 drops this sink at start \("Incompatible sink and channel settings"\)/),
    ]);
    expect(await load(conf(seq, ['type = memory'], ['type = hdfs', 'hdfs.path = /flume', 'hdfs.batchSize = 101']))).toEqual([
      expect.stringMatching(/^agent\.properties:9: error: a1\.sinks\.k1\.hdfs\.batchSize: batchSize 101 exceeds channel `c1`'s transactionCapacity 100 \(its default\): Flume 1\.11 drops this sink/),
    ]);
    expect(await load(conf(seq, ['type = memory', 'transactionCapacity = 5'], ['type = avro', 'hostname = h', 'port = 4141', 'batch-size = 6']))).toEqual([
      expect.stringMatching(/^agent\.properties:11: error: a1\.sinks\.k1\.batch-size: batchSize 6 exceeds channel `c1`'s transactionCapacity 5: /),
    ]);
    // Equal is allowed, as in Flume (transCap < batchSize drops).
    expect(await load(conf(['type = seq', 'batchSize = 50'], ['type = memory', 'transactionCapacity = 50'], ['type = null', 'batchSize = 50']))).toEqual([]);
  });

  it('checks every channel of a source, naming the one too small', async () => {
    const text = conf(['type = seq', 'batchSize = 50'], ['type = memory'], logger).replace('a1.channels = c1', 'a1.channels = c1 c2').replace('a1.sources.r1.channels = c1', 'a1.sources.r1.channels = c1 c2');
    expect(await load(`${text}a1.channels.c2.type = memory\na1.channels.c2.transactionCapacity = 20\n`)).toEqual([
      expect.stringMatching(/^agent\.properties:5: error: a1\.sources\.r1\.batchSize: batchSize 50 exceeds channel `c2`'s transactionCapacity 20: Flume 1\.11 drops this source/),
    ]);
  });

  it('leaves defaults alone where Flume does not check: a netcat source (100) over transactionCapacity 2, an http sink, a Kafka channel', async () => {
    expect(await load(conf(['type = netcat', 'bind = 127.0.0.1', 'port = 44444'], ['type = memory', 'transactionCapacity = 2'], logger))).toEqual([]);
    expect(await load(conf(seq, ['type = memory', 'transactionCapacity = 1'], ['type = http', 'endpoint = http://127.0.0.1:9/']))).toEqual([]);
    const kafkaChannel = ['type = org.apache.flume.channel.kafka.KafkaChannel', 'kafka.bootstrap.servers = 127.0.0.1:9', 'kafka.topic = t', 'transactionCapacity = 10'];
    expect(await load(conf(['type = exec', 'command = true'], kafkaChannel, logger))).toEqual([]);
  });

  it("still refuses values the configuration sets on any pair (rxflume's channel would refuse every such put)", async () => {
    expect(await load(conf(['type = netcat', 'bind = 127.0.0.1', 'port = 44444', 'batchSize = 5'], ['type = memory', 'transactionCapacity = 2'], logger))).toEqual([
      "agent.properties:7: error: a1.sources.r1.batchSize: batchSize 5 exceeds channel `c1`'s transactionCapacity 2; batch size must be ≤ transactionCapacity (Flume's rule)",
    ]);
  });

  describe('rxflume validate', () => {
    const work = scratch('rxflume-batch-size-');
    beforeAll(() => buildDist(), 180_000);

    it('exits 2 with the located error where Flume would drop a component, 0 once it fits', async () => {
      const file = work.write('agent.properties', conf(['type = exec', 'command = true'], ['type = memory', 'transactionCapacity = 10'], logger));
      const refused = await runCli(['validate', '-n', 'a1', '-f', file]);
      expect(refused.code, refused.stdout + refused.stderr).toBe(2);
      expect(refused.stdout + refused.stderr).toContain(`${file}:6: error: a1.sources.r1.channels: batchSize 20 (its default) exceeds channel \`c1\`'s transactionCapacity 10: Flume 1.11 drops this source`);
      const fits = work.write('fits.properties', conf(['type = exec', 'command = true', 'batchSize = 10'], ['type = memory', 'transactionCapacity = 10'], logger));
      const ok = await runCli(['validate', '-n', 'a1', '-f', fits]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      work.cleanup();
    }, 60_000);
  });
});
