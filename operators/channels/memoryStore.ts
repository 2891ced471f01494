/**
 * Events in memory, bounded in events (`capacity`, counting those taken and not yet committed, as
 * Flume releases space only at take commit) and optionally in body bytes: the memory channel's store
 * and the spillable channel's memory part. Events are kept as the chunks they arrived in: a put costs
 * one push, a take of a whole chunk no copy. A deferred put (a source that checked its events but did
 * not make them yet) is kept so and made when it is taken: the source answers its client first.
 *
 * Bytes are counted as Flume counts them: in slots of `slotBytes` (Flume's memory channel: 100; its
 * spillable channel: `avgEventSize`). The store has floor(byteCapacity / slotBytes) slots, and fewer
 * than one means no byte bound at all (Flume: `byteCapacity < 1` slot → Integer.MAX_VALUE). An event
 * costs ceil(body length / slotBytes) slots, at least one (an empty body too); headers cost nothing.
 */
import { z } from 'zod';
import { byteCapacityFromFlume, type FlumeMapped } from '../../lib/core/config.js';
import type { DeferredEvents } from '../../lib/core/batch.js';
import { ComponentError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { countOf, type ChannelStore, type StoreHooks, type StorePut, type StoreTake } from './channelEngine.js';

/** Flume's MemoryChannel.byteCapacitySlotSize. */
export const MEMORY_SLOT_BYTES = 100;

/** Slots a byte capacity gives: floor(byteCapacity / slotBytes), Infinity when unset or under one slot (Flume's rule). */
export function byteSlots(byteCapacity: number | undefined, slotBytes = MEMORY_SLOT_BYTES): number {
  if (byteCapacity === undefined) return Infinity;
  const slots = Math.floor(byteCapacity / slotBytes);
  return slots < 1 ? Infinity : slots;
}

const slots = (n: number): string => `${n} slot${n === 1 ? '' : 's'}`;

/** What `byteCapacity` means for a store, for docs and messages: `2 slots of 100 body bytes` or `unbounded`. */
export function describeByteCapacity(byteCapacity: number | undefined, slotBytes = MEMORY_SLOT_BYTES): string {
  const n = byteSlots(byteCapacity, slotBytes);
  return n === Infinity ? 'unbounded (under one slot)' : `${slots(n)} of ${slotBytes} body bytes`;
}

/** The `byteCapacity` option of the memory channel and of the spillable channel's memory part. */
export function byteCapacityOption(slot: string, tooLarge: string) {
  return z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      `Body bytes held in memory at most, counted as Flume counts them: in slots of ${slot}, floor(byteCapacity / slot) of them, ` +
        'each event taking ceil(body length / slot) slots, at least one (headers are not counted). Unbounded when unset, 0 or under one slot, as in Flume ' +
        `(whose byteCapacity less byteCapacityBufferPercentage becomes this option, cut to whole slots). ${tooLarge}`,
    );
}

/**
 * Flume's `byteCapacity` and `byteCapacityBufferPercentage` (default 20) as the `byteCapacity` option, with
 * Flume's arithmetic: (int)(byteCapacity × (1 − percentage × .01) / slot) slots in doubles, the option being
 * those slots × slot bytes; under one slot it is 0 (unbounded, as Flume's Integer.MAX_VALUE slots). The
 * checks and pass-through of non-numbers are `byteCapacityFromFlume`'s.
 */
export function byteCapacityFromFlumeSlots(slotBytesOf: (props: ReadonlyMap<string, string>) => number = () => MEMORY_SLOT_BYTES) {
  return (props: ReadonlyMap<string, string>): FlumeMapped => {
    const mapped = byteCapacityFromFlume(props);
    const raw = props.get('byteCapacity');
    if (mapped.problems?.length || raw === undefined || typeof mapped.options['byteCapacity'] !== 'number') return mapped;
    const pct = Number(props.get('byteCapacityBufferPercentage')?.trim() ?? 20);
    const slot = slotBytesOf(props);
    // Java's (int) cast: truncates, and saturates at Integer.MAX_VALUE.
    const slots = Math.min(Math.trunc((Number(raw.trim()) * (1 - pct * 0.01)) / slot), 2 ** 31 - 1);
    return { ...mapped, options: { ...mapped.options, byteCapacity: slots < 1 ? 0 : slots * slot } };
  };
}

