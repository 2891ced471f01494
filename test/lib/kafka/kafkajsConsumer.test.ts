import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ConsumerHandlers, InRecord } from '../../../lib/kafka/consumer.js';
import { kafkajsConsumer, type ConsumerConfig } from '../../../lib/kafka/kafkajsConsumer.js';

const EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  FETCH: 'consumer.fetch',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  STOP: 'consumer.stop',
} as const;

type EachBatch = (payload: {
  batch: { topic: string; partition: number; messages: InRecord[]; lastOffset(): string };
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}) => Promise<void>;

/** A kafkajs client whose consumer records every call; `connect` waits for `connected` when given. */
function fakeKafka(connected?: Promise<void>) {
  const calls: Array<[string, unknown?]> = [];
  const listeners = new Map<string, (e: { payload: unknown }) => void>();
  let eachBatch: EachBatch | undefined;
  let config: unknown;
  const consumer = {
    events: EVENTS,
    on: (event: string, listener: (e: { payload: unknown }) => void) => void listeners.set(event, listener),
    connect: async () => {
      calls.push(['connect']);
      await connected;
    },
    subscribe: async (s: unknown) => void calls.push(['subscribe', s]),
    run: async (r: { autoCommit: boolean; eachBatchAutoResolve: boolean; eachBatch: EachBatch }) => {
      calls.push(['run', { autoCommit: r.autoCommit, eachBatchAutoResolve: r.eachBatchAutoResolve }]);
      eachBatch = r.eachBatch;
    },
    commitOffsets: async (o: unknown) => void calls.push(['commitOffsets', o]),
    pause: (t: unknown) => void calls.push(['pause', t]),
    resume: (t: unknown) => void calls.push(['resume', t]),
    disconnect: async () => void calls.push(['disconnect']),
    stop: async () => void calls.push(['stop']),
  };
  const kafka = {
    consumer: (c: unknown) => {
      config = c;
      return consumer;
    },
  } as unknown as Kafka;
  return {
    kafka,
    calls,
    config: () => config,
    emit: (event: string, payload: unknown) => listeners.get(event)!({ payload }),
    eachBatch: () => eachBatch!,
  };
}

const CONFIG: ConsumerConfig = {
  groupId: 'g',
  fromBeginning: true,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
  maxWaitTimeMs: 500,
  maxBytesPerPartition: 1 << 20,
  retries: 4,
  retryBackoffMs: 100,
};

function recording() {
  const seen: Array<[string, ...unknown[]]> = [];
  const handlers: ConsumerHandlers = {
    records: (topic, partition, records) => void seen.push(['records', topic, partition, records.map((r) => r.offset)]),
    assigned: (a) => void seen.push(['assigned', a]),
    fetched: (ms) => void seen.push(['fetched', ms]),
    crashed: (error, restarting) => void seen.push(['crashed', error.message, restarting]),
  };
  return { seen, handlers };
}

const message = (offset: string): InRecord => ({ key: null, value: Buffer.from('x'), offset, timestamp: '0' });

/** One record of t/0 at offset 0, as kafkajs hands it to eachBatch. */
const oneRecord = (heartbeat: () => Promise<void>, isRunning: () => boolean): Parameters<EachBatch>[0] => ({
  batch: { topic: 't', partition: 0, messages: [message('0')], lastOffset: () => '0' },
  resolveOffset: () => undefined,
  heartbeat,
  isRunning,
  isStale: () => false,
});

