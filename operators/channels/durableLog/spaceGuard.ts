/**
 * The log's free-space guard: puts stop while less than `minimumRequiredSpace` is free on a channel
 * directory (Flume's rule), and after a write failed for want of space (ENOSPC, EDQUOT) until a probe
 * finds room again. The figure is probed at most every 250 ms while space is fine (less what was
 * written since), and on every check while it is low, so puts resume soon after space returns.
 */
import fs from 'node:fs/promises';
import { asyncScheduler } from 'rxjs';
import { describeError } from '../../../lib/core/errors.js';
import type { ResolvedLogOptions } from './options.js';

/** Free bytes in the file system holding `dir` (for the `minimumRequiredSpace` check). */
export type FreeSpaceProbe = (dir: string) => number | Promise<number>;

export const statfsFreeSpace: FreeSpaceProbe = async (dir) => {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
};

/** `dirs`: every directory the log writes to (the smallest figure counts); `maxFileSize` bounds the free bytes that end the out-of-space state. */
export type SpaceGuardOptions = Pick<ResolvedLogOptions, 'minimumRequiredSpace' | 'maxFileSize' | 'freeSpace' | 'logger'> & { dirs: readonly string[] };

/** While space is fine, the free-space figure is refreshed at most this often (and reduced by what was written since). */
const PROBE_INTERVAL_MS = 250;
/** After a write failed for want of space, puts resume once this much (or minimumRequiredSpace) is free. */
const RESUME_BYTES = 1 << 20;
/** A file system out of space (EFBIG is the file's own limit: a fresh segment still has room). */
export const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);

export class SpaceGuard {
  // The last probe's figure, less what was written since.
  private free = Infinity;
  private writtenSinceProbe = 0;
  private probing = false;
  private probedAt = -Infinity;
  private low = false;
  /** A write failed for want of space: puts are refused and no file is created until a probe finds room. */
  private noSpace: NodeJS.ErrnoException | undefined;

  constructor(private readonly opts: SpaceGuardOptions) {}

  /** Counts bytes written since the last probe. */
  wrote(bytes: number): void {
    this.writtenSinceProbe += bytes;
  }

  /**
   * Whether puts may be stored: free space, as last probed less what was written since, is at least
   * `minimumRequiredSpace`. Starts a fresh probe when the figure is old, and on every call while low.
   */
  ok(): boolean {
    if (this.noSpace) {
      if (!this.probing) void this.probe();
      return false;
    }
    if (this.opts.minimumRequiredSpace <= 0) return true;
    if (!this.probing && (this.low || asyncScheduler.now() - this.probedAt >= PROBE_INTERVAL_MS)) void this.probe();
    return this.free - this.writtenSinceProbe >= this.opts.minimumRequiredSpace;
  }

  /** The free-space figure, for messages. */
  freeBytes(): number {
    return Math.max(0, this.free - this.writtenSinceProbe);
  }

  /** The error that left the log out of space, while it is. */
  outOfSpace(): NodeJS.ErrnoException | undefined {
    return this.noSpace;
  }

  /** Free bytes that end the out-of-space state. */
  private resumeBytes(): number {
    return Math.max(this.opts.minimumRequiredSpace, Math.min(RESUME_BYTES, this.opts.maxFileSize));
  }

  /** Notes a failure for want of space (a write, a new file, or a checkpoint): puts stop until a probe finds room. */
  check(error: unknown): void {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === undefined || !NO_SPACE_CODES.has(code) || this.noSpace) return;
    this.noSpace = error as NodeJS.ErrnoException;
    this.free = 0;
    this.writtenSinceProbe = 0;
    this.opts.logger(
      'warn',
      `the disk is full (${describeError(error)}): refusing puts and freeing emptied segments until ${this.resumeBytes()} bytes are free`,
    );
  }

  async probe(): Promise<void> {
    if (this.probing || (this.opts.minimumRequiredSpace <= 0 && !this.noSpace)) return;
    this.probing = true;
    try {
      let free = Infinity;
      for (const dir of this.opts.dirs) free = Math.min(free, await this.opts.freeSpace(dir));
      this.free = free;
      this.writtenSinceProbe = 0;
      if (this.noSpace && free >= this.resumeBytes()) {
        this.noSpace = undefined;
        this.opts.logger('info', `space is back (${free} bytes free): accepting puts`);
      }
      const low = free < this.opts.minimumRequiredSpace;
      if (low !== this.low) {
        this.opts.logger(
          low ? 'warn' : 'info',
          low
            ? `free space ${free} bytes is below minimumRequiredSpace ${this.opts.minimumRequiredSpace}: refusing puts`
            : `free space ${free} bytes is back above minimumRequiredSpace: accepting puts`,
        );
      }
      this.low = low;
    } catch (error) {
      // An unreadable figure must not stop the channel: keep the last one.
      this.opts.logger('warn', `cannot read free space: ${describeError(error)}`);
    } finally {
      this.probing = false;
      this.probedAt = asyncScheduler.now();
    }
  }
}
