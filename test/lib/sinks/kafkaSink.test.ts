import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { decodeFlumeEvent } from '../../../lib/avro/flumeEventAvro.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import type { Sink } from '../../../lib/core/sink.js';
import { kafkaSink, kafkaSinkSpec, type KafkaSinkOptions } from '../../../lib/sinks/kafkaSink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { freePort } from '../../../scripts/kafka.js';
import { consumeRecords, createTopic, kafkaEnv, ownBroker, requireKafka, topicRecordCount, waitFor, type ConsumedRecord } from '../../support/kafka.js';

/** Hands one batch to the sink; resolves on ack, rejects with the nack's error. */
function deliver(sink: Sink, events: readonly FlumeEvent[]): Promise<void> {
  return new Promise((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
}

const headerText = (r: ConsumedRecord): Record<string, string> =>
  Object.fromEntries(Object.entries(r.message.headers ?? {}).map(([k, v]) => [k, String(v)]));

async function readAll(bootstrap: string, topic: string, count: number): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  await consumeRecords(bootstrap, topic, count, (records) => out.push(...records));
  return out;
}

describe('kafkaSink options', () => {
  it('validates options at call time, naming every bad one', () => {
    expect(() => kafkaSink({} as KafkaSinkOptions)).toThrow(ConfigError);
    const bad = () => kafkaSink({ brokers: [], acks: 2, compression: 'brotli', batchSiz: 5 } as never);
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({ path: 'kafkaSink.brokers' }),
          expect.objectContaining({ path: 'kafkaSink.acks' }),
          expect.objectContaining({ path: 'kafkaSink.compression' }),
          expect.objectContaining({ path: 'kafkaSink.batchSiz', suggestion: 'batchSize' }),
        ],
      }),
    );
  });

  it("declares Flume's type and maps Flume's keys", () => {
    expect(kafkaSinkSpec.flumeTypes).toContain('org.apache.flume.sink.kafka.KafkaSink');
    const keys = kafkaSinkSpec.flumeKeys!;
    const convert = (key: string, value: string) => {
      const m = keys[key]!;
      return typeof m === 'string' ? value : m.convert(value);
    };
    expect(convert('kafka.bootstrap.servers', 'a:9092, b:9092')).toEqual(['a:9092', 'b:9092']);
    expect(convert('kafka.producer.acks', 'all')).toBe('all');
    expect(convert('kafka.producer.acks', '-1')).toBe(-1);
    expect(keys['kafka.topic']).toBe('topic');
    expect(keys['flumeBatchSize']).toBe('batchSize');
    expect(keys['kafka.flumeBatchSize']).toBe('batchSize');
    // compression.type, security.*, ssl.*, sasl.* and header.* go through fromFlume: test/lib/kafka/flumeKeys.test.ts.
    // Flume's defaults, except acks: Flume 1.11 defaults to 1, here 'all' (no loss on leader failover).
    const defaults = kafkaSinkSpec.schema.parse({ brokers: 'x:1' });
    expect(defaults).toMatchObject({ topic: 'default-flume-topic', batchSize: 100, allowTopicOverride: true, topicHeader: 'topic', acks: 'all', useFlumeEventFormat: false });
  });

  it('does not connect before the first batch and closes cleanly without one', async () => {
    const sink = kafkaSink({ brokers: ['127.0.0.1:1'], logLevel: 'nothing' });
    sink.complete();
    await sink.closed;
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ ConnectionCreatedCount: 0, ConnectionFailedCount: 0, ConnectionClosedCount: 0 });
  });
});

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`kafkaSink against a real broker${kafka.note}`, () => {
  // Each test asks for the broker itself, so a broker that failed to start fails every test (CI counts them).
  it('delivers 100k events sequence → memory → kafkaSink, each exactly once, then disconnects', async () => {
    const bootstrap = requireKafka();
    const total = 100_000;
    const topic = await createTopic(bootstrap, 'sink-100k', 3);
    const sink = kafkaSink({ brokers: [bootstrap], topic, batchSize: 1000, logLevel: 'nothing' });
    const pipeline = pipe(
      sequenceSource({ totalEvents: total, batchSize: 1000 }),
      memoryChannel({ capacity: 20_000, transactionCapacity: 1000, maxInFlight: 4 }),
      sink,
    );
    await pipeline.done;
    expect(pipeline.metrics()['SINK.kafkaSink']).toMatchObject({
      EventDrainAttemptCount: total,
      EventDrainSuccessCount: total,
      EventWriteFail: 0,
      ConnectionCreatedCount: 1,
      ConnectionClosedCount: 1,
      ConnectionFailedCount: 0,
      RollbackCount: 0,
    });
    // Exact count from the broker's offsets, then every record read back and checked.
    expect(await topicRecordCount(bootstrap, topic)).toBe(total);
    const seen = new Uint8Array(total);
    let read = 0;
    await consumeRecords(bootstrap, topic, total, (records) => {
      for (const r of records) {
        seen[Number(r.message.value!.toString())]! += 1;
        read++;
      }
    });
    expect(read).toBe(total);
    expect(seen.every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('maps keys, headers, topic override, partition and timestamp headers as Flume', async () => {
    const bootstrap = requireKafka();
    const main = await createTopic(bootstrap, 'sink-main', 3);
    const other = await createTopic(bootstrap, 'sink-other', 1);
    const sink = kafkaSink({ brokers: bootstrap, topic: main, partitionIdHeader: 'part', timestampHeader: 'ts', logLevel: 'nothing' });
    const events = [
      event('keyed-1', { key: 'user-7', app: 'a' }),
      event('keyed-2', { key: 'user-7', app: 'b' }),
      event('keyed-3', { key: 'user-7' }),
      event('to-partition-2', { part: '2', ts: '1700000000123' }),
      event('overridden', { topic: other, key: 'k' }),
      event('bad-ts', { ts: 'yesterday' }),
    ];
    await deliver(sink, events);
    sink.complete();
    await sink.closed;

    const records = await readAll(bootstrap, main, 5);
    const byBody = new Map(records.map((r) => [r.message.value!.toString(), r]));
    expect([...byBody.keys()].sort()).toEqual(['bad-ts', 'keyed-1', 'keyed-2', 'keyed-3', 'to-partition-2']);
    const keyed = ['keyed-1', 'keyed-2', 'keyed-3'].map((b) => byBody.get(b)!);
    expect(keyed.map((r) => r.message.key!.toString())).toEqual(['user-7', 'user-7', 'user-7']);
    expect(new Set(keyed.map((r) => r.partition)).size).toBe(1); // one key, one partition
    expect(keyed.map((r) => Number(r.message.offset))).toEqual([...keyed.map((r) => Number(r.message.offset))].sort((a, b) => a - b));
    expect(headerText(byBody.get('keyed-1')!)).toEqual({ key: 'user-7', app: 'a' });
    expect(byBody.get('to-partition-2')!.partition).toBe(2);
    expect(byBody.get('to-partition-2')!.message.timestamp).toBe('1700000000123');
    expect(byBody.get('to-partition-2')!.message.key).toBeNull();
    expect(Number(byBody.get('bad-ts')!.message.timestamp)).toBeGreaterThan(1700000000123); // broker/producer time instead

    const [overridden] = await readAll(bootstrap, other, 1);
    expect(overridden!.message.value!.toString()).toBe('overridden');
    expect(overridden!.message.key!.toString()).toBe('k');
  }, 120_000);

  it('headerMap sends only the mapped headers, renamed; copyHeaders:false none; %{header} picks the topic', async () => {
    const bootstrap = requireKafka();
    const mapped = await createTopic(bootstrap, 'sink-map');
    const bare = await createTopic(bootstrap, 'sink-bare');
    const templated = await createTopic(bootstrap, 'sink-tpl');
    const suffix = templated.slice('sink-tpl'.length);

    const a = kafkaSink({ brokers: [bootstrap], topic: mapped, headerMap: { app: 'x-app', missing: 'x-missing' }, logLevel: 'nothing' });
    await deliver(a, [event('m', { app: 'shop', host: 'h1' })]);
    a.complete();
    const b = kafkaSink({ brokers: [bootstrap], topic: bare, copyHeaders: false, logLevel: 'nothing' });
    await deliver(b, [event('n', { app: 'shop' })]);
    b.complete();
    const c = kafkaSink({ brokers: [bootstrap], topic: 'sink-%{kind}' + '%{rest}', allowTopicOverride: false, logLevel: 'nothing' });
    await deliver(c, [event('t', { kind: 'tpl', rest: suffix, topic: 'ignored-without-override' })]);
    c.complete();
    await Promise.all([a.closed, b.closed, c.closed]);

    expect(headerText((await readAll(bootstrap, mapped, 1))[0]!)).toEqual({ 'x-app': 'shop' });
    expect((await readAll(bootstrap, bare, 1))[0]!.message.headers).toEqual({});
    expect((await readAll(bootstrap, templated, 1))[0]!.message.value!.toString()).toBe('t');
  }, 120_000);

  it('useFlumeEventFormat writes the AvroFlumeEvent datum: headers and body round-trip', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'sink-avro');
    const body = Buffer.from([0, 1, 2, 250, 255]);
    const sent = [event(body, { key: 'k1', 'héllo': 'wörld', empty: '' }), event('second', {})];
    const sink = kafkaSink({ brokers: [bootstrap], topic, useFlumeEventFormat: true, compression: 'gzip', copyHeaders: false, logLevel: 'nothing' });
    await deliver(sink, sent);
    sink.complete();
    await sink.closed;
    const records = await readAll(bootstrap, topic, 2);
    const decoded = records.map((r) => decodeFlumeEvent(r.message.value!));
    expect(decoded[0]!.headers).toEqual({ key: 'k1', 'héllo': 'wörld', empty: '' });
    expect(decoded[0]!.body.equals(body)).toBe(true);
    expect(decoded[1]).toEqual({ headers: {}, body: Buffer.from('second') });
    expect(records[0]!.message.key!.toString()).toBe('k1');
  }, 120_000);

  it('splits a batch larger than maxRequestBytes into several requests, all confirmed', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'sink-split');
    const big = Buffer.alloc(300_000, 7);
    const sink = kafkaSink({ brokers: [bootstrap], topic, maxRequestBytes: 700_000, logLevel: 'nothing' });
    // 10 × 300 kB = 3 MB: one request would exceed the broker's 1 MB message.max.bytes.
    await deliver(sink, Array.from({ length: 10 }, (_, i) => event(Buffer.concat([Buffer.from(String(i)), big]))));
    sink.complete();
    await sink.closed;
    expect(await topicRecordCount(bootstrap, topic)).toBe(10);
  }, 120_000);

  it('a topic that does not exist (auto-create off) nacks with an error naming it', async () => {
    const bootstrap = requireKafka();
    const sink = kafkaSink({ brokers: [bootstrap], topic: 'no-such-topic-here', retries: 1, logLevel: 'nothing' });
    const error = await deliver(sink, [event('x')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FlumeError);
    expect((error as FlumeError).code).toBe('FLUME_SINK_FAILED');
    expect((error as Error).message).toMatch(/kafkaSink: topic "no-such-topic-here" does not exist on 127\.0\.0\.1:\d+ and was not created automatically/);
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventWriteFail: 1, RollbackCount: 1, ConnectionCreatedCount: 1, ConnectionFailedCount: 0 });
    sink.complete();
    await sink.closed;
  }, 120_000);

  it('a non-integer partition header nacks the batch as not retriable', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'sink-badpart');
    const sink = kafkaSink({ brokers: [bootstrap], topic, partitionIdHeader: 'p', logLevel: 'nothing' });
    const error = (await deliver(sink, [event('a'), event('b', { p: 'two' })]).catch((e: unknown) => e)) as FlumeError;
    expect(error.retriable).toBe(false);
    expect(error.code).toBe('FLUME_BAD_EVENT');
    expect(error.message).toMatch(/header p="two" is not a partition number \(event 2 of 2\)/);
    sink.complete();
    await sink.closed;
    expect(await topicRecordCount(bootstrap, topic)).toBe(0);
  }, 60_000);
});

