import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from './batch.js';
import { component, defineComponent, parseOptions } from './config.js';
import { isRetriable, toError } from './errors.js';
import type { FlumeEvent } from './event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from './metrics.js';
import { Backoff, backoffFlumeKeys, backoffOf, backoffOptions } from './backoff.js';
import { maxInFlightOption, nameOption } from './options.js';

/** What one poll returns: events, events with commit/rollback hooks, or `null` when exhausted. */
export type PollResult = readonly FlumeEvent[] | PolledBatch | null | undefined;

export interface PolledBatch {
  events: readonly FlumeEvent[];
  /** Called once the batch was acked downstream: advance checkpoints here. */
  commit?(): void;
  /** Called once the batch was nacked: make the same events come back on a later poll. */
  rollback?(error: Error): void;
  /**
   * `'drop'`: a nack, whatever its error, drops these events (counted in ChannelWriteFail) and polling
   * goes on at once — for data nobody can be asked to send again (datagrams). By default a nack backs
   * off, or ends the source when not retriable.
   */
  onNack?: 'retry' | 'drop';
}

/**
 * A poll may answer later with a promise. A `PromiseLike` whose callbacks run as soon as it settles
 * (not on a microtask) keeps the whole source on the scheduler's clock, so marble tests can run it:
 * `bufferedSource` waits for its producer that way.
 */
export type Poll = () => PollResult | PromiseLike<PollResult>;

export const pollSourceOptions = z.strictObject({
  ...nameOption('pollSource'),
  ...maxInFlightOption('poll() is not called beyond'),
  ...backoffOptions('an empty poll, a nack or a poll error'),
});

export type PollSourceOptions = z.input<typeof pollSourceOptions>;

/** The options `schema` declares, picked out of a source's own (declared with the same fragments and names). */
export function pickOptions<S extends z.ZodObject>(schema: S, options: object): z.input<S> {
  const own = options as Record<string, unknown>;
  return Object.fromEntries(Object.keys(schema.shape).filter((k) => own[k] !== undefined).map((k) => [k, own[k]])) as z.input<S>;
}

/** This runner's options out of a source's own. */
export const pollOptionsOf = (options: object): PollSourceOptions => pickOptions(pollSourceOptions, options);

export const pollSourceSpec = defineComponent({
  name: 'pollSource',
  kind: 'source',
  summary: "Flume's PollableSourceRunner: calls a poll function, paced by acks, with Flume's back-off.",
  flumeTypes: [],
  schema: pollSourceOptions,
  flumeKeys: backoffFlumeKeys,
});

/** Longest synchronous run before yielding to the event loop, so a source that is always ready cannot starve I/O. */
const SLICE_MS = 10;

/**
 * Flume's PollableSource runner as an Observable. `poll()` is called only while fewer than
 * `maxInFlight` batches are unsettled; again at once after an ack; after a back-off of
 * `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)` when a poll was empty, failed or its batch was
 * nacked (n counts consecutive back-offs). A nack calls the batch's `rollback` so the same events come
 * back; a non-retriable nack or poll error ends the source with that error (a batch polled with
 * `onNack: 'drop'` is dropped instead, and polling goes on). `null` ends the source once every batch
 * is settled.
 *
 * @example
 * let n = 0;
 * pipe(pollSource(() => (n < 10 ? [event(String(n++))] : null)), memoryChannel(), nullSink());
 */
