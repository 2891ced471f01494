/**
 * The Batch contract of a channel (DESIGN.md §1), written once over a store: puts wait for room up to
 * `keepAliveMs` in arrival order, takes are paced by the sink's acks (`maxInFlight`), a nacked take
 * goes back to the store and is offered again after Flume's runner back-off, upstream completion
 * drains the store before completing, unsubscribing releases everything, and refused puts are logged
 * (rate-limited). The store decides where events live (memory, a write-ahead log, a Kafka topic) and
 * when a put is stored.
 */
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import { Backoff, backoffOf, backoffOptions, type BackoffPolicy } from '../../lib/core/backoff.js';
import { createBatch, type Batch, type DeferredEvents } from '../../lib/core/batch.js';
import { ChannelFullError, ComponentError, isRetriable, toError, type FlumeError } from '../../lib/core/errors.js';
import { bodyBytes, type FlumeEvent } from '../../lib/core/event.js';
import { componentLogger, RateLimitedLog, type ComponentLogger } from '../../lib/core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';
import { maxInFlightOption } from '../../lib/core/options.js';

/** A put offered to a store. */
export interface StorePut {
  /** The batch's events (a copy of its array, the store's to keep); for a deferred put, reading it makes them. */
  readonly events: FlumeEvent[];
  /** Events not made yet, offered only to a store that `keepsDeferred`: it may keep this and make them at take. */
  readonly deferred?: DeferredEvents | undefined;
  /** Their weight against byteCapacity: the store's `weigh` (memory: 100-byte slots), else body bytes; 0 unless the channel counts bytes. */
  readonly bytes: number;
  /** Scheduler time it arrived. */
  readonly since: number;
  /** `reofferAfterMs` has passed for it: its timer fired (timers may fire a millisecond before the clock says so). */
  readonly reofferDue?: boolean;
}

/** Events handed to the sink in one take; a store adds what it needs to commit or roll them back. */
export interface StoreTake {
  readonly events: readonly FlumeEvent[];
}

/** Where a channel's events live. The engine calls it from one place at a time; nothing here re-enters. */
export interface ChannelStore<T extends StoreTake = StoreTake> {
  /** Recovery before the first put (puts wait, their keep-alive not yet running); absent when ready at once. */
  open?(): Promise<void> | void;
  /** Takes the put when there is room and returns true, settling it through `hooks.settled` now or once stored; false: it waits. */
  offer(put: StorePut): boolean;
  /** Up to `max` events from the head, or undefined when none can be taken now (a read the store starts wakes the engine). */
  take(max: number): T | undefined;
  /** The sink acked: make it permanent, then call `done` (at once, or once recorded). Also called after close. */
  commit(take: T, done: () => void): void;
  /** The sink nacked: the events go back to the head, in order, to be taken again. Also called after close. */
  rollback(take: T, error: Error): void;
  /** Events stored and not taken (ChannelSize). */
  size(): number;
  /** What events weigh against byteCapacity (`StorePut.bytes`, `neverFits`); absent: their body bytes. */
  weigh?(events: readonly FlumeEvent[]): number;
  /**
   * Puts may come deferred (`StorePut.deferred`, the source's decoding not done yet) when the channel does
   * not count bytes: the store keeps them so and makes the events when they are taken, after the source
   * had its ack. Absent: every put's events are made before it is offered.
   */
  readonly keepsDeferred?: boolean;
  /** Why a put of this size can never be stored, or undefined (absent: any size may be). */
  neverFits?(count: number, bytes: number): string | undefined;
  /** How full it is, for the keep-alive refusal. */
  describeFull?(put: StorePut): string;
  /**
   * Upstream ended and every put is settled: resolves once the store delivered what it must (Kafka: the
   * group committed the topic's end). Absent: the channel completes once nothing is stored or taken.
   */
  ended?(): Promise<void>;
  /** Releases files, locks, connections and timers; the promise settles when they are. Called once. */
  close(): Promise<void> | void;
}

export interface StoreHooks {
  /** The channel's counters (Flume's names). */
  readonly metrics: ComponentCounters;
  /** A put offered was stored (`stored` of its events, fewer when the store dropped some on purpose) or refused with `error`. */
  settled(put: StorePut, error?: Error, stored?: number): void;
  /** Something changed (a put stored, a take recorded, a read landed): move events. */
  wake(): void;
  /** The store cannot go on: the channel errors. */
  fail(error: unknown): void;
}

