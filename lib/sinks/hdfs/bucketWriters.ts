/**
 * The HDFS sink's files: one bucket per escaped path + prefix (Flume's BucketWriter), each with at most
 * one open file, rolled by count, size, interval and idleness, least recently used buckets closed past
 * `maxOpenFiles`; and how batches become HDFS writes.
 *
 * **Rounds.** Batches are written in rounds: the batches that arrived while the previous round was
 * writing go into the next one, up to `maxWriteBytes` of bodies (a single batch when the channel lets
 * the sink hold one at a time, or when one batch is larger).
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
 * **Closing** is a rename of the in-use name to the final one, in the background (fileRepair.ts, which
 * also repairs abandoned files and recovers those a crash left in use). Names are never reused: CREATE
 * never overwrites, a taken name moves the counter on, and a taken final name gets a `-<k>` suffix
 * before the extension.
 */
import { asyncScheduler, type Subscription } from 'rxjs';
import type { Batch } from '../../core/batch.js';
import { ComponentError, describeError, FlumeError, type ErrorCode } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import { EscapeError, escapeTokens, usesHost, type EscapeContext, type HostNames, type Token } from './bucketPath.js';
import { createFileWriter, type FileWriter, type FileWriterOptions } from './fileWriters.js';
import { FileRepair, type FileRepairOptions } from './fileRepair.js';
import { invalidHdfsPath, normalize } from './hdfsLocation.js';

export interface BucketWritersOptions extends FileRepairOptions {
  pathTokens: readonly Token[];
  prefixTokens: readonly Token[];
  escape: Omit<EscapeContext, 'host'>;
  resolveHost: () => Promise<HostNames>;
  rollIntervalMs: number;
  rollSize: number;
  rollCount: number;
  idleTimeoutMs: number;
  maxOpenFiles: number;
  replication: number | undefined;
  maxConcurrentWrites: number;
  /** Event body bytes a round takes at most (whole batches, at least one): bounds what one round's writes hold. */
  maxWriteBytes: number;
  writer: FileWriterOptions;
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
  /** The batch's body bytes, summed once when it arrives (a batch left for a later round is not summed again). */
  bytes: number;
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

export class BucketWriters {
  private readonly buckets = new Map<string, Bucket>();
  private readonly checker: FileWriter;
  private pending: Pending[] = [];
  private running: Promise<void> | undefined;
  /** Files the running round writes. */
  private inRound = new Set<OpenFile>();
  /** Closes, repairs and recovers files in the background. */
  private readonly repair: FileRepair;
  private host: Promise<HostNames> | undefined;
  private lastRoute: Route | undefined;

  constructor(private readonly o: BucketWritersOptions) {
    this.checker = createFileWriter(o.writer);
    this.repair = new FileRepair(o);
  }

