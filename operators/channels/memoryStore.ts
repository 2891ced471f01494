/**
 * Events in memory, bounded in events (`capacity`, counting those taken and not yet committed, as
 * Flume releases space only at take commit) and optionally in body bytes: the memory channel's store
 * and the spillable channel's memory part. Events are kept as the chunks they arrived in: a put costs
 * one push, a take of a whole chunk no copy.
 */
import { bodyBytes, type FlumeEvent } from '../../lib/core/event.js';
import type { ChannelStore, StoreHooks, StorePut, StoreTake } from './channelEngine.js';

export interface MemoryStoreOptions {
  capacity: number;
  /** Body bytes at most; unbounded when unset. */
  byteCapacity?: number | undefined;
  /** When a put does not fit: wait ('block'), or store what fits and count the rest in EventDroppedCount. */
  whenFull?: 'block' | 'dropNewest' | 'dropOldest' | undefined;
}

export type MemoryTake = StoreTake & { readonly events: FlumeEvent[]; readonly bytes: number };

export class MemoryStore implements ChannelStore<MemoryTake> {
  private readonly chunks: FlumeEvent[][] = [];
  private headChunk = 0;
  private headOffset = 0;
  private queued = 0;
  private queuedBytes = 0;
  private taken = 0;
  private takenBytes = 0;
  private closed = false;
  private readonly countBytes: boolean;
  private readonly byteCapacity: number;

  constructor(
    private readonly opts: MemoryStoreOptions,
    private readonly hooks: StoreHooks,
  ) {
    this.countBytes = opts.byteCapacity !== undefined;
    this.byteCapacity = opts.byteCapacity ?? Infinity;
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

  private push(events: FlumeEvent[], bytes: number): void {
    this.chunks.push(events);
    this.queued += events.length;
    this.queuedBytes += bytes;
  }

  offer(put: StorePut): boolean {
    const events = put.events;
    const n = events.length;
    if (this.fits(n, put.bytes)) {
      this.push(events, put.bytes);
      this.hooks.settled(put);
      return true;
    }
    if (this.opts.whenFull === 'dropNewest') {
      let keep = Math.min(Math.max(0, this.opts.capacity - this.queued - this.taken), n);
      if (this.countBytes) {
        let free = this.byteCapacity - this.queuedBytes - this.takenBytes;
        for (let i = 0; i < keep; i++) {
          free -= events[i]!.body.length;
          if (free < 0) {
            keep = i;
            break;
          }
        }
      }
      if (keep > 0) this.push(events.slice(0, keep), this.countBytes ? bodyBytes(events.slice(0, keep)) : 0);
      this.hooks.metrics.inc('EventDroppedCount', n - keep);
      this.hooks.settled(put, undefined, keep);
      return true;
    }
    if (this.opts.whenFull === 'dropOldest') {
      let dropped = 0;
      while (this.queued > 0 && !this.fits(n, put.bytes)) {
        const [event] = this.takeFromHead(1);
        this.queued--;
        if (this.countBytes) this.queuedBytes -= event!.body.length;
        dropped++;
      }
      // Taken events cannot be evicted; if they leave too little room, keep the newest of the put.
      let keep = events;
      while (keep.length > 0 && !this.fits(keep.length, this.countBytes ? bodyBytes(keep) : 0)) {
        keep = keep.slice(1);
        dropped++;
      }
      if (keep.length > 0) this.push(keep, this.countBytes ? bodyBytes(keep) : 0);
      this.hooks.metrics.inc('EventDroppedCount', dropped);
      this.hooks.settled(put, undefined, keep.length);
      return true;
    }
    return false;
  }

  take(max: number): MemoryTake | undefined {
    if (this.queued === 0) return undefined;
    const events = this.takeFromHead(max);
    const bytes = this.countBytes ? bodyBytes(events) : 0;
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

  private takeFromHead(max: number): FlumeEvent[] {
    const chunks = this.chunks;
    const first = chunks[this.headChunk]!;
    let out: FlumeEvent[];
    // Whole-chunk fast path only when merging could not make the take any fuller.
    if (this.headOffset === 0 && (first.length === max || (first.length < max && this.headChunk === chunks.length - 1))) {
      out = first;
      chunks[this.headChunk++] = undefined as unknown as FlumeEvent[];
    } else {
      out = [];
      while (out.length < max && this.headChunk < chunks.length) {
        const chunk = chunks[this.headChunk]!;
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
      this.chunks[this.headChunk] = this.chunks[this.headChunk]!.slice(this.headOffset);
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
      `capacity ${this.opts.capacity} events${this.opts.byteCapacity !== undefined ? ` / ${this.opts.byteCapacity} bytes` : ''}, ` +
      `holding ${this.held()} events (put of ${put.events.length}); sinks are not keeping up or the channel is too small`
    );
  }

  /** Forgets every event: a memory channel's content does not outlive it. */
  close(): void {
    this.closed = true;
    this.chunks.length = 0;
    this.headChunk = 0;
    this.headOffset = 0;
    this.queued = 0;
    this.taken = 0;
  }
}
