/**
 * The write side of the log: append-only segment files, one active per data directory, written by a
 * group commit. Frames appended while a write is under way wait and go together in the next one:
 * one `writev` per group, however many puts and take commits it holds. Syncing is a second stage
 * running beside it: one `fdatasync` covers every group written before it began, while the next
 * group is already being written. A put's callback runs once its frame is synced (with
 * `fsync: 'transaction'`), a take commit's once it is written.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { asyncScheduler } from 'rxjs';
import { describeError } from '../../../lib/core/errors.js';
import { syncDir } from '../../../lib/fs/syncDir.js';
import { SEGMENT_HEADER_BYTES, segmentHeader } from './format.js';
import type { SegmentFile } from './recovery.js';
import { SegmentReader } from './segmentReader.js';
import type { ResolvedLogOptions } from './options.js';
import { NO_SPACE_CODES, SpaceGuard } from './spaceGuard.js';

export interface Segment {
  readonly id: number;
  readonly dir: string;
  readonly path: string;
  /** Bytes written whose callbacks ran: what a checkpoint may account for. */
  size: number;
  /** Bytes known to be on disk. */
  synced: number;
  /** Live events (stored or taken, not yet committed) in this segment's frames. */
  live: number;
  /** The active segment of its directory: frames are still being appended. */
  active: boolean;
  /** Bytes the last checkpoint written accounts for. */
  checkpointed: number;
  /** End of the last take frame written into it (0: none): takes a checkpoint must see before it may go. */
  takesEnd: number;
}

/** The checkpoint directory is probed for free space too. */
export type SegmentLogOptions = Pick<ResolvedLogOptions, 'dataDirs' | 'checkpointDir' | 'maxFileSize' | 'fsync' | 'fsyncIntervalMs' | 'minimumRequiredSpace' | 'freeSpace' | 'logger'>;

/** `seg` and `off` locate the frame when the write succeeded. */
export type AppendCallback = (error: Error | undefined, seg: Segment, off: number) => void;

interface Pending {
  buf: Buffer;
  cb: AppendCallback;
  durable: boolean;
}

interface Written {
  cb: AppendCallback;
  seg: Segment;
  off: number;
}

interface Writer {
  dir: string;
  seg: Segment | undefined;
  file: fs.FileHandle | undefined;
  /** A write failed: roll to a fresh segment rather than append after what may be half-written. */
  broken: boolean;
}


export class SegmentLog {
  readonly segments = new Map<number, Segment>();
  nextSegmentId: number;
  /** Runs after each batch of callbacks: one wake-up per group rather than per frame. */
  afterGroup: () => void = () => undefined;
  private readonly writers: Writer[];
  private turn = 0;
  /** Frames waiting for the next write. */
  private group: Pending[] = [];
  /** Frames written, waiting for a sync before their callbacks (puts with fsync 'transaction'). */
  private unsynced: Written[] = [];
  private syncWaiters: Array<() => void> = [];
  private writing = false;
  private syncing = false;
  private scheduled = false;
  private readonly reader = new SegmentReader<Segment>(() => this.notifyIdle());
  private idleWaiters: Array<() => void> = [];
  private fsyncTimer: { unsubscribe(): void } | undefined;
  private closed = false;
  /** Free space on the data and checkpoint directories. */
  readonly space: SpaceGuard;

  constructor(
    private readonly opts: SegmentLogOptions,
    existing: readonly SegmentFile[],
    nextSegmentId: number,
  ) {
    for (const s of existing) {
      this.segments.set(s.id, { id: s.id, dir: s.dir, path: s.path, size: s.size, synced: s.size, live: 0, active: false, checkpointed: s.checkpointed, takesEnd: s.takesEnd });
    }
    this.nextSegmentId = nextSegmentId;
    this.writers = opts.dataDirs.map((dir) => ({ dir, seg: undefined, file: undefined, broken: false }));
    this.space = new SpaceGuard({
      dirs: [...new Set([...opts.dataDirs, opts.checkpointDir])],
      minimumRequiredSpace: opts.minimumRequiredSpace,
      maxFileSize: opts.maxFileSize,
      freeSpace: opts.freeSpace,
      logger: opts.logger,
    });
    if (opts.fsync === 'interval') {
      const tick = (): void => {
        this.fsyncTimer = asyncScheduler.schedule(() => {
          this.sync(() => undefined);
          tick();
        }, opts.fsyncIntervalMs);
      };
      tick();
    }
  }

  /**
   * Queues a frame for the next group write. With `durable` (a put) and fsync 'transaction' the
   * callback waits for a sync begun after the write; otherwise (a take commit) it runs once written —
   * in the page cache, which a killed process cannot lose.
   */
  append(buf: Buffer, durable: boolean, cb: AppendCallback): void {
    this.group.push({ buf, cb, durable: durable && this.opts.fsync === 'transaction' });
    this.schedule();
  }