export interface MemoryStoreOptions {
  capacity: number;
  /** Body bytes at most, counted in slots of `slotBytes`; unbounded when unset or under one slot. */
  byteCapacity?: number | undefined;
  /** Bytes per slot (default 100, Flume's memory channel). */
  slotBytes?: number | undefined;
  /** When a put does not fit: wait ('block'), or store what fits and count the rest in EventDroppedCount. */
  whenFull?: 'block' | 'dropNewest' | 'dropOldest' | undefined;
}

/** A take and the byte slots it holds until committed. */
export type MemoryTake = StoreTake & { readonly events: FlumeEvent[]; readonly bytes: number };

export class MemoryStore implements ChannelStore<MemoryTake> {
  readonly keepsDeferred = true;
  private readonly chunks: Array<FlumeEvent[] | DeferredEvents> = [];
  private headChunk = 0;
  private headOffset = 0;
  private queued = 0;
  /** Byte slots of the queued events (0 while bytes are not counted). */
  private queuedBytes = 0;
  private taken = 0;
  private takenBytes = 0;
  private closed = false;
  private readonly countBytes: boolean;
  /** Byte slots in all; Infinity when bytes are not bounded. */
  private readonly byteCapacity: number;
  private readonly slotBytes: number;

  constructor(
    private readonly opts: MemoryStoreOptions,
    private readonly hooks: StoreHooks,
  ) {
    this.slotBytes = opts.slotBytes ?? MEMORY_SLOT_BYTES;
    this.byteCapacity = byteSlots(opts.byteCapacity, this.slotBytes);
    this.countBytes = this.byteCapacity !== Infinity;
  }

  /** The byte slots these events take (0 when bytes are not bounded): the engine's `StorePut.bytes`. */
  weigh(events: readonly FlumeEvent[]): number {
    if (!this.countBytes) return 0;
    let slots = 0;
    for (let i = 0; i < events.length; i++) slots += this.slotsOf(events[i]!);
    return slots;
  }

  /** Flume's ceil(estimateEventSize / slot size): the body only, an empty one counting as 1 byte. */
  private slotsOf(event: FlumeEvent): number {
    return this.countBytes ? Math.max(1, Math.ceil(event.body.length / this.slotBytes)) : 0;
  }

  neverFits(count: number, bytes: number): string | undefined {
    if (count > this.opts.capacity) return `capacity ${this.opts.capacity}`;
    if (bytes > this.byteCapacity) return `byteCapacity ${this.opts.byteCapacity}`;
    return undefined;
  }

  /** Events held: stored, or taken and not yet committed. */
  held(): number {
    return this.queued + this.taken;
  }

  private fits(count: number, bytes: number): boolean {
    return this.queued + this.taken + count <= this.opts.capacity && this.queuedBytes + this.takenBytes + bytes <= this.byteCapacity;
  }

  private push(events: FlumeEvent[] | DeferredEvents, bytes: number): void {
    this.chunks.push(events);
    this.queued += Array.isArray(events) ? events.length : events.count;
    this.queuedBytes += bytes;
  }

  offer(put: StorePut): boolean {
    const n = countOf(put);
    if (this.fits(n, put.bytes)) {
      this.push(put.deferred ?? put.events, put.bytes);
      this.hooks.settled(put);
      return true;
    }
    const events = put.events;
    if (this.opts.whenFull === 'dropNewest') {
      let keep = Math.min(Math.max(0, this.opts.capacity - this.queued - this.taken), n);
      if (this.countBytes) {
        let free = this.byteCapacity - this.queuedBytes - this.takenBytes;
        for (let i = 0; i < keep; i++) {
          free -= this.slotsOf(events[i]!);
          if (free < 0) {
            keep = i;
            break;
          }
        }
      }
      if (keep > 0) this.push(events.slice(0, keep), this.weigh(events.slice(0, keep)));
      this.hooks.metrics.inc('EventDroppedCount', n - keep);
      this.hooks.settled(put, undefined, keep);
      return true;
    }
    if (this.opts.whenFull === 'dropOldest') {
      let dropped = 0;
      while (this.queued > 0 && !this.fits(n, put.bytes)) {
        const [event] = this.takeFromHead(1);
        this.queued--;
        this.queuedBytes -= this.slotsOf(event!);
        dropped++;
      }
      // Taken events cannot be evicted; if they leave too little room, keep the newest of the put.
      let keep = events;
      while (keep.length > 0 && !this.fits(keep.length, this.weigh(keep))) {
        keep = keep.slice(1);
        dropped++;
      }
      if (keep.length > 0) this.push(keep, this.weigh(keep));
      this.hooks.metrics.inc('EventDroppedCount', dropped);
      this.hooks.settled(put, undefined, keep.length);
      return true;
    }
    return false;
  }

