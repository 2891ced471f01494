/**
 * When and how the log is checkpointed: every `checkpointIntervalMs` while anything changed, soon
 * after a segment emptied (so its disk space returns without waiting a whole interval), and once more
 * on close. A checkpoint is a snapshot of the live pieces; once it is on disk, segments with nothing
 * live are deleted. When the disk is full and no checkpoint fits, segments whose events were all taken
 * are emptied in place instead (a restart from the last checkpoint needs nothing they hold).
 */
import { asyncScheduler, type Subscription } from 'rxjs';
import { describeError } from '../../../lib/core/errors.js';
import type { ComponentCounters } from '../../../lib/core/metrics.js';
import { encodeCheckpoint, writeCheckpoint } from './checkpoint.js';
import { crashPoint } from './crashPoints.js';
import type { ResolvedLogOptions } from './options.js';
import { pointer, type Piece } from './pieces.js';
import type { SegmentLog } from './segmentLog.js';

export type CheckpointerOptions = Pick<ResolvedLogOptions, 'checkpointDir' | 'checkpointIntervalMs' | 'fsync' | 'logger'>;

/** What a checkpoint records: the next sequence number and every live piece, stored or taken. */
export interface LiveState {
  nextSeq: number;
  pieces: readonly Piece[];
}

/** A checkpoint to delete an emptied segment comes no sooner than this after the previous one. */
const MIN_CHECKPOINT_GAP_MS = 1000;

export class Checkpointer {
  private timer: Subscription | undefined;
  private due = Infinity;
  private writing: Promise<void> | undefined;
  private lastAt = -Infinity;
  private dirty = false;
  private stopped = false;

  constructor(
    private readonly log: SegmentLog,
    private readonly opts: CheckpointerOptions,
    private readonly metrics: ComponentCounters,
    private readonly live: () => LiveState,
  ) {}

  /** Something the next checkpoint must record changed. */
  touch(): void {
    this.dirty = true;
  }

  /** (Re)arms the timer, unless it is already due sooner. */
  schedule(delayMs: number): void {
    if (this.stopped) return;
    const due = asyncScheduler.now() + delayMs;
    if (this.timer && this.due <= due) return;
    this.timer?.unsubscribe();
    this.due = due;
    this.timer = asyncScheduler.schedule(() => {
      this.timer = undefined;
      void this.checkpoint().then(() => this.schedule(this.opts.checkpointIntervalMs));
    }, delayMs);
  }

  /** Soon after a segment emptied, so its disk space returns without waiting a whole interval. */
  soon(): void {
    const gap = Math.min(MIN_CHECKPOINT_GAP_MS, this.opts.checkpointIntervalMs);
    this.schedule(Math.max(0, this.lastAt + gap - asyncScheduler.now()));
  }

  /** Writes a checkpoint when anything changed, then deletes the segments it left with nothing live. */
  checkpoint(): Promise<void> {
    if (this.writing) return this.writing;
    if (!this.dirty) return Promise.resolve();
    this.writing = this.writeNow().finally(() => (this.writing = undefined));
    return this.writing;
  }

  /** No more timed checkpoints; waits for one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.unsubscribe();
    await this.writing;
  }

  /** Once more with everything settled (the log retired): the next open replays nothing. */
  async final(): Promise<void> {
    this.dirty = true;
    await this.writeNow();
  }

  private async writeNow(): Promise<void> {
    const log = this.log;
    // Out of space: free what was taken first, so that the checkpoint has room.
    if (log.space.outOfSpace()) await this.freeTaken();
    if (await this.tryWrite()) return;
    // It failed for want of space: free what was taken without it, then try once more.
    if (log.space.outOfSpace() && (await this.freeTaken()) > 0) await this.tryWrite();
  }

  /**
   * Frees the space of segments whose events were all taken, without a checkpoint (which may not fit):
   * a segment qualifies when the last checkpoint written saw every take recorded in it, so that a
   * restart from that checkpoint needs nothing the segment holds. Returns how many were freed.
   */
  private async freeTaken(): Promise<number> {
    const log = this.log;
    let freed = 0;
    for (const seg of [...log.segments.values()]) {
      if (seg.live !== 0 || seg.active || seg.size === 0 || seg.takesEnd > seg.checkpointed) continue;
      try {
        await log.empty(seg);
        freed++;
      } catch (error) {
        this.opts.logger('warn', `cannot free ${seg.path}: ${describeError(error)}`);
      }
    }
    if (freed > 0) {
      this.opts.logger('info', `freed ${freed} emptied segments without a checkpoint (the disk is full)`);
      crashPoint('segments-freed');
    }
    return freed;
  }

  /** Writes a checkpoint and deletes the segments it left with nothing live; false when it could not be written. */
  private async tryWrite(): Promise<boolean> {
    const log = this.log;
    this.dirty = false;
    this.lastAt = asyncScheduler.now();
    // The snapshot is taken at once: it agrees with the segments' written sizes at this moment.
    const covered = [...log.segments.values()].map((s) => ({ id: s.id, size: log.covered(s) }));
    const deletable = [...log.segments.values()].filter((s) => s.live === 0 && !s.active);
    const { nextSeq, pieces } = this.live();
    const buf = encodeCheckpoint({ nextSeq, nextSegmentId: log.nextSegmentId, covered }, pieces.length, (visit) => {
      for (const p of pieces) visit(pointer(p));
    });
    try {
      if (this.opts.fsync === 'interval') await new Promise<void>((resolve) => log.sync(resolve));
      await writeCheckpoint(this.opts.checkpointDir, buf);
    } catch (error) {
      this.dirty = true;
      this.metrics.inc('CheckpointWriteErrorCount');
      this.opts.logger('warn', `cannot write the checkpoint: ${describeError(error)}`);
      log.space.check(error);
      return false;
    }
    for (const c of covered) {
      const seg = log.segments.get(c.id);
      if (seg) seg.checkpointed = c.size;
    }
    let removed = 0;
    for (const seg of deletable) {
      if (seg.live !== 0 || seg.active) continue;
      try {
        await log.remove(seg);
      } catch (error) {
        this.opts.logger('warn', `cannot delete ${seg.path}: ${describeError(error)}`);
        continue;
      }
      if (++removed === 1 && deletable.length > 1) crashPoint('segment-deleted');
    }
    return true;
  }
}