  /** Writes the batch in the next round; resolves once its bytes are in HDFS, rejects when they are not. */
  write(batch: Batch): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ batch, bytes: batch.events.reduce((sum, e) => sum + e.body.length, 0), resolve, reject });
      this.running ??= this.loop();
    });
  }

  /** After the last write: closes every open file (one attempt each for what still fails), then stops the timers. */
  async close(): Promise<void> {
    await this.running;
    this.repair.stop();
    for (const bucket of [...this.buckets.values()]) this.detach(bucket.file, true);
    this.buckets.clear();
    await this.repair.settled();
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const round = this.nextRound();
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

  /**
   * The batches of the next round, oldest first: as many as fit in maxWriteBytes of bodies, at least one.
   * The rest wait for the round after (they are in the channel's memory already); unbounded, a round took
   * all the channel handed over, and its encoded copy and the bytes in the socket grew with it.
   */
  private nextRound(): Pending[] {
    let bytes = 0;
    let n = 0;
    for (; n < this.pending.length; n++) {
      const batchBytes = this.pending[n]!.bytes;
      if (n > 0 && bytes + batchBytes > this.o.maxWriteBytes) break;
      bytes += batchBytes;
    }
    return this.pending.splice(0, n);
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
    // Consecutive events share their Route (routeAll): the bucket is looked up once per run of them. Per
    // event, the LRU move (Map delete + set) rehashed the old-space Map's table: ~3 MB of old space per scavenge.
    let route: Route | undefined;
    let bucket!: Bucket;
    for (const { item, routes } of accepted) {
      const events = item.batch.events;
      for (let i = 0; i < events.length; i++) {
        if (routes[i] !== route) {
          route = routes[i]!;
          bucket = this.bucketFor(route, roundBuckets);
        }
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
    // The last route checked, kept across batches: consecutive batches to one bucket share its Route, so
    // a round looks the bucket up once, and a batch makes no Route, name or path check of its own.
    let last = this.lastRoute;
    // A function, not a closure made per event: that was one more allocation per event.
    const refuse = (i: number, message: string): never => {
      throw new ComponentError('FLUME_BAD_EVENT', `${this.o.name}: event ${i + 1} of ${events.length} cannot be written, so the batch is refused: ${message}`, {
        component: this.o.name,
        retriable: false,
      });
    };
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let dir: string;
      let prefix: string;
      try {
        dir = normalize(escapeTokens(this.o.pathTokens, e.headers, ctx));
        prefix = escapeTokens(this.o.prefixTokens, e.headers, ctx);
      } catch (error) {
        if (error instanceof EscapeError) return refuse(i, error.message);
        throw error;
      }
      if (last === undefined || last.dir !== dir || last.prefix !== prefix) {
        const example = `${dir}/${this.o.inUsePrefix}${prefix}.<counter>${this.o.extension}${this.o.inUseSuffix}`;
        const bad = invalidHdfsPath(example);
        if (bad) refuse(i, `its file would be ${JSON.stringify(example)}, which is not an HDFS path: ${bad}`);
        last = { dir, prefix, key: `${dir}/${prefix}` };
      }
      try {
        this.checker.check(e);
      } catch (error) {
        refuse(i, (error as Error).message);
      }
      routes[i] = last;
    }
    this.lastRoute = last;
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
      this.repair.recoverBucket(bucket);
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
    return this.repair.namesIn(bucket.dir, bucket.prefix, counter);
  }

  private openFile(bucket: Bucket): OpenFile {
    const counter = ++bucket.counter;
    return { bucket, counter, ...this.names(bucket, counter), writer: createFileWriter(this.o.writer), created: false, length: 0, events: 0, bodyBytes: 0, closeRequested: false };
  }

  /** Sends what the round appended to `file` as one CREATE or APPEND. */
  private async writeUnit(file: OpenFile, mark: Mark): Promise<void> {
    const bytes = await file.writer.take();
    const length = bytes.length;
    if (length === 0) return;
    // Handed over, a unit's memory is freed as soon as it is written (native), not at a later scavenge; never read after the write.
    const handOver = file.writer.freshUnits;
    if (!mark.created) {
      for (let taken = 0; ; taken++) {
        try {
          await this.o.client.create(file.tmp, bytes, { replication: this.o.replication, handOver });
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
      await this.o.client.append(file.tmp, bytes, { handOver });
    }
    file.length += length;
  }

  /** After a failed round: `file` back to `mark`, kept when HDFS shows its request changed nothing, else abandoned to a repair. */
  private async rollBack(file: OpenFile, mark: Mark, result: PromiseSettledResult<void>): Promise<void> {
    const keep = result.status === 'rejected' && (await this.repair.unchanged(file, mark, result.reason));
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
    this.repair.abandon(file, mark);
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
    this.repair.closeInBackground(file);
  }

  private requestClose(file: OpenFile): void {
    if (this.inRound.has(file)) {
      file.closeRequested = true;
      return;
    }
    this.detach(file, true);
  }

  private armTimers(file: OpenFile): void {
    if (!file.created || this.repair.stopping) return;
    if (this.o.rollIntervalMs > 0 && !file.rollTimer) file.rollTimer = asyncScheduler.schedule(() => this.requestClose(file), this.o.rollIntervalMs);
    if (this.o.idleTimeoutMs > 0) {
      file.idleTimer?.unsubscribe();
      file.idleTimer = asyncScheduler.schedule(() => this.requestClose(file), this.o.idleTimeoutMs);
    }
  }
}
