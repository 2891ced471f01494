import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';
import { pollOptionsOf, pollSource, type PollResult } from '../core/pollSource.js';

const countOrInfinity = z.union([z.number().int().min(0), z.literal(Infinity)], { error: 'integer ≥ 0 or Infinity' });

export const stressSourceOptions = z.strictObject({
  ...nameOption('stressSource'),
  size: z.number().int().min(0).default(500).describe('Body bytes of every event.'),
  maxTotalEvents: countOrInfinity
    .default(Infinity)
    .describe('Events generated at most, acked or not; the source completes when reached and all are settled.'),
  maxSuccessfulEvents: countOrInfinity
    .default(Infinity)
    .describe('Acked events at most; the source completes when reached.'),
  batchSize: z.number().int().min(1).default(1).describe('Events per batch.'),
  maxEventsPerSecond: z.number().min(0).default(0).describe('Average generation rate limit; 0 means unlimited.'),
  ...maxInFlightOption('nothing is generated beyond'),
  ...backoffOptions('a nack'),
});

export type StressSourceOptions = z.input<typeof stressSourceOptions>;

// Flume writes -1 for "no limit".
const limit = (v: string): number => (Number(v) < 0 ? Infinity : Number(v));

export const stressSourceSpec = defineComponent({
  name: 'stressSource',
  kind: 'source',
  summary: 'Load generator: events of `size` random bytes, up to optional limits (Flume StressSource).',
  flumeTypes: ['org.apache.flume.source.StressSource'],
  flumeChecksBatchSize: true, // Flume's StressSource implements BatchSizeSupported
  schema: stressSourceOptions,
  flumeKeys: {
    maxTotalEvents: { option: 'maxTotalEvents', convert: limit },
    maxSuccessfulEvents: { option: 'maxSuccessfulEvents', convert: limit },
    ...backoffFlumeKeys,
  },
});

/**
 * Flume's StressSource, a load generator: batches of `batchSize` events with empty headers whose
 * body is one buffer of `size` random bytes, shared by every event as in Flume (Flume fills it with
 * 0x7F; random bytes here keep compressing sinks honest). As in Flume, every batch carries the same
 * `batchSize` event objects (each batch its own array): an interceptor that sets a header sets it on the
 * copies still waiting in a channel too. A polled source (`pollSource`): it generates
 * only as batches are acked, optionally paced to `maxEventsPerSecond`.
 *
 * Limits: `maxTotalEvents` counts every generated event, acked or nacked (the last batch is cut to
 * fit); `maxSuccessfulEvents` counts acked ones (batches are cut so that exactly that many are acked).
 * The source completes once a limit is reached and every batch is settled.
 *
 * Delivery: none needed — the events are synthetic. A nacked batch is counted
 * (`ChannelWriteFail`) and not re-sent, as in Flume; generation resumes after Flume's back-off. A
 * non-retriable nack ends the source with that error.
 *
 * @example
 * pipe(stressSource({ size: 1024, maxTotalEvents: 1_000_000, batchSize: 100 }), memoryChannel({ capacity: 10_000 }), nullSink());
 */
export const stressSource = component(stressSourceSpec, function stressSource(
  options?: StressSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(stressSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  const body = process.getBuiltinModule('node:crypto').randomBytes(opts.size);
  const { maxTotalEvents, maxSuccessfulEvents, batchSize, maxEventsPerSecond } = opts;
  // Flume's StressSource makes its batchSize events once and sends the same ones in every batch. Made
  // per batch, they were most of what a fast sink's agent allocated, and outlived the young generation.
  const prepared: FlumeEvent[] = Array.from({ length: batchSize }, () => ({ headers: {}, body }));

  const source = new Observable<Batch>((subscriber) => {
    let generated = 0;
    let acked = 0;
    let inFlightEvents = 0;
    let startedAt: number | undefined;
    let paceTimer: Subscription | undefined;

    // A limit reached ends the source once every batch is settled; a nack that leaves room again
    // makes pollSource poll once more.
    const poll = (): PollResult | Promise<PollResult> => {
      const count = Math.min(batchSize, maxTotalEvents - generated, maxSuccessfulEvents - acked - inFlightEvents);
      if (count <= 0) return null;
      if (maxEventsPerSecond > 0) {
        const now = asyncScheduler.now();
        startedAt ??= now;
        const due = startedAt + (generated * 1000) / maxEventsPerSecond;
        if (due > now) {
          return new Promise<PollResult>((resolve) => {
            paceTimer = asyncScheduler.schedule(() => resolve(poll()), due - now);
          });
        }
      }
      generated += count;
      inFlightEvents += count;
      const events = prepared.slice(0, count);
      const settled = (ok: boolean): void => {
        inFlightEvents -= count;
        if (ok) acked += count;
      };
      return { events, commit: () => settled(true), rollback: () => settled(false) };
    };

    const subscription = pollSource(poll, pollOptionsOf(opts), metrics).subscribe(subscriber);
    return () => {
      subscription.unsubscribe();
      paceTimer?.unsubscribe();
    };
  });
  return withMetrics(source, metrics);
});
