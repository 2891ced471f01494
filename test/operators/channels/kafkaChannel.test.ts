import { EMPTY, Observable, concat, throwError, type Observer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, text, type FlumeEvent } from '../../../lib/core/event.js';
import { decodeFlumeEvent, encodeFlumeEvent } from '../../../lib/avro/flumeEventAvro.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { kafkaSink } from '../../../lib/sinks/kafkaSink.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { kafkaChannel, kafkaChannelSpec, type KafkaChannelOptions } from '../../../operators/channels/kafkaChannel.js';
import { consumeRecords, createTopic, kafkaEnv, requireKafka, testKafka, uniqueTopic, waitFor, withAdmin } from '../../support/kafka.js';

describe('kafkaChannel options', () => {
  it('validates options at call time, naming every bad one', () => {
    expect(() => kafkaChannel({} as KafkaChannelOptions)).toThrow(ConfigError);
    const error = thrown(() => kafkaChannel({ brokers: 'x:1', transactionCapacity: 0, parseAsFlumeEvents: true } as never));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['kafkaChannel.parseAsFlumeEvents', 'kafkaChannel.transactionCapacity']);
    expect((error as ConfigError).issues.find((i) => i.path === 'kafkaChannel.parseAsFlumeEvents')!.suggestion).toBe('parseAsFlumeEvent');
  });

  it("declares Flume's type, keys and defaults", () => {
    expect(kafkaChannelSpec.flumeTypes).toContain('org.apache.flume.channel.kafka.KafkaChannel');
    const keys = kafkaChannelSpec.flumeKeys!;
    const convert = (key: string, value: string) => {
      const m = keys[key]!;
      return typeof m === 'string' ? value : m.convert(value);
    };
    expect(convert('kafka.bootstrap.servers', 'a:1,b:2')).toEqual(['a:1', 'b:2']);
    expect(keys['kafka.topic']).toBe('topic');
    expect(keys['kafka.consumer.group.id']).toBe('groupId');
    expect(keys['pollTimeout']).toBe('pollTimeoutMs');
    // What Flume 1.11 actually reads (KafkaChannelConfiguration.POLL_TIMEOUT); its User Guide's pollTimeout it ignores.
    expect(keys['kafka.pollTimeout']).toBe('pollTimeoutMs');
    expect(convert('keep-alive', '3')).toBe(3000);
    expect(convert('kafka.consumer.auto.offset.reset', 'latest')).toBe(false);
    expect(kafkaChannelSpec.schema.parse({ brokers: 'x:1' })).toMatchObject({ topic: 'flume-channel', groupId: 'flume', parseAsFlumeEvent: true, pollTimeoutMs: 500 });
  });
});

/** A sink that records every event it is handed and acks only the first `ackFirst` batches; later ones stay unsettled. */
function holdingSink(ackFirst: number): Observer<Batch> & { seen: string[]; acked: number; held: Batch[] } {
  const sink = {
    seen: [] as string[],
    acked: 0,
    held: [] as Batch[],
    next(batch: Batch) {
      for (const e of batch.events) sink.seen.push(text(e));
      if (sink.acked < ackFirst) {
        sink.acked++;
        batch.ack();
      } else sink.held.push(batch);
    },
    error() {},
    complete() {},
  };
  return sink;
}

function tally(bodies: Iterable<string>, total: number): { counts: Uint16Array; dups: number } {
  const counts = new Uint16Array(total);
  let dups = 0;
  for (const b of bodies) if (counts[Number(b)]!++ > 0) dups++;
  return { counts, dups };
}

