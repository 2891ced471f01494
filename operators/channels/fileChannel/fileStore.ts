/**
 * The file channel's store: the queue of live events over the write-ahead log. Every live event is
 * known by a pointer (a piece: a run of one put frame's entries, ~100 bytes per put transaction);
 * recently put events also stay decoded in memory up to `cacheBytes`, and the head is read back
 * ahead of the sink, so a sink that keeps up never waits for the disk.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { asyncScheduler, type Subscription } from 'rxjs';
import { ChannelFullError, ComponentError, FlumeError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import type { ComponentCounters } from '../../../lib/core/metrics.js';
import type { ChannelStore, StoredPut, StoreHooks, StoreTake } from './channelShell.js';
import { encodeCheckpoint, writeCheckpoint, type PiecePointer } from './checkpoint.js';
import { crashPoint } from './crashPoints.js';
import { checkEntry, decodeEntry, encodePut, encodeTake, entryBounds, putFrameSize, readFrameHeader } from './format.js';
import { acquireLocks, LockHeldError, markClosing } from './lock.js';
import { recover, type ChannelLogger } from './recovery.js';
import { describe, SegmentLog, type FreeSpaceProbe, type Segment } from './segmentLog.js';

export interface FileStoreOptions {
  name: string;
  capacity: number;
  byteCapacity: number | undefined;
  transactionCapacity: number;
  checkpointDir: string;
  dataDirs: readonly string[];
  maxFileSize: number;
  minimumRequiredSpace: number;
  checkpointIntervalMs: number;
  checkpointOnClose: boolean;
  fsync: 'transaction' | 'interval';
  fsyncIntervalMs: number;
  /** Body bytes of recently put events kept decoded in memory. */
  cacheBytes: number;
  freeSpace: FreeSpaceProbe;
  logger: ChannelLogger;
}

interface Piece {
  seg: Segment;
  off: number;
  len: number;
  firstSeq: number;
  count: number;
  from: number;
  to: number;
  /** Body bytes of entries [from, to); -1 until read when recovery could not tell. */
  bytes: number;
  /** Decoded entries [from, to), when in memory. */
  events: FlumeEvent[] | undefined;
}

/** Events per read-ahead, in take batches. */
const READ_AHEAD_TAKES = 2;
/** Longest contiguous read. */
const MAX_READ_BYTES = 8 << 20;
/** A checkpoint to delete an emptied segment comes no sooner than this after the previous one. */
const MIN_CHECKPOINT_GAP_MS = 1000;
/** Per-event memory beyond the body, for the cache's accounting. */
const EVENT_OVERHEAD = 64;

export class FileStore implements ChannelStore {
  private log: SegmentLog | undefined;
  private releaseLocks: (() => void) | undefined;
  private readonly pieces: Piece[] = [];
  private head = 0;
  /** pieces[head, cursor) are all in memory; `ahead` events in them. */
  private cursor = 0;
  private ahead = 0;
  private reading = false;
  private readonly inFlight = new Set<FileTake>();
  private nextSeq = 0;
  private queued = 0;
  private queuedBytes = 0;
  private takenEvents = 0;
  private takenBytes = 0;
  private writingEvents = 0;
  private writingBytes = 0;
  private cached = 0;
  private committing = 0;
  private committed: Array<() => void> = [];
  private wakeWanted = false;
  private checkpointTimer: Subscription | undefined;
  private checkpointDue = Infinity;
  private checkpointing: Promise<void> | undefined;
  private lastCheckpointAt = -Infinity;
  private dirty = false;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly dirs: string[];