describe('kafkajsConsumer', () => {
  it('builds the kafkajs consumer from its config, subscribes and runs without auto-commit', async () => {
    const k = fakeKafka();
    await kafkajsConsumer(k.kafka, CONFIG, ['t', /^u/]).start(recording().handlers);
    expect(k.config()).toEqual({
      groupId: 'g',
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      maxWaitTimeInMs: 500,
      maxBytesPerPartition: 1 << 20,
      allowAutoTopicCreation: false,
      retry: { retries: 4, initialRetryTime: 100 },
    });
    expect(k.calls).toEqual([
      ['connect'],
      ['subscribe', { topics: ['t', /^u/], fromBeginning: true }],
      ['run', { autoCommit: false, eachBatchAutoResolve: false }],
    ]);
  });

  it("hands each batch's records over, moves only the fetch position, and heart-beats; stale batches are left alone", async () => {
    const k = fakeKafka();
    const { seen, handlers } = recording();
    await kafkajsConsumer(k.kafka, CONFIG, ['t']).start(handlers);
    const resolved: string[] = [];
    let beats = 0;
    const run = (messages: InRecord[], running = true, stale = false) =>
      k.eachBatch()({
        batch: { topic: 't', partition: 2, messages, lastOffset: () => (messages.at(-1)?.offset ?? '9') },
        resolveOffset: (o) => void resolved.push(o),
        heartbeat: async () => void beats++,
        isRunning: () => running,
        isStale: () => stale,
      });
    await run([message('7'), message('8')]);
    await run([]);
    await run([message('10')], false);
    await run([message('11')], true, true);
    expect(seen).toEqual([['records', 't', 2, ['7', '8']]]);
    expect(resolved).toEqual(['8', '9']);
    expect(beats).toBe(2);
    expect(k.calls.filter(([c]) => c === 'commitOffsets')).toEqual([]);
  });

  it('passes group joins, fetches and crashes on to the handlers', async () => {
    const k = fakeKafka();
    const { seen, handlers } = recording();
    await kafkajsConsumer(k.kafka, CONFIG, ['t']).start(handlers);
    k.emit(EVENTS.GROUP_JOIN, { memberAssignment: { t: [0, 1] } });
    k.emit(EVENTS.FETCH, { duration: 12 });
    k.emit(EVENTS.CRASH, { error: new Error('boom'), restart: true });
    expect(seen).toEqual([
      ['assigned', { t: [0, 1] }],
      ['fetched', 12],
      ['crashed', 'boom', true],
    ]);
  });

  it('commits, pauses and resumes in kafkajs terms', async () => {
    const k = fakeKafka();
    const c = kafkajsConsumer(k.kafka, CONFIG, ['t']);
    // Before start, and until the member joined its group, a commit fails rather than pass for done.
    await expect(c.commit([{ topic: 't', partition: 0, offset: '5' }])).rejects.toThrow(/not in its group/);
    c.pause(['t']);
    expect(k.calls).toEqual([]);
    await c.start(recording().handlers);
    await expect(c.commit([{ topic: 't', partition: 0, offset: '4' }])).rejects.toThrow(/not in its group/);
    k.emit(EVENTS.GROUP_JOIN, { memberAssignment: { t: [0] } });
    await c.commit([{ topic: 't', partition: 0, offset: '5' }]);
    // kafkajs's commitOffsets does nothing while its runner restarts after a crash, or rebalances.
    k.emit(EVENTS.CRASH, { error: new Error('boom'), restart: true });
    await expect(c.commit([{ topic: 't', partition: 0, offset: '6' }])).rejects.toThrow(/not in its group/);
    k.emit(EVENTS.GROUP_JOIN, { memberAssignment: { t: [0] } });
    k.emit(EVENTS.REBALANCING, {});
    await expect(c.commit([{ topic: 't', partition: 0, offset: '7' }])).rejects.toThrow(/not in its group/);
    c.pause(['t', 'u']);
    c.resume(['t']);
    await c.stop();
    // The engine's pause never reaches kafkajs's pause (see the next test).
    expect(k.calls.slice(3)).toEqual([['commitOffsets', [{ topic: 't', partition: 0, offset: '5' }]], ['disconnect']]);
  });

  it("a pause holds kafkajs in eachBatch, heart-beating, until resume or stop: not kafkajs's pause, whose fetch loop then sleeps maxWaitTime", async () => {
    const k = fakeKafka();
    const { seen, handlers } = recording();
    const c = kafkajsConsumer(k.kafka, { ...CONFIG, heartbeatIntervalMs: 20 }, ['t']);
    await c.start(handlers);
    let beats = 0;
    let running = true;
    const batch = (topic: string, offset: string) => ({
      batch: { topic, partition: 0, messages: [message(offset)], lastOffset: () => offset },
      resolveOffset: () => undefined,
      heartbeat: async () => void beats++,
      isRunning: () => running,
      isStale: () => false,
    });
    c.pause(['t']);
    let returned = false;
    const held = k.eachBatch()(batch('t', '0')).then(() => (returned = true));
    // Another topic is not held.
    await k.eachBatch()(batch('u', '1'));
    await new Promise((later) => setTimeout(later, 120));
    expect(returned).toBe(false);
    expect(seen.filter((e) => e[0] === 'records')).toEqual([
      ['records', 't', 0, ['0']],
      ['records', 'u', 0, ['1']],
    ]);
    expect(beats).toBeGreaterThanOrEqual(4); // one after each handing over, then one per heartbeat interval held
    c.resume(['t']);
    await held;
    expect(returned).toBe(true);
    // Held again, then released by a stop …
    c.pause(['t']);
    const second = k.eachBatch()(batch('t', '2'));
    await new Promise((later) => setTimeout(later, 30));
    await c.stop();
    await second;
    // … or by kafkajs's runner stopping (a rebalance or disconnect from elsewhere).
    const c2 = kafkajsConsumer(k.kafka, { ...CONFIG, heartbeatIntervalMs: 10 }, ['t']);
    await c2.start(handlers);
    c2.pause(['t']);
    const third = k.eachBatch()(batch('t', '3'));
    running = false;
    await third;
    expect(k.calls.filter((call) => call[0] === 'pause' || call[0] === 'resume')).toEqual([]);
  });

  it('a stop while start is under way waits for it, and the start goes no further than it got', async () => {
    let connect!: () => void;
    const k = fakeKafka(new Promise<void>((done) => (connect = done)));
    const c = kafkajsConsumer(k.kafka, CONFIG, ['t']);
    const starting = c.start(recording().handlers);
    await expect.poll(() => k.calls.length).toBe(1);
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await new Promise((later) => setTimeout(later, 20));
    expect(stopped).toBe(false);
    expect(k.calls).toEqual([['connect']]); // no disconnect yet: kafkajs would ignore it during the first join
    connect();
    await starting;
    await stopping;
    expect(k.calls).toEqual([['connect'], ['disconnect']]);
  });

  it("held, kafkajs's heartbeat goes out within 1.5 intervals of the last one, however close to due the hold began", async () => {
    // kafkajs sends a heartbeat only once `interval` has passed since the last one (consumerGroup.heartbeat):
    // a hold that slept a whole interval after a call that found it not yet due let ~2 intervals pass
    // between heartbeats — past a 6 s session with the 3 s default interval.
    const interval = 600;
    const k = fakeKafka();
    const c = kafkajsConsumer(k.kafka, { ...CONFIG, heartbeatIntervalMs: interval }, ['t']);
    await c.start(recording().handlers);
    const sent = [Date.now()];
    const heartbeat = async () => {
      if (Date.now() >= sent.at(-1)! + interval) sent.push(Date.now());
    };
    await new Promise((later) => setTimeout(later, interval * 0.9));
    c.pause(['t']);
    const held = k.eachBatch()(oneRecord(heartbeat, () => true));
    await new Promise((later) => setTimeout(later, interval * 2.5));
    c.resume(['t']);
    await held;
    const gaps = sent.slice(1).map((at, i) => at - sent[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...gaps)).toBeLessThan(interval * 1.5);
  });

  it("a commit fails, not passes for done, once kafkajs's runner stopped (its commitOffsets then returns without committing)", async () => {
    const k = fakeKafka();
    const c = kafkajsConsumer(k.kafka, CONFIG, ['t']);
    await c.start(recording().handlers);
    k.emit(EVENTS.GROUP_JOIN, { memberAssignment: { t: [0] } });
    let running = true;
    await k.eachBatch()(oneRecord(async () => undefined, () => running));
    await c.commit([{ topic: 't', partition: 0, offset: '1' }]);
    // A stop from elsewhere (kafkajs's crash handling disconnects): the runner is down well before STOP
    // is emitted, as long as a held batch takes to notice.
    running = false;
    await expect(c.commit([{ topic: 't', partition: 0, offset: '2' }])).rejects.toThrow(/not in its group/);
    // A re-join's runner runs again.
    k.emit(EVENTS.GROUP_JOIN, { memberAssignment: { t: [0] } });
    await c.commit([{ topic: 't', partition: 0, offset: '3' }]);
    expect(k.calls.filter(([call]) => call === 'commitOffsets').map(([, o]) => (o as Array<{ offset: string }>)[0]!.offset)).toEqual(['1', '3']);
  });

  it("after a stop, kafkajs's own restart after a crash does not take the member back into the group", async () => {
    // kafkajs's crash handler disconnects, then emits CRASH and sets its restart timer: a stop landing in
    // between shares that disconnect and returns, and the restart would join again and fetch for ever.
    // kafkajs's stop() clears the timer.
    const k = fakeKafka();
    const { seen, handlers } = recording();
    const c = kafkajsConsumer(k.kafka, CONFIG, ['t']);
    await c.start(handlers);
    await c.stop();
    k.emit(EVENTS.CRASH, { error: new Error('broker gone'), restart: true });
    await expect.poll(() => k.calls.at(-1)).toEqual(['stop']);
    // A stop during that restart finds its new runner still joining: runner.stop() does nothing then and
    // kafkajs drops the runner, which goes on to fetch. Its first batch ends it (non-retriable: no restart).
    const zombie = k.eachBatch()(oneRecord(async () => undefined, () => true));
    await expect(zombie).rejects.toMatchObject({ retriable: false });
    expect(seen).toEqual([['crashed', 'broker gone', true]]);
    // Without a stop, kafkajs's restart is left to it.
    const k2 = fakeKafka();
    await kafkajsConsumer(k2.kafka, CONFIG, ['t']).start(handlers);
    k2.emit(EVENTS.CRASH, { error: new Error('broker gone'), restart: true });
    await new Promise((later) => setTimeout(later, 10));
    expect(k2.calls.map(([call]) => call)).toEqual(['connect', 'subscribe', 'run']);
  });
});
