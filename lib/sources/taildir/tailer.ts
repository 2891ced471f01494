import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { asyncScheduler, interval, type Subscription } from 'rxjs';
import { backoffDelay, backoffOf } from '../../core/backoff.js';
import { ComponentError } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import type { ComponentLogger } from '../../core/log.js';
import type { ComponentCounters } from '../../core/metrics.js';
import type { PolledBatch, PollResult } from '../../core/pollSource.js';
import { GroupMatcher, type FileGroup } from './fileGroups.js';
import { DirectoryWatchers } from './directoryWatchers.js';
import { FileEvents, type FileEventsOptions } from './fileEvents.js';
import type { LineScannerOptions } from './lineScanner.js';
import { PositionWriter, readPositionFile, type PositionEntry } from './positionFile.js';
import { TailFile } from './tailFile.js';

export interface TailerOptions extends FileEventsOptions {
  name: string;
  groups: readonly FileGroup[];
  positionFile: string;
  maxBatchCount: number;
  skipToEnd: boolean;
  idleTimeoutMs: number;
  writePosIntervalMs: number;
  cachePatternMatching: boolean;
  flushOnIdle: boolean;
  scanIntervalMs: number;
  backoffSleepIncrementMs: number;
  maxBackoffSleepMs: number;
  lines: LineScannerOptions;
  log: ComponentLogger;
}

export { BYTE_OFFSET_HEADER } from './fileEvents.js';

const never = new Promise<never>(() => undefined);

/**
 * The reading side of one taildirSource subscription: discovers files, reads them in chunks into
 * batches of one file each, checkpoints acked batches in order and writes the position file. Its
 * `poll` is driven by `pollSource`, so it only reads while fewer than `maxInFlight` batches are
 * unsettled. One `poll` runs at a time: scans and reads never overlap.
 */
export class Tailer {
  private readonly files = new Map<number, TailFile>();
  private readonly matchers: GroupMatcher[];
  private readonly watchers = new DirectoryWatchers(() => this.hint());
  private readonly subscriptions: Subscription[] = [];
  /** Rolled-back batches, re-sent first with the same events (and so the same offsets). */
  private readonly retries: PolledBatch[] = [];
  /** Partial last lines of files being closed. */
  private readonly flushed: PolledBatch[] = [];
  private started = false;
  private closed = false;
  private current: TailFile | undefined;
  private batchCount = 0;
  private hinted = false;
  private wake: (() => void) | undefined;
  private lastScan = -Infinity;
  private readonly positions: PositionWriter;
  private readonly lines: FileEvents;

  constructor(
    private readonly opts: TailerOptions,
    private readonly metrics: ComponentCounters,
  ) {
    this.matchers = opts.groups.map((g) => new GroupMatcher(g, opts.cachePatternMatching));
    this.lines = new FileEvents(opts, metrics, (file) => this.truncate(file), () => this.now());
    this.positions = new PositionWriter(
      opts.positionFile,
      opts.writePosIntervalMs,
      () => [...this.files.values()].map((f) => ({ inode: f.ino, pos: f.committed, file: f.path })),
      {
        failed: (error, failures) => {
          metrics.inc('PositionWriteFail');
          if (failures > 1) return; // one line per outage, the counter says how long it lasts
          const e = error as NodeJS.ErrnoException;
          opts.log(
            'warn',
            `position file ${opts.positionFile} cannot be written (${e.code ?? e.message ?? String(error)}): tailing goes on, ` +
              'positions are kept in memory and written as soon as it works again; a crash meanwhile re-sends what was acked since the last write',
          );
        },
        recovered: (failures) => opts.log('info', `position file ${opts.positionFile} written again after ${failures} failed attempts`),
      },
      // Positions changed nowhere else while a sync write keeps failing: retried on Flume's back-off.
      (n) => Math.max(50, backoffDelay(backoffOf(opts), n)),
    );
  }