export const pollSource = component(pollSourceSpec, function pollSource(
  poll: Poll,
  options?: PollSourceOptions,
  counters?: ComponentCounters,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(pollSourceSpec, options);
  const metrics = counters ?? new ComponentCounters('SOURCE', opts.name);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    let exhausted = false;
    let waiting = false; // an async poll, a back-off or a yield is under way
    let backingOff = false; // the wait under way is a back-off
    let backoffDue = false; // a back-off was asked for while an async poll or a yield was under way
    let running = false;
    let inFlight = 0;
    const backoffs = new Backoff(backoffOf(opts));
    let timer: Subscription | undefined;
    let immediate: NodeJS.Immediate | undefined;

    const fail = (error: unknown): void => {
      if (closed) return;
      closed = true;
      subscriber.error(error);
    };

    const finishIfDone = (): void => {
      if (!closed && exhausted && inFlight === 0) {
        closed = true;
        subscriber.complete();
      }
    };

    const backoff = (): void => {
      if (closed || backingOff) return;
      if (waiting) {
        // A nack during an async poll: the back-off starts once that poll is handled, not skipped.
        backoffDue = true;
        return;
      }
      waiting = true;
      backingOff = true;
      const delay = backoffs.next();
      timer = asyncScheduler.schedule(() => {
        waiting = false;
        backingOff = false;
        run();
      }, delay);
    };

    /** After an async poll or a yield: back off if a nack asked for it meanwhile, else go on polling. */
    const resume = (): void => {
      if (backoffDue) {
        backoffDue = false;
        backoff();
      } else run();
    };

    const pollFailed = (error: unknown): void => {
      metrics.inc('GenericProcessingFail');
      if (!isRetriable(error)) fail(error);
      else backoff();
    };

    const handle = (result: PollResult): void => {
      if (result === null || result === undefined) {
        exhausted = true;
        finishIfDone();
        return;
      }
      const polled: PolledBatch | undefined = isEventArray(result) ? undefined : result;
      const events = isEventArray(result) ? result : result.events;
      if (events.length === 0) {
        polled?.commit?.();
        backoff();
        return;
      }
      inFlight++;
      metrics.inc('EventReceivedCount', events.length);
      metrics.inc('AppendBatchReceivedCount');
      subscriber.next(
        createBatch(events, {
          onAck: () => {
            inFlight--;
            metrics.inc('EventAcceptedCount', events.length);
            metrics.inc('AppendBatchAcceptedCount');
            polled?.commit?.();
            if (closed) return;
            backoffs.reset();
            finishIfDone();
            run();
          },
          onNack: (error) => {
            inFlight--;
            metrics.inc('ChannelWriteFail', events.length);
            if (polled?.onNack === 'drop') {
              finishIfDone();
              run();
              return;
            }
            polled?.rollback?.(error);
            if (closed) return;
            // A rollback can make events available again after poll() said it had none left.
            exhausted = false;
            if (!isRetriable(error)) fail(error);
            else backoff();
          },
        }),
      );
    };

    const run = (): void => {
      if (running) return; // the outer loop re-checks its conditions after every batch
      running = true;
      // Scheduler time, so virtual-time tests never see a slice expire mid-run.
      const started = asyncScheduler.now();
      try {
        while (!closed && !exhausted && !waiting && inFlight < opts.maxInFlight) {
          if (asyncScheduler.now() - started > SLICE_MS) {
            waiting = true;
            immediate = setImmediate(() => {
              waiting = false;
              resume();
            });
            break;
          }
          let result: PollResult | PromiseLike<PollResult>;
          try {
            result = poll();
          } catch (error) {
            pollFailed(error);
            break;
          }
          if (isPromise(result)) {
            waiting = true;
            result.then(
              (r) => {
                waiting = false;
                if (closed) {
                  if (r && !isEventArray(r)) r.rollback?.(new Error('source unsubscribed'));
                  return;
                }
                handle(r);
                resume();
              },
              (error: unknown) => {
                waiting = false;
                backoffDue = false; // the failed poll backs off anyway
                if (!closed) pollFailed(toError(error));
              },
            );
            break;
          }
          handle(result);
        }
      } finally {
        running = false;
      }
    };

    run();
    return () => {
      closed = true;
      timer?.unsubscribe();
      if (immediate) clearImmediate(immediate);
    };
  });
  return withMetrics(source, metrics);
});

function isEventArray(result: readonly FlumeEvent[] | PolledBatch): result is readonly FlumeEvent[] {
  return Array.isArray(result);
}

function isPromise<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<T>).then === 'function';
}
