import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { encodeFlumeEvent } from '../../../lib/avro/flumeEventAvro.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe, type Pipeline } from '../../../lib/core/pipe.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { kafkaSource, kafkaSourceSpec, type KafkaSourceOptions } from '../../../lib/sources/kafkaSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { createTopic, kafkaEnv, requireKafka, testKafka, uniqueTopic, waitFor, withAdmin } from '../../support/kafka.js';

const quiet = { logLevel: 'nothing' as const };

const convert = (key: string, value: string): unknown => {
  const m = kafkaSourceSpec.flumeKeys![key]!;
  return typeof m === 'string' ? value : m.convert(value);
};

describe('kafkaSource options', () => {
  it('validates options at call time, naming every bad one', () => {
    expect(() => kafkaSource({ brokers: 'x:1' } as KafkaSourceOptions)).toThrow(ConfigError);
    const error = thrown(() => kafkaSource({ brokers: [], topics: ['a'], topicPattern: 'a.*', batchSize: 0, groupid: 'g' } as never));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['kafkaSource.batchSize', 'kafkaSource.brokers', 'kafkaSource.groupid', 'kafkaSource.topics']);
    expect((error as ConfigError).issues.find((i) => i.path === 'kafkaSource.groupid')!.suggestion).toBe('groupId');
  });

  it("declares Flume's types, keys and defaults", () => {
    expect(kafkaSourceSpec.flumeTypes).toEqual(['kafka', 'org.apache.flume.source.kafka.KafkaSource']);
    expect(convert('kafka.bootstrap.servers', 'a:1, b:2')).toEqual(['a:1', 'b:2']);
    expect(convert('kafka.topics', 't1,t2')).toEqual(['t1', 't2']);
    expect(convert('kafka.topics.regex', '^t.*')).toBe('^t.*');
    expect(kafkaSourceSpec.flumeKeys!['kafka.consumer.group.id']).toBe('groupId');
    expect(kafkaSourceSpec.flumeKeys!['batchDurationMillis']).toBe('batchDurationMs');
    expect(convert('kafka.consumer.auto.offset.reset', 'earliest')).toBe(true);
    expect(convert('kafka.consumer.auto.offset.reset', 'latest')).toBe(false);
    expect(kafkaSourceSpec.schema.parse({ brokers: 'x:1', topics: 't' })).toMatchObject({
      groupId: 'flume',
      batchSize: 1000,
      batchDurationMs: 1000,
      setTopicHeader: true,
      topicHeader: 'topic',
      useFlumeEventFormat: false,
      fromBeginning: false,
      backoffSleepIncrementMs: 1000,
      maxBackoffSleepMs: 5000,
    });
  });

  it('unreachable brokers: retries with back-off, counted, until unsubscribed', async () => {
    const source = kafkaSource({ brokers: '127.0.0.1:1', topics: 't', retries: 0, backoffSleepIncrementMs: 50, maxBackoffSleepMs: 100, connectionTimeoutMs: 200, ...quiet });
    let error: unknown;
    const sub = source.subscribe({ error: (e: unknown) => (error = e) });
    await waitFor(() => metricsOf(source)!.get('GenericProcessingFail') >= 3, 'three failed starts', 20_000);
    sub.unsubscribe();
    expect(error).toBeUndefined();
  });
});

async function produce(bootstrap: string, topic: string, messages: Array<{ key?: string; value: Buffer | string; headers?: Record<string, string>; partition?: number }>): Promise<void> {
  const producer = testKafka(bootstrap).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
}

const numbered = (n: number) => Array.from({ length: n }, (_, i) => ({ value: String(i) }));