  constructor(
    private readonly opts: FileStoreOptions,
    private readonly metrics: ComponentCounters,
    private readonly hooks: StoreHooks,
  ) {
    this.dirs = [...new Set([path.resolve(opts.checkpointDir), ...opts.dataDirs.map((d) => path.resolve(d))])];
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen().catch((error: unknown) => {
      // A directory that cannot be read or written (EACCES, EROFS, …): say which channel and why.
      throw error instanceof FlumeError
        ? error
        : new ComponentError('FLUME_CHANNEL_IO', `${this.opts.name}: cannot open: ${describe(error)}`, { component: this.opts.name, retriable: false, cause: error });
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const { opts } = this;
    const started = Date.now();
    for (const dir of this.dirs) await fs.mkdir(dir, { recursive: true });
    try {
      this.releaseLocks = await acquireLocks(this.dirs, { logger: opts.logger });
    } catch (error) {
      if (error instanceof LockHeldError) {
        throw new ComponentError('FLUME_CHANNEL_IO', `${opts.name}: cannot open: ${error.message}`, { component: opts.name, retriable: false, cause: error });
      }
      throw error;
    }
    if (this.closing) return;
    const dataDirs = opts.dataDirs.map((d) => path.resolve(d));
    const recovered = await recover(dataDirs, path.resolve(opts.checkpointDir), opts.logger);
    const log = new SegmentLog(
      {
        dataDirs,
        checkpointDir: path.resolve(opts.checkpointDir),
        maxFileSize: opts.maxFileSize,
        fsync: opts.fsync,
        fsyncIntervalMs: opts.fsyncIntervalMs,
        minimumRequiredSpace: opts.minimumRequiredSpace,
        freeSpace: opts.freeSpace,
        logger: opts.logger,
      },
      recovered.segments,
      recovered.nextSegmentId,
    );
    this.log = log;
    log.afterGroup = () => this.afterGroup();
    this.nextSeq = recovered.nextSeq;
    const { report } = recovered;
    if (report.corruptRecords > 0) this.metrics.inc('CorruptRecordCount', report.corruptRecords);
    for (const p of recovered.pieces) {
      const seg = log.segments.get(p.seg)!;
      seg.live += p.to - p.from;
      this.pieces.push({ ...p, seg, events: undefined });
      this.queued += p.to - p.from;
    }
    // A take cut these frames: read them now to know their size (they are at the head: needed first anyway).
    for (const p of this.pieces) if (p.bytes < 0) await this.load([p]);
    for (const p of this.pieces) this.queuedBytes += p.bytes;
    this.advanceCursor();
    await log.probe();
    opts.logger(
      'info',
      `opened with ${this.queued} events in ${log.segments.size} segments in ${Date.now() - started} ms ` +
        `(${report.usedCheckpoint ? 'from its checkpoint' : 'no checkpoint'}, ${report.replayedFrames} records replayed` +
        `${report.corruptRecords ? `, ${report.corruptRecords} damaged records skipped` : ''}` +
        `${report.tornBytes ? `, ${report.tornBytes} torn bytes cut off` : ''})`,
    );
    this.dirty = report.replayedFrames > 0 || report.corruptRecords > 0 || report.tornBytes > 0;
    this.scheduleCheckpoint(this.dirty ? 0 : this.opts.checkpointIntervalMs);
  }

  neverFits(count: number, bytes: number): string | undefined {
    if (count > this.opts.capacity) return `capacity ${this.opts.capacity}`;
    if (this.opts.byteCapacity !== undefined && bytes > this.opts.byteCapacity) return `byteCapacity ${this.opts.byteCapacity}`;
    return undefined;
  }

  private used(): number {
    return this.queued + this.takenEvents + this.writingEvents;
  }

  private usedBytes(): number {
    return this.queuedBytes + this.takenBytes + this.writingBytes;
  }

  offer(put: StoredPut): boolean {
    const log = this.log!;
    const n = put.events.length;
    if (this.closing) return false;
    if (this.used() + n > this.opts.capacity) return false;
    if (this.opts.byteCapacity !== undefined && this.usedBytes() + put.bytes > this.opts.byteCapacity) return false;
    if (!log.spaceOk()) {
      const full = log.outOfSpace();
      put.batch.nack(
        full
          ? putError(this.opts.name, full)
          : new ChannelFullError(
              `${this.opts.name}: ${log.freeBytes()} bytes free, below minimumRequiredSpace ${this.opts.minimumRequiredSpace}; ` +
                'puts resume when space returns',
              { component: this.opts.name },
            ),
      );
      return true;
    }
    let frame: Buffer;
    try {
      frame = encodePut(put.events, this.nextSeq, putFrameSize(put.events));
    } catch (error) {
      put.batch.nack(new ComponentError('FLUME_BATCH_TOO_LARGE', `${this.opts.name}: ${describe(error)}`, { component: this.opts.name, retriable: false }));
      return true;
    }
    const firstSeq = this.nextSeq;
    this.nextSeq += n;
    this.writingEvents += n;
    this.writingBytes += put.bytes;
    this.dirty = true;
    log.append(frame, true, (error, seg, off) => {
      this.writingEvents -= n;
      this.writingBytes -= put.bytes;
      if (error) {
        this.metrics.inc('EventPutErrorCount', n);
        this.wakeWanted = true;
        put.batch.nack(putError(this.opts.name, error));
        return;
      }
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += put.events[i]!.body.length;
      const keep = this.cached + bytes + EVENT_OVERHEAD * n <= this.opts.cacheBytes;
      if (keep) this.cached += bytes + EVENT_OVERHEAD * n;
      seg.live += n;
      this.pieces.push({ seg, off, len: frame.length, firstSeq, count: n, from: 0, to: n, bytes, events: keep ? put.events : undefined });
      this.queued += n;
      this.queuedBytes += bytes;
      this.advanceCursor();
      this.metrics.inc('EventPutSuccessCount', n);
      this.wakeWanted = true;
      put.batch.ack();
    });
    return true;
  }

  private advanceCursor(): void {
    const pieces = this.pieces;
    while (this.cursor < pieces.length && pieces[this.cursor]!.events) {
      const p = pieces[this.cursor++]!;
      this.ahead += p.to - p.from;
    }
  }

  takeable(): boolean {
    if (this.ahead < READ_AHEAD_TAKES * this.opts.transactionCapacity) this.readAhead();
    return this.ahead > 0 && !this.closing;
  }

  /** Reads the next pieces not in memory, one contiguous stretch of one segment at a time. */
  private readAhead(): void {
    if (this.reading || this.closing || this.cursor >= this.pieces.length) return;
    const run: Piece[] = [this.pieces[this.cursor]!];
    const first = run[0]!;
    let start = first.off;
    let end = first.off + first.len;
    let events = first.to - first.from;
    for (let i = this.cursor + 1; i < this.pieces.length && events < READ_AHEAD_TAKES * this.opts.transactionCapacity; i++) {
      const p = this.pieces[i]!;
      if (p.events || p.seg !== first.seg) break;
      const s = Math.min(start, p.off);
      const e = Math.max(end, p.off + p.len);
      if (e - s > MAX_READ_BYTES) break;
      start = s;
      end = e;
      run.push(p);
      events += p.to - p.from;
    }
    this.reading = true;
    this.load(run).then(
      () => {
        this.reading = false;
        this.advanceCursor();
        this.hooks.wake();
      },
      (error: unknown) => {
        this.reading = false;
        this.hooks.fail(
          new ComponentError('FLUME_CHANNEL_IO', `${this.opts.name}: cannot read ${first.seg.path}: ${describe(error)}`, {
            component: this.opts.name,
            retriable: false,
            cause: error,
          }),
        );
      },
    );
  }

  /**
   * Reads and decodes pieces of one segment. A damaged entry is reported with its location and
   * dropped for good (recorded as taken, so its segment can still be deleted).
   */
  private async load(run: Piece[]): Promise<void> {
    const log = this.log!;
    let start = Infinity;
    let end = 0;
    for (const p of run) {
      start = Math.min(start, p.off);
      end = Math.max(end, p.off + p.len);
    }
    const buf = await log.read(run[0]!.seg, start, end - start);
    if (this.closing) return;
    for (const p of run) this.decode(p, buf, p.off - start);
  }

  private decode(p: Piece, buf: Buffer, at: number): void {
    const header = at + p.len <= buf.length ? readFrameHeader(buf, at, p.len) : undefined;
    const sound = typeof header === 'object' && header.length === p.len && header.firstSeq === p.firstSeq && header.count === p.count;
    const events: FlumeEvent[] = [];
    const damaged: number[] = [];
    let bytes = 0;
    for (let i = p.from; i < p.to; i++) {
      const bounds = sound ? entryBounds(buf, at, header, i) : undefined;
      const body = bounds ? checkEntry(buf, bounds[0], bounds[1]) : -1;
      if (body < 0) {
        damaged.push(i);
        this.opts.logger(
          'warn',
          `skipped a damaged event (sequence ${p.firstSeq + i}) at ${p.seg.path}@${bounds ? p.off + (bounds[0] - at) : p.off}` +
            (sound ? '' : ' (its record header is damaged)'),
        );
        continue;
      }
      events.push(decodeEntry(buf, bounds![0], bounds![1]));
      bytes += body;
    }
    const wasKnown = p.bytes >= 0;
    if (damaged.length === 0) {
      p.events = events;
      if (!wasKnown) p.bytes = bytes;
      this.cached += bytes + EVENT_OVERHEAD * events.length;
      return;
    }
    // Split around the damaged entries; they leave the channel for good.
    this.metrics.inc('CorruptRecordCount', damaged.length);
    const parts: Piece[] = [];
    let k = 0;
    let runFrom = -1;
    for (let i = p.from; i <= p.to; i++) {
      const bad = i === p.to || damaged.includes(i);
      if (!bad && runFrom < 0) runFrom = i;
      if (bad && runFrom >= 0) {
        const evs = events.slice(k, k + (i - runFrom));
        k += i - runFrom;
        let b = 0;
        for (const e of evs) b += e.body.length;
        parts.push({ ...p, from: runFrom, to: i, bytes: b, events: evs });
        runFrom = -1;
      }
    }
    const index = this.pieces.indexOf(p, this.head);
    if (index >= 0) this.pieces.splice(index, 1, ...parts);
    this.cached += bytes + EVENT_OVERHEAD * events.length;
    p.seg.live -= damaged.length;
    this.queued -= damaged.length;
    if (wasKnown) this.queuedBytes -= p.bytes - bytes;
    const ranges: number[] = [];
    for (const i of damaged) ranges.push(p.firstSeq + i, 1);
    this.dirty = true;
    const frame = encodeTake(ranges);
    this.log!.append(frame, false, (error, seg, off) => {
      if (error) this.opts.logger('warn', `cannot record dropping the damaged events: ${describe(error)}`);
      else seg.takesEnd = Math.max(seg.takesEnd, off + frame.length);
    });
  }

  take(max: number): StoreTake {
    const taken: Piece[] = [];
    let events: FlumeEvent[] | undefined;
    let merged = false;
    let n = 0;
    let bytes = 0;
    while (n < max && this.head < this.cursor) {
      const p = this.pieces[this.head]!;
      const avail = p.to - p.from;
      let piece: Piece;
      if (avail <= max - n) {
        piece = p;
        this.pieces[this.head++] = undefined as unknown as Piece;
      } else {
        const k = max - n;
        const part = p.events!.slice(0, k);
        let b = 0;
        for (const e of part) b += e.body.length;
        piece = { ...p, to: p.from + k, bytes: b, events: part };
        p.from += k;
        p.bytes -= b;
        p.events = p.events!.slice(k);
      }
      const m = piece.to - piece.from;
      if (events === undefined) events = piece.events!;
      else {
        // Copy once into a fresh array, then append: never concat per piece (quadratic for small puts).
        if (!merged) {
          events = events.slice();
          merged = true;
        }
        for (const e of piece.events!) events.push(e);
      }
      taken.push(piece);
      n += m;
      bytes += piece.bytes;
    }
    this.compact();
    this.ahead -= n;
    this.queued -= n;
    this.queuedBytes -= bytes;
    this.takenEvents += n;
    this.takenBytes += bytes;
    this.cached = Math.max(0, this.cached - bytes - EVENT_OVERHEAD * n);
    const take = new FileTake(this, taken, events ?? [], bytes);
    this.inFlight.add(take);
    return take;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.pieces.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
  }

  /** @internal The sink acked: record the take, then release its room. */
  commitTake(take: FileTake, done: () => void): void {
    if (this.closing) return;
    const ranges: number[] = [];
    for (const p of take.pieces) {
      const from = p.firstSeq + p.from;
      const count = p.to - p.from;
      const last = ranges.length - 2;
      if (last >= 0 && ranges[last]! + ranges[last + 1]! === from) ranges[last + 1]! += count;
      else ranges.push(from, count);
    }
    this.committing++;
    this.dirty = true;
    const frame = encodeTake(ranges);
    this.log!.append(frame, false, (error, seg, off) => {
      this.committing--;
      if (error) {
        // The sink has the events; only a crash before the next checkpoint could deliver them again.
        this.metrics.inc('EventTakeErrorCount', take.events.length);
        this.opts.logger('warn', `cannot record a take commit (${describe(error)}); a crash before the next checkpoint may deliver those events again`);
      } else {
        seg.takesEnd = Math.max(seg.takesEnd, off + frame.length);
      }
      let emptied = false;
      for (const p of take.pieces) {
        p.seg.live -= p.to - p.from;
        if (p.seg.live === 0 && !p.seg.active) emptied = true;
      }
      this.release(take);
      if (emptied) this.checkpointSoon();
      this.committed.push(done);
    });
  }

  /** @internal The sink nacked: back to the head, in order. */
  rollbackTake(take: FileTake): void {
    if (this.closing) return;
    this.release(take);
    for (let i = take.pieces.length - 1; i >= 0; i--) {
      const p = take.pieces[i]!;
      if (this.head > 0) this.pieces[--this.head] = p;
      else {
        this.pieces.unshift(p);
        this.cursor++;
      }
    }
    const n = take.events.length;
    this.ahead += n;
    this.queued += n;
    this.queuedBytes += take.bytes;
    this.cached += take.bytes + EVENT_OVERHEAD * n;
  }

  /** After a group's callbacks: the shell learns of its commits and puts at once, in one drain. */
  private afterGroup(): void {
    const committed = this.committed;
    if (committed.length > 0) this.committed = [];
    for (const done of committed) done();
    if (this.wakeWanted) {
      this.wakeWanted = false;
      this.hooks.wake();
    }
  }

  private release(take: FileTake): void {
    this.inFlight.delete(take);
    this.takenEvents -= take.events.length;
    this.takenBytes -= take.bytes;
  }

  size(): number {
    return this.queued;
  }

  describeFull(put: StoredPut): string {
    const log = this.log;
    if (log?.outOfSpace()) return `the disk is full (${describe(log.outOfSpace())})`;
    if (log && !log.spaceOk()) return `less than minimumRequiredSpace ${this.opts.minimumRequiredSpace} bytes free`;
    return (
      `capacity ${this.opts.capacity} events${this.opts.byteCapacity !== undefined ? ` / ${this.opts.byteCapacity} bytes` : ''}, ` +
      `holding ${this.used()} events / ${this.usedBytes()} bytes (put of ${put.events.length}); sinks are not keeping up or the channel is too small`
    );
  }

  idle(): boolean {
    return this.queued === 0 && this.takenEvents === 0 && this.writingEvents === 0 && this.committing === 0;
  }

  /** (Re)arms the checkpoint timer, unless it is already due sooner. */
  private scheduleCheckpoint(delayMs: number): void {
    if (this.closing) return;
    const due = asyncScheduler.now() + delayMs;
    if (this.checkpointTimer && this.checkpointDue <= due) return;
    this.checkpointTimer?.unsubscribe();
    this.checkpointDue = due;
    this.checkpointTimer = asyncScheduler.schedule(() => {
      this.checkpointTimer = undefined;
      void this.checkpoint().then(() => this.scheduleCheckpoint(this.opts.checkpointIntervalMs));
    }, delayMs);
  }

  /** Soon after a segment emptied, so its disk space returns without waiting a whole interval. */
  private checkpointSoon(): void {
    const gap = Math.min(MIN_CHECKPOINT_GAP_MS, this.opts.checkpointIntervalMs);
    this.scheduleCheckpoint(Math.max(0, this.lastCheckpointAt + gap - asyncScheduler.now()));
  }

  /** Writes a checkpoint when anything changed, then deletes the segments it left with nothing live. */
  checkpoint(): Promise<void> {
    if (this.checkpointing) return this.checkpointing;
    if (!this.log || !this.dirty) return Promise.resolve();
    this.checkpointing = this.writeCheckpointNow().finally(() => (this.checkpointing = undefined));
    return this.checkpointing;
  }

  private async writeCheckpointNow(): Promise<void> {
    const log = this.log!;
    // Out of space: free what was taken first, so that the checkpoint has room.
    if (log.outOfSpace()) await this.freeTaken();
    if (await this.tryCheckpoint()) return;
    // It failed for want of space: free what was taken without it, then try once more.
    if (log.outOfSpace() && (await this.freeTaken()) > 0) await this.tryCheckpoint();
  }

  /**
   * Frees the space of segments whose events were all taken, without a checkpoint (which may not fit):
   * a segment qualifies when the last checkpoint written saw every take recorded in it, so that a
   * restart from that checkpoint needs nothing the segment holds. Returns how many were freed.
   */
  private async freeTaken(): Promise<number> {
    const log = this.log!;
    let freed = 0;
    for (const seg of [...log.segments.values()]) {
      if (seg.live !== 0 || seg.active || seg.size === 0 || seg.takesEnd > seg.checkpointed) continue;
      try {
        await log.empty(seg);
        freed++;
      } catch (error) {
        this.opts.logger('warn', `cannot free ${seg.path}: ${describe(error)}`);
      }
    }
    if (freed > 0) {
      this.opts.logger('info', `freed ${freed} emptied segments without a checkpoint (the disk is full)`);
      crashPoint('segments-freed');
    }
    return freed;
  }

  /** Writes a checkpoint and deletes the segments it left with nothing live; false when it could not be written. */
  private async tryCheckpoint(): Promise<boolean> {
    const log = this.log!;
    this.dirty = false;
    this.lastCheckpointAt = asyncScheduler.now();
    // The snapshot is taken at once: it agrees with the segments' written sizes at this moment.
    const covered = [...log.segments.values()].map((s) => ({ id: s.id, size: log.covered(s) }));
    const deletable = [...log.segments.values()].filter((s) => s.live === 0 && !s.active);
    const live: Piece[] = [];
    for (let i = this.head; i < this.pieces.length; i++) live.push(this.pieces[i]!);
    for (const take of this.inFlight) for (const p of take.pieces) live.push(p);
    const buf = encodeCheckpoint({ nextSeq: this.nextSeq, nextSegmentId: log.nextSegmentId, covered }, live.length, (visit) => {
      for (const p of live) visit(pointer(p));
    });
    try {
      if (this.opts.fsync === 'interval') await new Promise<void>((resolve) => log.sync(resolve));
      await writeCheckpoint(path.resolve(this.opts.checkpointDir), buf);
    } catch (error) {
      this.dirty = true;
      this.metrics.inc('CheckpointWriteErrorCount');
      this.opts.logger('warn', `cannot write the checkpoint: ${describe(error)}`);
      log.checkSpace(error);
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
        this.opts.logger('warn', `cannot delete ${seg.path}: ${describe(error)}`);
        continue;
      }
      if (++removed === 1 && deletable.length > 1) crashPoint('segment-deleted');
    }
    return true;
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.doClose();
      markClosing(this.dirs, this.closing);
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.checkpointTimer?.unsubscribe();
    try {
      await this.opening?.catch(() => undefined);
      const log = this.log;
      if (!log) return;
      await log.idle();
      await this.checkpointing;
      await log.retire();
      if (this.opts.checkpointOnClose) {
        // Once more with everything settled: the next open replays nothing.
        this.dirty = true;
        await this.writeCheckpointNow();
      }
      await log.close();
    } catch (error) {
      this.opts.logger('error', `closing failed: ${describe(error)}`);
      throw error;
    } finally {
      this.releaseLocks?.();
      this.releaseLocks = undefined;
    }
  }
}

class FileTake implements StoreTake {
  constructor(
    private readonly store: FileStore,
    readonly pieces: readonly Piece[],
    readonly events: FlumeEvent[],
    readonly bytes: number,
  ) {}

  commit(done: () => void): void {
    this.store.commitTake(this, done);
  }

  rollback(): void {
    this.store.rollbackTake(this);
  }
}

function pointer(p: Piece): PiecePointer {
  return { seg: p.seg.id, off: p.off, len: p.len, firstSeq: p.firstSeq, count: p.count, from: p.from, to: p.to, bytes: p.bytes };
}

const SPACE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

function putError(name: string, error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && SPACE_CODES.has(code)) {
    return new ChannelFullError(`${name}: the disk is full (${code}); nothing stored was harmed, puts resume when space returns`, { component: name, cause: error });
  }
  return new ComponentError('FLUME_CHANNEL_IO', `${name}: the put could not be written (${describe(error)}); it may be retried`, {
    component: name,
    retriable: true,
    cause: error,
  });
}
