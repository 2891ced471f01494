import type { Batch } from '../core/batch.js';
import { ComponentError } from '../core/errors.js';
import type { Sink } from '../core/sink.js';

/**
 * The sink end of a channel that outlives its sinks (a reload keeps an unchanged channel): batches go
 * to the current sink; a new sink can be swapped in, the old one then completes once its batches
 * settled; with no sink, batches wait. On the end, batches still waiting are nacked (retriable), and
 * `closed` resolves once every sink it ever had closed.
 */
export class SwitchSink implements Sink {
  private target: Sink | undefined;
  private readonly held: Batch[] = [];
  private readonly retired: Promise<void>[] = [];
  private ended = false;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  next(batch: Batch): void {
    if (this.target) this.target.next(batch);
    else this.held.push(batch);
  }

  swap(next: Sink | undefined): void {
    const old = this.target;
    this.target = next;
    if (old) {
      old.complete();
      this.retired.push(old.closed.catch(() => undefined));
    }
    if (next) for (const b of this.held.splice(0)) next.next(b);
  }

  error(error: unknown): void {
    this.end(() => this.target?.error(error), error);
  }

  complete(): void {
    this.end(() => this.target?.complete());
  }

  private end(notify: () => void, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    notify();
    for (const b of this.held.splice(0)) b.nack(error ?? new ComponentError('FLUME_CHANNEL_CLOSED', 'agent stopped before a sink took this batch', { retriable: true }));
    const last = this.target ? this.target.closed.catch(() => undefined) : Promise.resolve();
    void Promise.all([...this.retired, last]).then(() => this.resolveClosed());
  }
}
