import { EventEmitter } from 'node:events';
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import { asyncScheduler, type Observable, type Subscription } from 'rxjs';
import { Tail } from 'tail';
import { z } from 'zod';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import type { Batch } from '../core/batch.js';
import { batchOptions, bufferedSource, bufferOptionsOf } from '../core/bufferedSource.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import { ComponentCounters, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';

export const tailSourceOptions = z.strictObject({
  ...nameOption('tailSource'),
  path: z.string().min(1).describe('The file to follow; it must exist when the source is subscribed.'),
  fromBeginning: z.boolean().default(false).describe('Read the existing content first; otherwise start at the end of the file.'),
  ...batchOptions('Lines'),
  ...maxInFlightOption('reading pauses beyond'),
  separator: z.string().min(1).default('\n').describe('Line separator; not part of the body. A CRLF file keeps its "\\r" unless this is "\\r\\n".'),
  encoding: z
    .enum(['utf8', 'latin1', 'ascii'])
    .default('utf8')
    .describe("The file's encoding, which gives the separator's bytes; bodies are the line's bytes as they are in the file."),
  follow: z.boolean().default(true).describe('After a rename (rotation), follow the new file at the path, read from its start.'),
  useWatchFile: z.boolean().default(false).describe('Poll with fs.watchFile instead of fs.watch (network file systems).'),
  watchFileIntervalMs: z.number().int().min(1).default(1000).describe('Polling interval with useWatchFile.'),
  fileHeader: z.boolean().default(false).describe('Add the path as a header.'),
  fileHeaderKey: z.string().min(1).default('file').describe('Header key for fileHeader.'),
  ...backoffOptions('a nack'),
});

export type TailSourceOptions = z.input<typeof tailSourceOptions>;

export const tailSourceSpec = defineComponent({
  name: 'tailSource',
  kind: 'source',
  summary: 'Follows one file (like `tail -F`) and emits its lines, pausing while the pipeline is busy.',
  flumeTypes: [],
  schema: tailSourceOptions,
  flumeKeys: backoffFlumeKeys,
});

type LineHandler = (line: string) => void;

/**
 * The `tail` package's watching (fs.watch or fs.watchFile, change events, rename handling) with a
 * reader of our own: `tail` reads each change in one unpausable stream and forgets queued changes on
 * `unwatch()`, so pausing it would lose lines. This reader decodes as latin1 (one char per byte, so
 * bodies are the file's exact bytes and offsets are string lengths), splits on the separator, and
 * pauses between two lines.
 */
class LineReader extends Tail {
  declare filename: string;
  declare queue: unknown[];
  declare currentCursorPos: number;
  // Not class fields: Tail's constructor calls watch() before field initialisers would run.
  declare private ready: boolean;
  declare private paused: boolean;
  declare private dirty: boolean;
  declare private stream: ReadStream | undefined;
  /** Read and not yet split; `textPos` is the file offset of its first byte. */
  declare private text: string;
  declare private textPos: number;
  declare private ino: number;
  declare private separator: string;
  declare private onLine: LineHandler;
  declare private onFailure: (error: unknown) => void;
  declare private watchFileIntervalMs: number | undefined;
  declare private recheck: Subscription | undefined;

  start(
    fromBeginning: boolean,
    separator: string,
    watchFileIntervalMs: number | undefined,
    onLine: LineHandler,
    onFailure: (error: unknown) => void,
  ): void {
    this.separator = separator;
    this.watchFileIntervalMs = watchFileIntervalMs;
    this.onLine = onLine;
    this.onFailure = onFailure;
    this.paused = false;
    this.stream = undefined;
    this.text = '';
    this.ino = statSync(this.filename).ino;
    // The constructor placed the cursor at the end of the file.
    this.textPos = fromBeginning ? 0 : this.currentCursorPos;
    this.ready = true;
    this.lookAgain();
  }

  /** Stops reading between two lines and closes the watcher; the unsplit rest is kept. */
  pause(): void {
    if (!this.ready || this.paused) return;
    this.paused = true;
    this.stream?.pause();
    this.recheck?.unsubscribe();
    Tail.prototype.unwatch.call(this);
  }

  resume(): void {
    if (!this.ready || !this.paused) return;
    this.paused = false;
    try {
      this.watch(this.textPos + this.text.length);
    } catch (error) {
      this.onFailure(error);
    }
  }

  close(): void {
    this.ready = false;
    this.stream?.destroy();
    this.stream = undefined;
    this.recheck?.unsubscribe();
    Tail.prototype.unwatch.call(this);
    EventEmitter.prototype.removeAllListeners.call(this);
  }

  override watch(startingCursor?: number): void {
    (Tail.prototype.watch as (this: Tail, cursor?: number, flush?: boolean) => void).call(this, startingCursor, false);
    // Changes made while not watching (paused, or rotated) were not seen: look again.
    if (this.ready) this.lookAgain();
  }

  /**
   * Reads what changed while nobody watched. fs.watchFile takes its first stat asynchronously, so
   * growth before that stat raises no event: with it, look once more after one interval.
   */
  private lookAgain(): void {
    this.kick();
    if (this.watchFileIntervalMs === undefined) return;
    this.recheck?.unsubscribe();
    this.recheck = asyncScheduler.schedule(() => this.kick(), this.watchFileIntervalMs);
  }

  /** Called by Tail when a change was queued. The queue is only a signal here; we read up to the current size. */
  readBlock(): void {
    this.queue.length = 0;
    if (this.ready) this.kick();
  }

