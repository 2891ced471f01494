import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from './batch.js';
import { backoffFlumeKeys, backoffOptions } from './backoff.js';
import { component, defineComponent, parseOptions } from './config.js';
import { ComponentError } from './errors.js';
import type { FlumeEvent } from './event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from './metrics.js';
import { maxInFlightOption, nameOption } from './options.js';
import { pickOptions, pollOptionsOf, pollSource, type PolledBatch, type PollResult } from './pollSource.js';

/** Where a push source puts what arrives. */
export interface Feed {
  /** Queues one event; it goes out in a batch of `batchSize`, or in a partial one after `batchTimeoutMs`. */
  push(event: FlumeEvent): void;
  /** Nothing more comes: what is queued goes out at once; the source then completes, or fails with `error`, once every batch is settled. */
  end(error?: unknown): void;
  /** Fails the source now; what is queued is discarded. */
  fail(error: unknown): void;
  /** Events queued and not yet in a batch. */
  readonly size: number;
}

/** What the producer gives back: the mechanism pauses it while a full batch waits and none may be sent. */
export interface Producer {
  pause?(): void;
  resume?(): void;
  /** Releases what it holds (watchers, processes, subscriptions); called once, when the source ends or is unsubscribed. */
  close?(): void;
}

const countOrInfinity = z.union([z.number().int().min(1), z.literal(Infinity)], { error: 'integer ≥ 1 or Infinity' });

/** The batching options of a push source (`what` names its events: "Lines"), spread into its schema. */
export function batchOptions(what: string, defaults: { batchSize?: number; batchTimeoutMs?: number } = {}) {
  return {
    batchSize: z.number().int().min(1).default(defaults.batchSize ?? 100).describe(`${what} per batch, at most.`),
    batchTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(defaults.batchTimeoutMs ?? 1000)
      .describe('A partial batch is sent this long after its first event arrived (once a batch may be sent).'),
  };
}

export const bufferedSourceOptions = z.strictObject({
  ...nameOption('bufferedSource'),
  ...batchOptions('Events'),
  ...maxInFlightOption('the producer is paused beyond'),
  ...backoffOptions('a nack'),
  maxBufferedEvents: countOrInfinity
    .default(Infinity)
    .describe('Events queued and not in a batch, at most, for a producer that cannot be paused; past it `whenFull` decides.'),
  maxBufferedBytes: countOrInfinity.default(Infinity).describe('Body bytes queued and not in a batch, at most; past it `whenFull` decides.'),
  whenFull: z
    .enum(['error', 'dropNewest', 'dropOldest'])
    .default('error')
    .describe("Past a limit: 'error' fails with FLUME_SOURCE_OVERFLOW; the drop policies discard an event and count it in EventDroppedCount."),
  onNack: z
    .enum(['retry', 'drop'])
    .default('retry')
    .describe("'retry': a nacked batch is sent again, first, after the back-off; 'drop': it is dropped (counted in ChannelWriteFail), for senders nobody can ask again."),
});

export type BufferedSourceOptions = z.input<typeof bufferedSourceOptions>;

/** This mechanism's options out of a source's own (declared with the same fragments and names). */
export const bufferOptionsOf = (options: object): BufferedSourceOptions => pickOptions(bufferedSourceOptions, options);

export const bufferedSourceSpec = defineComponent({
  name: 'bufferedSource',
  kind: 'source',
  summary: 'A push source: events a producer pushes, batched by size and timeout, sent only as batches are acked; the producer is paused meanwhile.',
  flumeTypes: [],
  schema: bufferedSourceOptions,
  flumeKeys: backoffFlumeKeys,
});

/**
 * A push source — a watcher, a process, a socket, an Observable — as a Flume source. `start(feed)` is
 * called on subscribe; the producer pushes events into `feed`, which sends them in batches of
 * `batchSize`, or a partial batch `batchTimeoutMs` after its first event arrived (at once after
 * `feed.end()`), never more than `maxInFlight` unsettled (it runs on `pollSource`, whose counters,
 * back-off and slicing it shares).
 *
 * Backpressure: while a full batch waits and none may be sent, the producer's `pause()` is called;
 * `resume()` once a batch went out. A producer that cannot be paused is bounded by
 * `maxBufferedEvents` and `maxBufferedBytes` instead: past them `whenFull` fails the source with
 * `FLUME_SOURCE_OVERFLOW` (not retriable) or drops an event, counted in `EventDroppedCount`.
 *
 * Delivery: a nacked batch is sent again, same events, before anything else, after
 * `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`; a non-retriable nack ends the source with its
 * error. With `onNack: 'drop'` a nacked batch is dropped and counted in `ChannelWriteFail`. Nothing is
 * persisted: what is queued or unsettled when the source ends is gone. The producer's `close()` runs
 * once when the source completes, fails or is unsubscribed.
 *
 * @example
 * const lines = bufferedSource((feed) => {
 *   const rl = readline.createInterface({ input: process.stdin });
 *   rl.on('line', (line) => feed.push(event(line))).on('close', () => feed.end());
 *   return { pause: () => rl.pause(), resume: () => rl.resume(), close: () => rl.close() };
 * }, { batchSize: 500 });
 * pipe(lines, memoryChannel(), loggerSink());
 */
