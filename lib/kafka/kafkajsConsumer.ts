/**
 * The kafkajs side of the consumer engine (./consumer.ts): a kafkajs group member behind the
 * engine's `ConsumerClient` interface. Swapping kafkajs for another client means rewriting this
 * file only. Not a component; it imports only kafkajs and ./consumer.ts's types.
 */
import type { Consumer, Kafka } from 'kafkajs';
import type { ConsumerClient, ConsumerHandlers } from './consumer.js';

/** What the kafkajs consumer is built from (the client itself comes from `kafkaClient`). */
export interface ConsumerConfig {
  groupId: string;
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  maxBytesPerPartition: number;
  retries: number;
  retryBackoffMs: number;
}

export function kafkajsConsumer(kafka: Kafka, opts: ConsumerConfig, topics: Array<string | RegExp>): ConsumerClient {
  const retry = { retries: opts.retries, initialRetryTime: opts.retryBackoffMs };
  let consumer: Consumer | undefined;
  // kafkajs's commitOffsets returns without committing while its runner is not running (after a crash,
  // until it joined again): a commit then must fail, not pass for done, or the engine would let acked
  // offsets pile up that the re-join then reads again.
  let joined = false;
  // The runner as its latest batch saw it: once it stopped, commitOffsets returns without committing,
  // which can be well before STOP is emitted (kafkajs's stop waits for the batch being handled).
  let runnerRunning: (() => boolean) | undefined;
  // A stop while start is under way waits for it: kafkajs's disconnect during run()'s first join
  // does nothing (the runner is not running yet), and the join then goes on, fetching for ever.
  let starting: Promise<void> | undefined;
  let stopping = false;
  let stopped = false;
  // The engine's pause holds kafkajs inside eachBatch (heart-beating) rather than pausing its partitions:
  // with every partition paused, kafkajs's fetch loop sleeps maxWaitTimeInMs (500 ms) before it looks
  // again, so a pause of a few milliseconds (a batch waiting for an offset commit) cost half a second —
  // the Kafka source ran at ~8k events/s instead of ~100k. Held in eachBatch, the next fetch starts as
  // soon as the engine resumes; the records of one fetch at most wait in the engine meanwhile.
  const paused = new Set<string>();
  let wake: (() => void) | undefined;
  const woken = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const startOnce = async (h: ConsumerHandlers): Promise<void> => {
    const c = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxWaitTimeInMs: opts.maxWaitTimeMs,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      retry,
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      joined = true;
      runnerRunning = undefined;
      h.assigned(e.payload.memberAssignment);
    });
    c.on(c.events.REBALANCING, () => (joined = false));
    c.on(c.events.STOP, () => (joined = false));
    c.on(c.events.FETCH, (e) => h.fetched(e.payload.duration));
    c.on(c.events.CRASH, (e) => {
      joined = false;
      // kafkajs disconnects, emits CRASH, then sets its restart timer: a stop that came in between shared
      // that disconnect and returned, and the restart would join the group again with nothing left to
      // stop it. Its stop() clears the timer, which is set by the time a microtask runs.
      if (e.payload.restart && (stopping || consumer !== c)) void Promise.resolve().then(() => c.stop().catch(() => undefined));
      h.crashed(e.payload.error, e.payload.restart);
    });
    await c.connect();
    if (stopping) return;
    await c.subscribe({ topics, fromBeginning: opts.fromBeginning });
    if (stopping) return;
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        // A stop during kafkajs's own restart (after a crash) finds the new runner still joining: its stop()
        // does nothing then and kafkajs forgets it, so it fetches for ever. A non-retriable error ends it.
        if (stopped || consumer !== c) throw Object.assign(new Error('this Kafka consumer was stopped'), { retriable: false });
        runnerRunning = isRunning;
        if (!isRunning() || isStale()) return;
        if (batch.messages.length > 0) h.records(batch.topic, batch.partition, batch.messages);
        // Only the in-memory fetch position moves; the committed offset is ours to move.
        resolveOffset(batch.lastOffset());
        await heartbeat();
        while (paused.has(batch.topic) && !stopping && isRunning() && !isStale()) {
          // kafkajs sends a heartbeat only once an interval has passed since the last: looking every third
          // of one keeps the gap under 4/3 of an interval (a whole one after a call that found it not yet
          // due made nearly two), and notices a runner stopped from elsewhere as soon.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.ceil(opts.heartbeatIntervalMs / 3));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          // Keeps the membership while held; throws on a rebalance, which kafkajs handles by re-joining.
          await heartbeat();
        }
      },
    });
  };
  return {
    async start(h) {
      stopping = stopped = false;
      const run = startOnce(h);
      starting = run;
      try {
        await run;
      } finally {
        if (starting === run) starting = undefined;
      }
    },
    async commit(offsets) {
      if (!consumer || !joined || runnerRunning?.() === false) throw new Error('the consumer is not in its group (restarting): offsets not committed');
      await consumer.commitOffsets(offsets.map((o) => ({ ...o })));
    },
    pause(topics) {
      for (const t of topics) paused.add(t);
    },
    resume(topics) {
      for (const t of topics) paused.delete(t);
      woken();
    },
    async stop() {
      stopping = true;
      woken();
      await starting?.catch(() => undefined);
      try {
        await consumer?.disconnect();
      } finally {
        stopped = true;
      }
    },
  };
}
