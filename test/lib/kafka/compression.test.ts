/**
 * Kafka compression against the run's broker, with Kafka's own Java client as the oracle
 * (test/support/KafkaProbe.java): kafkaSink and kafkaChannel write snappy, lz4 and zstd record
 * batches that the Java consumer reads back intact and that the broker stores compressed; kafkajs
 * (kafkaChannel's take side, a plain consumer) reads what the Java producer compressed with each codec.
 * One JVM serves the whole file.
 */
import { Observable } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFlumeEvent } from '../../../lib/avro/flumeEventAvro.js';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import { compressionFromFlume } from '../../../lib/kafka/compression.js';
import { kafkaSink } from '../../../lib/sinks/kafkaSink.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { kafkaChannel } from '../../../operators/channels/kafkaChannel.js';
import { consumeRecords, createTopic, kafkaEnv, requireKafka, uniqueTopic } from '../../support/kafka.js';
import { kafkaProbe, type ProbeOutput } from '../../support/kafkaProbe.js';

const CODECS = ['snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
const N = 200;
const line = (i: number): string => `event ${i} ${'compressible text '.repeat(50)}`;
const events: FlumeEvent[] = Array.from({ length: N }, (_, i) => ({ headers: { n: String(i) }, body: Buffer.from(line(i)) }));
const RAW_BYTES = events.reduce((n, e) => n + e.body.length, 0);
const JAVA_TEXT = `java wrote ${'compressible text '.repeat(20)}`;
const quiet = { logLevel: 'nothing' } as const;

function deliverAll(batches: readonly FlumeEvent[][]): Observable<Batch> {
  return new Observable<Batch>((s) => {
    let i = 0;
    const next = (): void => {
      if (i === batches.length) return s.complete();
      s.next(createBatch(batches[i++]!, { onAck: next, onNack: (e) => s.error(e) }));
    };
    next();
  });
}

async function valuesOf(bootstrap: string, topic: string, count: number): Promise<string[]> {
  const out: string[] = [];
  await consumeRecords(bootstrap, topic, count, (rs) => out.push(...rs.map((r) => r.message.value!.toString())));
  return out;
}

describe('compression.type from Flume keys', () => {
  it('takes none, gzip, snappy, lz4 and zstd in any case, and names the choices otherwise', () => {
    const map = (v: string) => compressionFromFlume(new Map([['kafka.producer.compression.type', v]]));
    for (const v of ['none', 'GZIP', 'snappy', 'LZ4', ' zstd ']) expect(map(v)).toMatchObject({ options: { compression: v.trim().toLowerCase() }, problems: [] });
    expect(map('brotli').problems).toEqual([{ key: 'kafka.producer.compression.type', message: 'expected one of none, gzip, snappy, lz4, zstd' }]);
  });
});

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`Kafka compression read by the Java client${kafka.note}`, () => {
  let bootstrap: string;
  const sinkTopic = {} as Record<Codec, string>;
  const channelTopic = {} as Record<Codec, string>;
  const javaTopic = {} as Record<Codec, string>;
  const taken = {} as Record<Codec, FlumeEvent[]>;
  let java: ProbeOutput;

  beforeAll(async () => {
    bootstrap = requireKafka();
    for (const codec of CODECS) {
      // One at a time: kafkajs's waitForLeaders can fail on topics created side by side.
      sinkTopic[codec] = await createTopic(bootstrap, `sink-${codec}`);
      channelTopic[codec] = await createTopic(bootstrap, `chan-${codec}`);
      javaTopic[codec] = await createTopic(bootstrap, `java-${codec}`);
      const sink = kafkaSink({ brokers: [bootstrap], topic: sinkTopic[codec], compression: codec, ...quiet });
      await pipe(deliverAll([events.slice(0, 100), events.slice(100)]), sink).done;
      taken[codec] = [];
      const channel = kafkaChannel({ brokers: bootstrap, topic: channelTopic[codec], groupId: uniqueTopic('g'), compression: codec, pollTimeoutMs: 100, ...quiet });
      await pipe(deliverAll([events.slice(0, 100), events.slice(100)]), channel, observerSink((e) => taken[codec].push(e))).done;
    }
    java = await kafkaProbe(
      bootstrap,
      CODECS.flatMap((c) => [
        { read: sinkTopic[c], count: N },
        { size: sinkTopic[c] },
        { read: channelTopic[c], count: N },
        { size: channelTopic[c] },
        { write: javaTopic[c], codec: c, count: N, text: JAVA_TEXT },
      ]),
    );
  }, 300_000);

  it.each(CODECS)("%s: the Java consumer reads kafkaSink's records, stored compressed", async (codec) => {
    expect((java.values.get(sinkTopic[codec]) ?? []).map((v) => v.toString())).toEqual(events.map((e) => text(e)));
    expect(java.sizes.get(sinkTopic[codec])).toBeLessThan(RAW_BYTES / 4);
    expect(await valuesOf(bootstrap, sinkTopic[codec], N)).toEqual(events.map((e) => text(e)));
  });

  it.each(CODECS)("%s: the Java consumer reads kafkaChannel's puts (AvroFlumeEvents, stored compressed); its take side reads them back", (codec) => {
    expect((java.values.get(channelTopic[codec]) ?? []).map((v) => decodeFlumeEvent(v))).toEqual(events);
    expect(java.sizes.get(channelTopic[codec])).toBeLessThan(RAW_BYTES / 4);
    expect(taken[codec]).toEqual(events);
  });

  it.each(CODECS)('%s: kafkajs reads what the Java producer compressed', async (codec) => {
    expect(java.written.has(javaTopic[codec])).toBe(true);
    expect(await valuesOf(bootstrap, javaTopic[codec], N)).toEqual(Array.from({ length: N }, (_, i) => `${JAVA_TEXT} ${i}`));
  });
});
