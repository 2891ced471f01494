import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable, toError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { loggerOption } from '../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { expectedBatchSizeOption, nameOption } from '../core/options.js';
import { createSink, type Sink } from '../core/sink.js';

export const consumerSinkOptions = z.strictObject({
  ...nameOption('consumerSink'),
  concurrency: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe(
      'Batches handled at once; more wait, unsettled, in arrival order. Give the channel before it at least this maxInFlight, or it hands over one batch at a time.',
    ),
  each: z
    .enum(['batch', 'event'])
    .default('batch')
    .describe("'batch': the handler gets a batch's events at once; 'event': one event at a time, in order, the next once the previous completed."),
  ...expectedBatchSizeOption(),
  ...loggerOption,
});

export type ConsumerSinkOptions = z.input<typeof consumerSinkOptions>;

/** What a handler may return: nothing (done when it returns), a Promise (done when it resolves), an Observable (done when it completes). */
export type HandlerResult = void | PromiseLike<unknown> | Observable<unknown>;

/** The app's code: takes a batch's events (`each: 'batch'`) or one event (`each: 'event'`). */
export type ConsumerHandler = ((events: readonly FlumeEvent[]) => HandlerResult) | ((event: FlumeEvent) => HandlerResult);

export const consumerSinkSpec = defineComponent({
  name: 'consumerSink',
  kind: 'sink',
  summary: "Hands batches (or events) to app code; acks when its handler completed — sync, Promise or Observable — nacks when it failed.",
  flumeTypes: [],
  schema: consumerSinkOptions,
});

/** Runs the handler and waits for what it returned: a throw, a rejection or an Observable's error all fail. */
function completion(result: HandlerResult): Promise<unknown> | undefined {
  if (isObservable(result)) return lastValueFrom(result, { defaultValue: undefined });
  if (result && typeof (result as PromiseLike<unknown>).then === 'function') return Promise.resolve(result);
  return undefined;
}

/**
 * The acking consumer for app code: ends a pipeline (or subscribes to a channel) with your handler, and
 * settles each batch by what the handler did. A batch is acked once the handler completed — it
 * returned, its Promise resolved or its Observable completed — and nacked when it threw, rejected or
 * errored, so the channel keeps the events and offers them again after its back-off. Unlike an RxJS
 * `Subject` behind `observerSink`, an error in app code never acks the batch nor escapes as an uncaught
 * exception: it is the nack's cause (`FLUME_SINK_FAILED`, retriable unless the handler threw a
 * `FlumeError` with `retriable: false`), logged and counted in `EventWriteFail`.
 *
 * Backpressure: at most `concurrency` batches are in the handler at once; the channel hands over no
 * more than its `maxInFlight` batches before one is settled, so a slow handler slows the channel's
 * take, and a full channel pushes back on the sources. Give the channel `maxInFlight ≥ concurrency`.
 * With `each: 'event'` the handler sees one event at a time, in order; the batch is acked after its last.
 *
 * Delivery: at-least-once. A batch that failed is offered again whole, so events the handler already
 * completed (with `each: 'event'`, or a partial write in `'batch'`) come again: handle duplicates.
 *
 * @example
 * const pipeline = pipe(
 *   kafkaSource({ brokers: ['localhost:9092'], topics: 'orders', groupId: 'order-writer' }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500, maxInFlight: 4 }),
 *   consumerSink(async (events) => db.insertOrders(events.map((e) => JSON.parse(text(e)))), { concurrency: 4 }),
 * );
 */
export const consumerSink = component(consumerSinkSpec, acking);

// Overloads, so that a handler written inline gets its parameter's type from `each`.
function acking(handler: (events: readonly FlumeEvent[]) => HandlerResult, options?: ConsumerSinkOptions & { each?: 'batch' }): Sink & HasMetrics;
function acking(handler: (event: FlumeEvent) => HandlerResult, options: ConsumerSinkOptions & { each: 'event' }): Sink & HasMetrics;
function acking(handler: ConsumerHandler, options?: ConsumerSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(consumerSinkSpec, options);
  if (typeof handler !== 'function') throw new TypeError(`${opts.name}: the handler must be a function`);
  const counters = new ComponentCounters('SINK', opts.name);
  let running = 0;
  const waiting: (() => void)[] = [];

  const handle = async (events: readonly FlumeEvent[]): Promise<void> => {
    if (opts.each === 'batch') {
      await completion((handler as (events: readonly FlumeEvent[]) => HandlerResult)(events));
      return;
    }
    for (const e of events) await completion((handler as (event: FlumeEvent) => HandlerResult)(e));
  };

  const sink = createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      logger: opts.logger,
      async write(batch: Batch): Promise<void> {
        // A finished batch hands its slot straight to the oldest waiting one, so none arriving meanwhile jumps ahead.
        if (running < opts.concurrency) running++;
        else await new Promise<void>((resolve) => waiting.push(resolve));
        try {
          await handle(batch.events);
        } catch (error) {
          throw new ComponentError('FLUME_SINK_FAILED', `${opts.name}: the handler failed: ${toError(error).message}`, {
            component: opts.name,
            retriable: isRetriable(error),
            cause: error,
          });
        } finally {
          const next = waiting.shift();
          if (next) next();
          else running--;
        }
      },
    },
    counters,
  );
  return withMetrics(sink, counters);
}
