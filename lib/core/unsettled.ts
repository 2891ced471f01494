import { asyncScheduler, tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Batch } from './batch.js';

/** A stage of a pipeline that holds batches nobody settled. */
export interface UnsettledStage {
  /** The stage's position after the source: 0 for the first stage given to `pipe`; the sink is last. */
  readonly index: number;
  /** The component's metrics key (`INTERCEPTOR.upper`, `SINK.k1`), else the operator function's name, else `an unnamed operator`. */
  readonly name: string;
  /** Batches this stage received and that are still unsettled, not counting those it passed on to stages still holding them. */
  readonly batches: number;
  /** How long the oldest batch it received has waited to be settled (scheduler time, ms). */
  readonly oldestMs: number;
}

// Settled batches are dropped from a boundary's head as each batch arrives, and the rest (settled out of
// order) in sweeps, run when a boundary holds twice what it held after the last one: O(1) per batch.
const MIN_SWEEP = 64;

/**
 * The batches received at one boundary, oldest first, and when. Arrays, not a Map keyed by batch: a
 * Map's table in the old generation that once held a young batch kept it (and its events) alive through
 * young-generation GCs even after the entry was deleted (measured: 100-event batches set and deleted one
 * at a time promoted ~1 KiB per event; an array promoted nothing), which made the avroSource bench
 * server spend a quarter of its time in scavenges.
 */
class Held {
  private batches: (Batch | undefined)[] = [];
  private since: number[] = [];
  private head = 0;
  private sweepAt = MIN_SWEEP;

  get size(): number {
    return this.batches.length - this.head;
  }

  add(batch: Batch, at: number): void {
    this.batches.push(batch);
    this.since.push(at);
    // Batches mostly settle in order: those at the head go at once.
    while (this.head < this.batches.length && this.batches[this.head]!.settled) this.batches[this.head++] = undefined;
    if (this.head > MIN_SWEEP && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.since.splice(0, this.head);
      this.head = 0;
    }
    if (this.size >= this.sweepAt) {
      this.sweep();
      this.sweepAt = Math.max(MIN_SWEEP, 2 * this.size);
    }
  }

  /** Drops every settled batch. */
  sweep(): void {
    let kept = 0;
    for (let i = this.head; i < this.batches.length; i++) {
      const batch = this.batches[i]!;
      if (batch.settled) continue;
      this.batches[kept] = batch;
      this.since[kept++] = this.since[i]!;
    }
    this.batches.length = kept;
    this.since.length = kept;
    this.head = 0;
  }

  /** [batch, since] of each batch held. */
  *entries(): IterableIterator<[Batch, number]> {
    for (let i = this.head; i < this.batches.length; i++) yield [this.batches[i]!, this.since[i]!];
  }
}

/**
 * Watches every boundary of a pipeline (what enters each stage and the sink) for batches that stay
 * unsettled, and says which stage holds them. A stage received a batch and never settled it nor passed
 * on anything still unsettled — a bare RxJS `filter` that dropped it — when more batches wait at its
 * input than at the next stage's; the difference is what it holds. Batches are not wrapped: the check
 * reads `batch.settled`, so stages still see the very batch objects they were given.
 */
export class UnsettledTracker {
  private readonly held: Held[];
  private readonly reported = new WeakSet<Batch>();

  constructor(
    /** One name per boundary: each stage's input, then the sink's. */
    private readonly names: readonly string[],
    private readonly now: () => number = () => asyncScheduler.now(),
  ) {
    this.held = names.map(() => new Held());
  }

  /** The operator put before stage `index` (the sink's is `names.length - 1`). */
  before(index: number): MonoTypeOperatorFunction<Batch> {
    const held = this.held[index]!;
    return tap((batch) => {
      // A hand-made batch without `settled` cannot be checked.
      if (typeof batch.settled !== 'boolean' || batch.settled) return;
      held.add(batch, this.now());
    });
  }

  /**
   * The stages holding batches unsettled for at least `minAgeMs`. With `onlyNew`, nothing is returned
   * unless some such batch was not in an earlier `onlyNew` report (the watchdog says each stall once).
   */
  report(minAgeMs = 0, onlyNew = false): UnsettledStage[] {
    const t = this.now();
    const waiting = this.held.map((held) => {
      held.sweep();
      let count = 0;
      let oldest = 0;
      for (const [, since] of held.entries()) {
        const age = t - since;
        if (age < minAgeMs) continue;
        count++;
        oldest = Math.max(oldest, age);
      }
      return { count, oldest };
    });
    if (onlyNew) {
      let fresh = false;
      for (const held of this.held) {
        for (const [batch, since] of held.entries()) {
          if (t - since < minAgeMs || this.reported.has(batch)) continue;
          this.reported.add(batch);
          fresh = true;
        }
      }
      if (!fresh) return [];
    }
    const out: UnsettledStage[] = [];
    for (let i = 0; i < waiting.length; i++) {
      const batches = waiting[i]!.count - (waiting[i + 1]?.count ?? 0);
      if (batches > 0) out.push({ index: i, name: this.names[i]!, batches, oldestMs: waiting[i]!.oldest });
    }
    return out;
  }
}

/**
 * One line naming the stages that hold unsettled batches and the rule they broke; `what` says when,
 * e.g. `unsettled for over 5000 ms`. The last boundary is the sink's.
 */
export function describeUnsettled(stages: readonly UnsettledStage[], sinkIndex: number, what: string): string {
  const total = stages.reduce((n, s) => n + s.batches, 0);
  const where = stages
    .map((s) => `${s.index === sinkIndex ? `the sink ${s.name}` : `stage ${s.index} (${s.name})`} holds ${s.batches}, the oldest for ${Math.round(s.oldestMs)} ms`)
    .join('; ');
  return (
    `${total} ${total === 1 ? 'batch' : 'batches'} ${what}: ${where}. ` +
    'Every stage must ack, nack or pass on each batch it receives (a bare RxJS filter drops batches without settling them; see the interceptor guide)'
  );
}