describe('kafkaSink with unreachable brokers', () => {
  it('keeps the events in the channel (nacks, retries with back-off) and counts ConnectionFailedCount', async () => {
    const port = await freePort(); // nothing listens there
    const pipeline = pipe(
      sequenceSource({ totalEvents: 50, batchSize: 10 }),
      memoryChannel({ capacity: 100, transactionCapacity: 10, backoffSleepIncrementMs: 20, maxBackoffSleepMs: 100 }),
      kafkaSink({ brokers: [`127.0.0.1:${port}`], topic: 't', retries: 0, connectionTimeoutMs: 500, logLevel: 'nothing' }),
    );
    await waitFor(() => (pipeline.metrics()['SINK.kafkaSink']?.['ConnectionFailedCount'] ?? 0) >= 3, '3 failed connections', 60_000);
    const m = pipeline.metrics();
    expect(m['SINK.kafkaSink']).toMatchObject({ EventDrainSuccessCount: 0, ConnectionCreatedCount: 0 });
    expect(m['SINK.kafkaSink']!['EventWriteFail']).toBeGreaterThanOrEqual(30);
    expect(m['CHANNEL.memoryChannel']).toMatchObject({ EventPutSuccessCount: 50, EventTakeSuccessCount: 0 });
    expect(m['CHANNEL.memoryChannel']!['RollbackCount']).toBeGreaterThanOrEqual(3);
    expect(await pipeline.stop({ timeoutMs: 300 })).toMatchObject({ timedOut: true, error: { code: 'FLUME_STOP_TIMEOUT' } });
  }, 120_000);
});

