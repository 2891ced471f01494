import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import { expectedBatchSizeOption, nameOption } from '../core/options.js';

export const nullSinkOptions = z.strictObject({
  ...nameOption('nullSink'),
  ...expectedBatchSizeOption('batchSize'),
});

export type NullSinkOptions = z.input<typeof nullSinkOptions>;

export const nullSinkSpec = defineComponent({
  name: 'nullSink',
  kind: 'sink',
  summary: 'Discards every event and acks at once (Flume null sink); for benchmarks and tests.',
  flumeTypes: ['null', 'org.apache.flume.sink.NullSink'],
  flumeChecksBatchSize: true, // Flume's NullSink implements BatchSizeSupported
  schema: nullSinkOptions,
});

/**
 * Flume's null sink: acks every batch as soon as it arrives and discards its events, counting them
 * in Flume's sink counters (`EventDrainAttemptCount`, `EventDrainSuccessCount`, `BatchCompleteCount`
 * / `BatchUnderflowCount` against `batchSize`, `BatchEmptyCount`). Useful to measure the rest of a
 * pipeline, or to throw away a branch of a fan-out.
 *
 * Delivery: none — an acked event is gone. It never fails, so it never nacks.
 *
 * @example
 * let n = 0;
 * const pipeline = pipe(pollSource(() => (n < 1000 ? [event(String(n++))] : null)), memoryChannel(), nullSink());
 * await pipeline.done;
 * pipeline.metrics()['SINK.nullSink']!.EventDrainSuccessCount; // 1000
 */
export const nullSink = component(nullSinkSpec, function nullSink(options?: NullSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(nullSinkSpec, options);
  return createSink(opts.name, { batchSize: opts.batchSize, write: discard });
});

function discard(): void {}
