import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { FlumeError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { loggerOption } from '../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { expectedBatchSizeOption, nameOption } from '../core/options.js';
import { createSink, type Sink } from '../core/sink.js';

export const batchIteratorOptions = z.strictObject({
  ...nameOption('batchIterator'),
  ...expectedBatchSizeOption(),
  ...loggerOption,
});

export type BatchIteratorOptions = z.input<typeof batchIteratorOptions>;

/** A sink that is also the loop's iterable: each step yields one batch's events. */
export type BatchIterator = Sink & HasMetrics & AsyncIterable<readonly FlumeEvent[]>;

export const batchIteratorSpec = defineComponent({
  name: 'batchIterator',
  kind: 'sink',
  summary: 'A sink to read with for await: each batch is acked when the loop asks for the next one, nacked when the loop is left.',
  flumeTypes: [],
  schema: batchIteratorOptions,
});

interface Handed {
  batch: Batch;
  done: () => void;
  failed: (error: unknown) => void;
}

/**
 * A sink you read with `for await`: end a pipeline with it, then loop over it. Each step yields one
 * batch's events; the batch is acked when the loop asks for the next one (the body completed), and
 * nacked when the loop is left with the batch in hand — `break`, `return` or a throw — so it comes
 * again (the loop cannot tell a throw from a break: both only stop asking). The loop ends once the
 * pipeline drained (its source ended or `stop()` was called); an error that ended the pipeline is
 * thrown from the loop after the batches before it.
 *
 * Backpressure: the loop is the sink. Batches wait unsettled until the loop takes them, and the channel
 * hands over at most its `maxInFlight` before one is settled, so nothing piles up while the body works.
 *
 * One loop per iterator. After leaving it early, stop the pipeline: batches arriving later are nacked
 * at once and redelivered after the channel's back-off until it stops.
 *
 * @example
 * const batches = batchIterator();
 * const pipeline = pipe(kafkaSource({ brokers, topics: 'orders', groupId: 'writer' }), memoryChannel(), batches);
 * process.once('SIGTERM', () => void pipeline.stop());
 * for await (const events of batches) await saveOrders(events); // acked as the next is asked for
 * await pipeline.done;
 */
export const batchIterator = component(batchIteratorSpec, function batchIterator(options?: BatchIteratorOptions): BatchIterator {
  const opts = parseOptions(batchIteratorSpec, options);
  const counters = new ComponentCounters('SINK', opts.name);
  const queue: Handed[] = [];
  let inHand: Handed | undefined;
  let left = false;
  let ended: { error?: unknown } | undefined;
  let wake: (() => void) | undefined;

  const leftError = () => new FlumeError('FLUME_SINK_FAILED', `${opts.name}: the loop was left before this batch was done; it comes again`, { component: opts.name, retriable: true });

  const base = createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      logger: opts.logger,
      write: (batch) =>
        new Promise<void>((done, failed) => {
          if (left) failed(leftError());
          else {
            queue.push({ batch, done, failed });
            wake?.();
          }
        }),
    },
    counters,
  );

  const end = (error?: unknown): void => {
    ended ??= error === undefined ? {} : { error };
    wake?.();
  };

  const step = async (): Promise<IteratorResult<readonly FlumeEvent[], undefined>> => {
    // Asking for the next batch says the body is done with the one in hand.
    inHand?.done();
    inHand = undefined;
    while (queue.length === 0 && !ended && !left) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    const handed = left ? undefined : queue.shift();
    if (handed) {
      inHand = handed;
      return { done: false, value: handed.batch.events };
    }
    if (!left && ended?.error !== undefined) throw ended.error;
    return { done: true, value: undefined };
  };

  const leave = (): IteratorResult<readonly FlumeEvent[], undefined> => {
    if (!left) {
      left = true;
      const error = leftError();
      inHand?.failed(error);
      inHand = undefined;
      for (const h of queue.splice(0)) h.failed(error);
      wake?.();
    }
    return { done: true, value: undefined };
  };

  let iterating = false;
  const sink: Sink & AsyncIterable<readonly FlumeEvent[]> = {
    next: (batch: Batch) => base.next(batch),
    error: (error: unknown) => {
      base.error(error);
      end(error);
    },
    complete: () => {
      base.complete();
      end();
    },
    closed: base.closed,
    [Symbol.asyncIterator](): AsyncIterator<readonly FlumeEvent[], undefined> {
      if (iterating) throw new TypeError(`${opts.name}: one loop per batchIterator`);
      iterating = true;
      return { next: step, return: async () => leave() };
    },
  };
  return withMetrics(sink, counters);
});