  readonly poll = (): PollResult | Promise<PollResult> => {
    if (this.retries.length > 0) return this.retries.shift()!;
    if (this.flushed.length > 0) return this.flushed.shift()!;
    const file = this.current;
    if (file && file.buffered && file.fd !== undefined && this.batchCount < this.opts.maxBatchCount) {
      // Lines left in the last chunk: a full batch needs no I/O.
      const events: FlumeEvent[] = [];
      this.lines.collect(file, events);
      if (events.length === this.opts.batchSize) return this.batch(file, events);
      return this.next(file, events);
    }
    return this.next(undefined, []);
  };

  /** Wakes a waiting poll: a directory changed (fs.watch), or the scan interval passed. */
  hint(): void {
    this.hinted = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscriptions) s.unsubscribe();
    this.watchers.close();
    for (const f of this.files.values()) f.closeSync();
    this.metrics.set('OpenFileCount', 0);
    this.positions.close();
  }

  private async next(file: TailFile | undefined, events: FlumeEvent[]): Promise<PollResult> {
    if (!this.started) await this.start();
    if (file) {
      await this.lines.fill(file, events, () => this.closed);
      if (events.length > 0) return this.batch(file, events);
    }
    for (;;) {
      if (this.closed) return never;
      if (this.hinted && (this.now() - this.lastScan >= this.opts.scanIntervalMs || !this.anyReadable())) await this.scan();
      if (this.retries.length > 0) return this.retries.shift()!;
      if (this.flushed.length > 0) return this.flushed.shift()!;
      const next = this.pick();
      if (next) {
        const more: FlumeEvent[] = [];
        await this.lines.fill(next, more, () => this.closed);
        if (more.length > 0) return this.batch(next, more);
        continue;
      }
      if (!this.hinted) await new Promise<void>((resolve) => (this.wake = resolve));
      if (this.closed) return never;
      await this.scan();
    }
  }

  private async start(): Promise<void> {
    let positions: PositionEntry[];
    try {
      positions = readPositionFile(this.opts.positionFile);
    } catch (error) {
      throw this.fatal(`cannot read position file ${this.opts.positionFile}: ${(error as Error).message}`, error);
    }
    for (const m of this.matchers) {
      try {
        await stat(m.group.dir);
      } catch (error) {
        throw this.fatal(`directory ${m.group.dir} of file group ${m.group.name} does not exist or is unreadable`, error);
      }
    }
    const byInode = new Map(positions.map((p) => [p.inode, p]));
    // Watched before the first listing: a file arriving after it and before a later watch would wait for
    // the periodic scan (scanIntervalMs) — seen as a 1 s delay of a file moved in just after the start.
    this.watchDirectories();
    await this.scan(byInode);
    await this.adoptRotated(byInode);
    if (this.closed) {
      this.watchers.close(); // unsubscribed meanwhile: nothing stays set up
      return;
    }
    this.started = true;
    this.subscriptions.push(interval(this.opts.scanIntervalMs, asyncScheduler).subscribe(() => this.hint()));
    this.positions.start();
  }

  /**
   * Lists every group, follows inodes to their current paths, opens new files, notices truncation,
   * renames away and deletions, and closes idle files. `startup` holds the position file's entries
   * on the first scan: only then do `skipToEnd` and the stored positions apply.
   */
  private async scan(startup?: Map<number, PositionEntry>): Promise<void> {
    this.hinted = false;
    this.lastScan = this.now();
    const seen = new Set<TailFile>();
    for (const m of this.matchers) {
      let paths: string[];
      try {
        paths = await m.list();
      } catch {
        paths = []; // the directory went away: its files become orphans, read to their end
      }
      for (const path of paths) {
        if (this.closed) return; // unsubscribed during the scan
        if (this.isPositionFile(path)) continue;
        let st: Stats;
        try {
          st = await stat(path);
        } catch {
          continue; // gone between the listing and the stat
        }
        if (st.isDirectory()) continue;
        let file = this.files.get(st.ino);
        // The same inode twice (a hard link, two groups) is read once; a released file is on its way out.
        if (file && (seen.has(file) || file.released)) continue;
        seen.add(file ?? (file = this.track(st, path, m.group, this.startPosition(st, startup))));
        if (file.path !== path || !file.matched) {
          // Renamed to another matching name, or back. A scan that listed the directory just before the
          // rename and stat'ed just after saw the file leave and counted it then.
          if (!file.leftCounted) this.metrics.inc('FileRotatedCount');
          file.path = path;
          file.group = m.group;
          file.matched = true;
        }
        file.leftCounted = false;
        file.failed = false;
        file.size = st.size;
        file.mtimeMs = st.mtimeMs;
        if (st.size < file.scanner.readOffset) this.truncate(file);
        // Open new files at once (a rename must find them open); closed idle ones once they grew.
        if (file.fd === undefined && (file.unread || file.isNew)) await this.open(file);
        file.isNew = false;
      }
      if (!this.watchers.has(m.group.dir) && this.started) this.watchDirectories();
    }
    for (const file of this.files.values()) {
      if (this.closed) return;
      if (seen.has(file) || file.released) continue;
      const left = file.matched;
      file.matched = false;
      file.failed = false;
      await this.refresh(file);
      if (file.fd === undefined) {
        const found = await this.follow(file);
        if (left) this.metrics.inc(found ? 'FileRotatedCount' : 'FileDeletedCount');
        file.leftCounted = left && found;
        if (!(found && file.unread && (await this.open(file)))) this.release(file);
      } else if (left) {
        this.metrics.inc(file.deleted ? 'FileDeletedCount' : 'FileRotatedCount');
        file.leftCounted = !file.deleted;
      }
    }
    this.closeIdle();
    this.gauge();
  }

  /** Where a newly found file starts: its stored position, else its end with skipToEnd at startup, else 0. */
  private startPosition(st: Stats, startup: Map<number, PositionEntry> | undefined): number {
    if (!startup) return 0;
    const entry = startup.get(st.ino);
    if (entry) {
      startup.delete(st.ino);
      return entry.pos <= st.size ? entry.pos : 0; // shrank while we were away: it was truncated
    }
    return this.opts.skipToEnd ? st.size : 0;
  }

  /**
   * Stored positions whose inode no longer has a matching name were rotated while we were stopped:
   * find them under their new name in the group's directory and read them to their end.
   */
  private async adoptRotated(left: Map<number, PositionEntry>): Promise<void> {
    if (left.size === 0) return;
    for (const m of this.matchers) {
      let paths: string[];
      try {
        paths = await m.others();
      } catch {
        continue;
      }
      for (const path of paths) {
        if (this.closed) return;
        const st = await stat(path).catch(() => undefined);
        const entry = st && left.get(st.ino);
        if (!st || !entry || this.files.has(st.ino) || st.size < entry.pos) continue;
        left.delete(st.ino);
        const file = this.track(st, path, m.group, entry.pos);
        file.matched = false;
        file.isNew = false;
        await this.open(file);
      }
    }
  }

  /** A closed file that left its matching name: find it again in its directory and open it if it grew. */
  private async follow(file: TailFile): Promise<boolean> {
    const m = this.matchers.find((x) => x.group === file.group);
    const paths = m ? await m.others().catch(() => [] as string[]) : [];
    for (const path of paths) {
      const st = await stat(path).catch(() => undefined);
      if (!st || st.ino !== file.ino) continue;
      file.path = path;
      file.size = st.size;
      if (st.size < file.scanner.readOffset) this.truncate(file);
      return true;
    }
    return false;
  }

  private track(st: Stats, path: string, group: FileGroup, position: number): TailFile {
    const file = new TailFile(st.ino, path, group, position, this.opts.lines, this.now());
    file.size = st.size;
    file.mtimeMs = st.mtimeMs;
    this.files.set(st.ino, file);
    this.positions.changed();
    return file;
  }

  private async open(file: TailFile): Promise<boolean> {
    try {
      if (await file.open()) {
        if (this.closed) {
          file.closeSync(); // opened while the source was being unsubscribed
          return false;
        }
        file.lastActivity = this.now();
        return true;
      }
    } catch {
      this.metrics.inc('EventReadFail');
    }
    return false;
  }

  private async refresh(file: TailFile): Promise<void> {
    try {
      await file.refresh();
    } catch {
      this.metrics.inc('EventReadFail');
      file.close();
    }
    if (file.size < file.scanner.readOffset) this.truncate(file);
  }

  /**
   * Closes files that stopped growing: after `idleTimeoutMs`, or at once when deleted and read to
   * the end. The partial last line goes out first (Flume reads it on idle close), always for a file
   * that is leaving for good, since nothing could complete it later.
   */
  private closeIdle(): void {
    const now = this.now();
    for (const file of this.files.values()) {
      if (file.fd === undefined || file.released || file.unread || file.buffered) continue;
      const gone = !file.matched && file.deleted;
      if (!gone && now - file.lastActivity < this.opts.idleTimeoutMs) continue;
      if (!file.matched) this.release(file);
      else {
        if (this.opts.flushOnIdle) this.flush(file);
        file.close();
      }
    }
  }

  private release(file: TailFile): void {
    this.flush(file);
    file.close();
    file.released = true;
    this.forgetIfSettled(file);
  }

  private flush(file: TailFile): void {
    const events = this.lines.flush(file);
    if (events.length > 0) this.flushed.push(this.batch(file, events));
  }

  private forgetIfSettled(file: TailFile): void {
    if (file.released && file.emitted.length === 0 && this.files.get(file.ino) === file) {
      this.files.delete(file.ino);
      if (this.current === file) this.current = undefined;
      this.positions.changed();
    }
  }

  private truncate(file: TailFile): void {
    file.truncated();
    this.metrics.inc('FileTruncatedCount');
    this.positions.changed();
  }

  private readable(file: TailFile): boolean {
    return file.fd !== undefined && !file.failed && (file.unread || file.buffered);
  }

  private anyReadable(): boolean {
    for (const f of this.files.values()) if (this.readable(f)) return true;
    return false;
  }

  /** The current file until it has given `maxBatchCount` batches in a row, then the oldest-modified other. */
  private pick(): TailFile | undefined {
    const cur = this.current;
    if (cur && this.readable(cur) && this.batchCount < this.opts.maxBatchCount) return cur;
    let best: TailFile | undefined;
    for (const f of this.files.values()) {
      if (f === cur || !this.readable(f)) continue;
      if (!best || f.mtimeMs < best.mtimeMs) best = f;
    }
    const chosen = best ?? (cur && this.readable(cur) ? cur : undefined);
    if (chosen) {
      this.current = chosen;
      this.batchCount = 0;
    }
    return chosen;
  }

  private batch(file: TailFile, events: FlumeEvent[]): PolledBatch {
    const record = file.emit();
    if (file === this.current) this.batchCount++;
    const polled: PolledBatch = {
      events,
      commit: () => {
        if (file.ack(record)) this.positions.changed(true);
        this.forgetIfSettled(file);
      },
      rollback: () => {
        if (!this.closed) this.retries.push(polled);
      },
    };
    return polled;
  }

  private watchDirectories(): void {
    this.watchers.watch(this.opts.groups.map((g) => g.dir));
  }

  /** The position file and its temp files, should a group's pattern match them: never tailed. */
  private isPositionFile(path: string): boolean {
    const own = this.opts.positionFile;
    return path === own || (path.startsWith(`${own}.`) && path.endsWith('.tmp'));
  }

  private gauge(): void {
    let open = 0;
    for (const f of this.files.values()) if (f.fd !== undefined) open++;
    this.metrics.set('OpenFileCount', open);
  }

  private fatal(message: string, cause: unknown): ComponentError {
    return new ComponentError('FLUME_SOURCE_FAILED', `${this.opts.name}: ${message}`, { component: this.opts.name, cause, retriable: false });
  }

  private now(): number {
    return asyncScheduler.now();
  }
}
