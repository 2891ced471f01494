/**
 * The HDFS sink's files: one bucket per escaped path + prefix (Flume's BucketWriter), each with at most
 * one open file, rolled by count, size, interval and idleness, least recently used buckets closed past
 * `maxOpenFiles`; and how batches become HDFS writes.
 *
 * **Rounds.** Batches are written in rounds: every batch that arrived while the previous round was
 * writing goes into the next one (a single batch when the channel lets the sink hold one at a time).
 * A round routes every event, appends it to its bucket's file (rolling first when the file is full),
 * then sends each touched file's new bytes as **one request**: CREATE (the file's header and its first
 * bytes) or APPEND, files in parallel. Each request's 2xx means the DataNode closed the file with the
 * bytes in it, so the round's batches are acked once every request succeeded, and nacked together if
 * one failed.
 *
 * **A failed round leaves no half-batch.** Every file the round touched goes back to its length before
 * the round: a file whose request failed and which HDFS shows unchanged is kept (its writer restored
 * with `snapshot`/`restore`); any other — changed, unknown, or leased — is abandoned: a background
 * repair truncates it back to that length (deletes it when nothing acked is in it) and closes it, and
 * the bucket goes on in a new file. A batch whose events cannot be placed (no timestamp for a time
 * escape, an escape that makes an invalid path, a body the format cannot hold) is refused alone, before
 * anything is written.
 *
 * **Closing** is a rename of the in-use name to the final one, in the background, retried with a
 * back-off growing to `retryIntervalMs`, `closeTries` times (0: until it succeeds or the sink stops).
 * Names are never reused: CREATE never overwrites, a taken name moves the counter on, and a taken final
 * name gets a `-<k>` suffix before the extension.
 */
import { asyncScheduler, type Subscription } from 'rxjs';
import { Backoff, exponential } from '../../core/backoff.js';
import type { Batch } from '../../core/batch.js';
import { ComponentError, describeError, FlumeError, type ErrorCode } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import type { ComponentLogger } from '../../core/log.js';
import type { ComponentCounters } from '../../core/metrics.js';
import type { WebHdfsClient } from '../../hdfs/webHdfsClient.js';
import { WebHdfsError } from '../../hdfs/webHdfsError.js';
import { EscapeError, escapeTokens, usesHost, type EscapeContext, type HostNames, type Token } from './bucketPath.js';
import { createFileWriter, type FileWriter, type FileWriterOptions } from './fileWriters.js';
import { invalidHdfsPath, normalize } from './hdfsLocation.js';
import { validLength, type TailFormat } from './recovery.js';

export interface BucketWritersOptions {
  name: string;
  client: WebHdfsClient;
  pathTokens: readonly Token[];
  prefixTokens: readonly Token[];
  escape: Omit<EscapeContext, 'host'>;
  resolveHost: () => Promise<HostNames>;
  /** The final name's ending: fileSuffix, else the codec's extension. */
  extension: string;
  inUsePrefix: string;
  inUseSuffix: string;
  rollIntervalMs: number;
  rollSize: number;
  rollCount: number;
  idleTimeoutMs: number;
  maxOpenFiles: number;
  closeTries: number;
  retryIntervalMs: number;
  callTimeoutMs: number;
  replication: number | undefined;
  maxConcurrentWrites: number;
  recoverInUseFiles: boolean;
  writer: FileWriterOptions;
  tail: TailFormat;
  counters: ComponentCounters;
  log: ComponentLogger;
}

interface Bucket {
  readonly key: string;
  readonly dir: string;
  readonly prefix: string;
  /** Flume's counter: the clock when the bucket was made, +1 per file. */
  counter: number;
  file: OpenFile | undefined;
}

interface OpenFile {
  readonly bucket: Bucket;
  counter: number;
  tmp: string;
  final: string;
  readonly writer: FileWriter;
  /** A CREATE succeeded: the file exists in HDFS. */
  created: boolean;
  /** Bytes acked into it. */
  length: number;
  events: number;
  bodyBytes: number;
  rollTimer?: Subscription | undefined;
  idleTimer?: Subscription | undefined;
  /** A timer wanted it closed while a round was writing it. */
  closeRequested: boolean;
}

