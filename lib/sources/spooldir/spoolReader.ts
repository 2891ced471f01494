/**
 * spooldirSource's read/commit loop, one poll at a time: a nacked batch again first (after its
 * back-off), else the next batch of the current file, else — once all its batches are acked — its
 * completion, then the next file. Acks move the tracker's offset; while the tracker cannot be
 * written, or a completion failed for now, nothing more is sent until a retry works.
 */
import { asyncScheduler, type Subscription } from 'rxjs';
import type { PolledBatch } from '../../core/pollSource.js';
import type { FileQueue } from './fileQueue.js';
import type { Progress, Sent } from './progress.js';
import type { ReadRules, SpoolFile } from './spoolFile.js';

export interface SpoolReaderOptions {
  batchSize: number;
  /** How long to wait before looking again when no file is waiting. */
  pollDelayMs: number;
  queue: FileQueue;
  /** Completes a file all of whose events are acked; false when that failed for now and is to be retried. */
  complete(f: SpoolFile): Promise<boolean>;
  progress: Progress;
  read: ReadRules;
  /** Aborted when the source is unsubscribed: no more batches, and acks from then on are not recorded. */
  signal: AbortSignal;
}

export class SpoolReader {
  private readonly timers = new Set<Subscription>();
  private started = false;
  private current: SpoolFile | undefined;
  /** A rename or delete under way. */
  private completion: Promise<boolean> | undefined;
  private wake: (() => void) | undefined;
  private readonly stopped = (): boolean => this.o.signal.aborted;

  constructor(private readonly o: SpoolReaderOptions) {}

  /** The next batch to send; never settles once the source stopped. Rejects with what fails the source. */
  async next(): Promise<PolledBatch> {
    const { progress, queue } = this.o;
    for (;;) {
      if (this.stopped()) return never();
      if (!this.started) {
        this.started = true;
        queue.start();
      }
      if (progress.behind && !progress.flush()) {
        await this.sleep(progress.retryDelay);
        continue;
      }
      const retry = progress.nextRetry(asyncScheduler.now());
      if (retry) {
        if (retry.wait > 0) {
          await this.sleep(retry.wait);
          continue;
        }
        progress.takeRetry();
        return this.polled(retry.sent);
      }
      if (!this.current) {
        this.current = await queue.next();
        if (!this.current) await this.sleep(this.o.pollDelayMs);
        continue;
      }
      const current = this.current;
      if (!current.exhausted) {
        const batch = await current.nextBatch(this.o.batchSize, this.stopped);
        if (batch) return this.polled(progress.sent(batch.events, batch.end));
        // As Flume, a file that gives no event at all (an empty file) gives one with an empty body.
        if (current.exhausted && current.events === 0 && current.committed === 0 && !this.stopped()) {
          current.events = 1;
          return this.polled(progress.sent([{ headers: this.o.read.headers(current), body: Buffer.alloc(0) }], current.size));
        }
        continue;
      }
      if (progress.unsettled > 0) {
        await new Promise<void>((done) => (this.wake = done));
        continue;
      }
      this.completion = this.o.complete(current);
      const completed = await this.completion.finally(() => (this.completion = undefined));
      if (!completed) {
        if (this.stopped()) return never();
        await this.sleep(progress.retryDelay);
        continue;
      }
      this.current = undefined;
    }
  }

  /**
   * Cancels the waits and releases the current file; the tracker is closed once a rename already
   * started has landed (recorded, or the tracker would go on naming a completed file, and take a new
   * file of that name, inode, size and mtime for it). Called after `signal` was aborted.
   */
  close(): void {
    for (const t of this.timers) t.unsubscribe();
    this.timers.clear();
    this.wake = undefined;
    this.current?.release().catch(() => undefined);
    this.current = undefined;
    const finish = (): void => this.o.progress.close();
    if (this.completion) this.completion.then(finish, finish);
    else finish();
  }

  private polled(sent: Sent): PolledBatch {
    const { progress } = this.o;
    return {
      events: sent.events,
      commit: () => {
        if (this.stopped()) return;
        const end = progress.acked(sent);
        if (end !== undefined) {
          this.current!.committed = end;
          progress.record(this.current!.state());
        }
        this.notify();
      },
      rollback: () => {
        if (this.stopped()) return;
        progress.nacked(sent, asyncScheduler.now());
        this.notify();
      },
    };
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = asyncScheduler.schedule(() => {
        this.timers.delete(timer);
        done();
      }, ms);
      this.timers.add(timer);
    });
  }
}

const never = (): Promise<never> => new Promise<never>(() => undefined);