const quiet = { logLevel: 'nothing' as const };

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`kafkaChannel against a real broker${kafka.note}`, () => {
  it('sequence → kafkaChannel → sink: every event exactly once, then completes after draining', async () => {
    const bootstrap = requireKafka();
    const total = 20_000;
    const topic = await createTopic(bootstrap, 'chan-seq', 2);
    const seen: string[] = [];
    const channel = kafkaChannel({ brokers: bootstrap, topic, groupId: uniqueTopic('g'), transactionCapacity: 1000, maxInFlight: 2, pollTimeoutMs: 100, ...quiet });
    const pipeline = pipe(sequenceSource({ totalEvents: total, batchSize: 1000 }), channel, observerSink((e) => seen.push(text(e))));
    await pipeline.done;
    const { counts, dups } = tally(seen, total);
    expect(dups).toBe(0);
    expect(counts.every((c) => c === 1)).toBe(true);
    expect(pipeline.metrics()['CHANNEL.kafkaChannel']).toMatchObject({
      EventPutAttemptCount: total,
      EventPutSuccessCount: total,
      EventTakeAttemptCount: total,
      EventTakeSuccessCount: total,
      RollbackCount: 0,
      ChannelSize: 0,
    });
  }, 90_000);

  it('a nacked take is redelivered after back-off; an upstream error is forwarded after draining', async () => {
    const bootstrap = requireKafka();
    const total = 2000;
    const topic = await createTopic(bootstrap, 'chan-nack');
    const seen: string[] = [];
    let failed = false;
    const channel = kafkaChannel({ brokers: bootstrap, topic, groupId: uniqueTopic('g'), transactionCapacity: 300, pollTimeoutMs: 100, backoffSleepIncrementMs: 200, ...quiet });
    const upstream = concat(sequenceSource({ totalEvents: total, batchSize: 500 }), throwError(() => new Error('upstream broke')));
    const pipeline = pipe(
      upstream,
      channel,
      observerSink((e) => {
        if (text(e) === '1000' && !failed) {
          failed = true;
          throw new Error('sink fails once');
        }
        seen.push(text(e));
      }),
    );
    const error = await pipeline.done.then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toBe('upstream broke');
    const { counts, dups } = tally(seen, total);
    expect(counts.every((c) => c >= 1)).toBe(true);
    expect(dups).toBeLessThan(300);
    expect(metricsOf(channel)!.get('RollbackCount')).toBe(1);
  }, 90_000);

  it('survives a restart: what was put and not taken is taken by the next channel in the group', async () => {
    const bootstrap = requireKafka();
    const total = 10_000;
    const capacity = 500;
    const topic = await createTopic(bootstrap, 'chan-restart', 2);
    const groupId = uniqueTopic('g');
    const options = { brokers: bootstrap, topic, groupId, transactionCapacity: capacity, pollTimeoutMs: 100, stopGraceMs: 200, ...quiet };

    // First agent: puts everything, the sink acks 4 takes and holds the fifth when it is stopped.
    const first = holdingSink(4);
    const channel1 = kafkaChannel(options);
    const subscription = sequenceSource({ totalEvents: total, batchSize: 1000 }).pipe(channel1).subscribe(first);
    await waitFor(() => metricsOf(channel1)!.get('EventPutSuccessCount') === total && first.held.length > 0, 'all puts and a held take');
    subscription.unsubscribe();
    const unacked = first.held.reduce((n, b) => n + b.events.length, 0);

    // Second agent, same group: nothing more to put; it drains the rest and completes.
    const secondSeen: string[] = [];
    await pipe(EMPTY as Observable<Batch>, kafkaChannel(options), observerSink((e) => secondSeen.push(text(e)))).done;

    const { counts, dups } = tally([...first.seen, ...secondSeen], total);
    console.log(`[kafkaChannel restart] first took ${first.seen.length} (acked ${first.acked} takes, ${unacked} unacked), second took ${secondSeen.length}, duplicates ${dups}`);
    expect(counts.every((c) => c >= 1)).toBe(true); // nothing lost
    expect(dups).toBeLessThanOrEqual(unacked);
    expect(secondSeen.length).toBeLessThan(total); // it resumed from the committed offsets
  }, 90_000);

  it('parseAsFlumeEvent reads what kafkaSink wrote with useFlumeEventFormat, and writes the same format', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'chan-avro');
    const body = Buffer.from([0, 1, 2, 250, 255]);
    const sent: FlumeEvent[] = [event(body, { host: 'h1', 'héllo': 'wörld' }), event('second', { key: 'k2' })];

    // kafkaSink (Flume's event format) → topic → kafkaChannel take side.
    const sink = kafkaSink({ brokers: bootstrap, topic, useFlumeEventFormat: true, copyHeaders: false, ...quiet });
    await new Promise<void>((resolve, reject) => sink.next(createBatch(sent, { onAck: resolve, onNack: reject })));
    sink.complete();
    await sink.closed;
    const taken: FlumeEvent[] = [];
    await pipe(EMPTY as Observable<Batch>, kafkaChannel({ brokers: bootstrap, topic, groupId: uniqueTopic('g'), pollTimeoutMs: 100, ...quiet }), observerSink((e) => taken.push(e))).done;
    expect(taken).toEqual(sent);

    // kafkaChannel put side → the records are AvroFlumeEvent datums, keyed by the `key` header.
    const topic2 = await createTopic(bootstrap, 'chan-avro-out');
    const put = new Observable<Batch>((s) => {
      s.next(createBatch(sent, { onAck: () => s.complete(), onNack: (e) => s.error(e) }));
    });
    await pipe(put, kafkaChannel({ brokers: bootstrap, topic: topic2, groupId: uniqueTopic('g'), pollTimeoutMs: 100, ...quiet }), observerSink(() => undefined)).done;
    const records: Array<{ key: string | undefined; event: FlumeEvent }> = [];
    await consumeRecords(bootstrap, topic2, 2, (rs) => records.push(...rs.map((r) => ({ key: r.message.key?.toString(), event: decodeFlumeEvent(r.message.value!) }))));
    expect(records.map((r) => r.event)).toEqual(sent);
    expect(records[1]!.key).toBe('k2');
  }, 90_000);

  it("a record's key comes back as the `key` header, with parseAsFlumeEvent or without (Flume's take)", async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'chan-key');
    // Another producer's records: keyed and not; a Kafka header named `key` is not a Flume header.
    const producer = testKafka(bootstrap).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value: 'a' }, { value: 'b', headers: { key: 'kh' } }] });
    await producer.disconnect();
    const raw: FlumeEvent[] = [];
    await pipe(EMPTY as Observable<Batch>, kafkaChannel({ brokers: bootstrap, topic, groupId: uniqueTopic('g'), parseAsFlumeEvent: false, pollTimeoutMs: 100, ...quiet }), observerSink((e) => raw.push(e))).done;
    expect(raw).toEqual([event('a', { key: 'k1' }), event('b', {})]);

    // With parseAsFlumeEvent the record key wins over a `key` inside the datum, as in Flume.
    const topic2 = await createTopic(bootstrap, 'chan-key-avro');
    const p2 = testKafka(bootstrap).producer();
    await p2.connect();
    await p2.send({ topic: topic2, acks: -1, messages: [{ key: 'rk', value: encodeFlumeEvent(event('c', { key: 'inner', h: 'v' })) }] });
    await p2.disconnect();
    const avro: FlumeEvent[] = [];
    await pipe(EMPTY as Observable<Batch>, kafkaChannel({ brokers: bootstrap, topic: topic2, groupId: uniqueTopic('g'), pollTimeoutMs: 100, ...quiet }), observerSink((e) => avro.push(e))).done;
    expect(avro).toEqual([event('c', { key: 'rk', h: 'v' })]);
  }, 90_000);

  it('a non-integer partition header nacks the put with FLUME_BAD_EVENT, not retriable: retrying cannot help', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'chan-badpart');
    const channel = kafkaChannel({ brokers: [bootstrap], topic, groupId: uniqueTopic('g'), partitionIdHeader: 'p', logLevel: 'nothing' });
    let settled!: (value: unknown) => void;
    const outcome = new Promise<unknown>((resolve) => (settled = resolve));
    const put = new Observable<Batch>((subscriber) => {
      subscriber.next(createBatch([event('a'), event('b', { p: 'two' })], { onAck: () => settled('acked'), onNack: (e) => settled(e) }));
    });
    const subscription = put.pipe(channel).subscribe({ error: () => undefined });
    try {
      const error = (await outcome) as FlumeError;
      expect(error).toBeInstanceOf(FlumeError);
      expect(error.code).toBe('FLUME_BAD_EVENT');
      expect(error.retriable).toBe(false);
      expect(error.message).toMatch(/header p="two" is not a partition number \(event 2 of 2\)/);
    } finally {
      subscription.unsubscribe();
    }
  }, 60_000);

  it('a topic that does not exist ends the stream with a clear error; unsubscribing early releases everything', async () => {
    const bootstrap = requireKafka();
    const pipeline = pipe(
      EMPTY as Observable<Batch>,
      kafkaChannel({ brokers: bootstrap, topic: 'no-such-channel-topic', groupId: uniqueTopic('g'), retries: 1, ...quiet }),
      observerSink(() => undefined),
    );
    const error = await pipeline.done.then(() => undefined, (e: unknown) => e);
    expect((error as FlumeError).code).toBe('FLUME_CHANNEL_CLOSED');
    expect((error as Error).message).toContain('no-such-channel-topic');

    // Subscribed and at once unsubscribed (a never-ending upstream): the group ends up empty.
    const topic = await createTopic(bootstrap, 'chan-early');
    const groupId = uniqueTopic('g');
    const sub = new Observable<Batch>(() => undefined).pipe(kafkaChannel({ brokers: bootstrap, topic, groupId, stopGraceMs: 0, ...quiet })).subscribe();
    await withAdmin(bootstrap, (admin) =>
      waitFor(async () => (await admin.describeGroups([groupId])).groups[0]!.members.length === 1, 'the member to join'),
    );
    sub.unsubscribe();
    await withAdmin(bootstrap, (admin) =>
      waitFor(async () => (await admin.describeGroups([groupId])).groups[0]!.members.length === 0, 'the member to leave'),
    );
  }, 90_000);
});
