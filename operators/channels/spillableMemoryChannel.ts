import { asyncScheduler, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { byteCapacityFromFlume, component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';
import { channelShell, type ChannelStore, type StoredPut, type StoreTake } from './fileChannel/channelShell.js';
import { FileStore } from './fileChannel/fileStore.js';
import { FILE_CHANNEL_COUNTERS, fileLogFlumeKeys, fileLogOptionsShape, resolveLogOptions } from './fileChannel/options.js';
import type { ChannelLogger } from './fileChannel/recovery.js';

export const spillableMemoryChannelOptions = z
  .strictObject({
    name: z.string().min(1).default('spillableMemoryChannel').describe('Component name in metrics and log lines.'),
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
    byteCapacity: z.number().int().min(1).optional().describe('Body bytes held in memory at most; unbounded when unset. The overflow is bounded by overflowCapacity.'),
    transactionCapacity: z.number().int().min(1).default(10_000).describe('Events per put (a larger batch is refused) and per take.'),
    keepAliveMs: z
      .number()
      .int()
      .min(0)
      .default(3000)
      .describe('How long a put waits when memory and overflow are both full before it is nacked with ChannelFullError.'),
    maxInFlight: z.number().int().min(1).default(1).describe('Take batches emitted and not yet committed.'),
    retryBackoffMs: z.number().int().min(0).default(1000).describe('After a nacked take, wait min(n × this, maxRetryBackoffMs) before redelivery.'),
    maxRetryBackoffMs: z.number().int().min(0).default(5000).describe('Longest wait before redelivering nacked events.'),
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

export const spillableMemoryChannelSpec = defineComponent({
  name: 'spillableMemoryChannel',
  kind: 'channel',
  summary: 'Memory channel that spills to an on-disk overflow when full; a crash loses the in-memory part (Flume SPILLABLEMEMORY).',
  flumeTypes: ['SPILLABLEMEMORY', 'org.apache.flume.channel.SpillableMemoryChannel'],
  schema: spillableMemoryChannelOptions,
  flumeKeys: { overflowTimeout: { option: 'overflowTimeoutMs', convert: secondsToMs }, ...fileLogFlumeKeys },
  fromFlume: byteCapacityFromFlume,
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
 *   they came from, redelivered after `min(n × retryBackoffMs, maxRetryBackoffMs)`.
 * - Upstream completion drains both, then completes. Unsubscribing nacks waiting puts.
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
  const metrics = new ComponentCounters('CHANNEL', opts.name);
  metrics.set('ChannelCapacity', opts.memoryCapacity + opts.overflowCapacity);
  if (opts.overflowCapacity > 0) for (const key of FILE_CHANNEL_COUNTERS) metrics.set(key, 0);
  const log = resolveLogOptions(opts.name, opts);
  const operator = channelShell(
    {
      name: opts.name,
      transactionCapacity: opts.transactionCapacity,
      keepAliveMs: opts.keepAliveMs,
      maxInFlight: opts.maxInFlight,
      retryBackoffMs: opts.retryBackoffMs,
      maxRetryBackoffMs: opts.maxRetryBackoffMs,
      countBytes: opts.byteCapacity !== undefined,
      reofferAfterMs: opts.overflowCapacity > 0 ? opts.overflowTimeoutMs : undefined,
    },
    metrics,
    (hooks) =>
      new SpillableStore(
        opts,
        metrics,
        log.logger,
        opts.overflowCapacity > 0
          ? new FileStore(
              { ...log, name: opts.name, capacity: opts.overflowCapacity, byteCapacity: undefined, transactionCapacity: opts.transactionCapacity, cacheBytes: 0 },
              metrics,
              hooks,
            )
          : undefined,
      ),
  );
  return withMetrics(operator, metrics);
});

interface MemoryOptions {
  name: string;
  memoryCapacity: number;
  overflowTimeoutMs: number;
  byteCapacity?: number | undefined;
}

/** Memory first, the overflow log when memory is full; memory always holds the older events. */
class SpillableStore implements ChannelStore {
  // Memory events as the chunks they arrived in: a put costs one push, a whole-chunk take no copy.
  private readonly chunks: FlumeEvent[][] = [];
  private headChunk = 0;
  private headOffset = 0;
  private queued = 0;
  private queuedBytes = 0;
  private taken = 0;
  private takenBytes = 0;

  constructor(
    private readonly opts: MemoryOptions,
    private readonly metrics: ComponentCounters,
    private readonly logger: ChannelLogger,
    private readonly overflow: FileStore | undefined,
  ) {}

  open(): Promise<void> | void {
    return this.overflow?.open();
  }

  neverFits(count: number, bytes: number): string | undefined {
    const memory = count <= this.opts.memoryCapacity && (this.opts.byteCapacity === undefined || bytes <= this.opts.byteCapacity);
    if (memory) return undefined;
    if (this.overflow && this.overflow.neverFits(count, bytes) === undefined) return undefined;
    return `memoryCapacity ${this.opts.memoryCapacity}${this.opts.byteCapacity !== undefined ? ` / byteCapacity ${this.opts.byteCapacity}` : ''}` + (this.overflow ? ' and the overflow capacity' : '');
  }

  private memoryFits(count: number, bytes: number): boolean {
    return (
      this.queued + this.taken + count <= this.opts.memoryCapacity &&
      (this.opts.byteCapacity === undefined || this.queuedBytes + this.takenBytes + bytes <= this.opts.byteCapacity)
    );
  }

  offer(put: StoredPut): boolean {
    const n = put.events.length;
    const spilling = this.overflow !== undefined && !this.overflow.idle();
    if (!spilling && this.memoryFits(n, put.bytes)) {
      this.chunks.push(put.events);
      this.queued += n;
      this.queuedBytes += put.bytes;
      this.metrics.inc('EventPutSuccessCount', n);
      put.batch.ack();
      return true;
    }
    if (!this.overflow) return false;
    // Memory gets overflowTimeoutMs to make room before the put goes to disk (unless it can never fit there).
    const couldFitMemory = n <= this.opts.memoryCapacity && (this.opts.byteCapacity === undefined || put.bytes <= this.opts.byteCapacity);
    if (!spilling && couldFitMemory && asyncScheduler.now() - put.since < this.opts.overflowTimeoutMs) return false;
    return this.overflow.offer(put);
  }

  takeable(): boolean {
    return this.queued > 0 || (this.overflow?.takeable() ?? false);
  }

  take(max: number): StoreTake {
    if (this.queued === 0) return this.overflow!.take(max);
    const events = this.takeFromHead(max);
    let bytes = 0;
    if (this.opts.byteCapacity !== undefined) for (const e of events) bytes += e.body.length;
    const n = events.length;
    this.queued -= n;
    this.queuedBytes -= bytes;
    this.taken += n;
    this.takenBytes += bytes;
    let settled = false;
    const release = (): boolean => {
      if (settled) return false;
      settled = true;
      this.taken -= n;
      this.takenBytes -= bytes;
      return true;
    };
    return {
      events,
      commit: (done) => {
        if (release()) done();
      },
      rollback: () => {
        if (!release()) return;
        this.returnToHead(events);
        this.queued += n;
        this.queuedBytes += bytes;
      },
    };
  }

  private takeFromHead(max: number): FlumeEvent[] {
    const first = this.chunks[this.headChunk]!;
    let out: FlumeEvent[];
    if (this.headOffset === 0 && (first.length === max || (first.length < max && this.headChunk === this.chunks.length - 1))) {
      out = first;
      this.chunks[this.headChunk++] = undefined as unknown as FlumeEvent[];
    } else {
      out = [];
      while (out.length < max && this.headChunk < this.chunks.length) {
        const chunk = this.chunks[this.headChunk]!;
        const k = Math.min(max - out.length, chunk.length - this.headOffset);
        for (let i = 0; i < k; i++) out.push(chunk[this.headOffset + i]!);
        this.headOffset += k;
        if (this.headOffset === chunk.length) {
          this.chunks[this.headChunk++] = undefined as unknown as FlumeEvent[];
          this.headOffset = 0;
        }
      }
    }
    if (this.headChunk > 1024 && this.headChunk * 2 > this.chunks.length) {
      this.chunks.splice(0, this.headChunk);
      this.headChunk = 0;
    }
    return out;
  }

  private returnToHead(events: FlumeEvent[]): void {
    if (this.headOffset > 0) {
      this.chunks[this.headChunk] = this.chunks[this.headChunk]!.slice(this.headOffset);
      this.headOffset = 0;
    }
    if (this.headChunk > 0) this.chunks[--this.headChunk] = events;
    else this.chunks.unshift(events);
  }

  size(): number {
    return this.queued + (this.overflow?.size() ?? 0);
  }

  describeFull(put: StoredPut): string {
    const memory = `memory holds ${this.queued + this.taken} of ${this.opts.memoryCapacity} events`;
    return this.overflow ? `${memory}; overflow: ${this.overflow.describeFull(put)}` : `${memory} and the overflow is disabled`;
  }

  idle(): boolean {
    return this.queued === 0 && this.taken === 0 && (this.overflow?.idle() ?? true);
  }

  close(): Promise<void> | void {
    const lost = this.queued + this.taken;
    if (lost > 0) this.logger('warn', `closed with ${lost} events in memory: they are lost (only the overflow is durable)`);
    this.chunks.length = 0;
    this.headChunk = 0;
    this.headOffset = 0;
    this.queued = 0;
    this.taken = 0;
    return this.overflow?.close();
  }
}