  private kick(): void {
    this.dirty = true;
    this.pump();
  }

  private pump(): void {
    if (!this.ready || this.paused) return;
    this.split();
    if (this.paused) return;
    if (this.stream) {
      this.stream.resume();
      return;
    }
    if (!this.dirty) return;
    this.dirty = false;
    let size: number;
    let ino: number;
    try {
      ({ size, ino } = statSync(this.filename));
    } catch (error) {
      // Renamed and not yet re-created: Tail's rename handling re-watches, or reports that it cannot.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      return this.onFailure(error);
    }
    let from = this.textPos + this.text.length;
    if (ino !== this.ino || size < from) {
      // Replaced (rotation) or truncated: the content at the path starts over.
      this.ino = ino;
      this.text = '';
      this.textPos = from = 0;
    }
    if (size <= from) return;
    const stream = createReadStream(this.filename, { start: from, end: size - 1, encoding: 'latin1' });
    this.stream = stream;
    stream.on('data', (chunk) => {
      if (this.stream !== stream) return;
      this.text += chunk as string;
      this.split();
      if (this.paused) stream.pause();
    });
    stream.on('end', () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.pump();
    });
    stream.on('error', (error) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.onFailure(error);
    });
  }

  private split(): void {
    const text = this.text;
    const sep = this.separator;
    let from = 0;
    let at: number;
    while (!this.paused && this.ready && (at = text.indexOf(sep, from)) !== -1) {
      const line = text.slice(from, at);
      from = at + sep.length;
      this.onLine(line);
    }
    if (from > 0 && this.ready) {
      this.text = text.slice(from);
      this.textPos += from;
    }
  }
}

/**
 * Follows one file, like `tail -F` under Flume's exec source, using the `tail` package for watching:
 * each line (up to `separator`, which is not included) becomes an event whose body is the line's bytes
 * as they are in the file, with headers `{}` (or `{ [fileHeaderKey]: path }` with `fileHeader`).
 * Lines are sent in batches of `batchSize`, a partial batch `batchTimeoutMs` after its first line
 * was read. A line is only complete once its separator is written; a last line without one waits.
 *
 * Backpressure: while `maxInFlight` batches are unsettled and a full batch is waiting, the source
 * stops reading (the watcher is closed with `unwatch()`, the read stream paused between two lines) and
 * resumes from the same byte on the next ack: nothing is read that nobody has room for, no line is
 * lost or repeated by pausing.
 *
 * Delivery: at-least-once while the source runs. A nacked batch is re-sent (same lines, first) after
 * `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`; a non-retriable nack ends the source with that
 * error. No position is persisted: a new subscription starts at the end (or the beginning) again, and
 * unsettled batches are forgotten on unsubscribe.
 *
 * Limits, most of them the `tail` package's — for production logs with rotation and checkpoints use
 * `taildirSource`:
 * - rotation (`follow`): after a rename `tail` waits 1 s and watches the path again; the new file is
 *   then read from its start. Lines appended to the renamed file after the rename are not read, nor
 *   the part of it this source had not read yet (for example while paused), nor its last line if it
 *   had no separator. If no file exists at the path after that second, the source fails with
 *   `FLUME_SOURCE_FAILED`;
 * - a file that shrinks is read again from its start (as Flume's taildir does); one truncated and
 *   regrown past the read position between two changes is read from that position;
 * - `encoding` only gives the separator's bytes: multi-byte encodings such as UTF-16 are not supported.
 *
 * Errors: a missing file at subscription, a read error or a watch error fail the source with
 * `ComponentError` `FLUME_SOURCE_FAILED` (counted in `EventReadFail`). Unsubscribing closes the
 * watcher, the read stream and the timers.
 *
 * @example
 * pipe(tailSource({ path: '/var/log/app.log', batchSize: 500 }), memoryChannel({ capacity: 10_000, transactionCapacity: 500 }), loggerSink());
 */
export const tailSource = component(tailSourceSpec, function tailSource(options: TailSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(tailSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  const separator = Buffer.from(opts.separator, opts.encoding).toString('latin1');
  const headers = (): Record<string, string> => (opts.fileHeader ? { [opts.fileHeaderKey]: opts.path } : {});

  return bufferedSource(
    (feed) => {
      const fail = (error: unknown): void => {
        metrics.inc('EventReadFail');
        const message = `${opts.name}: cannot follow ${opts.path}: ${error instanceof Error ? error.message : String(error)}`;
        feed.fail(new ComponentError('FLUME_SOURCE_FAILED', message, { component: opts.name, cause: error }));
      };
      const onLine = (line: string): void => feed.push({ headers: headers(), body: Buffer.from(line, 'latin1') });
      let reader: LineReader | undefined;
      try {
        reader = new LineReader(opts.path, {
          fromBeginning: false,
          follow: opts.follow,
          useWatchFile: opts.useWatchFile,
          fsWatchOptions: opts.useWatchFile ? { interval: opts.watchFileIntervalMs } : {},
          encoding: 'latin1',
        });
        reader.on('error', fail);
        reader.start(opts.fromBeginning, separator, opts.useWatchFile ? opts.watchFileIntervalMs : undefined, onLine, fail);
      } catch (error) {
        reader?.close();
        fail(error);
        return undefined;
      }
      return reader;
    },
    bufferOptionsOf(opts),
    metrics,
  );
});