async function committed(admin: Admin, groupId: string, topic: string): Promise<number[]> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return res!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`kafkaSource against a real broker${kafka.note}`, () => {
  it('maps value, key, Kafka headers, topic/partition/offset/timestamp headers', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'src-headers');
    await produce(bootstrap, topic, [
      { key: 'k1', value: 'first', headers: { app: 'shop', offset: 'from-kafka' } },
      { value: 'second' },
    ]);
    const seen: FlumeEvent[] = [];
    const pipeline = pipe(
      kafkaSource({ brokers: [bootstrap], topics: topic, groupId: uniqueTopic('g'), fromBeginning: true, batchDurationMs: 50, ...quiet }),
      memoryChannel(),
      observerSink((e) => seen.push(e)),
    );
    try {
      await waitFor(() => seen.length >= 2, 'two events');
    } finally {
      await pipeline.stop();
    }
    expect(seen.map((e) => text(e))).toEqual(['first', 'second']);
    const [a, b] = seen as [FlumeEvent, FlumeEvent];
    expect(a.headers).toMatchObject({ key: 'k1', app: 'shop', topic, partition: '0', offset: 'from-kafka' });
    expect(Number(a.headers['timestamp'])).toBeGreaterThan(1_600_000_000_000);
    expect(b.headers).toMatchObject({ topic, partition: '0', offset: '1' });
    expect(b.headers['key']).toBeUndefined();
    expect(pipeline.metrics()['SOURCE.kafkaSource']).toMatchObject({ EventReceivedCount: 2, EventAcceptedCount: 2 });

    // topicPattern, headerMap and no topic header.
    const seen2: FlumeEvent[] = [];
    const escaped = topic.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
    const p2 = pipe(
      kafkaSource({
        brokers: bootstrap,
        topicPattern: `^${escaped}$`,
        groupId: uniqueTopic('g'),
        fromBeginning: true,
        setTopicHeader: false,
        headerMap: { application: 'app' },
        batchDurationMs: 50,
        ...quiet,
      }),
      memoryChannel(),
      observerSink((e) => seen2.push(e)),
    );
    try {
      await waitFor(() => seen2.length >= 2, 'two events by pattern');
    } finally {
      await p2.stop();
    }
    expect(seen2[0]!.headers).toMatchObject({ application: 'shop', offset: '0', key: 'k1' });
    expect(seen2[0]!.headers['app']).toBeUndefined();
    expect(seen2[0]!.headers['topic']).toBeUndefined();
  }, 90_000);

  it('useFlumeEventFormat decodes AvroFlumeEvent values, merging their headers', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'src-avro');
    const body = Buffer.from([0, 1, 2, 255]);
    await produce(bootstrap, topic, [{ key: 'kk', value: encodeFlumeEvent({ headers: { host: 'h1', topic: 'inner' }, body }) }]);
    const seen: FlumeEvent[] = [];
    const pipeline = pipe(
      kafkaSource({ brokers: bootstrap, topics: [topic], groupId: uniqueTopic('g'), fromBeginning: true, useFlumeEventFormat: true, batchDurationMs: 50, ...quiet }),
      observerSink((e) => seen.push(e)),
    );
    try {
      await waitFor(() => seen.length >= 1, 'the event');
    } finally {
      await pipeline.stop();
    }
    expect(seen[0]!.body.equals(body)).toBe(true);
    // The datum's own headers win over the added ones, as in Flume.
    expect(seen[0]!.headers).toMatchObject({ host: 'h1', topic: 'inner', key: 'kk', partition: '0', offset: '0' });
  }, 60_000);

  it('a record that is not an AvroFlumeEvent ends the source with a clear error', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'src-badavro');
    await produce(bootstrap, topic, [{ value: Buffer.from([0xff, 0xff, 0xff]) }]);
    const pipeline = pipe(
      kafkaSource({ brokers: bootstrap, topics: [topic], groupId: uniqueTopic('g'), fromBeginning: true, useFlumeEventFormat: true, batchDurationMs: 50, ...quiet }),
      observerSink(() => undefined),
    );
    const error = await pipeline.done.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FlumeError);
    expect((error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect((error as Error).message).toContain(`${topic}/0@0`);
  }, 60_000);

  it('a topic that does not exist ends the source with an error naming it', async () => {
    const bootstrap = requireKafka();
    const pipeline = pipe(kafkaSource({ brokers: bootstrap, topics: 'no-such-source-topic', groupId: uniqueTopic('g'), retries: 1, ...quiet }), observerSink(() => undefined));
    const error = await pipeline.done.then(() => undefined, (e: unknown) => e);
    expect((error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect((error as Error).message).toContain('no-such-source-topic');
  }, 60_000);

  it('a nacked batch is re-sent after back-off and no offset is committed past it', async () => {
    const bootstrap = requireKafka();
    const total = 3000;
    const failAt = 1200;
    const topic = await createTopic(bootstrap, 'src-nack');
    await produce(bootstrap, topic, numbered(total));
    const groupId = uniqueTopic('g');
    const counts = new Uint16Array(total);
    let failed = false;
    const pipeline = pipe(
      kafkaSource({ brokers: bootstrap, topics: topic, groupId, fromBeginning: true, batchSize: 500, batchDurationMs: 100, backoffSleepIncrementMs: 2000, ...quiet }),
      observerSink((e) => {
        const n = Number(text(e));
        if (n === failAt && !failed) {
          failed = true;
          throw new Error('observer fails once');
        }
        counts[n]!++;
      }),
    );
    await withAdmin(bootstrap, async (admin) => {
      try {
        await waitFor(() => failed, 'the failure');
        // During the back-off the committed offset stays at or before the failed batch.
        for (let i = 0; i < 5; i++) {
          const [offset] = await committed(admin, groupId, topic);
          expect(offset).toBeLessThanOrEqual(failAt);
          await new Promise((r) => setTimeout(r, 100));
        }
        await waitFor(() => counts.every((c) => c > 0), 'every record');
        await waitFor(async () => (await committed(admin, groupId, topic))[0] === total, 'the final commit');
      } finally {
        await pipeline.stop();
      }
    });
    const metrics = pipeline.metrics()['SOURCE.kafkaSource']!;
    expect(metrics['ChannelWriteFail']).toBeGreaterThan(0);
    expect(metrics['EventAcceptedCount']).toBe(total);
    // Only the failed batch's events before the throw were handed over twice.
    const dups = counts.reduce((n, c) => n + (c - 1), 0);
    expect(dups).toBeLessThan(500);
    expect(counts[failAt]).toBe(1);
  }, 90_000);

  it('restarting (new source, same group) resumes from the committed offset without loss', async () => {
    const bootstrap = requireKafka();
    const total = 6000;
    const topic = await createTopic(bootstrap, 'src-restart');
    await produce(bootstrap, topic, numbered(total));
    const groupId = uniqueTopic('g');
    const counts = new Uint16Array(total);
    const options = { brokers: bootstrap, topics: topic, groupId, fromBeginning: true, batchSize: 200, batchDurationMs: 100, ...quiet };

    let first = 0;
    let stopping: Promise<unknown> | undefined;
    const p1: Pipeline = pipe(kafkaSource(options), memoryChannel({ capacity: 1000, transactionCapacity: 200 }), observerSink((e) => {
      counts[Number(text(e))]!++;
      // Stop mid-stream: the source stops reading, the channel drains what it already stored.
      if (++first === 1500) stopping = p1.stop();
    }));
    await waitFor(() => stopping !== undefined, 'the first part');
    await stopping;
    const firstRun = first;
    const afterStop = await withAdmin(bootstrap, (admin) => committed(admin, groupId, topic));

    let secondMin = Infinity;
    let second = 0;
    const p2 = pipe(kafkaSource(options), memoryChannel({ capacity: 1000, transactionCapacity: 200 }), observerSink((e) => {
      const n = Number(text(e));
      counts[n]!++;
      second++;
      secondMin = Math.min(secondMin, n);
    }));
    try {
      await waitFor(() => counts.every((c) => c > 0), 'every record after the restart');
    } finally {
      await p2.stop();
    }
    const dups = counts.reduce((n, c) => n + (c - 1), 0);
    console.log(`[kafkaSource restart] first run ${firstRun}, second run ${second}, committed at stop ${afterStop[0]}, duplicates ${dups}`);
    expect(counts.every((c) => c > 0)).toBe(true);
    // The second member started from the committed offset, not from the beginning.
    expect(secondMin).toBeGreaterThan(0);
    expect(secondMin).toBeLessThanOrEqual(firstRun);
  }, 90_000);

  it('two sources in one group share a 4-partition topic and together get every record exactly once', async () => {
    const bootstrap = requireKafka();
    const total = 4000;
    const topic = await createTopic(bootstrap, 'src-group', 4);
    const groupId = uniqueTopic('g');
    const counts = new Uint16Array(total);
    const per = [0, 0];
    const options = { brokers: bootstrap, topics: topic, groupId, fromBeginning: true, batchSize: 250, batchDurationMs: 100, ...quiet };
    const sinkFor = (i: number) =>
      observerSink((e) => {
        counts[Number(text(e))]!++;
        per[i]!++;
      });
    const p1 = pipe(kafkaSource(options), memoryChannel({ capacity: 1000, transactionCapacity: 250 }), sinkFor(0));
    const p2 = pipe(kafkaSource({ ...options, name: 'kafkaSource2' }), memoryChannel({ capacity: 1000, transactionCapacity: 250 }), sinkFor(1));
    try {
      // Produce only once both members hold partitions, so no rebalance happens mid-stream.
      await withAdmin(bootstrap, (admin) =>
        waitFor(async () => {
          const { groups } = await admin.describeGroups([groupId]);
          const g = groups[0]!;
          return g.state === 'Stable' && g.members.length === 2 && g.members.every((m) => m.memberAssignment.length > 0);
        }, 'a stable group of two'),
      );
      await produce(
        bootstrap,
        topic,
        numbered(total).map((m, i) => ({ ...m, partition: i % 4 })),
      );
      await waitFor(() => per[0]! + per[1]! >= total, 'every record');
      await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show up here
    } finally {
      await Promise.all([p1.stop(), p2.stop()]);
    }
    expect(per[0]! + per[1]!).toBe(total);
    expect(counts.every((c) => c === 1)).toBe(true);
    expect(per[0]).toBeGreaterThan(0);
    expect(per[1]).toBeGreaterThan(0);
  }, 90_000);

  it('a member joining while the first is stalled (partitions paused) triggers a rebalance that loses nothing', async () => {
    const bootstrap = requireKafka();
    const total = 8000;
    const topic = await createTopic(bootstrap, 'src-rebalance', 4);
    await produce(bootstrap, topic, numbered(total).map((m, i) => ({ ...m, partition: i % 4 })));
    const groupId = uniqueTopic('g');
    const counts = new Uint16Array(total);
    const per = [0, 0];
    let open = false;
    const options = { brokers: bootstrap, topics: topic, groupId, fromBeginning: true, batchSize: 100, batchDurationMs: 50, maxInFlight: 2, backoffSleepIncrementMs: 100, maxBackoffSleepMs: 200, ...quiet };
    const channel = () => memoryChannel({ capacity: 400, transactionCapacity: 100, keepAliveMs: 200, backoffSleepIncrementMs: 100, maxBackoffSleepMs: 200 });
    // The first member's sink fails after 500 events until the gate opens: its channel fills, its
    // puts are nacked, its batches held and its partitions paused — then the second member joins.
    const sinkFor = (i: number) =>
      observerSink((e) => {
        if (i === 0 && !open && per[0]! >= 500) throw new Error('stalled');
        counts[Number(text(e))]!++;
        per[i]!++;
      });
    const p1 = pipe(kafkaSource(options), channel(), sinkFor(0));
    let p2: Pipeline | undefined;
    try {
      await waitFor(() => per[0]! >= 500, 'the first member to stall');
      p2 = pipe(kafkaSource({ ...options, name: 'kafkaSource2' }), channel(), sinkFor(1));
      await withAdmin(bootstrap, (admin) =>
        waitFor(async () => {
          const g = (await admin.describeGroups([groupId])).groups[0]!;
          return g.state === 'Stable' && g.members.length === 2 && g.members.every((m) => m.memberAssignment.length > 0);
        }, 'a stable group of two'),
      );
      open = true;
      await waitFor(() => counts.every((c) => c > 0), 'every record', 80_000);
    } finally {
      await Promise.all([p1.stop(), p2?.stop()]);
    }
    const dups = counts.reduce((n, c) => n + (c - 1), 0);
    console.log(`[kafkaSource rebalance] member 1 ${per[0]}, member 2 ${per[1]}, duplicates ${dups}`);
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(per[1]).toBeGreaterThan(0);
    expect(p1.metrics()['SOURCE.kafkaSource']!['ChannelWriteFail']).toBeGreaterThan(0); // it did stall
  }, 90_000);

  it('a source unsubscribed while its consumer is still starting leaves the group instead of fetching on', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'src-early-stop');
    for (const delayMs of [0, 20, 100]) {
      const groupId = uniqueTopic('early');
      const subscription = kafkaSource({ brokers: [bootstrap], topics: topic, groupId, stopGraceMs: 0, ...quiet }).subscribe();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      subscription.unsubscribe();
      // Before the fix, kafkajs's disconnect during run()'s first join did nothing and the member joined after it.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const { groups } = await withAdmin(bootstrap, (admin) => admin.describeGroups([groupId]));
      expect(groups[0]!.members, `unsubscribed after ${delayMs} ms`).toEqual([]);
    }
  }, 60_000);
});
