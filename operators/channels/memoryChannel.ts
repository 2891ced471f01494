import type { OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { loggerOption } from '../../lib/core/log.js';
import type { HasMetrics } from '../../lib/core/metrics.js';
import { nameOption } from '../../lib/core/options.js';
import { boundedChannelOptions, channelEngine, checkTransactionCapacity } from './channelEngine.js';
import { byteCapacityFromFlumeSlots, byteCapacityOption, MemoryStore } from './memoryStore.js';

export const memoryChannelOptions = z
  .strictObject({
    ...nameOption('memoryChannel'),
    ...loggerOption,
    ...boundedChannelOptions({ capacity: 100, transactionCapacity: 100, held: 'those taken and not yet acked' }),
    byteCapacity: byteCapacityOption("100 bytes (Flume's byteCapacitySlotSize)", 'A put larger than all of it is refused (FLUME_BATCH_TOO_LARGE).'),
    whenFull: z
      .enum(['block', 'dropNewest', 'dropOldest'])
      .default('block')
      .describe("'block' pushes back (wait, then nack); the drop policies ack the put and count what they discard."),
  })
  .check(checkTransactionCapacity);

export type MemoryChannelOptions = z.input<typeof memoryChannelOptions>;

export const memoryChannelSpec = defineComponent({
  name: 'memoryChannel',
  kind: 'channel',
  summary: 'Bounded in-memory buffer between source and sink transactions (Flume memory channel).',
  flumeTypes: ['memory', 'org.apache.flume.channel.MemoryChannel'],
  flumeChecksBatchSize: true, // Flume's MemoryChannel implements TransactionCapacitySupported
  schema: memoryChannelOptions,
  flumeKeys: { 'keep-alive': { option: 'keepAliveMs', convert: secondsToMs } },
  fromFlume: byteCapacityFromFlumeSlots(),
});

/**
 * Flume's memory channel as an operator: a bounded buffer between the put transactions of upstream
 * and the take transactions of downstream.
 *
 * - **Put**: an upstream batch is acked as soon as its events are stored. When they do not fit
 *   (`capacity` events including unsettled takes, `byteCapacity` body bytes), the put waits up to
 *   `keepAliveMs` in arrival order and is then nacked with `ChannelFullError` — the source backs off
 *   and retries. With `whenFull: 'dropNewest' | 'dropOldest'` it is acked instead and the discarded
 *   events are counted in `EventDroppedCount`. A put larger than `transactionCapacity`, or than the
 *   whole `byteCapacity`, is nacked with a non-retriable `FLUME_BATCH_TOO_LARGE` (it could never fit).
 * - **Bytes**, as Flume counts them: `byteCapacity` is floor(byteCapacity / 100) slots of 100 bytes;
 *   an event takes ceil(body length / 100) slots, at least one, headers not counted (so 200 holds two
 *   events of 1–100 bytes, or one of 101–200). Unset, 0 or under 100 means no byte bound, as Flume's
 *   `byteCapacity = 0` (Flume's default, 80% of the JVM heap, has no counterpart: unset here, the
 *   channel is bounded by `capacity` events only). From a Flume file, `byteCapacity` less
 *   `byteCapacityBufferPercentage` (default 20) becomes the option, so Flume's `byteCapacity = 250`
 *   is 2 slots here as there. Slots are taken at put and freed when a take is acked.
 * - **Take**: batches of up to `transactionCapacity` events are emitted while fewer than `maxInFlight`
 *   are unsettled. Ack frees their space; nack puts them back at the head, in order, and redelivers
 *   after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)` (Flume's sink runner back-off).
 * - Upstream completion drains the buffer, then completes. Unsubscribing nacks waiting puts.
 * - Refused puts (too large, no room within keep-alive) are logged, once per kind every 30 s.
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
  return channelEngine(opts, (hooks) => new MemoryStore(opts, hooks));
});
