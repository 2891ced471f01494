import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, describeValue, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable } from '../core/errors.js';
import { event, isFlumeEvent, type EventBody, type FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';

export const fromObservableOptions = z
  .strictObject({
    name: z.string().min(1).default('fromObservable').describe('Component name in metrics.'),
    batchSize: z.number().int().min(1).default(100).describe('Events per batch, at most.'),
    batchTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('A partial batch is emitted this long after its first item arrived (once a batch may be in flight).'),
    maxInFlight: z.number().int().min(1).default(1).describe('Batches emitted and not yet acked (including those waiting to be re-sent), at most.'),
    bufferLimit: z.number().int().min(1).default(10_000).describe('Items received and not yet in a batch, at most; ≥ batchSize.'),
    whenFull: z
      .enum(['error', 'dropNewest', 'dropOldest'])
      .default('error')
      .describe("At bufferLimit: 'error' fails with FLUME_SOURCE_OVERFLOW; the drop policies discard an item and count it in EventDroppedCount."),
    retryBackoffMs: z.number().int().min(0).default(1000).describe('After a nack, re-send the batch after min(n × this, maxRetryBackoffMs).'),
    maxRetryBackoffMs: z.number().int().min(0).default(5000).describe('Longest wait before re-sending a nacked batch.'),
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
  summary: "Turns an application's Observable of strings, Buffers or events into batches, with a bounded buffer.",
  flumeTypes: [],
  schema: fromObservableOptions,
});

/**
 * Turns an application's Observable into a source: each string (UTF-8), Buffer, Uint8Array or
 * `{ headers, body }` event it emits becomes one event, buffered and emitted in batches of
 * `batchSize`, or as a partial batch `batchTimeoutMs` after its first item arrived. At most
 * `maxInFlight` batches are unsettled; meanwhile items wait in a buffer of at most `bufferLimit`.
 *
 * An Observable cannot be slowed down, so a full buffer is a decision (`whenFull`):
 * - `'error'` (default): the source fails at once with `ComponentError` `FLUME_SOURCE_OVERFLOW`
 *   (non-retriable); the items still in the buffer are discarded with it.
 * - `'dropNewest'` / `'dropOldest'`: the arriving / the oldest waiting item is discarded and counted in
 *   the source counter `EventDroppedCount`.
 *
 * Delivery: at-least-once for every item that entered the buffer and was not dropped. A nacked batch
 * is re-sent, same events, after `min(n × retryBackoffMs, maxRetryBackoffMs)` (n = nacks in a row);
 * with `maxInFlight > 1` it may then follow later batches. A non-retriable nack (e.g.
 * `FLUME_BATCH_TOO_LARGE`) fails the source with that error. When the app's Observable completes, the
 * buffer is flushed and the source completes once every batch was acked; when it errors, or emits
 * something that is not an event body (`FLUME_SOURCE_FAILED`, counted in `EventReadFail`), the same
 * flush and wait happen before the error is passed on. Unsubscribing unsubscribes from the app's
 * Observable and stops the timers.
 *
 * @example
 * const lines$ = new Subject<string>();
 * const pipeline = pipe(fromObservable(lines$, { batchSize: 500 }), memoryChannel({ capacity: 10_000 }), loggerSink());
 * lines$.next('hello');
 * lines$.complete();
 * await pipeline.done;
 */
export const fromObservable = component(fromObservableSpec, function fromObservable(
  input$: Observable<ObservableItem>,
  options?: FromObservableOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(fromObservableSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('EventDroppedCount', 0);

  const source = new Observable<Batch>((subscriber) => {
    // The buffer: a queue with a moving head, so dropOldest and batch takes cost no shifting.
    let buffer: FlumeEvent[] = [];
    let head = 0;
    let inFlight = 0;
    const toResend: FlumeEvent[][] = [];
    let nacks = 0;
    let retryTimer: Subscription | undefined;
    let batchTimer: Subscription | undefined;
    let flushDue = false;
    let upstreamDone = false;
    let upstreamError: { error: unknown } | undefined;
    let closed = false;
    let pumping = false;
    let pumpAgain = false;
    let upstream: Subscription | undefined;

    const buffered = (): number => buffer.length - head;

    const take = (max: number): FlumeEvent[] => {
      const n = Math.min(max, buffered());
      const events = buffer.slice(head, head + n);
      head += n;
      if (head === buffer.length) {
        buffer = [];
        head = 0;
      } else if (head > 1024 && head * 2 > buffer.length) {
        buffer = buffer.slice(head);
        head = 0;
      }
      return events;
    };

    const stopTimers = (): void => {
      retryTimer?.unsubscribe();
      retryTimer = undefined;
      batchTimer?.unsubscribe();
      batchTimer = undefined;
    };

    const fail = (error: unknown): void => {
      if (closed) return;
      closed = true;
      upstream?.unsubscribe();
      stopTimers();
      subscriber.error(error);
    };

    const send = (events: FlumeEvent[]): void => {
      subscriber.next(
        createBatch(events, {
          onAck: () => {
            if (closed) return;
            inFlight--;
            nacks = 0;
            metrics.inc('EventAcceptedCount', events.length);
            metrics.inc('AppendBatchAcceptedCount');
            pump();
          },
          onNack: (error) => {
            if (closed) return;
            metrics.inc('ChannelWriteFail', events.length);
            if (!isRetriable(error)) return fail(error);
            nacks++;
            toResend.push(events);
            retryTimer ??= asyncScheduler.schedule(
              () => {
                retryTimer = undefined;
                const batches = toResend.splice(0);
                for (const events of batches) if (!closed) send(events);
              },
              Math.min(nacks * opts.retryBackoffMs, opts.maxRetryBackoffMs),
            );
          },
        }),
      );
    };

    // Trampolined: a sink that acks inside next() re-enters here and only sets pumpAgain.
    const pump = (): void => {
      if (pumping) {
        pumpAgain = true;
        return;
      }
      pumping = true;
      try {
        do {
          pumpAgain = false;
          while (!closed && inFlight < opts.maxInFlight && (buffered() >= opts.batchSize || ((flushDue || upstreamDone) && buffered() > 0))) {
            const events = take(opts.batchSize);
            inFlight++;
            metrics.inc('AppendBatchReceivedCount');
            send(events);
          }
        } while (pumpAgain && !closed);
      } finally {
        pumping = false;
      }
      if (closed) return;
      if (buffered() === 0) {
        flushDue = false;
        batchTimer?.unsubscribe();
        batchTimer = undefined;
      } else if (!flushDue && batchTimer === undefined && !upstreamDone) {
        batchTimer = asyncScheduler.schedule(() => {
          batchTimer = undefined;
          flushDue = true;
          pump();
        }, opts.batchTimeoutMs);
      }
      if (upstreamDone && buffered() === 0 && inFlight === 0) {
        closed = true;
        stopTimers();
        if (upstreamError) subscriber.error(upstreamError.error);
        else subscriber.complete();
      }
    };

    const overflow = (): boolean => {
      if (opts.whenFull === 'dropNewest') {
        metrics.inc('EventDroppedCount');
        return false;
      }
      if (opts.whenFull === 'dropOldest') {
        take(1);
        metrics.inc('EventDroppedCount');
        return true;
      }
      fail(
        new ComponentError(
          'FLUME_SOURCE_OVERFLOW',
          `${opts.name}: ${opts.bufferLimit} items are waiting for a batch (bufferLimit) while ${inFlight} batches are unsettled; ` +
            `the pipeline is not keeping up with the Observable. Raise bufferLimit or maxInFlight, or set whenFull: 'dropNewest' | 'dropOldest' ` +
            `to drop and count items instead; the ${opts.bufferLimit} waiting items are discarded`,
          { component: opts.name, retriable: false },
        ),
      );
      return false;
    };

    const finishUpstream = (error?: { error: unknown }): void => {
      if (upstreamDone) return;
      upstreamDone = true;
      upstreamError = error;
      upstream?.unsubscribe();
      pump();
    };

    upstream = input$.subscribe({
      next: (item) => {
        if (closed || upstreamDone) return;
        let e: FlumeEvent;
        if (isFlumeEvent(item)) e = item;
        else if (typeof item === 'string' || item instanceof Uint8Array) e = event(item);
        else {
          metrics.inc('EventReadFail');
          return finishUpstream({
            error: new ComponentError(
              'FLUME_SOURCE_FAILED',
              `${opts.name}: cannot make an event of ${describeValue(item)}; emit strings, Buffers, Uint8Arrays or { headers, body } events`,
              { component: opts.name, retriable: false },
            ),
          });
        }
        metrics.inc('EventReceivedCount');
        if (buffered() >= opts.bufferLimit && !overflow()) return;
        buffer.push(e);
        pump();
      },
      error: (error: unknown) => finishUpstream({ error }),
      complete: () => finishUpstream(),
    });
    // The app's Observable may have ended, or overflowed, synchronously, before `upstream` was assigned.
    if (upstreamDone || closed) upstream.unsubscribe();

    return () => {
      closed = true;
      upstream?.unsubscribe();
      stopTimers();
      buffer = [];
      head = 0;
    };
  });
  return withMetrics(source, metrics);
});
