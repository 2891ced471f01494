import { Backoff, exponential } from '../../core/backoff.js';
import type { FlumeEvent } from '../../core/event.js';
import type { ComponentLogger } from '../../core/log.js';
import type { ComponentCounters } from '../../core/metrics.js';
import type { Tracker, TrackerState } from './tracker.js';

/** One emitted batch, kept until acked so that a nack re-sends exactly these events. */
export interface Sent {
  readonly seq: number;
  readonly events: FlumeEvent[];
  /** The file offset after its last event. */
  readonly end: number;
  acked: boolean;
  /** When a nacked batch may go again (scheduler time). */
  due: number;
}

export interface ProgressOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * spooldirSource's progress over the file being read: the batches sent and not yet acked, in file
 * order; those nacked, to be re-sent first after Flume's doubling back-off; and the tracker writes
 * that make the acked offset durable. A write, rename or delete that fails starts an outage: counted,
 * logged once with its cause (and once at recovery), retried after the same doubling back-off.
 */
export class Progress {
  private readonly outstanding: Sent[] = [];
  private readonly retries: Sent[] = [];
  private seq = 0;
  private readonly nacks: Backoff;
  private readonly outage: Backoff;
  private outageDelay = 0;
  /** Acked progress the tracker has yet to record. */
  private pending: TrackerState | undefined;

  constructor(
    readonly tracker: Tracker,
    private readonly opts: ProgressOptions,
    private readonly metrics: ComponentCounters,
    private readonly log: ComponentLogger,
  ) {
    this.nacks = new Backoff(exponential(opts.minBackoffMs, opts.maxBackoffMs));
    this.outage = new Backoff(exponential(opts.minBackoffMs, opts.maxBackoffMs));
  }

  /** Batches sent and not yet acked. */
  get unsettled(): number {
    return this.outstanding.length;
  }

  sent(events: FlumeEvent[], end: number): Sent {
    const sent: Sent = { seq: this.seq++, events, end, acked: false, due: 0 };
    this.outstanding.push(sent);
    return sent;
  }

  /** Marks `sent` acked; returns the offset all acked batches now reach, when that moved. */
  acked(sent: Sent): number | undefined {
    sent.acked = true;
    this.nacks.reset();
    let end: number | undefined;
    while (this.outstanding.length > 0 && this.outstanding[0]!.acked) end = this.outstanding.shift()!.end;
    return end;
  }

  /** Queues `sent` to go again, in file order, after the back-off. */
  nacked(sent: Sent, now: number): void {
    sent.due = now + this.nacks.next();
    let i = this.retries.length;
    while (i > 0 && this.retries[i - 1]!.seq > sent.seq) i--;
    this.retries.splice(i, 0, sent);
  }

  /** The first nacked batch, with how long it must still wait (≤ 0: due). */
  nextRetry(now: number): { sent: Sent; wait: number } | undefined {
    const first = this.retries[0];
    return first && { sent: first, wait: first.due - now };
  }

  takeRetry(): void {
    this.retries.shift();
  }

  /** Progress not yet durable: nothing more may be sent (a crash must not re-send more than is in flight). */
  get behind(): boolean {
    return this.pending !== undefined;
  }

  /** Records `state` durably now if the tracker can be written, else keeps it pending; true when recorded. */
  record(state: TrackerState): boolean {
    this.pending = state;
    return this.flush();
  }

  flush(): boolean {
    if (!this.pending) return true;
    try {
      this.tracker.save(this.pending);
    } catch (error) {
      this.failed('TrackerWriteFail', `cannot write tracker ${this.tracker.path}`, error);
      return false;
    }
    this.pending = undefined;
    this.worked();
    return true;
  }

  /** A tracker write, rename or delete failed: counted, logged at the start of an outage; the caller waits `retryDelay`. */
  failed(counter: string, what: string, error: unknown): void {
    this.metrics.inc(counter);
    this.outageDelay = this.outage.next();
    if (this.outage.attempts > 1) return; // one line per outage; the counters say how long it lasts
    const e = error as NodeJS.ErrnoException;
    this.log(
      'warn',
      `${what} (${e.code ?? (error instanceof Error ? error.message : String(error))}): nothing more is sent until that works again; ` +
        `retrying after ${this.opts.minBackoffMs} ms doubling up to ${this.opts.maxBackoffMs} ms`,
    );
  }

  worked(): void {
    if (this.outage.attempts === 0) return;
    this.log('info', `tracker and spool directory writable again after ${this.outage.attempts} failed attempts`);
    this.outage.reset();
  }

  /** The wait before trying a failed write, rename or delete again (at least 50 ms). */
  get retryDelay(): number {
    return Math.max(50, this.outageDelay);
  }

  /** A last try at recording what is pending, then closes the tracker. */
  close(): void {
    if (this.pending) {
      try {
        this.tracker.save(this.pending); // the state before it stays valid if this fails
      } catch {
        // counted and logged when it first failed
      }
    }
    this.tracker.close();
  }
}
