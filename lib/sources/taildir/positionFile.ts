import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  mkdirSync,
  open,
  openSync,
  readdirSync,
  readFileSync,
  rename,
  renameSync,
  unlink,
  unlinkSync,
  writeFile,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { asyncScheduler, interval, type Subscription } from 'rxjs';
import { syncDir, syncDirSync } from '../../fs/syncDir.js';

/** One entry of Flume's taildir position file: `pos` is the byte offset of the last committed data. */
export interface PositionEntry {
  inode: number;
  pos: number;
  file: string;
}

/**
 * Reads a position file in Flume's format (`[{"inode":…,"pos":…,"file":"…"}]`, Gson's output):
 * a missing file means no positions. Throws, naming the file and the entry, when it is not that
 * format: a position file that cannot be trusted must not silently re-ingest or skip everything.
 */
export function readPositionFile(path: string): PositionEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  if (text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`position file ${path} is not JSON (${(error as Error).message}); fix or remove it`);
  }
  if (!Array.isArray(parsed)) throw new Error(`position file ${path}: expected a JSON array of {inode, pos, file}`);
  return parsed.map((entry: unknown, i) => {
    const e = entry as Partial<Record<keyof PositionEntry, unknown>> | null;
    const ok =
      typeof e === 'object' &&
      e !== null &&
      Number.isSafeInteger(e.inode) &&
      Number.isSafeInteger(e.pos) &&
      (e.pos as number) >= 0 &&
      typeof e.file === 'string';
    // Flume: "Detected missing value in position file".
    if (!ok) throw new Error(`position file ${path}: entry ${i} ${JSON.stringify(entry)} needs integer inode, integer pos ≥ 0 and string file`);
    return { inode: e.inode as number, pos: e.pos as number, file: e.file as string };
  });
}

/** Flume's serialisation: the same key order and no spaces, so either program can read the other's file. */
export function formatPositions(entries: readonly PositionEntry[]): string {
  return JSON.stringify(entries.map((e) => ({ inode: e.inode, pos: e.pos, file: e.file })));
}

let tmpSeq = 0;
const tmpName = (path: string): string => `${path}.${process.pid}.${++tmpSeq}.tmp`;

/**
 * Writes atomically and durably: a temp file, fsync, rename over the old file, fsync of the directory.
 * On failure (ENOSPC, EROFS, EACCES, …) the old file is left as it was and the temp file removed.
 */
export function writePositionFileSync(path: string, entries: readonly PositionEntry[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeFileSync(fd, formatPositions(entries));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp); // a partial temp file would keep the space a full disk needs back
    } catch {
      // already gone
    }
    throw error;
  }
  syncDirSync(dirname(path));
}

/**
 * Removes temp files a killed process left beside the position file (`<name>.<pid>.<n>.tmp`, from a
 * process no longer running): each crash between writing one and renaming it would leave one more.
 */
export function removeStaleTemps(path: string): void {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.\d+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || isRunning(Number(m[1]))) continue;
    try {
      unlinkSync(join(dirname(path), name));
    } catch {
      // gone meanwhile, or not ours to remove: harmless
    }
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // running, as another user
  }
}

/**
 * The same as `writePositionFileSync` without blocking the event loop. `keep()` is asked just before
 * the rename: when it says no (the source stopped and wrote newer positions itself), the temp file is
 * removed instead, so an older snapshot never lands over a newer one.
 */
export function writePositionFile(path: string, entries: readonly PositionEntry[], keep: () => boolean = () => true): Promise<void> {
  const tmp = tmpName(path);
  const data = formatPositions(entries);
  return new Promise<void>((resolve, reject) => {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      return reject(error);
    }
    open(tmp, 'w', (error, fd) => {
      if (error) return reject(error);
      const fail = (e: Error) => close(fd, () => unlink(tmp, () => reject(e)));
      writeFile(fd, data, (error) => {
        if (error) return fail(error);
        fsync(fd, (error) => {
          if (error) return fail(error);
          close(fd, (error) => {
            if (error) return unlink(tmp, () => reject(error));
            if (!keep()) return unlink(tmp, () => resolve());
            rename(tmp, path, (error) => {
              if (error) return unlink(tmp, () => reject(error));
              syncDir(dirname(path)).then(resolve, resolve);
            });
          });
        });
      });
    });
  });
}



/** What a PositionWriter reports: each failed write, and the first success after failures. */
export interface PositionWriterEvents {
  failed(error: unknown, failures: number): void;
  recovered(failures: number): void;
}

/**
 * Keeps the position file up to date. With an interval, it writes off the event loop (one write at a
 * time, skipped while nothing changed); with `intervalMs` 0, synchronously once the turn in which
 * positions changed is over, so synchronous stages downstream are done with those events and every
 * change of the turn goes out in one write. `close()` writes a last time, synchronously; an ack
 * arriving after that is written at once, anything else is ignored.
 *
 * A failed write leaves the old file as it was and is tried again: at the next interval, or (with
 * `intervalMs` 0) after `retryDelayMs(failures)`, without waiting for another change.
 */
export class PositionWriter {
  private dirty = false;
  private writing = false;
  private running = false;
  private closed = false;
  private failures = 0;
  private timer: Subscription | undefined;
  private soon: Subscription | undefined;

  constructor(
    private readonly path: string,
    private readonly intervalMs: number,
    private readonly entries: () => PositionEntry[],
    private readonly events: PositionWriterEvents,
    private readonly retryDelayMs: (failures: number) => number = () => 1000,
  ) {}

  /** Removes temp files of killed processes, writes the current positions and starts the schedule. */
  start(): void {
    this.running = true;
    this.dirty = true;
    removeStaleTemps(this.path);
    if (this.intervalMs === 0) return this.writeSync();
    this.timer = interval(this.intervalMs, asyncScheduler).subscribe(() => this.write());
    this.write();
  }

  /** Positions changed; `acked` when by an ack, which still counts after `close()`. */
  changed(acked = false): void {
    if (this.closed && !acked) return;
    this.dirty = true;
    if (!this.running) return;
    if (this.closed) this.writeSync();
    else if (this.intervalMs === 0) this.schedule(0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.unsubscribe();
    this.soon?.unsubscribe();
    if (this.running) this.writeSync();
  }

  private schedule(delay: number): void {
    if (this.soon) return;
    this.soon = asyncScheduler.schedule(() => {
      this.soon = undefined;
      if (this.dirty && !this.closed) this.writeSync();
    }, delay);
  }

  private write(): void {
    if (this.writing || !this.dirty || this.closed) return;
    this.dirty = false;
    this.writing = true;
    // A write still under way when we close must not land over the newer one close() makes.
    writePositionFile(this.path, this.entries(), () => !this.closed).then(
      () => {
        this.writing = false;
        this.succeeded();
      },
      (error: unknown) => {
        this.dirty = true;
        this.writing = false;
        this.fail(error);
      },
    );
  }

  private writeSync(): void {
    this.dirty = false;
    try {
      writePositionFileSync(this.path, this.entries());
    } catch (error) {
      this.dirty = true;
      this.fail(error);
      if (!this.closed) this.schedule(this.retryDelayMs(this.failures));
      return;
    }
    this.succeeded();
  }

  private fail(error: unknown): void {
    this.failures++;
    this.events.failed(error, this.failures);
  }

  private succeeded(): void {
    if (this.failures === 0) return;
    const n = this.failures;
    this.failures = 0;
    this.events.recovered(n);
  }
}