/** A channel's parsed options, as far as the engine needs them. */
export interface EngineOptions extends BackoffOptions {
  name: string;
  /** ChannelCapacity in the metrics. */
  capacity: number;
  /** Events per take at most, and per put unless `boundedPuts` is false (a larger put is refused with FLUME_BATCH_TOO_LARGE). */
  transactionCapacity: number;
  boundedPuts?: boolean;
  keepAliveMs: number;
  maxInFlight: number;
  /** Body bytes of puts are counted when set (the store bounds them). */
  byteCapacity?: number | undefined;
  logger?: ComponentLogger | undefined;
  /** Also offer waiting puts again this long after they arrived (the spillable channel's overflow timeout). */
  reofferAfterMs?: number | undefined;
  /** Counters beyond Flume's common channel set, listed at 0 from the start. */
  counters?: readonly string[];
}

type BackoffOptions = { backoffSleepIncrementMs: number; maxBackoffSleepMs: number };

/**
 * The redelivery back-off of every channel: Flume's SinkRunner waits min(n × 1 s, 5 s) after the n-th
 * rolled-back take in a row.
 */
export const channelBackoffOptions = {
  ...backoffOptions('a rolled-back take (the sink nacked it), before it is offered again'),
};

/** The options of a channel bounded in events (and optionally body bytes), spread into its schema. */
export function boundedChannelOptions(defaults: { capacity: number; transactionCapacity: number; held: string }) {
  return {
    capacity: z.number().int().min(1).default(defaults.capacity).describe(`Events stored at most, including ${defaults.held}.`),
    transactionCapacity: z
      .number()
      .int()
      .min(1)
      .default(defaults.transactionCapacity)
      .describe('Events per put (a larger batch is refused) and per take; ≤ capacity.'),
    byteCapacity: z.number().int().min(1).optional().describe('Body bytes stored at most; unbounded when unset.'),
    keepAliveMs: z.number().int().min(0).default(3000).describe('How long a put waits for space before it is nacked with ChannelFullError.'),
    ...maxInFlightOption('takes wait for the sink to settle one'),
    ...channelBackoffOptions,
  };
}

/** The schema check of `boundedChannelOptions`: a transaction fits in the channel. */
export function checkTransactionCapacity(ctx: z.core.ParsePayload<{ capacity: number; transactionCapacity: number }>): void {
  const { capacity, transactionCapacity } = ctx.value;
  if (transactionCapacity > capacity) {
    ctx.issues.push({ code: 'custom', path: ['transactionCapacity'], message: `integer ≤ capacity (${capacity})`, input: transactionCapacity });
  }
}

/** The policy of options declared with `channelBackoffOptions`. */
export function channelBackoff(o: BackoffOptions): BackoffPolicy {
  return backoffOf(o);
}

interface Put extends StorePut {
  readonly batch: Batch;
  keepAlive: Subscription | undefined;
  reoffer: Subscription | undefined;
  reofferDue?: boolean;
}

const noop = (): void => undefined;

/**
 * A put whose events are not made yet; reading `events` makes them (a fresh array, the store's to keep).
 * A class: an object literal with a getter, made per put, cost a one-connection Avro server half its
 * events/s (measured: V8 kept 5-12 MB alive per scavenge, grew the young generation to its maximum and
 * ran old-space GCs several times a second).
 */
class DeferredPut implements Put {
  readonly bytes = 0;
  keepAlive: Subscription | undefined = undefined;
  reoffer: Subscription | undefined = undefined;
  reofferDue?: boolean;

  constructor(
    readonly batch: Batch,
    readonly deferred: DeferredEvents,
    readonly since: number,
  ) {}

  get events(): FlumeEvent[] {
    return this.deferred.make();
  }
}

/** Events in a put, without making deferred ones. */
export const countOf = (put: StorePut): number => (put.deferred === undefined ? put.events.length : put.deferred.count);