interface Mark {
  writer: unknown;
  created: boolean;
  length: number;
  events: number;
  bodyBytes: number;
}

interface Pending {
  batch: Batch;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Route {
  key: string;
  dir: string;
  prefix: string;
}

/** Runs `fn` over `items`, at most `limit` at a time; settles like Promise.allSettled. */
async function settleAll<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i]!) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const escapeForRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class BucketWriters {
  private readonly buckets = new Map<string, Bucket>();
  private readonly checker: FileWriter;
  private pending: Pending[] = [];
  private running: Promise<void> | undefined;
  /** Files the running round writes. */
  private inRound = new Set<OpenFile>();
  private readonly background = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private readonly recovered = new Set<string>();
  private host: Promise<HostNames> | undefined;
  private stopping = false;
  private readonly startedAt = Date.now();

  constructor(private readonly o: BucketWritersOptions) {
    this.checker = createFileWriter(o.writer);
  }

  /** Writes the batch in the next round; resolves once its bytes are in HDFS, rejects when they are not. */
  write(batch: Batch): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      this.running ??= this.loop();
    });
  }

  /** After the last write: closes every open file (one attempt each for what still fails), then stops the timers. */
  async close(): Promise<void> {
    await this.running;
    this.stopping = true;
    for (const bucket of [...this.buckets.values()]) this.detach(bucket.file, true);
    this.buckets.clear();
    for (const wake of this.wakers) wake();
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const round = this.pending;
        this.pending = [];
        try {
          await this.round(round);
        } catch (error) {
          this.inRound = new Set();
          // A bug, not an HDFS failure: the round's batches are nacked with it rather than left waiting.
          const failure = new ComponentError('FLUME_SINK_FAILED', `${this.o.name}: writing a batch failed: ${describeError(error)}`, { component: this.o.name, retriable: true, cause: error });
          for (const item of round) item.reject(failure);
          this.o.log('error', failure.message);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  // ---- a round ----------------------------------------------------------------------------------

  private async round(items: Pending[]): Promise<void> {
    let host: HostNames | undefined;
    if (usesHost(this.o.pathTokens) || usesHost(this.o.prefixTokens)) host = await (this.host ??= this.o.resolveHost());
    const ctx: EscapeContext = { ...this.o.escape, host };
    const accepted: { item: Pending; routes: Route[] }[] = [];
    for (const item of items) {
      try {
        accepted.push({ item, routes: this.routeAll(item.batch.events, ctx) });
      } catch (error) {
        item.reject(error);
      }
    }
    if (accepted.length === 0) return;

    const marks = new Map<OpenFile, Mark>();
    const rolled: OpenFile[] = [];
    const roundBuckets = new Set<Bucket>();
    for (const { item, routes } of accepted) {
      const events = item.batch.events;
      for (let i = 0; i < events.length; i++) {
        const bucket = this.bucketFor(routes[i]!, roundBuckets);
        let file = bucket.file;
        if (file && this.isFull(file)) {
          rolled.push(file);
          bucket.file = undefined;
          file = undefined;
        }
        if (!file) file = bucket.file = this.openFile(bucket);
        if (!marks.has(file)) {
          marks.set(file, { writer: file.writer.snapshot(), created: file.created, length: file.length, events: file.events, bodyBytes: file.bodyBytes });
          this.inRound.add(file);
        }
        file.idleTimer?.unsubscribe();
        file.idleTimer = undefined;
        file.writer.append(events[i]!);
        file.events++;
        file.bodyBytes += events[i]!.body.length;
      }
    }

    const files = [...marks.keys()];
    const results = await settleAll(files, this.o.maxConcurrentWrites, (file) => this.writeUnit(file, marks.get(file)!));
    this.inRound = new Set();
    const failed = results.findIndex((r) => r.status === 'rejected');
    // Files that filled up in an earlier round are complete whatever happens now.
    for (const file of rolled) if (!marks.has(file)) this.closeInBackground(file);
    if (failed < 0) {
      for (const file of rolled) if (marks.has(file)) this.closeInBackground(file);
      for (const file of files) {
        if (file.closeRequested || file.bucket.file !== file) {
          if (file.bucket.file === file) this.detach(file, true);
          continue;
        }
        this.armTimers(file);
      }
      for (const { item } of accepted) item.resolve();
      return;
    }
    const cause = (results[failed] as PromiseRejectedResult).reason;
    const events = accepted.reduce((n, a) => n + a.item.batch.events.length, 0);
    const error = this.roundError(cause, events, accepted.length);
    await Promise.all(files.map((file, i) => this.rollBack(file, marks.get(file)!, results[i]!)));
    for (const { item } of accepted) item.reject(error);
  }

  private roundError(cause: unknown, events: number, batches: number): FlumeError {
    const code: ErrorCode = cause instanceof FlumeError ? cause.code : 'FLUME_SINK_FAILED';
    const retriable = cause instanceof FlumeError ? cause.retriable : true;
    const what = batches === 1 ? `batch of ${events} events` : `${batches} batches (${events} events) written together`;
    return new ComponentError(code, `${this.o.name}: ${what} rolled back, nothing of it left in HDFS: ${describeError(cause)}`, { component: this.o.name, retriable, cause });
  }

  /** Every event's bucket, or throws (refusing the batch) naming the first that cannot be placed. */
  private routeAll(events: readonly FlumeEvent[], ctx: EscapeContext): Route[] {
    const routes: Route[] = new Array(events.length);
    let last: { dir: string; prefix: string; key: string } | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const refuse = (message: string): never => {
        throw new ComponentError('FLUME_BAD_EVENT', `${this.o.name}: event ${i + 1} of ${events.length} cannot be written, so the batch is refused: ${message}`, {
          component: this.o.name,
          retriable: false,
        });
      };
      let dir: string;
      let prefix: string;
      try {
        dir = normalize(escapeTokens(this.o.pathTokens, e.headers, ctx));
        prefix = escapeTokens(this.o.prefixTokens, e.headers, ctx);
      } catch (error) {
        if (error instanceof EscapeError) return refuse(error.message);
        throw error;
      }
      if (last === undefined || last.dir !== dir || last.prefix !== prefix) {
        const example = `${dir}/${this.o.inUsePrefix}${prefix}.<counter>${this.o.extension}${this.o.inUseSuffix}`;
        const bad = invalidHdfsPath(example);
        if (bad) refuse(`its file would be ${JSON.stringify(example)}, which is not an HDFS path: ${bad}`);
        last = { dir, prefix, key: `${dir}/${prefix}` };
      }
      try {
        this.checker.check(e);
      } catch (error) {
        refuse((error as Error).message);
      }
      routes[i] = last;
    }
    return routes;
  }

  private bucketFor(route: Route, roundBuckets: Set<Bucket>): Bucket {
    let bucket = this.buckets.get(route.key);
    if (bucket) {
      // Least recently used first: move to the end.
      this.buckets.delete(route.key);
      this.buckets.set(route.key, bucket);
    } else {
      bucket = { key: route.key, dir: route.dir, prefix: route.prefix, counter: Date.now(), file: undefined };
      this.buckets.set(route.key, bucket);
      if (this.buckets.size > this.o.maxOpenFiles) this.evict(roundBuckets);
      this.recoverBucket(bucket);
    }
    roundBuckets.add(bucket);
    return bucket;
  }

  private evict(roundBuckets: Set<Bucket>): void {
    for (const eldest of this.buckets.values()) {
      if (this.buckets.size <= this.o.maxOpenFiles) return;
      if (roundBuckets.has(eldest)) continue;
      this.buckets.delete(eldest.key);
      this.detach(eldest.file, false);
    }
  }

  private isFull(file: OpenFile): boolean {
    return (this.o.rollCount > 0 && file.events >= this.o.rollCount) || (this.o.rollSize > 0 && file.bodyBytes >= this.o.rollSize);
  }

  private names(bucket: Bucket, counter: number): { tmp: string; final: string } {
    const name = `${bucket.prefix}.${counter}${this.o.extension}`;
    return { tmp: `${bucket.dir}/${this.o.inUsePrefix}${name}${this.o.inUseSuffix}`, final: `${bucket.dir}/${name}` };
  }

  private openFile(bucket: Bucket): OpenFile {
    const counter = ++bucket.counter;
    return { bucket, counter, ...this.names(bucket, counter), writer: createFileWriter(this.o.writer), created: false, length: 0, events: 0, bodyBytes: 0, closeRequested: false };
  }

  /** Sends what the round appended to `file` as one CREATE or APPEND. */
  private async writeUnit(file: OpenFile, mark: Mark): Promise<void> {
    const bytes = await file.writer.take();
    if (bytes.length === 0) return;
    if (!mark.created) {
      for (let taken = 0; ; taken++) {
        try {
          await this.o.client.create(file.tmp, bytes, { replication: this.o.replication });
          break;
        } catch (error) {
          // Someone else's file has this name: never touch it, move the counter on.
          if (error instanceof FlumeError && error.code === 'FLUME_HDFS_EXISTS' && taken < 10) {
            file.counter = ++file.bucket.counter;
            Object.assign(file, this.names(file.bucket, file.counter));
            continue;
          }
          this.o.counters.inc('ConnectionFailedCount');
          throw error;
        }
      }
      file.created = true;
      this.o.counters.inc('ConnectionCreatedCount');
    } else {
      await this.o.client.append(file.tmp, bytes);
    }
    file.length += bytes.length;
  }

  /** After a failed round: `file` back to `mark`, kept when HDFS shows its request changed nothing, else abandoned to a repair. */
  private async rollBack(file: OpenFile, mark: Mark, result: PromiseSettledResult<void>): Promise<void> {
    const keep = result.status === 'rejected' && (await this.unchanged(file, mark, result.reason));
    file.writer.restore(mark.writer);
    Object.assign(file, { created: mark.created, length: mark.length, events: mark.events, bodyBytes: mark.bodyBytes });
    if (keep) {
      const current = file.bucket.file === file;
      if (!mark.created) {
        // Nothing of it exists: the next event opens a fresh file.
        if (current) file.bucket.file = undefined;
      } else if (!current || file.closeRequested) {
        // Rolled during the round, or its timer fired: close it with what was acked before.
        this.detach(file, file.closeRequested);
      } else {
        this.armTimers(file);
      }
      return;
    }
    if (file.bucket.file === file) file.bucket.file = undefined;
    file.rollTimer?.unsubscribe();
    file.idleTimer?.unsubscribe();
    this.runInBackground(file.tmp, 'repair', () => this.repair(file, mark));
  }

  private async unchanged(file: OpenFile, mark: Mark, error: unknown): Promise<boolean> {
    // Only a request HDFS refused, or one that never connected, is over: after a reset or a timeout the
    // DataNode may still be finishing the write, and a lease is held by a writer we cannot see.
    if (!(error instanceof WebHdfsError) || error.code === 'FLUME_HDFS_TIMEOUT' || error.code === 'FLUME_HDFS_LEASE') return false;
    const refused = error.status !== undefined || (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
    if (!refused) return false;
    try {
      const status = await this.o.client.stat(file.tmp);
      return mark.created ? status !== undefined && status.length === mark.length : status === undefined;
    } catch {
      return false;
    }
  }

  /** An abandoned file: cut back to what was acked (deleted when nothing was), then closed. */
  private async repair(file: OpenFile, mark: Mark): Promise<void> {
    if ((await this.o.client.stat(file.tmp)) === undefined) return;
    if (!mark.created) {
      await this.o.client.delete(file.tmp);
      return;
    }
    await this.ensureClosed(file.tmp);
    const status = await this.o.client.stat(file.tmp);
    if (status === undefined) return;
    if (status.length > mark.length) {
      await this.truncateTo(file.tmp, mark.length);
    } else if (status.length < mark.length) {
      this.o.log('error', `${file.tmp} is ${status.length} bytes, shorter than the ${mark.length} bytes acked into it; closing it as it is`);
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

  // ---- closing ----------------------------------------------------------------------------------

  /** Takes the file out of its bucket and closes it; `dropBucket` also forgets the bucket (Flume's timed and idle closes). */
  private detach(file: OpenFile | undefined, dropBucket: boolean): void {
    if (!file) return;
    if (file.bucket.file === file) file.bucket.file = undefined;
    if (dropBucket && this.buckets.get(file.bucket.key) === file.bucket) this.buckets.delete(file.bucket.key);
    this.closeInBackground(file);
  }

  private closeInBackground(file: OpenFile): void {
    file.rollTimer?.unsubscribe();
    file.idleTimer?.unsubscribe();
    file.rollTimer = file.idleTimer = undefined;
    if (!file.created) return;
    this.runInBackground(file.tmp, 'close', async () => {
      await this.renameToFinal(file);
      this.o.counters.inc('ConnectionClosedCount');
    });
  }

  private requestClose(file: OpenFile): void {
    if (this.inRound.has(file)) {
      file.closeRequested = true;
      return;
    }
    this.detach(file, true);
  }

  private armTimers(file: OpenFile): void {
    if (!file.created || this.stopping) return;
    if (this.o.rollIntervalMs > 0 && !file.rollTimer) file.rollTimer = asyncScheduler.schedule(() => this.requestClose(file), this.o.rollIntervalMs);
    if (this.o.idleTimeoutMs > 0) {
      file.idleTimer?.unsubscribe();
      file.idleTimer = asyncScheduler.schedule(() => this.requestClose(file), this.o.idleTimeoutMs);
    }
  }

  /** Renames the in-use file to its final name; a taken final name gets `-<k>` before the extension. */
  private async renameToFinal(file: { tmp: string; final: string }): Promise<string> {
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
   * `closeTries` times in all (0: no limit); once the sink stops, one more attempt. What cannot be done
   * is logged: the file stays in use, to be recovered at the next start.
   */
  private runInBackground(path: string, what: 'close' | 'repair', task: () => Promise<void>): void {
    const backoff = new Backoff(exponential(Math.min(1000, this.o.retryIntervalMs), this.o.retryIntervalMs));
    const run = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await task();
          if (attempt > 1) this.o.log('info', `${what} of ${path} succeeded after ${attempt} attempts`);
          return;
        } catch (error) {
          if (what === 'close') this.o.counters.inc('ConnectionFailedCount');
          const last = this.stopping || (this.o.closeTries > 0 && attempt >= this.o.closeTries);
          if (last) {
            this.o.log('warn', `${what} of ${path} failed (attempt ${attempt}), giving up: ${describeError(error)}; the file stays in use and is recovered at the next start`);
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
    if (this.stopping) return Promise.resolve();
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

  /** The first time this process writes to a bucket: its in-use files older than this start are cut to their last complete unit and renamed. */
  private recoverBucket(bucket: Bucket): void {
    if (!this.o.recoverInUseFiles || (this.o.inUsePrefix === '' && this.o.inUseSuffix === '') || this.recovered.has(bucket.key)) return;
    const lastSlash = bucket.prefix.lastIndexOf('/');
    // Flume puts inUsePrefix before a prefix's subdirectories too; such in-use files are not looked for.
    if (lastSlash >= 0 && this.o.inUsePrefix !== '') return;
    if (this.recovered.size >= 10_000) this.recovered.clear();
    this.recovered.add(bucket.key);
    const dir = normalize(lastSlash >= 0 ? `${bucket.dir}/${bucket.prefix.slice(0, lastSlash)}` : bucket.dir);
    const base = bucket.prefix.slice(lastSlash + 1);
    const pattern = new RegExp(`^${escapeForRegExp(`${this.o.inUsePrefix}${base}.`)}(\\d+)${escapeForRegExp(`${this.o.extension}${this.o.inUseSuffix}`)}$`);
    // The files to recover are chosen once: closing one (lease recovery) gives it a new modification time.
    let pending: Array<{ tmp: string; final: string }> | undefined;
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
          // Files this run wrote are newer than its start; older ones were left by a crash.
          if (entry.type === 'FILE' && match && entry.modificationTime < this.startedAt) pending.push(this.namesIn(dir, base, Number(match[1])));
        }
      }
      for (let file = pending[0]; file !== undefined; pending.shift(), file = pending[0]) {
        if ((await this.o.client.stat(file.tmp)) === undefined) continue;
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

  private namesIn(dir: string, base: string, counter: number): { tmp: string; final: string } {
    const name = `${base}.${counter}${this.o.extension}`;
    return { tmp: `${dir}/${this.o.inUsePrefix}${name}${this.o.inUseSuffix}`, final: `${dir}/${name}` };
  }
}
