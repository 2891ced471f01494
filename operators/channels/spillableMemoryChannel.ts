import { asyncScheduler, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { combineFromFlume, component, defineComponent, parseOptions, secondsToMs, type FlumeMapped } from '../../lib/core/config.js';
import { loggerOption, type ComponentLogger } from '../../lib/core/log.js';
import type { HasMetrics } from '../../lib/core/metrics.js';
import { maxInFlightOption, nameOption } from '../../lib/core/options.js';
import { channelBackoffOptions, channelEngine, type ChannelStore, type StorePut, type StoreTake } from './channelEngine.js';
import { FILE_CHANNEL_COUNTERS, fileLogFlumeKeys, fileLogOptionsShape, resolveLogOptions } from './durableLog/options.js';
import { FileStore, type FileTake } from './fileStore.js';
import { byteCapacityFromFlumeSlots, byteCapacityOption, MemoryStore, type MemoryTake } from './memoryStore.js';

/** Flume's SpillableMemoryChannel defaultAvgEventSize: its byteCapacity slot. */
const DEFAULT_AVG_EVENT_SIZE = 500;

/** Flume's avgEventSize in a properties file, for the byteCapacity arithmetic (Flume: the default when not an integer). */
function avgEventSizeOf(props: ReadonlyMap<string, string>): number {
  const value = Number(props.get('avgEventSize')?.trim());
  return Number.isInteger(value) && value >= 1 ? value : DEFAULT_AVG_EVENT_SIZE;
}

export const spillableMemoryChannelOptions = z
  .strictObject({
    ...nameOption('spillableMemoryChannel'),
    ...loggerOption,
    memoryCapacity: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('Events held in memory, including those taken and not yet acked; 0 sends every put to the overflow.'),
    overflowCapacity: z
      .number()
      .int()
      .min(0)
      .default(100_000_000)
      .describe('Events spilled to the on-disk overflow at most; 0 disables it (a memory channel, no files).'),
    overflowTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(3000)
      .describe('How long a put waits for memory before it spills to the overflow (Flume overflowTimeout).'),
    byteCapacity: byteCapacityOption('avgEventSize bytes', 'A put larger than all of it goes to the overflow at once (without one it is refused, FLUME_BATCH_TOO_LARGE); the overflow is bounded by overflowCapacity, not bytes.'),
    avgEventSize: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_AVG_EVENT_SIZE)
      .describe('The slot size of byteCapacity in bytes (Flume avgEventSize).'),
    transactionCapacity: z.number().int().min(1).default(10_000).describe('Events per put (a larger batch is refused) and per take.'),
    keepAliveMs: z
      .number()
      .int()
      .min(0)
      .default(3000)
      .describe('How long a put waits when memory and overflow are both full before it is nacked with ChannelFullError.'),
    ...maxInFlightOption('takes wait for the sink to settle one'),
    ...channelBackoffOptions,
    ...fileLogOptionsShape,
  })
  .check((ctx) => {
    const { memoryCapacity, overflowCapacity, transactionCapacity } = ctx.value;
    const largest = Math.max(memoryCapacity, overflowCapacity);
    if (largest === 0) {
      ctx.issues.push({ code: 'custom', path: ['memoryCapacity'], message: 'integer ≥ 1 when overflowCapacity is 0', input: memoryCapacity });
    } else if (transactionCapacity > largest) {
      ctx.issues.push({
        code: 'custom',
        path: ['transactionCapacity'],
        message: `integer ≤ max(memoryCapacity, overflowCapacity) (${largest})`,
        input: transactionCapacity,
      });
    }
  });

export type SpillableMemoryChannelOptions = z.input<typeof spillableMemoryChannelOptions>;

/**
 * Flume's spillable channel sets its overflow's `keep-alive` to 0 whatever the file says, and a put that
 * fits neither part fails after waiting `overflowTimeout` (once more for the overflow): so a Flume file
 * gets `keepAliveMs` = `overflowTimeout`, and a `keep-alive` key is taken with a warning that it changes
 * nothing.
 */
