import { isObservable, type Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { backoffOptions } from '../core/backoff.js';
import type { Batch } from '../core/batch.js';
import { batchOptions, bufferedSource, bufferOptionsOf } from '../core/bufferedSource.js';
import { component, defineComponent, describeValue, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import { event, isFlumeEvent, type EventBody, type FlumeEvent } from '../core/event.js';
import { ComponentCounters, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';

export const fromObservableOptions = z
  .strictObject({
    ...nameOption('fromObservable'),
    ...batchOptions('Events'),
    ...maxInFlightOption('items wait in the buffer beyond'),
    bufferLimit: z.number().int().min(1).default(10_000).describe('Items received and not yet in a batch, at most; ≥ batchSize.'),
    whenFull: z
      .enum(['error', 'dropNewest', 'dropOldest'])
      .default('error')
      .describe("At bufferLimit: 'error' fails with FLUME_SOURCE_OVERFLOW; the drop policies discard an item and count it in EventDroppedCount."),
    ...backoffOptions('a nack'),
  })
  .check((ctx) => {
    if (ctx.value.bufferLimit < ctx.value.batchSize) {
      ctx.issues.push({
        code: 'custom',
        path: ['bufferLimit'],
        message: `integer ≥ batchSize (${ctx.value.batchSize})`,
        input: ctx.value.bufferLimit,
      });
    }
  });

export type FromObservableOptions = z.input<typeof fromObservableOptions>;

/** What an application may emit: text (UTF-8), bytes, or a ready event. */
export type ObservableItem = EventBody | FlumeEvent;

export const fromObservableSpec = defineComponent({
  name: 'fromObservable',
  kind: 'source',
  summary: "Turns an app's Observable (bounded buffer) or AsyncIterable (read as there is room) into batches.",
  flumeTypes: [],
  schema: fromObservableOptions,
});

/**
 * Turns an application's Observable into a source: each string (UTF-8), Buffer, Uint8Array or
 * `{ headers, body }` event it emits becomes one event, buffered and emitted in batches of
 * `batchSize`, or as a partial batch `batchTimeoutMs` after its first item arrived. At most
 * `maxInFlight` batches are unsettled; meanwhile items wait in a buffer of at most `bufferLimit`.
 *
 * An AsyncIterable (an async generator, a Node Readable, an event stream of the app's) is read only while
 * there is room: the next item is asked for once the previous one is queued and the source is not
 * paused, so a fast producer waits for the sink and nothing overflows or is dropped — the choice for
 * backpressure. An Observable cannot be slowed down, so for it a full buffer is a decision (`whenFull`):
 * - `'error'` (default): the source fails at once with `ComponentError` `FLUME_SOURCE_OVERFLOW`
 *   (non-retriable); the items still in the buffer are discarded with it.
 * - `'dropNewest'` / `'dropOldest'`: the arriving / the oldest waiting item is discarded and counted in
 *   the source counter `EventDroppedCount`.
 *
 * Delivery: at-least-once for every item that entered the buffer and was not dropped. A nacked batch
 * is re-sent, same events and before any other, after `min(n × backoffSleepIncrementMs,
 * maxBackoffSleepMs)` (n = nacks in a row); with `maxInFlight > 1` it may then follow later batches. A non-retriable nack (e.g.
 * `FLUME_BATCH_TOO_LARGE`) fails the source with that error. When the app's Observable completes, the
 * buffer is flushed and the source completes once every batch was acked; when it errors, or emits
 * something that is not an event body (`FLUME_SOURCE_FAILED`, counted in `EventReadFail`), the same
 * flush and wait happen before the error is passed on. Unsubscribing unsubscribes from the app's
 * Observable (or ends the iteration: the iterator's `return()`, a generator's `finally`) and stops the timers.
 *
 * @example
 * const lines$ = new Subject<string>();
 * const pipeline = pipe(fromObservable(lines$, { batchSize: 500 }), memoryChannel({ capacity: 10_000 }), loggerSink());
 * lines$.next('hello');
 * lines$.complete();
 * await pipeline.done;
 *
 * @example
 * // Pulled: the file is read only as fast as the sink acks.
 * const lines = readline.createInterface({ input: fs.createReadStream('events.log') });
 * await pipe(fromObservable(lines), memoryChannel({ capacity: 10_000 }), kafkaSink({ ... })).done;
 */
export const fromObservable = component(fromObservableSpec, function fromObservable(
  input$: Observable<ObservableItem> | AsyncIterable<ObservableItem>,
  options?: FromObservableOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(fromObservableSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  return bufferedSource(
    (feed) => {
      let done = false;
      const end = (error?: unknown): void => {
        if (done) return;
        done = true;
        stop();
        feed.end(error);
      };
      /** Queues one item; false once the source ended on an item that is not an event body. */
      const take = (item: unknown): boolean => {
        if (isFlumeEvent(item)) feed.push(item);
        else if (typeof item === 'string' || item instanceof Uint8Array) feed.push(event(item));
        else {
          metrics.inc('EventReadFail');
          const message = `${opts.name}: cannot make an event of ${describeValue(item)}; emit strings, Buffers, Uint8Arrays or { headers, body } events`;
          end(new ComponentError('FLUME_SOURCE_FAILED', message, { component: opts.name, retriable: false }));
          return false;
        }
        return true;
      };
      let stop = (): void => undefined;
      if (isObservable(input$)) {
        let upstream: Subscription | undefined;
        stop = () => upstream?.unsubscribe();
        upstream = input$.subscribe({
          next: (item) => {
            if (!done) take(item);
          },
          error: end,
          complete: () => end(),
        });
        // The app's Observable may have ended, or overflowed, synchronously, before `upstream` was assigned.
        if (done) upstream.unsubscribe();
        return { close: stop };
      }
      // Pulled: the next item is asked for only while the mechanism does not pause us (a full batch waiting).
      const iterator = input$[Symbol.asyncIterator]();
      let paused = false;
      let wake: (() => void) | undefined;
      let finished = false;
      stop = () => {
        done = true;
        wake?.();
        // Ends the app's iteration (a generator's finally runs), unless the iterator finished by itself.
        if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
      };
      let sinceYield = 0;
      void (async () => {
        try {
          while (!done) {
            while (paused && !done) await new Promise<void>((resolve) => (wake = resolve));
            if (done) return;
            const next = await iterator.next();
            if (done) return;
            if (next.done) {
              finished = true;
              end();
              return;
            }
            if (!take(next.value)) return;
            // An iterable that never waits would keep this loop in microtasks for ever: let timers and I/O run each batch.
            if (++sinceYield >= opts.batchSize) {
              sinceYield = 0;
              await new Promise<void>((resolve) => setImmediate(resolve));
            }
          }
        } catch (error) {
          finished = true;
          end(error);
        }
      })();
      return {
        pause: () => {
          paused = true;
        },
        resume: () => {
          paused = false;
          wake?.();
          wake = undefined;
        },
        close: stop,
      };
    },
    {
      ...bufferOptionsOf(opts),
      maxBufferedEvents: opts.bufferLimit,
    },
    metrics,
  );
});