describe.skipIf(kafka.skip)(`kafkaSink when the broker goes away mid-stream${kafka.note}`, () => {
  // Its own broker, so stopping it disturbs no other test; restarted on the same port and data.
  const own = ownBroker('rxflume-kafka-fault');

  it('loses nothing of 200k events when the broker is killed and restarted (duplicates counted)', async () => {
    requireKafka();
    const total = 200_000;
    const b = own.broker();
    const topic = await createTopic(b.bootstrap, 'fault', 3);
    const pipeline = pipe(
      sequenceSource({ totalEvents: total, batchSize: 1000 }),
      memoryChannel({ capacity: 20_000, transactionCapacity: 1000, maxInFlight: 2, backoffSleepIncrementMs: 200, maxBackoffSleepMs: 1000 }),
      kafkaSink({ brokers: [b.bootstrap], topic, batchSize: 1000, connectionTimeoutMs: 1000, logLevel: 'nothing' }),
    );
    const sinkMetric = (key: string) => pipeline.metrics()['SINK.kafkaSink']?.[key] ?? 0;
    await waitFor(() => sinkMetric('EventDrainSuccessCount') >= 40_000, '40k events delivered', 120_000);
    await b.stop({ signal: 'SIGKILL' });
    const deliveredBefore = sinkMetric('EventDrainSuccessCount');
    await waitFor(() => sinkMetric('ConnectionFailedCount') >= 1, 'the sink to notice the broker is gone', 60_000);
    await b.start();
    await pipeline.done;

    const m = pipeline.metrics()['SINK.kafkaSink']!;
    expect(m['EventDrainSuccessCount']).toBe(total);
    expect(deliveredBefore).toBeLessThan(total);
    expect(m['ConnectionCreatedCount']).toBeGreaterThanOrEqual(2);

    const stored = await topicRecordCount(b.bootstrap, topic);
    const seen = new Uint8Array(total);
    let distinct = 0;
    await consumeRecords(b.bootstrap, topic, stored, (records) => {
      for (const r of records) {
        const n = Number(r.message.value!.toString());
        if (seen[n] === 0) distinct++;
        seen[n] = 1;
      }
    });
    const duplicates = stored - total;
    console.log(
      `[kafkaSink fault test] ${total} events, broker killed after ${deliveredBefore} acked: ${distinct} distinct stored, ` +
        `${duplicates} duplicates, ${m['ConnectionFailedCount']} failed connections, ${m['RollbackCount']} rolled-back batches`,
    );
    expect(distinct).toBe(total);
    // A duplicate is a batch the broker stored but whose answer the sink never had: one in flight when the
    // broker was killed, or one timed out while it came back. At most maxInFlight batches of batchSize each time.
    expect(duplicates).toBeLessThanOrEqual(2 * 2 * 1000);
  }, 600_000);
});
