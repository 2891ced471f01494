/**
 * The store of the file channel (and of the spillable channel's overflow): the queue of live events
 * over the durable log. Every live event is known by a pointer (a piece of a put frame); recently put
 * events also stay decoded in memory up to `cacheBytes`, and the head is read back ahead of the sink,
 * so a sink that keeps up never waits for the disk.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ChannelFullError, ComponentError, describeError, FlumeError } from '../../lib/core/errors.js';
import type { ChannelStore, StoreHooks, StorePut, StoreTake } from './channelEngine.js';
import { Checkpointer } from './durableLog/checkpointer.js';
import { encodePut, encodeTake, putFrameSize } from './durableLog/format.js';
import { acquireLocks, LockHeldError, markClosing } from './durableLog/lock.js';
import { refuseFlumeStore } from './durableLog/refuseFlumeStore.js';
import type { ResolvedLogOptions } from './durableLog/options.js';
import { PieceQueue, type TakenPieces } from './durableLog/pieceQueue.js';
import { decodePiece, splitAround, type Piece } from './durableLog/pieces.js';
import { recover } from './durableLog/recovery.js';
import { SegmentLog } from './durableLog/segmentLog.js';
import { NO_SPACE_CODES } from './durableLog/spaceGuard.js';

export interface FileStoreOptions extends ResolvedLogOptions {
  name: string;
  capacity: number;
  byteCapacity?: number | undefined;
  transactionCapacity: number;
  /** Body bytes of recently put events kept decoded in memory. */
  cacheBytes: number;
}

export type FileTake = StoreTake & TakenPieces;

/** Events per read-ahead, in take batches. */
const READ_AHEAD_TAKES = 2;
/** Longest contiguous read. */
const MAX_READ_BYTES = 8 << 20;
/** Per-event memory beyond the body, for the cache's accounting. */
const EVENT_OVERHEAD = 64;

export class FileStore implements ChannelStore<FileTake> {
  private log: SegmentLog | undefined;
  private checkpointer: Checkpointer | undefined;
  private releaseLocks: (() => void) | undefined;
  private readonly queue = new PieceQueue();
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
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly dirs: string[];

