import type { Observer } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable, toError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import { expectedBatchSizeOption, nameOption } from '../core/options.js';

export const observerSinkOptions = z.strictObject({
  ...nameOption('observerSink'),
  ...expectedBatchSizeOption(),
});

export type ObserverSinkOptions = z.input<typeof observerSinkOptions>;

/** A plain RxJS observer of events, or just its `next`. */
export type EventObserver = Partial<Observer<FlumeEvent>> | ((event: FlumeEvent) => void);

export const observerSinkSpec = defineComponent({
  name: 'observerSink',
  kind: 'sink',
  summary: 'Hands each event to a plain RxJS observer; acks once its next() returned, nacks if it threw.',
  flumeTypes: [],
  schema: observerSinkOptions,
});

/**
 * Hands every event of a batch, in order, to `observer.next` and acks the batch once the last call
 * returned. The pipeline's completion or error is forwarded to `observer.complete` / `observer.error`
 * after the last batch settled (a throw there rejects the sink's `closed`, hence `pipeline.done`).
 * `next` is called synchronously; a promise it returns is not awaited — write a `createSink` writer
 * for asynchronous destinations.
 *
 * If `next` throws, the batch is nacked with `FLUME_SINK_FAILED` carrying the thrown error as
 * `cause`. It is retriable — user code often fails transiently and the channel redelivers after its
 * back-off anyway — unless the observer threw a `FlumeError` with `retriable: false`, which is kept.
 *
 * Delivery: at-least-once. The events of a failed batch before the one that threw were already
 * handed over; on redelivery **they are handed over again**, so the observer must tolerate duplicates.
 *
 * @example
 * const seen: string[] = [];
 * const pipeline = pipe(pollSource(poll), memoryChannel(), observerSink((e) => seen.push(text(e))));
 * await pipeline.done;
 */
export const observerSink = component(observerSinkSpec, function observerSink(
  observer: EventObserver,
  options?: ObserverSinkOptions,
): Sink & HasMetrics {
  const opts = parseOptions(observerSinkSpec, options);
  if (typeof observer !== 'function' && (typeof observer !== 'object' || observer === null)) {
    throw new TypeError(`${opts.name}: the observer must be a function or an object with next/error/complete`);
  }
  const target: Partial<Observer<FlumeEvent>> = typeof observer === 'function' ? { next: observer } : observer;
  const counters = new ComponentCounters('SINK', opts.name);
  let failure: { error: unknown } | undefined;

  const base = createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      write(batch: Batch): void {
        if (!target.next) return;
        const events = batch.events;
        for (let i = 0; i < events.length; i++) {
          try {
            target.next(events[i]!);
          } catch (error) {
            throw new ComponentError(
              'FLUME_SINK_FAILED',
              `${opts.name}: observer.next threw on event ${i + 1} of ${events.length}: ${toError(error).message}`,
              { component: opts.name, retriable: isRetriable(error), cause: error },
            );
          }
        }
      },
      // createSink calls close after every write settled, for both complete and error.
      close(): void {
        if (failure) target.error?.(failure.error);
        else target.complete?.();
      },
    },
    counters,
  );

  const sink: Sink = {
    next: (batch) => base.next(batch),
    error: (error: unknown) => {
      failure ??= { error };
      base.error(error);
    },
    complete: () => base.complete(),
    closed: base.closed,
  };
  return withMetrics(sink, counters);
});