/** The channel operator over the stores `createStore` makes (one per subscription), with its counters. */
export function channelEngine<T extends StoreTake>(opts: EngineOptions, createStore: (hooks: StoreHooks) => ChannelStore<T>): OperatorFunction<Batch, Batch> & HasMetrics {
  const metrics = new ComponentCounters('CHANNEL', opts.name);
  metrics.set('ChannelCapacity', opts.capacity);
  for (const key of opts.counters ?? []) metrics.set(key, 0);
  const policy = channelBackoff(opts);
  const maxPut = opts.boundedPuts === false ? Infinity : opts.transactionCapacity;
  const countBytes = opts.byteCapacity !== undefined;
  const logger = componentLogger(opts.name, opts.logger);
  const operator = (upstream: Observable<Batch>): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      const pending: Put[] = [];
      let opened = false;
      let closed = false;
      let upstreamDone = false;
      let upstreamError: { error: unknown } | undefined;
      /** Puts the store took and has not settled yet. */
      let settling = 0;
      let inFlight = 0;
      let draining = false;
      let drainAgain = false;
      /** The store's `ended()`: not asked yet, under way, resolved. */
      let ended: 'no' | 'asked' | 'yes' = 'no';
      const backoff = new Backoff(policy);
      let retryTimer: Subscription | undefined;
      let upstreamSubscription: Subscription | undefined;
      const refusals = new RateLimitedLog(logger);

      /** Nacks a put the channel could not store, and says so (once per kind and 30 s). */
      const refuse = (batch: Batch, error: Error): void => {
        const kind = (error as Partial<FlumeError>).code ?? error.name;
        refusals.write('warn', kind, isRetriable(error) ? `${error.message}; the source retries after its back-off` : error.message);
        batch.nack(error);
      };

      const store = createStore({
        metrics,
        settled: (put, error, stored = countOf(put)) => {
          settling--;
          const { batch } = put as Put;
          if (error) return refuse(batch, error);
          metrics.inc('EventPutSuccessCount', stored);
          // Stored: acked even when the channel closed meanwhile.
          batch.ack();
        },
        wake: () => drain(),
        fail: (error) => fail(error),
      });
      const publishSize = (): void => metrics.set('ChannelSize', store.size());
      const keepsDeferred = !countBytes && store.keepsDeferred === true;

      const clearTimers = (put: Put): void => {
        put.keepAlive?.unsubscribe();
        put.reoffer?.unsubscribe();
      };

      const clearWaiting = (error: Error): void => {
        for (const put of pending.splice(0)) {
          clearTimers(put);
          if (!put.batch.settled) put.batch.nack(error);
        }
      };

      const fail = (error: unknown): void => {
        if (closed) return;
        closed = true;
        upstreamSubscription?.unsubscribe();
        retryTimer?.unsubscribe();
        clearWaiting(toError(error));
        const closing = store.close();
        const report = (): void => subscriber.error(error);
        if (closing) closing.then(report, report);
        else report();
      };

      const offer = (put: Put): boolean => {
        settling++;
        if (store.offer(put)) return true;
        settling--;
        return false;
      };

      const put = (batch: Batch): void => {
        const deferred = keepsDeferred ? batch.deferred : undefined;
        const events = deferred === undefined ? (batch.events as FlumeEvent[]) : undefined;
        const n = deferred === undefined ? events!.length : deferred.count;
        metrics.inc('EventPutAttemptCount', n);
        if (n === 0) return batch.ack();
        const bytes = countBytes ? (store.weigh?.(events!) ?? bodyBytes(events!)) : 0;
        const never = n > maxPut ? `transactionCapacity ${maxPut}` : store.neverFits?.(n, bytes);
        if (never !== undefined) {
          // It can never fit: a source that retries it would stall without a word.
          return refuse(
            batch,
            new ComponentError(
              'FLUME_BATCH_TOO_LARGE',
              `${opts.name}: a put of ${n} events (${bodyBytes(batch.events)} bytes) exceeds ${never}; lower the source batch size or raise the channel capacity`,
              { component: opts.name, retriable: false },
            ),
          );
        }
        const since = asyncScheduler.now();
        const entry: Put =
          deferred === undefined
            ? { batch, events: events!.slice(), bytes, since, keepAlive: undefined, reoffer: undefined }
            : new DeferredPut(batch, deferred, since);
        if (opened && pending.length === 0 && offer(entry)) {
          drain();
          return;
        }
        pending.push(entry);
        // Before the store is open its keep-alive has not begun: there is no room to wait for yet.
        if (opened) arm(entry);
      };

      const arm = (put: Put): void => {
        if (opts.keepAliveMs === 0) return expire(put);
        put.keepAlive = asyncScheduler.schedule(() => expire(put), opts.keepAliveMs);
        if (opts.reofferAfterMs !== undefined && opts.reofferAfterMs < opts.keepAliveMs) {
          put.reoffer = asyncScheduler.schedule(() => {
            put.reofferDue = true;
            drain();
          }, opts.reofferAfterMs);
        }
      };

      const expire = (put: Put): void => {
        const i = pending.indexOf(put);
        if (i < 0) return;
        pending.splice(i, 1);
        clearTimers(put);
        refuse(
          put.batch,
          new ChannelFullError(`${opts.name}: no space for ${countOf(put)} events within ${opts.keepAliveMs} ms: ${store.describeFull?.(put) ?? 'full'}`, {
            component: opts.name,
          }),
        );
        drain();
      };

      /** Offers waiting puts, oldest first, while the store takes them. */
      const admit = (): boolean => {
        let admitted = false;
        while (pending.length > 0 && opened && !closed) {
          const next = pending[0]!;
          if (!offer(next)) break;
          pending.shift();
          clearTimers(next);
          admitted = true;
        }
        return admitted;
      };

      const finishIfDrained = (): void => {
        if (closed || !opened || !upstreamDone || pending.length > 0 || settling > 0) return;
        if (store.ended) {
          if (ended === 'no') {
            ended = 'asked';
            store.ended().then(
              () => {
                ended = 'yes';
                drain();
              },
              (error: unknown) => fail(error),
            );
          }
          if (ended !== 'yes') return;
        } else if (inFlight > 0 || store.size() > 0) {
          return;
        }
        closed = true;
        const end = (): void => {
          if (upstreamError) subscriber.error(upstreamError.error);
          else subscriber.complete();
        };
        const closing = store.close();
        if (closing) closing.then(end, (error: unknown) => subscriber.error(error));
        else end();
      };

      // Trampolined: a sink that settles inside next() re-enters here and only sets drainAgain.
      const drain = (): void => {
        if (closed) return;
        if (draining) {
          drainAgain = true;
          return;
        }
        draining = true;
        try {
          do {
            drainAgain = false;
            while (!closed && opened && retryTimer === undefined && inFlight < opts.maxInFlight) {
              const take = store.take(opts.transactionCapacity);
              if (take === undefined) break;
              emit(take);
            }
            if (admit()) drainAgain = true;
          } while (drainAgain && !closed);
        } finally {
          draining = false;
        }
        publishSize();
        finishIfDrained();
      };

      const emit = (take: T): void => {
        const n = take.events.length;
        inFlight++;
        metrics.inc('EventTakeAttemptCount', n);
        publishSize();
        subscriber.next(
          createBatch(take.events, {
            onAck: () => {
              // After close the store still learns of it (Kafka commits the offsets during its stop grace).
              if (closed) return store.commit(take, noop);
              backoff.reset();
              store.commit(take, () => {
                if (closed) return;
                inFlight--;
                metrics.inc('EventTakeSuccessCount', n);
                drain();
              });
            },
            onNack: (error) => {
              if (closed) return store.rollback(take, error);
              inFlight--;
              metrics.inc('RollbackCount');
              store.rollback(take, error);
              if (closed) return; // the store failed on it
              publishSize();
              const delay = backoff.next();
              if (retryTimer === undefined) {
                retryTimer = asyncScheduler.schedule(() => {
                  retryTimer = undefined;
                  drain();
                }, delay);
              }
            },
          }),
        );
      };

      const opening = store.open?.();
      if (opening) {
        opening.then(
          () => {
            if (closed) return;
            opened = true;
            const early = pending.slice();
            drain();
            for (const put of early) if (pending.includes(put)) arm(put);
          },
          (error: unknown) => fail(error),
        );
      } else {
        opened = true;
      }

      upstreamSubscription = upstream.subscribe({
        next: (batch) => {
          try {
            put(batch);
          } catch (error) {
            if (!batch.settled) batch.nack(toError(error));
            else throw error;
          }
        },
        error: (error: unknown) => {
          upstreamDone = true;
          upstreamError = { error };
          drain();
        },
        complete: () => {
          upstreamDone = true;
          drain();
        },
      });

      return () => {
        const wasClosed = closed;
        closed = true;
        upstreamSubscription?.unsubscribe();
        retryTimer?.unsubscribe();
        clearWaiting(new ComponentError('FLUME_CHANNEL_CLOSED', `${opts.name}: channel closed before the put was stored`, { component: opts.name, retriable: true }));
        if (!wasClosed) {
          const closing = store.close();
          // Nobody waits for this promise: a failure to close is the store's to log.
          if (closing) closing.catch(() => undefined);
        }
        refusals.flush();
        metrics.set('ChannelSize', 0);
      };
    });
  return withMetrics(operator, metrics);
}
