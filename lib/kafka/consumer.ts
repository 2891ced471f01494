/**
 * The consumer side shared by kafkaSource and kafkaChannel's take side: the engine turning a group
 * member's records into batches with per-partition ordered-ack commits, hold-and-resend on nack,
 * pause/resume, rebalance epochs and a stop grace, and the small interface it needs of the member
 * (implemented over kafkajs in ./kafkajsConsumer.ts). Not a component: components never import each
 * other, so their common mechanism lives here; it imports only lib/core, ./client.js, rxjs and
 * kafkajs's types.
 */
import type { IHeaders } from 'kafkajs';
import { asyncScheduler, type Subscription } from 'rxjs';
import { createBatch, type Batch } from '../core/batch.js';
import { ComponentError, isRetriable, toError, type ErrorCode } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import type { ComponentCounters } from '../core/metrics.js';
import { hasErrorType } from './client.js';
import { Backoff, linear } from '../core/backoff.js';

// ---- the Kafka consumer, behind the little the engine needs of it ------------------------------

export interface InRecord {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
  headers?: IHeaders;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface ConsumerHandlers {
  /** One partition's records, in offset order; called synchronously, never concurrently. */
  records(topic: string, partition: number, records: readonly InRecord[]): void;
  /** A group (re)join completed: the positions restart from the committed offsets of `assignment`. */
  assigned(assignment: Record<string, number[]>): void;
  /** A fetch returned after `durationMs`. */
  fetched(durationMs: number): void;
  /** The consumer stopped on an error; `restarting` when the client re-joins by itself. */
  crashed(error: Error, restarting: boolean): void;
}

/** One group member (over kafkajs: ./kafkajsConsumer.ts; another client means another implementation of this). */
export interface ConsumerClient {
  /** Connects, subscribes and starts fetching; rejects when that fails. */
  start(handlers: ConsumerHandlers): Promise<void>;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(topics: readonly string[]): void;
  resume(topics: readonly string[]): void;
  /** Stops fetching and leaves the group. */
  stop(): Promise<void>;
}

const isUnknownTopic = (error: unknown): boolean => hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION');

// ---- batches over a consumer: buffering, pacing, ordered commits --------------------------------

export interface EngineConfig {
  name: string;
  batchSize: number;
  batchDurationMs: number;
  maxInFlight: number;
  backoffStepMs: number;
  backoffMaxMs: number;
  /** The code of the errors that end the stream. */
  failCode: ErrorCode;
  /** What the group reads, for error messages. */
  what: string;
  client: ConsumerClient;
  /** Builds the event of one record; a throw fails the stream (nothing past it is committed). */
  toEvent(topic: string, partition: number, record: InRecord): FlumeEvent;
  /** Counter hooks, named as the component's own counters. */
  emitted(n: number): void;
  acked(n: number): void;
  nacked(n: number): void;
  counters: ComponentCounters;
}

interface Range {
  topic: string;
  partition: number;
  key: string;
  last: string;
}

interface Taken {
  /** Cut order, so held batches go out again oldest first. */
  seq: number;
  events: FlumeEvent[];
  ranges: Range[];
  epoch: number;
  acked: boolean;
}

export interface Engine {
  /** Events buffered or emitted and not yet acked by this member. */
  held(): number;
  /** Resolves once every commit requested so far went out (or failed). */
  commitsSettled(): Promise<void>;
  /**
   * Stops emitting, waits up to `graceMs` for the batches in flight to settle (committing the acked
   * ones), flushes commits, stops the consumer and leaves the group.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `client` and emits its records as batches through `out`. Offsets are committed per
 * partition only up to the end of the longest prefix of acked batches. A nacked batch is held and
 * emitted again after back-off. A group (re)join starts a new epoch: the client restarts from the
 * committed offsets, so buffered and held work of the old epoch is dropped and its acks no longer
 * commit (at-least-once: it comes back, to this member or the new owner).
 */
export function startEngine(cfg: EngineConfig, out: { next(batch: Batch): void; error(error: unknown): void }): Engine {
  const { counters } = cfg;
  let closed = false; // no more emissions
  let left = false; // no more commits
  let settledWhileStopping: (() => void) | undefined;
  let epoch = 0;
  let assignedTopics: string[] = [];
  let assignedKeys = new Set<string>();
  const buf: FlumeEvent[] = [];
  const bufTopic: string[] = [];
  const bufPartition: number[] = [];
  const bufOffset: string[] = [];
  let held: Taken[] = [];
  let tracks = new Map<string, Taken[]>();
  let inFlight = 0;
  let inFlightEvents = 0;
  let due = false;
  let durationTimer: Subscription | undefined;
  let backoffTimer: Subscription | undefined;
  let startTimer: Subscription | undefined;
  const nacks = new Backoff(linear(cfg.backoffStepMs, cfg.backoffMaxMs));
  let cuts = 0;
  let paused = false;
  let recordsSinceFetch = true;
  const toCommit = new Map<string, TopicPartitionOffset>();
  let committing: Promise<void> | undefined;
  /**
   * Acks that moved a commit not confirmed yet. A rejoin restarts from the committed
   * offsets, so all of them would come again: while a commit hangs or fails (the broker is away) no more
   * than `maxInFlight` of them are let pile up — else duplicates would grow with the outage instead of
   * staying within the batches in flight. A failed commit's offsets are tried again after back-off.
   */
  let unconfirmed = 0;
  let commitFailed = false;
  let commitRetry: Subscription | undefined;
  const commitBackoff = new Backoff(linear(cfg.backoffStepMs, cfg.backoffMaxMs));

  const fail = (error: unknown): void => {
    if (closed) return;
    closed = true;
    clearTimers();
    out.error(error);
    void cfg.client.stop().catch(() => undefined);
  };

  const clearTimers = (): void => {
    durationTimer?.unsubscribe();
    durationTimer = undefined;
    backoffTimer?.unsubscribe();
    backoffTimer = undefined;
    startTimer?.unsubscribe();
    startTimer = undefined;
    commitRetry?.unsubscribe();
    commitRetry = undefined;
  };

  const flushCommits = (): Promise<void> => {
    if (committing) return committing;
    if (toCommit.size === 0) return Promise.resolve();
    committing = (async () => {
      while (toCommit.size > 0) {
        // Per round: a commit in flight across a rejoin lands after it, and the rounds after it carry the
        // new epoch's acks, which must count down the new epoch's unconfirmed (or emission stalls for good).
        const commitEpoch = epoch;
        const offsets = [...toCommit.values()];
        const covered = unconfirmed;
        toCommit.clear();
        const started = Date.now();
        try {
          await cfg.client.commit(offsets);
          commitFailed = false;
          if (commitEpoch === epoch) unconfirmed -= covered;
        } catch {
          // Never a loss (the records come back after a rejoin, as duplicates); kept for a retry unless a
          // later ack moved the partition on or a rejoin started over from the committed offsets.
          counters.inc('GenericProcessingFail');
          if (commitEpoch !== epoch) break;
          for (const o of offsets) if (!toCommit.has(`${o.topic}\u0000${o.partition}`)) toCommit.set(`${o.topic}\u0000${o.partition}`, o);
          commitFailed = true;
          break;
        } finally {
          counters.inc('KafkaCommitTimer', Date.now() - started);
        }
      }
    })().finally(() => {
      committing = undefined;
      if (commitFailed) {
        if (!left && !closed && commitRetry === undefined) {
          commitRetry = asyncScheduler.schedule(() => {
            commitRetry = undefined;
            void flushCommits();
          }, commitBackoff.next());
        }
        return;
      }
      commitBackoff.reset();
      // An ack that landed between the loop's last check and here must not wait for the next one.
      if (toCommit.size > 0) void flushCommits();
      else pump();
    });
    return committing;
  };

  /** One last try at every pending commit (stopping: no retry after it). */
  const settleCommits = async (): Promise<void> => {
    await committing;
    commitRetry?.unsubscribe();
    commitRetry = undefined;
    await flushCommits();
  };

  /** Commits the end of each partition's acked prefix. */
  const advance = (taken: Taken): void => {
    let moved = false;
    for (const r of taken.ranges) {
      const queue = tracks.get(r.key);
      if (!queue) continue;
      let last: string | undefined;
      while (queue.length > 0 && queue[0]!.acked) {
        const head = queue.shift()!;
        last = head.ranges.find((x) => x.key === r.key)!.last;
      }
      if (last !== undefined) {
        toCommit.set(r.key, { topic: r.topic, partition: r.partition, offset: (BigInt(last) + 1n).toString() });
        moved = true;
      }
    }
    // Only an ack that moves a commit counts: one behind an unsettled batch must not hold that batch back.
    if (moved) unconfirmed++;
    void flushCommits();
  };

  const emit = (taken: Taken): void => {
    const n = taken.events.length;
    inFlight++;
    inFlightEvents += n;
    cfg.emitted(n);
    out.next(
      createBatch(taken.events, {
        onAck: () => {
          inFlight--;
          inFlightEvents -= n;
          cfg.acked(n);
          // Still committed while stopping: the group is left only once in-flight batches settled.
          if (!left && taken.epoch === epoch) {
            taken.acked = true;
            advance(taken);
          }
          if (closed) return settledWhileStopping?.();
          nacks.reset();
          pump();
        },
        onNack: (error) => {
          inFlight--;
          inFlightEvents -= n;
          if (closed) return settledWhileStopping?.();
          cfg.nacked(n);
          if (!isRetriable(error)) return fail(error);
          // Held (not sought back): the same events go out again, and no commit passes them meanwhile.
          if (taken.epoch === epoch) {
            let i = 0;
            while (i < held.length && held[i]!.seq < taken.seq) i++;
            held.splice(i, 0, taken);
          }
          const delay = nacks.next();
          if (backoffTimer === undefined) {
            backoffTimer = asyncScheduler.schedule(() => {
              backoffTimer = undefined;
              pump();
            }, delay);
          }
          updatePause();
        },
      }),
    );
  };

  const cut = (): Taken => {
    const n = Math.min(cfg.batchSize, buf.length);
    const events = buf.splice(0, n);
    const topics = bufTopic.splice(0, n);
    const partitions = bufPartition.splice(0, n);
    const offsets = bufOffset.splice(0, n);
    const byKey = new Map<string, Range>();
    for (let i = 0; i < n; i++) {
      const key = `${topics[i]}\u0000${partitions[i]}`;
      const r = byKey.get(key);
      if (r) r.last = offsets[i]!;
      else byKey.set(key, { topic: topics[i]!, partition: partitions[i]!, key, last: offsets[i]! });
    }
    const taken: Taken = { seq: ++cuts, events, ranges: [...byKey.values()], epoch, acked: false };
    for (const r of taken.ranges) {
      let queue = tracks.get(r.key);
      if (!queue) tracks.set(r.key, (queue = []));
      queue.push(taken);
    }
    return taken;
  };

  const pump = (): void => {
    while (!closed && backoffTimer === undefined && inFlight < cfg.maxInFlight && unconfirmed <= cfg.maxInFlight) {
      if (held.length > 0) {
        emit(held.shift()!);
        continue;
      }
      if (buf.length >= cfg.batchSize || (buf.length > 0 && due)) {
        emit(cut());
        continue;
      }
      break;
    }
    if (closed) return;
    if (buf.length === 0) {
      due = false;
      durationTimer?.unsubscribe();
      durationTimer = undefined;
    } else if (durationTimer === undefined && !due) {
      durationTimer = asyncScheduler.schedule(() => {
        durationTimer = undefined;
        due = true;
        pump();
      }, cfg.batchDurationMs);
    }
    updatePause();
  };

  /** Stops fetching while a whole batch waits for a free slot; the client keeps heart-beating. */
  const updatePause = (): void => updatePauseTo(buf.length >= cfg.batchSize || held.length > 0);

  const handlers: ConsumerHandlers = {
    records(topic, partition, records) {
      if (closed) return;
      recordsSinceFetch = true;
      // A batch of a partition no longer ours: its new owner reads it from the committed offset.
      if (!assignedKeys.has(`${topic}\u0000${partition}`)) return;
      for (const record of records) {
        let e: FlumeEvent;
        try {
          e = cfg.toEvent(topic, partition, record);
        } catch (error) {
          counters.inc('EventReadFail');
          return fail(
            new ComponentError(
              cfg.failCode,
              `${cfg.name}: cannot read the record at ${topic}/${partition}@${record.offset}: ${toError(error).message}`,
              { component: cfg.name, retriable: false, cause: error },
            ),
          );
        }
        buf.push(e);
        bufTopic.push(topic);
        bufPartition.push(partition);
        bufOffset.push(record.offset);
      }
      pump();
    },
    assigned(assignment) {
      if (closed) return;
      epoch++;
      assignedTopics = Object.keys(assignment);
      assignedKeys = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}\u0000${p}`)));
      buf.length = bufTopic.length = bufPartition.length = bufOffset.length = 0;
      held = [];
      tracks = new Map();
      toCommit.clear();
      unconfirmed = 0;
      commitFailed = false;
      commitRetry?.unsubscribe();
      commitRetry = undefined;
      commitBackoff.reset();
      due = false;
      durationTimer?.unsubscribe();
      durationTimer = undefined;
      // kafkajs keeps pause state across a re-join; start the new epoch unpaused.
      paused = true;
      updatePauseTo(false);
      pump();
    },
    fetched(durationMs) {
      counters.inc('KafkaEventGetTimer', durationMs);
      if (!recordsSinceFetch) counters.inc('KafkaEmptyCount');
      recordsSinceFetch = false;
    },
    crashed(error, restarting) {
      counters.inc('GenericProcessingFail');
      if (!restarting) fail(new ComponentError(cfg.failCode, `${cfg.name}: the Kafka consumer stopped: ${error.message}`, { component: cfg.name, cause: error }));
    },
  };

  const updatePauseTo = (value: boolean): void => {
    if (paused === value || assignedTopics.length === 0) return;
    paused = value;
    try {
      if (value) cfg.client.pause(assignedTopics);
      else cfg.client.resume(assignedTopics);
    } catch {
      paused = !value;
    }
  };

  const starts = new Backoff(linear(cfg.backoffStepMs, cfg.backoffMaxMs));
  const start = (): void => {
    cfg.client.start(handlers).then(
      () => undefined,
      (error: unknown) => {
        if (closed) return;
        counters.inc('GenericProcessingFail');
        if (isUnknownTopic(error)) {
          return fail(
            new ComponentError(
              cfg.failCode,
              `${cfg.name}: ${cfg.what} does not exist (broker auto.create.topics.enable=false?): create it first: ${toError(error).message}`,
              { component: cfg.name, retriable: false, cause: error },
            ),
          );
        }
        // Brokers unreachable or not ready: try again after Flume's back-off, as a polled source would.
        void cfg.client.stop().catch(() => undefined);
        startTimer = asyncScheduler.schedule(() => {
          startTimer = undefined;
          if (!closed) start();
        }, starts.next());
      },
    );
  };
  start();

  return {
    held: () => buf.length + inFlightEvents + held.reduce((n, t) => n + t.events.length, 0),
    commitsSettled: settleCommits,
    async stop(graceMs = 0) {
      if (!closed) {
        closed = true;
        clearTimers();
      }
      updatePauseTo(true);
      // Batches already downstream usually settle at once (a channel stores them): wait for them, so
      // their offsets are committed instead of read again by the next owner.
      if (inFlight > 0 && graceMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = asyncScheduler.schedule(() => resolve(), graceMs);
          settledWhileStopping = () => {
            if (inFlight > 0) return;
            timer.unsubscribe();
            resolve();
          };
        });
      }
      left = true;
      await settleCommits();
      await cfg.client.stop().catch(() => undefined);
    },
  };
}
