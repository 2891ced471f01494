import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';
import { pollOptionsOf, pollSource, type PollResult } from '../core/pollSource.js';

const countOrInfinity = z.union([z.number().int().min(0), z.literal(Infinity)], { error: 'integer ≥ 0 or Infinity' });

export const sequenceSourceOptions = z.strictObject({
  ...nameOption('sequenceSource'),
  totalEvents: countOrInfinity
    .default(Infinity)
    .describe('Events generated, bodies "0" … "totalEvents-1"; the source completes once all are acked. Unbounded by default.'),
  batchSize: z.number().int().min(1).default(1).describe('Events per batch.'),
  ...maxInFlightOption('nothing is generated beyond'),
  ...backoffOptions('a nack'),
});

export type SequenceSourceOptions = z.input<typeof sequenceSourceOptions>;

export const sequenceSourceSpec = defineComponent({
  name: 'sequenceSource',
  kind: 'source',
  summary: 'Generates events with bodies "0", "1", "2", …; nacked numbers are re-sent (Flume seq).',
  flumeTypes: ['seq', 'org.apache.flume.source.SequenceGeneratorSource'],
  flumeChecksBatchSize: true, // Flume's SequenceGeneratorSource implements BatchSizeSupported
  schema: sequenceSourceOptions,
  flumeKeys: {
    // Flume's default is Long.MAX_VALUE, beyond what a JS number counts exactly: treat it as unbounded.
    totalEvents: { option: 'totalEvents', convert: (v: string) => (Number(v) >= Number.MAX_SAFE_INTEGER ? Infinity : Number(v)) },
    ...backoffFlumeKeys,
  },
});

/**
 * Flume's sequence generator: events whose bodies are the decimal numbers `0, 1, 2, …` as ASCII
 * bytes, headers `{}`, in batches of `batchSize`, at most `maxInFlight` unsettled. A polled source
 * (`pollSource`): it generates only as batches are acked, so with a stalled pipeline it has produced
 * no more than what the channel holds plus its unsettled batches.
 *
 * Delivery: every number up to `totalEvents` is acked at least once. A nacked batch's numbers are
 * re-sent (same bodies) after Flume's back-off, before any new number, never skipped; with
 * `maxInFlight > 1` a re-sent batch may follow later numbers. The source completes once all
 * `totalEvents` were acked. A non-retriable nack (e.g. `FLUME_BATCH_TOO_LARGE`) ends it with that
 * error.
 *
 * @example
 * await pipe(sequenceSource({ totalEvents: 1_000_000, batchSize: 1000 }), memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }), nullSink()).done;
 */
export const sequenceSource = component(sequenceSourceSpec, function sequenceSource(
  options?: SequenceSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(sequenceSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  const { totalEvents, batchSize } = opts;

  const source = new Observable<Batch>((subscriber) => {
    let next = 0;
    // Rolled-back ranges [from, count], lowest first: served before new numbers. pollSource polls
    // again after a nack even once this said it was done, so they cannot be lost.
    const retries: Array<[number, number]> = [];

    const poll = (): PollResult => {
      let from: number;
      let count: number;
      if (retries.length > 0) {
        [from, count] = retries.shift()!;
      } else if (next < totalEvents) {
        from = next;
        count = Math.min(batchSize, totalEvents - next);
        next += count;
      } else {
        return null;
      }
      return {
        events: generate(from, count),
        rollback: () => {
          let i = retries.length;
          while (i > 0 && retries[i - 1]![0] > from) i--;
          retries.splice(i, 0, [from, count]);
        },
      };
    };

    return pollSource(poll, pollOptionsOf(opts), metrics).subscribe(subscriber);
  });
  return withMetrics(source, metrics);
});

/** Events for `from … from+count-1`; the bodies are slices of one block, written digit by digit (no strings). */
function generate(from: number, count: number): FlumeEvent[] {
  const events = new Array<FlumeEvent>(count);
  const block = Buffer.allocUnsafe(count * digits(from + count - 1));
  let offset = 0;
  for (let i = 0; i < count; i++) {
    let v = from + i;
    const start = offset;
    offset += digits(v);
    let p = offset;
    do {
      block[--p] = 48 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
    events[i] = { headers: {}, body: block.subarray(start, offset) };
  }
  return events;
}

function digits(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}
