import type { Subscriber, Subscription } from 'rxjs';
import { createBatch, type Batch } from '../../lib/core/batch.js';
import { ComponentError, toError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import type { BoundSelector } from './channelSelector.js';
import { splitBatch } from './splitBatch.js';

/** Called when an optional channel refused its part (Flume logs it and goes on). */
export type OptionalFailureHandler = (failure: { channel: number; name: string | undefined; events: number; error: Error }) => void;

/** Counters of one fan-out, read with `fanOutStats(branches)`. */
export interface FanOutStats {
  BatchReceivedCount: number;
  EventReceivedCount: number;
  /** Events no channel takes (multiplexing without default): acked and dropped, as in Flume. */
  EventUnroutedCount: number;
  /** Required parts a channel nacked (their source batch was nacked). */
  RequiredPutFailCount: number;
  /** Optional parts a channel nacked, and their events. */
  OptionalPutFailCount: number;
  OptionalEventFailCount: number;
  /** Events of optional parts never offered: their channel had `maxPendingOptional` parts unsettled. */
  OptionalEventSkippedCount: number;
}

export const newFanOutStats = (): FanOutStats => ({
  BatchReceivedCount: 0,
  EventReceivedCount: 0,
  EventUnroutedCount: 0,
  RequiredPutFailCount: 0,
  OptionalPutFailCount: 0,
  OptionalEventFailCount: 0,
  OptionalEventSkippedCount: 0,
});

/** What a run needs of its fan-out. */
export interface RunContext {
  name: string;
  names: readonly (string | undefined)[];
  bound: BoundSelector;
  maxPendingOptional: number;
  onOptionalFailure: OptionalFailureHandler | undefined;
  stats: FanOutStats;
  /** Branch i's subscriber now, if it has one. */
  subscriber(i: number): Subscriber<Batch> | undefined;
}

/** Channel i as errors name it. */
export const channelLabel = (names: readonly (string | undefined)[], i: number): string => (names[i] !== undefined ? `${names[i]} (#${i})` : `#${i}`);

interface Part {
  branch: number;
  events: FlumeEvent[];
}

/** A source batch between its split and its settlement. */
interface Pending {
  parent: Batch;
  left: number;
  error: Error | undefined;
  optional: Part[];
  done: boolean;
}

interface BranchRun {
  /** Parts not yet handed to the branch's subscriber (not subscribed, or a hand-over under way). */
  queue: Batch[];
  flushing: boolean;
  pendingOptional: number;
  ended: boolean;
}

/**
 * One subscription of the source, from the moment every branch is subscribed until none is: splits
 * each source batch into its channels' parts, settles the source batch once its required parts
 * settled, offers optional parts after that in source order, and hands parts — then the end — to
 * each branch's subscriber.
 */
export class FanOutRun {
  closed = false;
  /** The source subscription, once `subscribe` returned. */
  sub: Subscription | undefined;
  private readonly branches: BranchRun[];
  private readonly incoming: Batch[] = [];
  private routing = false;
  /** Batches with optional parts, in source order, waiting for their required outcome. */
  private readonly fifo: Pending[] = [];
  private pumping = false;
  private end: 'complete' | { error: unknown } | undefined;

  constructor(private readonly ctx: RunContext) {
    this.branches = ctx.names.map(() => ({ queue: [], flushing: false, pendingOptional: 0, ended: false }));
  }

  accept(batch: Batch): void {
    if (this.closed) return batch.nack(this.sourceClosedError());
    this.incoming.push(batch);
    // Trampolined: a batch settled synchronously can make the source emit the next one from inside
    // route(); it waits here so every branch sees batches in source order.
    if (this.routing) return;
    this.routing = true;
    try {
      while (this.incoming.length > 0 && !this.closed) this.route(this.incoming.shift()!);
    } finally {
      this.routing = false;
    }
    // The source may have ended while batches waited here: the end goes out after them.
    if (this.end) this.flushAll();
  }

  /** The source ended: each branch gets the end after its queued parts and the optional parts still to come. */
  finish(end: 'complete' | { error: unknown }): void {
    if (this.closed || this.end) return;
    this.end = end;
    this.flushAll();
  }

  /** Branch i was subscribed again: it gets its queued parts, then the end once nothing more can come. */
  resume(i: number): void {
    this.branches[i]!.ended = false;
    this.flush(i);
  }

  /** Every branch unsubscribed: the source is unsubscribed, what no branch took is nacked (retriable). */
  close(): void {
    this.closed = true;
    this.sub?.unsubscribe();
    this.fifo.length = 0;
    for (const batch of this.incoming.splice(0)) batch.nack(this.sourceClosedError());
    this.branches.forEach((br, i) => {
      for (const part of br.queue.splice(0)) part.nack(this.closedError(i));
    });
  }

  private route(batch: Batch): void {
    const { stats, names } = this.ctx;
    const n = batch.events.length;
    stats.BatchReceivedCount++;
    stats.EventReceivedCount += n;
    if (n === 0) return batch.ack();
    let split;
    try {
      split = splitBatch(batch.events, this.ctx.bound, names.length);
    } catch (error) {
      return batch.nack(toError(error));
    }
    stats.EventUnroutedCount += split.unrouted;
    const p: Pending = { parent: batch, left: 0, error: undefined, optional: [], done: false };
    split.required.forEach((events) => events && p.left++);
    split.optional.forEach((events, branch) => events && p.optional.push({ branch, events }));
    if (p.optional.length > 0) this.fifo.push(p);
    if (p.left === 0) return this.requiredDone(p);
    split.required.forEach((events, i) => {
      if (!events) return;
      this.offer(
        i,
        createBatch(events, {
          onAck: () => this.childSettled(p),
          onNack: (error) => {
            stats.RequiredPutFailCount++;
            p.error ??= error;
            this.childSettled(p);
          },
        }),
      );
    });
  }

  private childSettled(p: Pending): void {
    if (--p.left === 0) this.requiredDone(p);
  }

  private requiredDone(p: Pending): void {
    p.done = true;
    if (p.optional.length > 0) this.pump();
    if (p.error) p.parent.nack(p.error);
    else p.parent.ack();
  }

  /** Offers the optional parts of settled batches at the head of the FIFO. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.fifo.length > 0 && this.fifo[0]!.done && !this.closed) {
        const p = this.fifo.shift()!;
        if (p.error === undefined) for (const part of p.optional) this.offerOptional(part);
      }
    } finally {
      this.pumping = false;
    }
    if (this.end && this.fifo.length === 0) this.flushAll();
  }

  private offerOptional(part: Part): void {
    const { stats, maxPendingOptional, onOptionalFailure, names } = this.ctx;
    const br = this.branches[part.branch]!;
    const n = part.events.length;
    if (br.pendingOptional >= maxPendingOptional) {
      stats.OptionalEventSkippedCount += n;
      return;
    }
    br.pendingOptional++;
    this.offer(
      part.branch,
      createBatch(part.events, {
        onAck: () => {
          br.pendingOptional--;
        },
        onNack: (error) => {
          br.pendingOptional--;
          stats.OptionalPutFailCount++;
          stats.OptionalEventFailCount += n;
          try {
            onOptionalFailure?.({ channel: part.branch, name: names[part.branch], events: n, error });
          } catch {
            // A reporting hook must not break the channel that called us; the failure is counted.
          }
        },
      }),
    );
  }

  private offer(i: number, part: Batch): void {
    this.branches[i]!.queue.push(part);
    this.flush(i);
  }

  /** Hands queued parts, then the end once nothing more can come, to branch i's subscriber. */
  private flush(i: number): void {
    const br = this.branches[i]!;
    const sub = this.ctx.subscriber(i);
    if (!sub || br.flushing || br.ended) return;
    const current = () => this.ctx.subscriber(i) === sub && !this.closed;
    br.flushing = true;
    try {
      while (br.queue.length > 0 && current()) sub.next(br.queue.shift()!);
      if (this.end && !this.routing && this.fifo.length === 0 && br.queue.length === 0 && current()) {
        br.ended = true;
        if (this.end === 'complete') sub.complete();
        else sub.error(this.end.error);
      }
    } finally {
      br.flushing = false;
    }
  }

  private flushAll(): void {
    for (let i = 0; i < this.branches.length && !this.closed; i++) this.flush(i);
  }

  private closedError(i: number): ComponentError {
    const { name, names } = this.ctx;
    return new ComponentError('FLUME_CHANNEL_CLOSED', `${name}: channel ${channelLabel(names, i)} was unsubscribed before it took its part of the batch`, {
      component: name,
      retriable: true,
    });
  }

  private sourceClosedError(): ComponentError {
    const { name } = this.ctx;
    return new ComponentError('FLUME_CHANNEL_CLOSED', `${name}: every channel was unsubscribed`, { component: name, retriable: true });
  }
}