function flumeKeepAlive(props: ReadonlyMap<string, string>): FlumeMapped {
  const timeout = props.get('overflowTimeout')?.trim();
  const keepAliveMs = timeout !== undefined && /^\d+$/.test(timeout) ? secondsToMs(timeout) : undefined;
  const options = keepAliveMs === undefined ? {} : { keepAliveMs };
  if (!props.has('keep-alive')) return { options, consumed: [] };
  return {
    options,
    consumed: ['keep-alive'],
    problems: [
      {
        key: 'keep-alive',
        severity: 'warning',
        message: "Flume's spillable memory channel ignores keep-alive (it forces its overflow's to 0): a put that fits neither memory nor the overflow waits overflowTimeout, then fails; so does this one",
      },
    ],
  };
}

export const spillableMemoryChannelSpec = defineComponent({
  name: 'spillableMemoryChannel',
  kind: 'channel',
  summary: 'Memory channel that spills to an on-disk overflow when full; a crash loses the in-memory part (Flume SPILLABLEMEMORY).',
  flumeTypes: ['SPILLABLEMEMORY', 'org.apache.flume.channel.SpillableMemoryChannel'],
  flumeChecksBatchSize: true, // Flume's SpillableMemoryChannel (a FileChannel) implements TransactionCapacitySupported
  schema: spillableMemoryChannelOptions,
  flumeKeys: { overflowTimeout: { option: 'overflowTimeoutMs', convert: secondsToMs }, ...fileLogFlumeKeys },
  fromFlume: (props) => combineFromFlume(props, byteCapacityFromFlumeSlots(avgEventSizeOf), flumeKeepAlive),
});

/**
 * Flume's spillable memory channel: a memory queue (`memoryCapacity` events, `byteCapacity` bytes)
 * that overflows into the file channel's write-ahead log (`overflowCapacity` events, in
 * `checkpointDir` / `dataDirs`) when full.
 *
 * - **Put**: into memory, acked at once, while it fits and the overflow is empty. When memory is
 *   full a put waits up to `overflowTimeoutMs` for room, then spills: written to the overflow and
 *   acked once on disk. While the overflow holds anything (stored, taken or being written) every new
 *   put goes there too, so order is kept: memory always holds the older events. When both are full
 *   a put waits up to `keepAliveMs` and is nacked with `ChannelFullError`; so is a put bound for the
 *   overflow while its disk is full (until space returns: see `fileChannel`).
 * - **Take**: from memory first, then from the overflow; a take comes from one of them. Takes are
 *   paced by the sink's acks (`maxInFlight`); a nack puts the events back at the head of the store
 *   they came from, redelivered after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`.
 * - Upstream completion drains both, then completes. Unsubscribing nacks waiting puts.
 * - **Bytes** in memory are counted as Flume counts them, in slots of `avgEventSize` (default 500):
 *   floor(byteCapacity / avgEventSize) slots, ceil(body length / avgEventSize) per event, at least
 *   one, headers not counted; unset, 0 or under one slot means no byte bound. A put that does not fit
 *   memory's bytes spills like one that does not fit its events.
 *
 * Delivery: at-least-once while the process lives. **A crash, a kill or an unsubscribe loses the
 * in-memory part** (up to `memoryCapacity` events, including those taken and not yet acked), as in
 * Flume; only the spilled part is durable and is delivered after a restart, first. With
 * `overflowCapacity: 0` it is a memory channel and touches no files. Use `fileChannel` when nothing
 * acked may be lost.
 *
 * @example
 * pipe(
 *   httpSource({ port: 8080 }),
 *   spillableMemoryChannel({ memoryCapacity: 100_000, checkpointDir: '/var/lib/rxflume/smc/checkpoint', dataDirs: ['/var/lib/rxflume/smc/data'] }),
 *   kafkaSink({ brokers: ['localhost:9092'], topic: 'events' }),
 * );
 */
