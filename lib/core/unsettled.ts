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

// Settled batches are forgotten from the map's head at each insert, and the rest (settled out of order)
// in sweeps, run when a boundary's map doubled since the last one: O(1) per batch.
const MIN_SWEEP = 64;

/**
 * Watches every boundary of a pipeline (what enters each stage and the sink) for batches that stay
 * unsettled, and says which stage holds them. A stage received a batch and never settled it nor passed
 * on anything still unsettled — a bare RxJS `filter` that dropped it — when more batches wait at its
 * input than at the next stage's; the difference is what it holds. Batches are not wrapped: the check
 * reads `batch.settled`, so stages still see the very batch objects they were given.
 */
export class UnsettledTracker {
  private readonly held: Map<Batch, number>[];
  private readonly sweepAt: number[];
  private readonly reported = new WeakSet<Batch>();

  constructor(
    /** One name per boundary: each stage's input, then the sink's. */
    private readonly names: readonly string[],
    private readonly now: () => number = () => asyncScheduler.now(),
  ) {
    this.held = names.map(() => new Map());
    this.sweepAt = names.map(() => MIN_SWEEP);
  }

  /** The operator put before stage `index` (the sink's is `names.length - 1`). */
  before(index: number): MonoTypeOperatorFunction<Batch> {
    const held = this.held[index]!;
    return tap((batch) => {
      // A hand-made batch without `settled` cannot be checked.
      if (typeof batch.settled !== 'boolean' || batch.settled) return;
      held.set(batch, this.now());
      // The oldest entries first, as they settle (in order, usually): a settled batch kept here keeps
      // its events alive, and 64 kept batches of 1,000 events outlived young-generation GCs, which
      // then copied and promoted them (avroSource bench: a fifth of the server's time in scavenges).
      for (const old of held.keys()) {
        if (!old.settled) break;
        held.delete(old);
      }
      if (held.size >= this.sweepAt[index]!) {
        this.sweep(held);
        this.sweepAt[index] = Math.max(MIN_SWEEP, 2 * held.size);
      }
    });
  }

  /**
   * The stages holding batches unsettled for at least `minAgeMs`. With `onlyNew`, nothing is returned
   * unless some such batch was not in an earlier `onlyNew` report (the watchdog says each stall once).
   */
  report(minAgeMs = 0, onlyNew = false): UnsettledStage[] {
    const t = this.now();
    const waiting = this.held.map((held) => {
      this.sweep(held);
      let count = 0;
      let oldest = 0;
      for (const since of held.values()) {
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
        for (const [batch, since] of held) {
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

  private sweep(held: Map<Batch, number>): void {
    for (const batch of held.keys()) if (batch.settled) held.delete(batch);
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