  constructor(
    private readonly opts: FileStoreOptions,
    private readonly hooks: StoreHooks,
  ) {
    this.dirs = [...new Set([path.resolve(opts.checkpointDir), ...opts.dataDirs.map((d) => path.resolve(d))])];
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen().catch((error: unknown) => {
      // A directory that cannot be read or written (EACCES, EROFS, …): say which channel and why.
      throw error instanceof FlumeError
        ? error
        : new ComponentError('FLUME_CHANNEL_IO', `${this.opts.name}: cannot open: ${describeError(error)}`, { component: this.opts.name, retriable: false, cause: error });
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const { opts } = this;
    const started = Date.now();
    // Before anything is created or locked there: Flume's own lock file and segments stay as they are.
    await refuseFlumeStore(opts.name, opts.checkpointDir, opts.dataDirs);
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
    const checkpointDir = path.resolve(opts.checkpointDir);
    const recovered = await recover(dataDirs, checkpointDir, opts.logger);
    const log = new SegmentLog({ ...opts, dataDirs, checkpointDir }, recovered.segments, recovered.nextSegmentId);
    this.log = log;
    log.afterGroup = () => this.afterGroup();
    this.checkpointer = new Checkpointer(log, { ...opts, checkpointDir }, this.hooks.metrics, () => ({ nextSeq: this.nextSeq, pieces: this.livePieces() }));
    this.nextSeq = recovered.nextSeq;
    const { report } = recovered;
    if (report.corruptRecords > 0) this.hooks.metrics.inc('CorruptRecordCount', report.corruptRecords);
    for (const p of recovered.pieces) {
      const seg = log.segments.get(p.seg)!;
      seg.live += p.to - p.from;
      this.queue.push({ ...p, seg, events: undefined });
      this.queued += p.to - p.from;
    }
    // A take cut these frames: read them now to know their size (they are at the head: needed first anyway).
    for (const p of this.queue.all()) if (p.bytes < 0) await this.load([p]);
    for (const p of this.queue.all()) this.queuedBytes += p.bytes;
    this.queue.advance();
    await log.space.probe();
    opts.logger(
      'info',
      `opened with ${this.queued} events in ${log.segments.size} segments in ${Date.now() - started} ms ` +
        `(${report.usedCheckpoint ? 'from its checkpoint' : 'no checkpoint'}, ${report.replayedFrames} records replayed` +
        `${report.corruptRecords ? `, ${report.corruptRecords} damaged records skipped` : ''}` +
        `${report.tornBytes ? `, ${report.tornBytes} torn bytes cut off` : ''})`,
    );
    const dirty = report.replayedFrames > 0 || report.corruptRecords > 0 || report.tornBytes > 0;
    if (dirty) this.checkpointer.touch();
    if (!this.closing) this.checkpointer.schedule(dirty ? 0 : opts.checkpointIntervalMs);
  }

  /** Every live piece, stored or taken: what a checkpoint records. */
  private livePieces(): Piece[] {
    const live = this.queue.all();
    for (const take of this.inFlight) for (const p of take.pieces) live.push(p);
    return live;
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

  offer(put: StorePut): boolean {
    const log = this.log!;
    const n = put.events.length;
    if (this.closing) return false;
    if (this.used() + n > this.opts.capacity) return false;
    if (this.opts.byteCapacity !== undefined && this.usedBytes() + put.bytes > this.opts.byteCapacity) return false;
    if (!log.space.ok()) {
      const full = log.space.outOfSpace();
      this.hooks.settled(
        put,
        full
          ? putError(this.opts.name, full)
          : new ChannelFullError(
              `${this.opts.name}: ${log.space.freeBytes()} bytes free, below minimumRequiredSpace ${this.opts.minimumRequiredSpace}; ` +
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
      this.hooks.settled(put, new ComponentError('FLUME_BATCH_TOO_LARGE', `${this.opts.name}: ${describeError(error)}`, { component: this.opts.name, retriable: false }));
      return true;
    }
    const firstSeq = this.nextSeq;
    this.nextSeq += n;
    this.writingEvents += n;
    this.writingBytes += put.bytes;
    this.checkpointer!.touch();
    log.append(frame, true, (error, seg, off) => {
      this.writingEvents -= n;
      this.writingBytes -= put.bytes;
      this.wakeWanted = true;
      if (error) {
        this.hooks.metrics.inc('EventPutErrorCount', n);
        this.hooks.settled(put, putError(this.opts.name, error));
        return;
      }
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += put.events[i]!.body.length;
      const keep = this.cached + bytes + EVENT_OVERHEAD * n <= this.opts.cacheBytes;
      if (keep) this.cached += bytes + EVENT_OVERHEAD * n;
      seg.live += n;
      this.queue.push({ seg, off, len: frame.length, firstSeq, count: n, from: 0, to: n, bytes, events: keep ? put.events : undefined });
      this.queued += n;
      this.queuedBytes += bytes;
      this.hooks.settled(put);
    });
    return true;
  }

  /** Reads the next pieces not in memory, one contiguous stretch of one segment at a time. */
  private readAhead(): void {
    if (this.reading || this.closing) return;
    const run = this.queue.nextRun(READ_AHEAD_TAKES * this.opts.transactionCapacity, MAX_READ_BYTES);
    if (!run) return;
    const first = run[0]!;
    this.reading = true;
    this.load(run).then(
      () => {
        this.reading = false;
        this.queue.advance();
        this.hooks.wake();
      },
      (error: unknown) => {
        this.reading = false;
        this.hooks.fail(
          new ComponentError('FLUME_CHANNEL_IO', `${this.opts.name}: cannot read ${first.seg.path}: ${describeError(error)}`, {
            component: this.opts.name,
            retriable: false,
            cause: error,
          }),
        );
      },
    );
  }

  /** Reads and decodes pieces of one segment. */
  private async load(run: Piece[]): Promise<void> {
    let start = Infinity;
    let end = 0;
    for (const p of run) {
      start = Math.min(start, p.off);
      end = Math.max(end, p.off + p.len);
    }
    const buf = await this.log!.read(run[0]!.seg, start, end - start);
    if (this.closing) return;
    for (const p of run) this.decode(p, buf, p.off - start);
  }

  /** Brings a piece into memory. A damaged entry is dropped for good: recorded as taken, so its segment can still be deleted. */
  private decode(p: Piece, buf: Buffer, at: number): void {
    const { events, bytes, damaged } = decodePiece(p, buf, at, (message) => this.opts.logger('warn', message));
    const wasKnown = p.bytes >= 0;
    this.cached += bytes + EVENT_OVERHEAD * events.length;
    if (damaged.length === 0) {
      p.events = events;
      if (!wasKnown) p.bytes = bytes;
      return;
    }
    this.hooks.metrics.inc('CorruptRecordCount', damaged.length);
    this.queue.replace(p, splitAround(p, events, damaged));
    p.seg.live -= damaged.length;
    this.queued -= damaged.length;
    if (wasKnown) this.queuedBytes -= p.bytes - bytes;
    const ranges: number[] = [];
    for (const i of damaged) ranges.push(p.firstSeq + i, 1);
    this.checkpointer!.touch();
    const frame = encodeTake(ranges);
    this.log!.append(frame, false, (error, seg, off) => {
      if (error) this.opts.logger('warn', `cannot record dropping the damaged events: ${describeError(error)}`);
      else seg.takesEnd = Math.max(seg.takesEnd, off + frame.length);
    });
  }

  take(max: number): FileTake | undefined {
    if (this.queue.ahead < READ_AHEAD_TAKES * this.opts.transactionCapacity) this.readAhead();
    if (this.queue.ahead === 0 || this.closing) return undefined;
    const take = this.queue.take(max);
    const n = take.events.length;
    this.queued -= n;
    this.queuedBytes -= take.bytes;
    this.takenEvents += n;
    this.takenBytes += take.bytes;
    this.cached = Math.max(0, this.cached - take.bytes - EVENT_OVERHEAD * n);
    this.inFlight.add(take);
    return take;
  }

  /** The sink acked: record the take, then release its room. */
  commit(take: FileTake, done: () => void): void {
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
    this.checkpointer!.touch();
    const frame = encodeTake(ranges);
    this.log!.append(frame, false, (error, seg, off) => {
      this.committing--;
      if (error) {
        // The sink has the events; only a crash before the next checkpoint could deliver them again.
        this.hooks.metrics.inc('EventTakeErrorCount', take.events.length);
        this.opts.logger('warn', `cannot record a take commit (${describeError(error)}); a crash before the next checkpoint may deliver those events again`);
      } else {
        seg.takesEnd = Math.max(seg.takesEnd, off + frame.length);
      }
      let emptied = false;
      for (const p of take.pieces) {
        p.seg.live -= p.to - p.from;
        if (p.seg.live === 0 && !p.seg.active) emptied = true;
      }
      this.release(take);
      if (emptied) this.checkpointer!.soon();
      this.committed.push(done);
    });
  }

  /** The sink nacked: back to the head, in order. */
  rollback(take: FileTake): void {
    if (this.closing) return;
    this.release(take);
    this.queue.unshift(take.pieces);
    const n = take.events.length;
    this.queued += n;
    this.queuedBytes += take.bytes;
    this.cached += take.bytes + EVENT_OVERHEAD * n;
  }

  /** After a group's callbacks: the engine learns of its commits and puts at once, in one drain. */
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

  describeFull(put: StorePut): string {
    const space = this.log?.space;
    if (space?.outOfSpace()) return `the disk is full (${describeError(space.outOfSpace())})`;
    if (space && !space.ok()) return `less than minimumRequiredSpace ${this.opts.minimumRequiredSpace} bytes free`;
    return (
      `capacity ${this.opts.capacity} events${this.opts.byteCapacity !== undefined ? ` / ${this.opts.byteCapacity} bytes` : ''}, ` +
      `holding ${this.used()} events / ${this.usedBytes()} bytes (put of ${put.events.length}); sinks are not keeping up or the channel is too small`
    );
  }

  /** Nothing stored, taken, or being written (the spillable channel spills while it is not). */
  idle(): boolean {
    return this.queued === 0 && this.takenEvents === 0 && this.writingEvents === 0 && this.committing === 0;
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.doClose();
      markClosing(this.dirs, this.closing);
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // Stops timed checkpoints at once; one under way is waited for below.
    const stopping = this.checkpointer?.stop();
    try {
      await this.opening?.catch(() => undefined);
      const log = this.log;
      if (!log) return;
      await log.idle();
      await (stopping ?? this.checkpointer!.stop());
      await log.retire();
      if (this.opts.checkpointOnClose) await this.checkpointer!.final();
      await log.close();
    } catch (error) {
      this.opts.logger('error', `closing failed: ${describeError(error)}`);
      throw error;
    } finally {
      this.releaseLocks?.();
      this.releaseLocks = undefined;
    }
  }
}

function putError(name: string, error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && (NO_SPACE_CODES.has(code) || code === 'EFBIG')) {
    return new ChannelFullError(`${name}: the disk is full (${code}); nothing stored was harmed, puts resume when space returns`, { component: name, cause: error });
  }
  return new ComponentError('FLUME_CHANNEL_IO', `${name}: the put could not be written (${describeError(error)}); it may be retried`, {
    component: name,
    retriable: true,
    cause: error,
  });
}