export const spillableMemoryChannel = component(spillableMemoryChannelSpec, function spillableMemoryChannel(
  options?: SpillableMemoryChannelOptions,
): OperatorFunction<Batch, Batch> & HasMetrics {
  const opts = parseOptions(spillableMemoryChannelSpec, options);
  const log = resolveLogOptions(opts.name, opts);
  const spills = opts.overflowCapacity > 0;
  return channelEngine(
    {
      ...opts,
      capacity: opts.memoryCapacity + opts.overflowCapacity,
      reofferAfterMs: spills ? opts.overflowTimeoutMs : undefined,
      counters: spills ? FILE_CHANNEL_COUNTERS : [],
    },
    (hooks) =>
      new SpillableStore(
        opts,
        log.logger,
        new MemoryStore({ capacity: opts.memoryCapacity, byteCapacity: opts.byteCapacity, slotBytes: opts.avgEventSize }, hooks),
        spills ? new FileStore({ ...log, capacity: opts.overflowCapacity, byteCapacity: undefined, cacheBytes: 0 }, hooks) : undefined,
      ),
  );
});

interface SpillableOptions {
  memoryCapacity: number;
  overflowTimeoutMs: number;
  byteCapacity?: number | undefined;
}

/** A take from memory or from the overflow. */
interface SpillTake extends StoreTake {
  readonly memory?: MemoryTake | undefined;
  readonly overflow?: FileTake | undefined;
}

/** Memory first, the overflow log when memory is full; memory always holds the older events. */
class SpillableStore implements ChannelStore<SpillTake> {
  constructor(
    private readonly opts: SpillableOptions,
    private readonly logger: ComponentLogger,
    private readonly memory: MemoryStore,
    private readonly overflow: FileStore | undefined,
  ) {}

  open(): Promise<void> | void {
    return this.overflow?.open();
  }

  weigh(events: readonly FlumeEvent[]): number {
    return this.memory.weigh(events);
  }

  neverFits(count: number, bytes: number): string | undefined {
    if (this.memory.neverFits(count, bytes) === undefined) return undefined;
    if (this.overflow && this.overflow.neverFits(count, bytes) === undefined) return undefined;
    return `memoryCapacity ${this.opts.memoryCapacity}${this.opts.byteCapacity !== undefined ? ` / byteCapacity ${this.opts.byteCapacity}` : ''}` + (this.overflow ? ' and the overflow capacity' : '');
  }

  offer(put: StorePut): boolean {
    // While the overflow holds anything (stored, taken or being written) puts go there too, so order is kept.
    const spilling = this.overflow !== undefined && !this.overflow.idle();
    if (!spilling && this.memory.offer(put)) return true;
    if (!this.overflow) return false;
    // Memory gets overflowTimeoutMs to make room before the put goes to disk (unless it can never fit there).
    const couldFitMemory = this.memory.neverFits(put.events.length, put.bytes) === undefined;
    if (!spilling && couldFitMemory && !put.reofferDue && asyncScheduler.now() - put.since < this.opts.overflowTimeoutMs) return false;
    return this.overflow.offer(put);
  }

  take(max: number): SpillTake | undefined {
    const memory = this.memory.take(max);
    if (memory) return { events: memory.events, memory };
    const overflow = this.overflow?.take(max);
    return overflow && { events: overflow.events, overflow };
  }

  commit(take: SpillTake, done: () => void): void {
    if (take.memory) this.memory.commit(take.memory, done);
    else this.overflow!.commit(take.overflow!, done);
  }

  rollback(take: SpillTake): void {
    if (take.memory) this.memory.rollback(take.memory);
    else this.overflow!.rollback(take.overflow!);
  }

  size(): number {
    return this.memory.size() + (this.overflow?.size() ?? 0);
  }

  describeFull(put: StorePut): string {
    const memory = `memory holds ${this.memory.held()} of ${this.opts.memoryCapacity} events`;
    return this.overflow ? `${memory}; overflow: ${this.overflow.describeFull(put)}` : `${memory} and the overflow is disabled`;
  }

  close(): Promise<void> | void {
    const lost = this.memory.held();
    if (lost > 0) this.logger('warn', `closed with ${lost} events in memory: they are lost (only the overflow is durable)`);
    this.memory.close();
    return this.overflow?.close();
  }
}