  /** Calls `done` once every byte written so far is on disk. */
  sync(done: () => void): void {
    this.syncWaiters.push(done);
    this.schedule();
  }

  /**
   * Bytes of a segment a checkpoint may account for: every frame before them has had its callback
   * (a put's after its sync, so never beyond what is synced with fsync 'transaction').
   */
  covered(seg: Segment): number {
    return this.opts.fsync === 'transaction' ? seg.synced : seg.size;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // One microtask of delay lets puts arriving in the same tick share the write.
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Two stages run side by side: the next group is written while the previous one is being synced. */
  private pump(): void {
    if (!this.writing && this.group.length > 0) void this.writeStage();
    if (!this.syncing && (this.unsynced.length > 0 || this.syncWaiters.length > 0)) void this.syncStage();
  }

  private async writeStage(): Promise<void> {
    this.writing = true;
    try {
      while (this.group.length > 0) {
        const frames = this.group;
        this.group = [];
        await this.writeGroup(frames);
        this.guard(this.afterGroup);
        this.pump();
      }
    } finally {
      this.writing = false;
      this.pump();
      this.notifyIdle();
    }
  }

  private async syncStage(): Promise<void> {
    this.syncing = true;
    try {
      while (this.unsynced.length > 0 || this.syncWaiters.length > 0) {
        const frames = this.unsynced;
        const waiters = this.syncWaiters;
        this.unsynced = [];
        this.syncWaiters = [];
        // What is written now is covered by this sync; what is written meanwhile waits for the next.
        const { failed, done } = await this.syncWriters();
        this.markSynced(done);
        for (const f of frames) {
          const error = failed.get(f.seg);
          this.guard(() => f.cb(error, f.seg, error ? -1 : f.off));
        }
        if (frames.length > 0) this.guard(this.afterGroup);
        for (const done of waiters) this.guard(done);
      }
    } finally {
      this.syncing = false;
      this.pump();
      this.notifyIdle();
    }
  }

  private async writeGroup(frames: Pending[]): Promise<void> {
    let bytes = 0;
    for (const f of frames) bytes += f.buf.length;
    const writer = this.writers[this.turn++ % this.writers.length]!;
    let header: Buffer | undefined;
    try {
      if (!writer.seg || writer.broken || (writer.seg.size > SEGMENT_HEADER_BYTES && writer.seg.size + bytes > this.opts.maxFileSize)) {
        // Out of space, a new file would only fail (and be left behind): fail the frames instead.
        const noSpace = this.space.outOfSpace();
        if (noSpace) throw noSpace;
        await this.roll(writer);
        header = segmentHeader(writer.seg!.id);
      }
    } catch (error) {
      if (error !== this.space.outOfSpace()) this.opts.logger('error', `cannot create a segment in ${writer.dir}: ${describeError(error)}`);
      this.space.check(error);
      for (const f of frames) this.guard(() => f.cb(error as Error, undefined as unknown as Segment, -1));
      return;
    }
    const seg = writer.seg!;
    const file = writer.file!;
    const start = seg.size;
    const bufs = frames.map((f) => f.buf);
    if (header) bufs.unshift(header);
    const total = bytes + (header ? header.length : 0);
    try {
      await writeFully(file, bufs, start, total);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (start === 0) {
        // The segment was created for this write: remove it rather than leave an empty file behind.
        await this.discard(writer);
      } else {
        // Cut what may have been half-written. After a clean cut for want of space the segment goes on
        // once space returns; otherwise (or when the file itself is at its limit) a fresh one is started.
        const cut = await file.truncate(start).then(
          () => true,
          () => false,
        );
        writer.broken = !cut || code === undefined || !NO_SPACE_CODES.has(code);
      }
      this.space.check(error);
      for (const f of frames) this.guard(() => f.cb(error as Error, seg, -1));
      return;
    }
    seg.size = start + total;
    this.space.wrote(total);
    let off = start + (header ? header.length : 0);
    for (const f of frames) {
      const at = off;
      if (f.durable) this.unsynced.push({ cb: f.cb, seg, off: at });
      else this.guard(() => f.cb(undefined, seg, at));
      off += f.buf.length;
    }
  }

  private async roll(writer: Writer): Promise<void> {
    if (writer.file) {
      const old = writer.seg!;
      // Frames of the old segment waiting for a sync get it before the file is closed.
      if (old.synced < old.size) await new Promise<void>((resolve) => this.sync(resolve));
      old.active = false;
      await writer.file.close().catch(() => undefined);
      writer.file = undefined;
      writer.seg = undefined;
    }
    const id = this.nextSegmentId++;
    const seg: Segment = { id, dir: writer.dir, path: path.join(writer.dir, `log-${id}`), size: 0, synced: 0, live: 0, active: true, checkpointed: 0, takesEnd: 0 };
    this.segments.set(id, seg);
    try {
      writer.file = await fs.open(seg.path, 'wx');
      // The new name must be durable before anything in the file is acked.
      await syncDir(writer.dir);
    } catch (error) {
      this.segments.delete(id);
      await writer.file?.close().catch(() => undefined);
      writer.file = undefined;
      await fs.rm(seg.path, { force: true }).catch(() => undefined);
      throw error;
    }
    writer.seg = seg;
    writer.broken = false;
  }

  /** Drops the writer's segment, created for a write that failed: nothing in it was ever acked. */
  private async discard(writer: Writer): Promise<void> {
    const seg = writer.seg!;
    await writer.file?.close().catch(() => undefined);
    writer.file = undefined;
    writer.seg = undefined;
    this.segments.delete(seg.id);
    await fs.rm(seg.path, { force: true }).catch((error: unknown) => this.opts.logger('warn', `cannot remove ${seg.path}: ${describeError(error)}`));
  }

  /** Syncs every active segment with unsynced bytes; returns the segments whose sync failed, and the sizes synced. */
  private async syncWriters(): Promise<{ failed: Map<Segment, Error>; done: Array<[Segment, number]> }> {
    // Every size is taken now, before any await: a frame written while one directory is being synced
    // must not count as synced in another (a checkpoint would then skip it before its put is queued).
    const targets: Array<{ w: Writer; seg: Segment; file: fs.FileHandle; size: number }> = [];
    for (const w of this.writers) {
      if (w.file && w.seg && w.seg.synced < w.seg.size) targets.push({ w, seg: w.seg, file: w.file, size: w.seg.size });
    }
    const failed = new Map<Segment, Error>();
    const done: Array<[Segment, number]> = [];
    for (const { w, seg, file, size } of targets) {
      try {
        await file.datasync();
        done.push([seg, size]);
      } catch (error) {
        // After a failed sync nothing written since the last good one can be trusted: start afresh.
        w.broken = true;
        failed.set(seg, error as Error);
        this.opts.logger('error', `fdatasync of ${seg.path} failed: ${describeError(error)}`);
      }
    }
    return { failed, done };
  }

  /**
   * Marks what a sync covered. Called in the same synchronous run as the callbacks of the frames it
   * covered: a checkpoint never counts a frame as covered before its put is in the queue.
   */
  private markSynced(done: ReadonlyArray<[Segment, number]>): void {
    for (const [seg, size] of done) seg.synced = Math.max(seg.synced, size);
  }

  /** Reads `len` bytes at `off` of a segment. */
  read(seg: Segment, off: number, len: number): Promise<Buffer> {
    return this.reader.read(seg, off, len);
  }

  /**
   * Frees an emptied, inactive segment's space without deleting it, when no checkpoint can be written:
   * an empty file tells recovery that the events the last checkpoint places there were all taken.
   */
  async empty(seg: Segment): Promise<void> {
    await this.reader.forget(seg);
    await fs.truncate(seg.path, 0);
    seg.size = 0;
    seg.synced = 0;
  }

  /** Deletes an emptied, inactive segment. */
  async remove(seg: Segment): Promise<void> {
    await this.reader.forget(seg);
    await fs.rm(seg.path, { force: true });
    this.segments.delete(seg.id);
  }

  /** Resolves once no write, sync or read is under way or queued. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return (
      !this.writing &&
      !this.syncing &&
      !this.scheduled &&
      this.group.length === 0 &&
      this.unsynced.length === 0 &&
      this.syncWaiters.length === 0 &&
      !this.reader.busy
    );
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Ends writing: waits for what is under way, syncs, and closes the active segments (which a checkpoint may then delete). */
  async retire(): Promise<void> {
    this.fsyncTimer?.unsubscribe();
    await this.idle();
    await new Promise<void>((resolve) => this.sync(resolve));
    await this.idle();
    for (const w of this.writers) {
      if (w.seg) w.seg.active = false;
      await w.file?.close().catch(() => undefined);
      w.file = undefined;
      w.seg = undefined;
    }
  }

  /** Retires the writers and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.retire();
    await this.idle();
    await this.reader.close();
  }

  /** Logs a callback's exception instead of letting it break the write loop. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.opts.logger('error', `a put or take callback threw: ${describeError(error)}`);
    }
  }
}

async function writeFully(file: fs.FileHandle, bufs: Buffer[], position: number, total: number): Promise<void> {
  let done = 0;
  let rest = bufs;
  while (done < total) {
    const { bytesWritten } = await file.writev(rest, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    done += bytesWritten;
    if (done < total) rest = skip(rest, bytesWritten);
  }
}

function skip(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  const out = bufs.slice(i);
  if (n > 0 && out.length > 0) out[0] = out[0]!.subarray(n);
  return out;
}
