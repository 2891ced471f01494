import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../../lib/core/batch.js';
import { byteCapacityFromFlume, component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { ChannelFullError, ComponentError, toError } from '../../lib/core/errors.js';
import { componentLogger, loggerOption, RateLimitedLog } from '../../lib/core/log.js';
import { bodyBytes, type FlumeEvent } from '../../lib/core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';

export const memoryChannelOptions = z
  .strictObject({
    name: z.string().min(1).default('memoryChannel').describe('Component name in metrics.'),
    ...loggerOption,
    capacity: z.number().int().min(1).default(100).describe('Events stored at most, including those taken and not yet acked.'),
    transactionCapacity: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Events per put (a larger batch is refused) and per take; ≤ capacity.'),
    byteCapacity: z.number().int().min(1).optional().describe('Body bytes stored at most; unbounded when unset.'),
    keepAliveMs: z.number().int().min(0).default(3000).describe('How long a put waits for space before it is nacked with ChannelFullError.'),
    whenFull: z
      .enum(['block', 'dropNewest', 'dropOldest'])
      .default('block')
      .describe("'block' pushes back (wait, then nack); the drop policies ack the put and count what they discard."),
    maxInFlight: z.number().int().min(1).default(1).describe('Take batches emitted and not yet settled by the sink.'),
    retryBackoffMs: z.number().int().min(0).default(1000).describe('After a nacked take, wait min(n × this, maxRetryBackoffMs) before redelivery.'),
    maxRetryBackoffMs: z.number().int().min(0).default(5000).describe('Longest wait before redelivering nacked events.'),
  })
  .check((ctx) => {
    if (ctx.value.transactionCapacity > ctx.value.capacity) {
      ctx.issues.push({
        code: 'custom',
        path: ['transactionCapacity'],
        message: `integer ≤ capacity (${ctx.value.capacity})`,
        input: ctx.value.transactionCapacity,
      });
    }
  });

export type MemoryChannelOptions = z.input<typeof memoryChannelOptions>;

export const memoryChannelSpec = defineComponent({
  name: 'memoryChannel',
  kind: 'channel',
  summary: 'Bounded in-memory buffer between source and sink transactions (Flume memory channel).',
  flumeTypes: ['memory', 'org.apache.flume.channel.MemoryChannel'],
  schema: memoryChannelOptions,
  flumeKeys: { 'keep-alive': { option: 'keepAliveMs', convert: secondsToMs } },
  fromFlume: byteCapacityFromFlume,
});

interface PendingPut {
  batch: Batch;
  timer: Subscription | undefined;
}

/**
 * Flume's memory channel as an operator: a bounded buffer between the put transactions of upstream
 * and the take transactions of downstream.
 *
 * - **Put**: an upstream batch is acked as soon as its events are stored. When they do not fit
 *   (`capacity` events including unsettled takes, `byteCapacity` body bytes), the put waits up to
 *   `keepAliveMs` in arrival order and is then nacked with `ChannelFullError` — the source backs off
 *   and retries. With `whenFull: 'dropNewest' | 'dropOldest'` it is acked instead and the discarded
 *   events are counted in `EventDroppedCount`. A put larger than `transactionCapacity` is nacked with a
 *   non-retriable `FLUME_BATCH_TOO_LARGE`.
 * - **Take**: batches of up to `transactionCapacity` events are emitted while fewer than `maxInFlight`
 *   are unsettled. Ack frees their space; nack puts them back at the head, in order, and redelivers
 *   after `min(n × retryBackoffMs, maxRetryBackoffMs)` (Flume's sink runner back-off).
 * - Upstream completion drains the buffer, then completes. Unsubscribing nacks waiting puts.
 *
 * Delivery: at-least-once while the process lives. **The content is lost if the process dies**, as
 * in Flume; use the file channel where that matters.
 *
 * @example
 * pipe(sequenceSource({ totalEvents: 1000 }), memoryChannel({ capacity: 10_000 }), loggerSink());
 */
export const memoryChannel = component(memoryChannelSpec, function memoryChannel(
  options?: MemoryChannelOptions,
): OperatorFunction<Batch, Batch> & HasMetrics {
  const opts = parseOptions(memoryChannelSpec, options);
  const metrics = new ComponentCounters('CHANNEL', opts.name);
  metrics.set('ChannelCapacity', opts.capacity);
  const countBytes = opts.byteCapacity !== undefined;
  const byteCapacity = opts.byteCapacity ?? Infinity;

  const operator = (upstream: Observable<Batch>): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      // Stored events as the chunks they arrived in: a put costs one push, a take of a whole chunk no copy.
      const chunks: FlumeEvent[][] = [];
      let headChunk = 0;
      let headOffset = 0;
      let queued = 0;
      let queuedBytes = 0;
      let inFlight = 0;
      let inFlightEvents = 0;
      let inFlightBytes = 0;
      const pending: PendingPut[] = [];
      let upstreamDone = false;
      let upstreamError: { error: unknown } | undefined;
      let closed = false;
      let draining = false;
      let drainAgain = false;
      let nacks = 0;
      let retryTimer: Subscription | undefined;

      const refusals = new RateLimitedLog(componentLogger(opts.name, opts.logger));
      const publishSize = (): void => metrics.set('ChannelSize', queued);

      const fits = (count: number, bytes: number): boolean =>
        queued + inFlightEvents + count <= opts.capacity && queuedBytes + inFlightBytes + bytes <= byteCapacity;

      const store = (events: FlumeEvent[], bytes: number): void => {
        chunks.push(events);
        queued += events.length;
        queuedBytes += bytes;
        metrics.inc('EventPutSuccessCount', events.length);
        publishSize();
      };

      const takeFromHead = (max: number): FlumeEvent[] => {
        const first = chunks[headChunk]!;
        let out: FlumeEvent[];
        // Whole-chunk fast path only when merging could not make the take any fuller.
        if (headOffset === 0 && (first.length === max || (first.length < max && headChunk === chunks.length - 1))) {
          out = first;
          chunks[headChunk++] = undefined as unknown as FlumeEvent[];
        } else {
          out = [];
          while (out.length < max && headChunk < chunks.length) {
            const chunk = chunks[headChunk]!;
            const n = Math.min(max - out.length, chunk.length - headOffset);
            for (let i = 0; i < n; i++) out.push(chunk[headOffset + i]!);
            headOffset += n;
            if (headOffset === chunk.length) {
              chunks[headChunk++] = undefined as unknown as FlumeEvent[];
              headOffset = 0;
            }
          }
        }
        if (headChunk > 1024 && headChunk * 2 > chunks.length) {
          chunks.splice(0, headChunk);
          headChunk = 0;
        }
        return out;
      };

      const returnToHead = (events: FlumeEvent[]): void => {
        if (headOffset > 0) {
          chunks[headChunk] = chunks[headChunk]!.slice(headOffset);
          headOffset = 0;
        }
        if (headChunk > 0) chunks[--headChunk] = events;
        else chunks.unshift(events);
      };

      const dropOldest = (count: number): number => {
        let dropped = 0;
        while (dropped < count && queued > 0) {
          const [event] = takeFromHead(1);
          queued--;
          if (countBytes) queuedBytes -= event!.body.length;
          dropped++;
        }
        return dropped;
      };

      const put = (batch: Batch): void => {
        const events = batch.events as FlumeEvent[];
        const n = events.length;
        metrics.inc('EventPutAttemptCount', n);
        if (n === 0) return batch.ack();
        const bytes = countBytes ? bodyBytes(events) : 0;
        if (n > opts.transactionCapacity || n > opts.capacity || bytes > byteCapacity) {
          const error = new ComponentError(
            'FLUME_BATCH_TOO_LARGE',
            `${opts.name}: a put of ${n} events (${bytes} bytes) exceeds transactionCapacity ${opts.transactionCapacity}` +
              (countBytes ? ` or byteCapacity ${opts.byteCapacity}` : '') +
              '; lower the source batch size or raise the channel capacity',
            { component: opts.name, retriable: false },
          );
          // It can never fit: a source that retries it would stall without a word.
          refusals.write('warn', error.code, error.message);
          return batch.nack(error);
        }
        if (pending.length === 0 && fits(n, bytes)) {
          store(events.slice(), bytes);
          batch.ack();
          drain();
          return;
        }
        if (opts.whenFull === 'dropNewest') {
          const room = Math.max(0, opts.capacity - queued - inFlightEvents);
          let keep = Math.min(room, n);
          if (countBytes) {
            let free = byteCapacity - queuedBytes - inFlightBytes;
            for (let i = 0; i < keep; i++) {
              free -= events[i]!.body.length;
              if (free < 0) {
                keep = i;
                break;
              }
            }
          }
          if (keep > 0) store(events.slice(0, keep), countBytes ? bodyBytes(events.slice(0, keep)) : 0);
          metrics.inc('EventDroppedCount', n - keep);
          batch.ack();
          drain();
          return;
        }
        if (opts.whenFull === 'dropOldest') {
          let dropped = 0;
          while (queued > 0 && !fits(n, bytes)) dropped += dropOldest(1);
          // In-flight events cannot be evicted; if they leave too little room, keep the newest of the put.
          let keep = events;
          while (keep.length > 0 && !fits(keep.length, countBytes ? bodyBytes(keep) : 0)) {
            keep = keep.slice(1);
            dropped++;
          }
          if (keep.length > 0) store(keep.slice(), countBytes ? bodyBytes(keep) : 0);
          metrics.inc('EventDroppedCount', dropped);
          publishSize();
          batch.ack();
          drain();
          return;
        }
        const entry: PendingPut = { batch, timer: undefined };
        pending.push(entry);
        if (opts.keepAliveMs === 0) return expire(entry);
        entry.timer = asyncScheduler.schedule(() => expire(entry), opts.keepAliveMs);
      };

      const expire = (entry: PendingPut): void => {
        const i = pending.indexOf(entry);
        if (i < 0) return;
        pending.splice(i, 1);
        const full = new ChannelFullError(
          `${opts.name}: no space for ${entry.batch.events.length} events within ${opts.keepAliveMs} ms ` +
            `(capacity ${opts.capacity}, stored ${queued + inFlightEvents}); sinks are not keeping up or the channel is too small`,
          { component: opts.name },
        );
        refusals.write('warn', full.code, `${full.message}; the source retries after its back-off`);
        entry.batch.nack(full);
        drain();
      };

      /** Stores waiting puts, oldest first, while they fit. */
      const admit = (): boolean => {
        let admitted = false;
        while (pending.length > 0 && !closed) {
          const next = pending[0]!;
          const bytes = countBytes ? bodyBytes(next.batch.events) : 0;
          if (!fits(next.batch.events.length, bytes)) break;
          pending.shift();
          next.timer?.unsubscribe();
          store((next.batch.events as FlumeEvent[]).slice(), bytes);
          next.batch.ack();
          admitted = true;
        }
        return admitted;
      };

      const finishIfDrained = (): void => {
        if (closed || !upstreamDone || queued > 0 || inFlight > 0 || pending.length > 0) return;
        closed = true;
        if (upstreamError) subscriber.error(upstreamError.error);
        else subscriber.complete();
      };

      // Trampolined: a sink that acks inside next() re-enters here and only sets drainAgain.
      const drain = (): void => {
        if (draining) {
          drainAgain = true;
          return;
        }
        draining = true;
        try {
          do {
            drainAgain = false;
            while (!closed && retryTimer === undefined && inFlight < opts.maxInFlight && queued > 0) emitTake();
            if (admit()) drainAgain = true;
          } while (drainAgain && !closed);
        } finally {
          draining = false;
        }
        finishIfDrained();
      };

      const emitTake = (): void => {
        const events = takeFromHead(opts.transactionCapacity);
        const bytes = countBytes ? bodyBytes(events) : 0;
        queued -= events.length;
        queuedBytes -= bytes;
        inFlight++;
        inFlightEvents += events.length;
        inFlightBytes += bytes;
        metrics.inc('EventTakeAttemptCount', events.length);
        publishSize();
        const release = (): void => {
          inFlight--;
          inFlightEvents -= events.length;
          inFlightBytes -= bytes;
        };
        subscriber.next(
          createBatch(events, {
            onAck: () => {
              if (closed) return;
              release();
              nacks = 0;
              metrics.inc('EventTakeSuccessCount', events.length);
              drain();
            },
            onNack: () => {
              if (closed) return;
              release();
              metrics.inc('RollbackCount');
              returnToHead(events);
              queued += events.length;
              queuedBytes += bytes;
              publishSize();
              nacks++;
              if (retryTimer === undefined) {
                const delay = Math.min(nacks * opts.retryBackoffMs, opts.maxRetryBackoffMs);
                retryTimer = asyncScheduler.schedule(() => {
                  retryTimer = undefined;
                  drain();
                }, delay);
              }
            },
          }),
        );
      };

      const upstreamSubscription = upstream.subscribe({
        next: (batch) => {
          try {
            put(batch);
          } catch (error) {
            if (!batch.settled) batch.nack(toError(error));
            else throw error;
          }
        },
        error: (error: unknown) => {
          upstreamDone = true;
          upstreamError = { error };
          drain();
        },
        complete: () => {
          upstreamDone = true;
          drain();
        },
      });

      return () => {
        closed = true;
        upstreamSubscription.unsubscribe();
        retryTimer?.unsubscribe();
        const waiting = pending.splice(0);
        for (const entry of waiting) {
          entry.timer?.unsubscribe();
          entry.batch.nack(new ComponentError('FLUME_CHANNEL_CLOSED', `${opts.name}: channel closed before the put was stored`, { component: opts.name, retriable: true }));
        }
        chunks.length = 0;
        queued = 0;
        publishSize();
      };
    });

  return withMetrics(operator, metrics);
});