  take(max: number): MemoryTake | undefined {
    if (this.queued === 0) return undefined;
    let events: FlumeEvent[];
    try {
      events = this.takeFromHead(max);
    } catch (error) {
      // Only a source's bug gets here (it checked the bytes it deferred); the events were acked, so say it loudly.
      this.hooks.fail(new ComponentError('FLUME_DEFERRED_EVENTS', `deferred events could not be made: ${(error as Error).message}`, { cause: error }));
      return undefined;
    }
    const bytes = this.weigh(events);
    this.queued -= events.length;
    this.queuedBytes -= bytes;
    this.taken += events.length;
    this.takenBytes += bytes;
    return { events, bytes };
  }

  commit(take: MemoryTake, done: () => void): void {
    if (this.closed) return;
    this.release(take);
    done();
  }

  rollback(take: MemoryTake): void {
    if (this.closed) return;
    this.release(take);
    this.returnToHead(take.events);
    this.queued += take.events.length;
    this.queuedBytes += take.bytes;
  }

  private release(take: MemoryTake): void {
    this.taken -= take.events.length;
    this.takenBytes -= take.bytes;
  }

  /** Chunk `i`, made now if it was deferred. */
  private chunk(i: number): FlumeEvent[] {
    const c = this.chunks[i]!;
    if (Array.isArray(c)) return c;
    const made = c.make();
    if (made.length !== c.count) throw new Error(`${made.length} events made where ${c.count} were counted`);
    return (this.chunks[i] = made);
  }

  private takeFromHead(max: number): FlumeEvent[] {
    const chunks = this.chunks;
    const first = this.chunk(this.headChunk);
    let out: FlumeEvent[];
    // Whole-chunk fast path only when merging could not make the take any fuller.
    if (this.headOffset === 0 && (first.length === max || (first.length < max && this.headChunk === chunks.length - 1))) {
      out = first;
      chunks[this.headChunk++] = undefined as unknown as FlumeEvent[];
    } else {
      out = [];
      while (out.length < max && this.headChunk < chunks.length) {
        const chunk = this.chunk(this.headChunk);
        const k = Math.min(max - out.length, chunk.length - this.headOffset);
        for (let i = 0; i < k; i++) out.push(chunk[this.headOffset + i]!);
        this.headOffset += k;
        if (this.headOffset === chunk.length) {
          chunks[this.headChunk++] = undefined as unknown as FlumeEvent[];
          this.headOffset = 0;
        }
      }
    }
    if (this.headChunk > 1024 && this.headChunk * 2 > chunks.length) {
      chunks.splice(0, this.headChunk);
      this.headChunk = 0;
    }
    return out;
  }

  private returnToHead(events: FlumeEvent[]): void {
    if (this.headOffset > 0) {
      this.chunks[this.headChunk] = this.chunk(this.headChunk).slice(this.headOffset);
      this.headOffset = 0;
    }
    if (this.headChunk > 0) this.chunks[--this.headChunk] = events;
    else this.chunks.unshift(events);
  }

  size(): number {
    return this.queued;
  }

  describeFull(put: StorePut): string {
    return (
      `capacity ${this.opts.capacity} events` +
      (this.countBytes ? ` / byteCapacity ${this.opts.byteCapacity} (${describeByteCapacity(this.opts.byteCapacity, this.slotBytes)})` : '') +
      `, holding ${this.held()} events` +
      (this.countBytes ? ` in ${slots(this.queuedBytes + this.takenBytes)}` : '') +
      ` (put of ${countOf(put)}${this.countBytes ? ` in ${slots(put.bytes)}` : ''}); sinks are not keeping up or the channel is too small`
    );
  }

  /** Forgets every event: a memory channel's content does not outlive it. */
  close(): void {
    this.closed = true;
    this.chunks.length = 0;
    this.headChunk = 0;
    this.headOffset = 0;
    this.queued = 0;
    this.queuedBytes = 0;
    this.taken = 0;
    this.takenBytes = 0;
  }
}
