/**
 * The HDFS sink's work on files away from the write path, in the background: closing a file, repairing
 * one a failed round abandoned, and recovering the in-use files a crash left (recovery.ts finds where
 * their valid part ends). BucketWriters decides when; this decides how, and retries until it is done.
 *
 * **Closing** is a rename of the in-use name to the final one, retried with a back-off growing to
 * `retryIntervalMs`, `closeTries` times (0: until it succeeds or the sink stops). A taken final name
 * gets a `-<k>` suffix before the extension.
 *
 * **Repair**: an abandoned file is truncated back to what was acked into it (deleted when nothing was)
 * and closed, so a failed round leaves no half-batch.
 */
import { asyncScheduler } from 'rxjs';
import { Backoff, exponential } from '../../core/backoff.js';
import { ComponentError, describeError, FlumeError } from '../../core/errors.js';
import type { ComponentLogger } from '../../core/log.js';
import type { ComponentCounters } from '../../core/metrics.js';
import type { HdfsClient } from '../../hdfs/hdfsClient.js';
import { WebHdfsError } from '../../hdfs/webHdfsError.js';
import { normalize } from './hdfsLocation.js';
import { validLength, type TailFormat } from './recovery.js';

export interface FileRepairOptions {
  name: string;
  client: HdfsClient;
  /** The final name's ending: fileSuffix, else the codec's extension. */
  extension: string;
  inUsePrefix: string;
  inUseSuffix: string;
  closeTries: number;
  retryIntervalMs: number;
  callTimeoutMs: number;
  recoverInUseFiles: boolean;
  /** How long an earlier run's in-use file must have been unchanged before it is recovered (a write of its writer may still be landing). */
  quietMs: number;
  tail: TailFormat;
  counters: ComponentCounters;
  log: ComponentLogger;
}

/** A file's in-use and final paths. */
export interface FileNames {
  tmp: string;
  final: string;
}

/** A file as it was before a failed round: whether it existed in HDFS, and the bytes acked into it. */
export interface Acked {
  created: boolean;
  length: number;
}

const escapeForRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class FileRepair {
  private readonly background = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private readonly recovered = new Set<string>();
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(private readonly o: FileRepairOptions) {}

  /** Set by `stop`: background tasks make one more attempt, without waiting. */
  get stopping(): boolean {
    return this.stopped;
  }

  /** The sink stops: tasks waiting to retry try once more now. */
  stop(): void {
    this.stopped = true;
    for (const wake of this.wakers) wake();
  }

  /** Resolves once no background task is left, including those started meanwhile. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  /** Renames the file to its final name in the background. */
  closeInBackground(file: FileNames): void {
    this.runInBackground(file.tmp, 'close', async () => {
      // A client keeping the file's stream open (native) completes it here, even when no rename follows.
      await this.o.client.closeFile?.(file.tmp);
      await this.renameToFinal(file);
      this.o.counters.inc('ConnectionClosedCount');
    });
  }

  /** Gives up the file after a failed round: repaired back to `acked` in the background. */
  abandon(file: FileNames, acked: Acked): void {
    this.runInBackground(file.tmp, 'repair', () => this.repair(file, acked));
  }

  /** Whether the request that failed with `error` is known to have left the file as `acked`. */
  async unchanged(file: FileNames, acked: Acked, error: unknown): Promise<boolean> {
    // Only a request HDFS refused, or one that never connected, is over: after a reset or a timeout the
    // DataNode may still be finishing the write, and a lease is held by a writer we cannot see.
    if (!(error instanceof WebHdfsError) || error.code === 'FLUME_HDFS_TIMEOUT' || error.code === 'FLUME_HDFS_LEASE') return false;
    const refused = error.status !== undefined || (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
    if (!refused) return false;
    try {
      const status = await this.o.client.stat(file.tmp);
      return acked.created ? status !== undefined && status.length === acked.length : status === undefined;
    } catch {
      return false;
    }
  }

  /** An abandoned file: cut back to what was acked (deleted when nothing was), then closed. */
  private async repair(file: FileNames, acked: Acked): Promise<void> {
    if ((await this.o.client.stat(file.tmp)) === undefined) return;
    if (!acked.created) {
      await this.o.client.delete(file.tmp);
      return;
    }
    await this.ensureClosed(file.tmp);
    const status = await this.o.client.stat(file.tmp);
    if (status === undefined) return;
    if (status.length > acked.length) {
      await this.truncateTo(file.tmp, acked.length);
    } else if (status.length < acked.length) {
      this.o.log('error', `${file.tmp} is ${status.length} bytes, shorter than the ${acked.length} bytes acked into it; closing it as it is`);
    }
    await this.renameToFinal(file);
  }

  /**
   * Makes sure no writer holds the file open. A DataNode that died (or restarted) in the middle of a
   * request leaves the file under construction with its lease, unreadable past its last complete block;
   * WebHDFS has no recoverLease, but an empty APPEND does the same: refused with FLUME_HDFS_LEASE while the
   * lease is held (HDFS starts recovering it once the 60 s soft limit passed; the caller retries), and
   * once it goes through, the file is closed.
   */
  private async ensureClosed(path: string): Promise<void> {
    await this.o.client.append(path, Buffer.alloc(0));
  }

  /**
   * Cuts the file to `length`. A cut inside a block is finished by HDFS in the background (TRUNCATE
   * answers false): wait until the file shows the new length, so what follows sees the cut file.
   */
  private async truncateTo(path: string, length: number): Promise<void> {
    if (await this.o.client.truncate(path, length)) return;
    const waitMs = Math.max(this.o.callTimeoutMs, 10_000);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const status = await this.o.client.stat(path);
      if (status === undefined || status.length === length) return;
      if (Date.now() > deadline) {
        throw new ComponentError('FLUME_HDFS_TIMEOUT', `${this.o.name}: ${path} was not cut to ${length} bytes within ${waitMs} ms (it is ${status.length})`, { component: this.o.name, retriable: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Renames the in-use file to its final name; a taken final name gets `-<k>` before the extension. */
  private async renameToFinal(file: FileNames): Promise<string> {
    if (file.tmp === file.final) return file.final;
    for (let k = 0; k < 100; k++) {
      const target = k === 0 ? file.final : `${file.final.slice(0, file.final.length - this.o.extension.length)}-${k}${this.o.extension}`;
      if (await this.o.client.rename(file.tmp, target)) return target;
      if ((await this.o.client.stat(file.tmp)) === undefined) {
        // Gone: an earlier attempt did it and its answer was lost.
        if ((await this.o.client.stat(target)) !== undefined) return target;
        throw new ComponentError('FLUME_HDFS_NOT_FOUND', `${this.o.name}: ${file.tmp} disappeared before it was renamed to ${target}`, { component: this.o.name, retriable: false });
      }
      if ((await this.o.client.stat(target)) === undefined) {
        throw new ComponentError('FLUME_HDFS_IO', `${this.o.name}: HDFS refused to rename ${file.tmp} to ${target}`, { component: this.o.name, retriable: true });
      }
    }
    throw new ComponentError('FLUME_HDFS_EXISTS', `${this.o.name}: no free final name for ${file.tmp}`, { component: this.o.name, retriable: false });
  }

  /**
   * Runs `task` until it succeeds: retried after a back-off from 1 s growing to retryIntervalMs,
   * `closeTries` times in all (0: no limit); once the sink stops, one more attempt (also for an attempt
   * that was running when it stopped). An error that is not retriable ends it at once. What cannot be
   * done is logged: the file stays in use, to be recovered at the next start.
   */
  private runInBackground(path: string, what: 'close' | 'repair', task: () => Promise<void>): void {
    const backoff = new Backoff(exponential(Math.min(1000, this.o.retryIntervalMs), this.o.retryIntervalMs));
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const afterStop = this.stopped;
        try {
          await task();
          if (attempt > 1) this.o.log('info', `${what} of ${path} succeeded after ${attempt} attempts`);
          return;
        } catch (error) {
          if (what === 'close') this.o.counters.inc('ConnectionFailedCount');
          const hopeless = error instanceof FlumeError && !error.retriable;
          const last = hopeless || afterStop || (this.o.closeTries > 0 && attempt >= this.o.closeTries);
          if (last) {
            this.o.log('warn', `${what} of ${path} failed (attempt ${attempt}), giving up${hopeless ? ' (not retriable)' : ''}: ${describeError(error)}; the file stays in use and is recovered at the next start`);
            return;
          }
          if (attempt === 1) this.o.log('warn', `${what} of ${path} failed, retrying: ${describeError(error)}`);
          await this.sleep(backoff.next());
        }
      }
    };
    const p: Promise<void> = run().finally(() => this.background.delete(p));
    this.background.add(p);
  }

  /** Waits `ms`, or less when the sink stops. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        timer.unsubscribe();
        this.wakers.delete(wake);
        resolve();
      };
      const timer = asyncScheduler.schedule(wake, ms);
      this.wakers.add(wake);
    });
  }

  // ---- recovery of files a crash left in use ------------------------------------------------------

  /**
   * The first time this process writes to a bucket: the in-use files an earlier run left there are cut
   * to their last complete unit and renamed. Which files: those numbered before this run started —
   * rxflume numbers a bucket's files from the clock at the bucket's creation, as Flume does, so this
   * run's own are numbered after its start (and after `bucket.counter`, the bucket's number when made,
   * should the clock have gone back) — or, for numbers an earlier run pushed past this start by rolling
   * more files than milliseconds passed, modified before it. And only once a file has not changed for
   * `quietMs`: the last write of a writer killed just before this start can still land after it (the
   * DataNode finishing a WebHDFS APPEND; measured in CI), which the old rule — modified before the start —
   * took for another writer's live file and left in use for the whole run. A live writer over WebHDFS
   * holds no lease between its batches, so the numbering and the quiet time decide, not the lease.
   */
  recoverBucket(bucket: { key: string; dir: string; prefix: string; counter: number }): void {
    if (!this.o.recoverInUseFiles || (this.o.inUsePrefix === '' && this.o.inUseSuffix === '') || this.recovered.has(bucket.key)) return;
    const lastSlash = bucket.prefix.lastIndexOf('/');
    // Flume puts inUsePrefix before a prefix's subdirectories too; such in-use files are not looked for.
    if (lastSlash >= 0 && this.o.inUsePrefix !== '') return;
    if (this.recovered.size >= 10_000) this.recovered.clear();
    this.recovered.add(bucket.key);
    const ownFrom = Math.min(this.startedAt, bucket.counter);
    const dir = normalize(lastSlash >= 0 ? `${bucket.dir}/${bucket.prefix.slice(0, lastSlash)}` : bucket.dir);
    const base = bucket.prefix.slice(lastSlash + 1);
    const pattern = new RegExp(`^${escapeForRegExp(`${this.o.inUsePrefix}${base}.`)}(\\d+)${escapeForRegExp(`${this.o.extension}${this.o.inUseSuffix}`)}$`);
    // The files to recover are chosen once, and judged quiet once: closing one (lease recovery) gives it a new modification time.
    let pending: FileNames[] | undefined;
    let quiet: string | undefined;
    this.runInBackground(`${dir}/${this.o.inUsePrefix}${base}.*${this.o.extension}${this.o.inUseSuffix}`, 'repair', async () => {
      if (pending === undefined) {
        let entries;
        try {
          entries = await this.o.client.listStatus(dir);
        } catch (error) {
          if (error instanceof FlumeError && error.code === 'FLUME_HDFS_NOT_FOUND') return;
          throw error;
        }
        pending = [];
        for (const entry of entries) {
          const match = pattern.exec(entry.pathSuffix);
          if (entry.type !== 'FILE' || !match) continue;
          if (Number(match[1]) < ownFrom || entry.modificationTime < this.startedAt) pending.push(this.namesIn(dir, base, Number(match[1])));
        }
      }
      for (let file = pending[0]; file !== undefined; pending.shift(), file = pending[0]) {
        if (quiet !== file.tmp && !(await this.quiet(file.tmp))) continue;
        quiet = file.tmp;
        await this.ensureClosed(file.tmp);
        const length = (await this.o.client.stat(file.tmp))?.length ?? 0;
        const valid = await validLength(this.o.client, file.tmp, length, this.o.tail);
        if (valid === 0) {
          await this.o.client.delete(file.tmp);
          this.o.log('warn', `recovered ${file.tmp}: nothing complete in it, deleted`);
          continue;
        }
        if (valid < length) await this.truncateTo(file.tmp, valid);
        const renamed = await this.renameToFinal(file);
        this.o.log('info', `recovered ${file.tmp} (left in use by an earlier run) as ${renamed}${valid < length ? `, cut from ${length} to ${valid} bytes at its last complete unit` : ''}`);
      }
    });
  }

  /**
   * Waits until the file has not changed for quietMs: by its modification time against the clock, or —
   * when HDFS's clock and ours disagree — by seeing its length and modification time unchanged over
   * quietMs. False when it is gone. When the sink stops first, throws (retriable): the file stays in use
   * for the next start.
   */
  private async quiet(path: string): Promise<boolean> {
    let seen: { length: number; modificationTime: number; at: number } | undefined;
    for (;;) {
      const status = await this.o.client.stat(path);
      if (status === undefined) return false;
      const now = Date.now();
      if (now - status.modificationTime >= this.o.quietMs) return true;
      if (seen && seen.length === status.length && seen.modificationTime === status.modificationTime && now - seen.at >= this.o.quietMs) return true;
      if (!seen || seen.length !== status.length || seen.modificationTime !== status.modificationTime) seen = { length: status.length, modificationTime: status.modificationTime, at: now };
      if (this.stopped) {
        throw new ComponentError('FLUME_HDFS_LEASE', `${this.o.name}: ${path} changed less than ${this.o.quietMs} ms ago; its writer may be alive`, { component: this.o.name, retriable: true });
      }
      await this.sleep(Math.max(10, Math.min(this.o.quietMs - (now - status.modificationTime), this.o.quietMs - (now - seen.at))));
    }
  }

  /** The in-use and final paths of the bucket file numbered `counter`. */
  namesIn(dir: string, base: string, counter: number): FileNames {
    const name = `${base}.${counter}${this.o.extension}`;
    return { tmp: `${dir}/${this.o.inUsePrefix}${name}${this.o.inUseSuffix}`, final: `${dir}/${name}` };
  }
}