export const bufferedSource = component(bufferedSourceSpec, function bufferedSource(
  start: (feed: Feed) => Producer | void,
  options?: BufferedSourceOptions,
  counters?: ComponentCounters,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(bufferedSourceSpec, options);
  const metrics = counters ?? new ComponentCounters('SOURCE', opts.name);
  const { batchSize, batchTimeoutMs, maxBufferedEvents, maxBufferedBytes } = opts;
  const countBytes = maxBufferedBytes !== Infinity;
  if (maxBufferedEvents !== Infinity || countBytes) metrics.inc('EventDroppedCount', 0);

  const source = new Observable<Batch>((subscriber) => {
    // A queue with a moving head, so that taking a batch or dropping the oldest costs no shifting.
    let queue: FlumeEvent[] = [];
    let head = 0;
    let bytes = 0;
    // When the oldest queued event arrived (scheduler time).
    let oldestAt = 0;
    /** Nacked batches, sent again first, in the order they were first sent. */
    const retries: { seq: number; batch: PolledBatch }[] = [];
    let seq = 0;
    let waiter: ((result: PollResult) => void) | undefined;
    let timer: Subscription | undefined;
    let ended: { error?: { value: unknown } } | undefined;
    let closed = false;
    let paused = false;
    let producer: Producer | void = undefined;
    let inner: Subscription | undefined;
    const size = (): number => queue.length - head;
    // What poll() answers while no batch is ready: called back synchronously when one is, not on a
    // microtask, so that the whole source runs on the scheduler's clock.
    const later: PromiseLike<PollResult> = {
      then(resolve) {
        waiter = resolve as (result: PollResult) => void;
        armTimer();
        return later as PromiseLike<never>;
      },
    };

    const fail = (error: unknown): void => {
      if (closed) return;
      closed = true;
      subscriber.error(error);
    };

    const take = (): PolledBatch => {
      const n = Math.min(batchSize, size());
      const events = head === 0 && n === queue.length ? queue : queue.slice(head, head + n);
      head += n;
      if (head === queue.length) {
        queue = [];
        head = 0;
      } else {
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        oldestAt = asyncScheduler.now();
      }
      if (countBytes) for (const e of events) bytes -= e.body.length;
      if (paused && size() < batchSize) {
        paused = false;
        producer?.resume?.();
      }
      const mine = seq++;
      const batch: PolledBatch = {
        events,
        onNack: opts.onNack,
        rollback: () => {
          if (closed) return;
          let i = retries.length;
          while (i > 0 && retries[i - 1]!.seq > mine) i--;
          retries.splice(i, 0, { seq: mine, batch });
        },
      };
      return batch;
    };

    const deliver = (result: PollResult): void => {
      timer?.unsubscribe();
      timer = undefined;
      const resolve = waiter!;
      waiter = undefined;
      resolve(result);
    };

    const armTimer = (): void => {
      if (timer || !waiter || size() === 0) return;
      timer = asyncScheduler.schedule(
        () => {
          timer = undefined;
          if (waiter && size() > 0) deliver(take());
        },
        Math.max(0, oldestAt + batchTimeoutMs - asyncScheduler.now()),
      );
    };

    const poll = (): PollResult | PromiseLike<PollResult> => {
      const retry = retries.shift();
      if (retry) return retry.batch;
      const n = size();
      if (n >= batchSize || (n > 0 && (ended || oldestAt + batchTimeoutMs <= asyncScheduler.now()))) return take();
      if (ended) return null;
      return later;
    };

    /** Makes room for one event of `length` bytes; false when it is to be dropped instead. */
    const admit = (length: number): boolean => {
      while (size() >= maxBufferedEvents || (countBytes && size() > 0 && bytes + length > maxBufferedBytes)) {
        if (opts.whenFull === 'dropOldest' && size() > 0) {
          if (countBytes) bytes -= queue[head]!.body.length;
          queue[head++] = undefined as never;
          if (head === queue.length) {
            queue = [];
            head = 0;
          }
          metrics.inc('EventDroppedCount');
          continue;
        }
        if (opts.whenFull === 'dropNewest') metrics.inc('EventDroppedCount');
        else overflow();
        return false;
      }
      if (countBytes && length > maxBufferedBytes) {
        metrics.inc('EventDroppedCount');
        return false;
      }
      return true;
    };

    const overflow = (): void => {
      fail(
        new ComponentError(
          'FLUME_SOURCE_OVERFLOW',
          `${opts.name}: ${size()} events wait for a batch (the buffer's limit) while batches are unsettled; the pipeline is not ` +
            "keeping up with a producer that cannot be paused. Raise the limit or maxInFlight, or set whenFull: 'dropNewest' | " +
            "'dropOldest' to drop and count events instead; the waiting events are discarded",
          { component: opts.name, retriable: false },
        ),
      );
    };

    const feed: Feed = {
      push(event) {
        if (closed || ended) return;
        if ((maxBufferedEvents !== Infinity || countBytes) && !admit(event.body.length)) return;
        if (size() === 0) oldestAt = asyncScheduler.now();
        queue.push(event);
        if (countBytes) bytes += event.body.length;
        if (size() < batchSize) armTimer();
        else if (waiter) deliver(take());
        else {
          // Asked again on every event past the mark: a producer may have started over (a restarted process).
          paused = true;
          producer?.pause?.();
        }
      },
      end(error) {
        if (closed || ended) return;
        ended = error === undefined ? {} : { error: { value: error } };
        if (waiter) deliver(size() > 0 ? take() : null);
      },
      fail,
      get size() {
        return size();
      },
    };

    try {
      producer = start(feed);
    } catch (error) {
      fail(error);
    }
    if (!closed) {
      // A plain observer, so that unsubscribing `inner` leaves `subscriber` open.
      inner = pollSource(poll, pollOptionsOf(opts), metrics).subscribe({
        next: (batch) => subscriber.next(batch),
        error: fail,
        complete: () => {
          closed = true;
          if (ended?.error) subscriber.error(ended.error.value);
          else subscriber.complete();
        },
      });
    }
    return () => {
      closed = true;
      inner?.unsubscribe();
      timer?.unsubscribe();
      waiter = undefined;
      queue = [];
      head = 0;
      producer?.close?.();
    };
  });
  return withMetrics(source, metrics);
});
