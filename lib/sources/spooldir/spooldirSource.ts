import { isAbsolute, join, resolve } from 'node:path';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { javaRegex, javaRegexOption } from '../../text/javaRegex.js';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions, pathOption } from '../../core/config.js';
import { ComponentError, FlumeError, toError } from '../../core/errors.js';
import { componentLogger, loggerOption, type ComponentLogger } from '../../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { maxInFlightOption, nameOption } from '../../core/options.js';
import { pollSource } from '../../core/pollSource.js';
import type { CandidateRules } from './candidates.js';
import { CHARSETS, charsetName } from './charsets.js';
import { completeFile, marker, type CompletionOptions } from './completion.js';
import { FileQueue } from './fileQueue.js';
import { Progress } from './progress.js';
import { readRules } from './readRules.js';
import type { SpoolFile } from './spoolFile.js';
import { SpoolReader } from './spoolReader.js';
import { Tracker } from './tracker.js';

/** Receives completed files and warnings. */
export type SpooldirLogger = ComponentLogger;

const regex = (fallback: string, what: string) =>
  javaRegexOption().default(fallback).describe(`${what} (a Java regular expression, as Flume's, matched against the whole file name).`);

export const spooldirSourceOptions = z.strictObject({
  ...nameOption('spooldirSource'),
  spoolDir: z.string().min(1).meta(pathOption('writeDirectory')).describe('The directory whose files are ingested; files must be complete and never change once there.'),
  fileSuffix: z.string().min(1).default('.COMPLETED').describe('Appended to the name of a file once all its events are acked (deletePolicy never).'),
  deletePolicy: z
    .enum(['never', 'immediate'])
    .default('never')
    .describe("'never' renames a completed file with fileSuffix; 'immediate' deletes it."),
  fileHeader: z.boolean().default(false).describe("Add the file's absolute path as a header."),
  fileHeaderKey: z.string().min(1).default('file').describe('Header key for fileHeader.'),
  basenameHeader: z.boolean().default(false).describe("Add the file's name as a header."),
  basenameHeaderKey: z.string().min(1).default('basename').describe('Header key for basenameHeader.'),
  includePattern: regex('^.*$', 'Only files whose name matches are read'),
  ignorePattern: regex('^$', 'Files (and, with recursiveDirectorySearch, directories) whose name matches are skipped'),
  trackerDir: z
    .string()
    .min(1)
    .default('.flumespool')
    .describe('Where progress is kept (rxflume-spooldir.json); relative to spoolDir unless absolute. One source per tracker directory.'),
  trackingPolicy: z
    .enum(['rename', 'tracker_dir'])
    .default('rename')
    .describe(
      "deletePolicy never: 'rename' marks a completed file by renaming it with fileSuffix; 'tracker_dir' leaves it as it is and creates " +
        'an empty file trackerDir/<its path under spoolDir><fileSuffix> instead (files so marked are not read again).',
    ),
  consumeOrder: z
    .enum(['oldest', 'youngest', 'random'])
    .default('oldest')
    .describe('Which file next: by modification time (ties by name), or any.'),
  pollDelayMs: z.number().int().min(1).default(500).describe('How long to wait before looking again when no file is waiting (Flume pollDelay).'),
  recursiveDirectorySearch: z.boolean().default(false).describe('Also read files in sub-directories (not hidden or ignored ones).'),
  batchSize: z.number().int().min(1).default(100).describe('Events per batch, at most; a batch holds events of one file.'),
  inputCharset: z
    .enum(CHARSETS)
    .default('UTF-8')
    .describe(
      'LINE: the charset the file is decoded with (characters counted for maxLineLength, bodies re-encoded in outputCharset). ' +
        'ASCII-compatible charsets only: UTF-8, ISO-8859-1, US-ASCII (UTF-16 and others are refused).',
    ),
  outputCharset: z
    .enum(CHARSETS)
    .default('UTF-8')
    .describe('LINE: the charset of the bodies (Flume deserializer.outputCharset); a character it cannot hold becomes `?`.'),
  decodeErrorPolicy: z
    .enum(['FAIL', 'REPLACE', 'IGNORE'])
    .default('FAIL')
    .describe(
      "LINE: bytes not valid in inputCharset. 'FAIL' stops the source (the batch holding them is not sent, the file left as it is); " +
        "'REPLACE' puts U+FFFD for each malformed sequence; 'IGNORE' leaves them out.",
    ),
  deserializer: z
    .enum(['LINE', 'BLOB'])
    .default('LINE')
    .describe("'LINE': one event per line; 'BLOB': one event per file (per maxBlobLength bytes). Flume's AVRO deserializer is not supported."),
  maxLineLength: z
    .number()
    .int()
    .min(1)
    .default(2048)
    .describe('LINE: characters per event; a longer line is cut into several events (Flume deserializer.maxLineLength).'),
  maxBlobLength: z
    .number()
    .int()
    .min(1)
    .default(100_000_000)
    .describe('BLOB: bytes per event; a larger file gives several events (Flume deserializer.maxBlobLength).'),
  ...maxInFlightOption('nothing more is read meanwhile'),
  minBackoffMs: z.number().int().min(0).default(250).describe('After a nack, re-send the batch after this, doubling on each further nack.'),
  maxBackoffMs: z.number().int().min(0).default(4000).describe('Longest wait before re-sending a nacked batch (Flume maxBackoff).'),
  ...loggerOption,
});

export type SpooldirSourceOptions = z.input<typeof spooldirSourceOptions>;

const lower = (value: string): string => value.toLowerCase();

export const spooldirSourceSpec = defineComponent({
  name: 'spooldirSource',
  kind: 'source',
  summary: 'Ingests complete files dropped in a directory, renaming (or deleting) each once all its events are acked.',
  flumeTypes: ['spooldir', 'org.apache.flume.source.SpoolDirectorySource'],
  flumeChecksBatchSize: true, // Flume's SpoolDirectorySource implements BatchSizeSupported
  schema: spooldirSourceOptions,
  flumeKeys: {
    pollDelay: 'pollDelayMs',
    maxBackoff: 'maxBackoffMs',
    deletePolicy: { option: 'deletePolicy', convert: lower },
    consumeOrder: { option: 'consumeOrder', convert: lower },
    trackingPolicy: { option: 'trackingPolicy', convert: lower },
    inputCharset: { option: 'inputCharset', convert: charsetName },
    'deserializer.outputCharset': { option: 'outputCharset', convert: charsetName },
    decodeErrorPolicy: { option: 'decodeErrorPolicy', convert: (v) => v.toUpperCase() },
    deserializer: {
      option: 'deserializer',
      convert: (v) => (/BlobDeserializer/.test(v) ? 'BLOB' : v.toUpperCase() === 'LINE' ? 'LINE' : v),
    },
    'deserializer.maxLineLength': { option: 'maxLineLength', convert: Number },
    'deserializer.maxBlobLength': { option: 'maxBlobLength', convert: Number },
  },
});

/**
 * Flume's spooling directory source: ingests files dropped, complete, into `spoolDir`. Files are
 * taken one at a time (`consumeOrder`), read as lines (`deserializer: 'LINE'`, a line longer than
 * `maxLineLength` characters cut into several events, the `\n` not part of the body, a last line
 * without one included; as Flume, a line of exactly k × `maxLineLength` characters followed by `\n`
 * gives k events and an empty one) or whole (`'BLOB'`, `maxBlobLength` bytes per event). A file
 * that gives no event at all (an empty file) gives one with an empty body, as Flume. LINE decodes
 * the file with `inputCharset` and its bodies are the text in `outputCharset` (UTF-8 both by
 * default: then the file's exact bytes); bytes not valid in `inputCharset` fail the source
 * (`decodeErrorPolicy: 'FAIL'`, Flume's default: the batch holding them is not sent, the file is
 * left as it is, `EventReadFail` counted), become U+FFFD (`'REPLACE'`, one per malformed sequence,
 * counted as a character) or are left out (`'IGNORE'`). BLOB bodies are the file's exact bytes.
 * Hidden files and directories, files ending in `fileSuffix`, names not matching `includePattern`
 * or matching `ignorePattern`, and the tracker directory are skipped.
 *
 * Symbolic links: nothing outside `spoolDir` is ever renamed or deleted. A link to a file is read
 * through the link, as Flume does, and completing it renames or removes the link itself, never its
 * target. With `recursiveDirectorySearch`, a link to a directory is not searched (a warning names it
 * once; Flume does not follow such links either), so a link loop is never walked, and a directory
 * reached twice (a bind mount) is searched once. Before a file is opened and again before it is
 * renamed or deleted, its directory must still be the real directory under `spoolDir` its path
 * names: a tracked file whose directory became a link while stopped is not resumed (warned, and the
 * tracker dropped), and one whose directory is swapped for a link while it is read fails the source
 * (`FLUME_SOURCE_FAILED`), the file left where it is.
 *
 * Delivery: at-least-once, file by file. A batch holds events of one file; at most `maxInFlight` are
 * unsettled and nothing beyond one read chunk (64 KiB) is read meanwhile. The tracker
 * (`trackerDir/rxflume-spooldir.json`, JSON of our own, not Flume's meta file) records the offset up
 * to which the file's events, and all earlier ones, are acked; it is written in place (two slots
 * in turn, so a torn write spoils only the newer one and a write needs no new space once both
 * exist) and fdatasync'ed before the ack returns (one small synchronous write per ack).
 * Only once every event of a file is acked is the file renamed with `fileSuffix` (or deleted, with
 * `deletePolicy: 'immediate'`; or, with `trackingPolicy: 'tracker_dir'`, left as it is and marked by
 * an empty file `trackerDir/<its path under spoolDir><fileSuffix>` as in Flume 1.11, marked files
 * being skipped) and the tracker cleared. A restart — a new subscription, or a new
 * process after a crash — resumes the tracked file at that offset, before any other file: none is
 * lost, and only the batches unsettled at the stop come again (with `maxInFlight` > 1, also those
 * acked after a batch that was still unsettled). A nacked batch is re-sent, before anything else,
 * after `minBackoffMs` doubling up to `maxBackoffMs` (Flume: 250 ms to 4 s); a non-retriable nack
 * ends the source with that error. Acks arriving after unsubscribe are not recorded.
 *
 * Disk faults. When the tracker cannot be written (disk full, read-only file system, I/O error),
 * nothing more is sent — batches in flight still settle — until it can: the save is retried after
 * `minBackoffMs` doubling up to `maxBackoffMs` (at least 50 ms), each failure counted in
 * `TrackerWriteFail`. Its other slot still holds the state before, so a crash meanwhile resumes
 * from there and re-sends at most the batches acked since. Flume stops its source for good on such
 * an error; holding back keeps the duplicates after a crash bounded by the batches in flight, and
 * the source carries on by itself. A completed file that cannot be renamed or deleted (read-only,
 * no permission) waits in the same way, counted in `GenericProcessingFail`, before the next file is
 * opened. The first failure of an outage is logged with its cause, and the recovery. The tracker
 * file stays open for writing while the source runs, so Linux refuses to remount its file system
 * read-only meanwhile (EBUSY); permissions changed on it later do not affect that open file. A
 * tracker that cannot be opened at start (missing rights, read-only) fails the source.
 *
 * Files must not change once in the directory (Flume's rule); this source chooses to stop loudly
 * rather than skip. Before each read (every 64 KiB) and before completion, the file's inode, size and
 * modification time are compared with those seen when it was opened; on any difference the source
 * fails with `ComponentError` `FLUME_SOURCE_FAILED` (not retriable, counted in `EventReadFail`)
 * naming the file and the change, as Flume halts with "File has changed size since being read".
 * Events already sent came from bytes read before the change was seen; nothing more is sent, and
 * bytes beyond the size seen at opening are never read. The file is left as it is — not renamed,
 * not deleted — with its acked offset kept in the tracker. A restart on a changed tracked file fails
 * the same way; move the file away (or delete the tracker to read it again from its start). A
 * completed name that already exists (`a.log.COMPLETED`) fails it too ("file name re-used"), as
 * do a missing spool directory and an unreadable tracker.
 *
 * Differences from Flume: a piece never ends inside a character (Flume cuts a surrogate pair at the
 * limit, each half becoming `?`; here the pair starts the next piece); a file resumed after a restart
 * with nothing left to send gives no empty event (Flume's gives one). Not supported: the AVRO
 * deserializer, UTF-16 and other charsets that are not ASCII-compatible (both refused by validation,
 * naming the value). `includePattern` and `ignorePattern` are Java regular expressions, translated with
 * Java 17's meaning; a construct JavaScript cannot express is refused by validation, naming it. Events of a retried batch may arrive after later ones when `maxInFlight` > 1.
 *
 * @example
 * pipe(
 *   spooldirSource({ spoolDir: '/var/spool/app', fileHeader: true, batchSize: 500 }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   loggerSink(),
 * );
 */
export const spooldirSource = component(spooldirSourceSpec, function spooldirSource(
  options: SpooldirSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(spooldirSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('TrackerWriteFail', 0); // beside Flume's counters, listed from the start so dashboards see it
  const spoolDir = resolve(opts.spoolDir);
  const trackerDir = isAbsolute(opts.trackerDir) ? opts.trackerDir : join(spoolDir, opts.trackerDir);
  const rules: CandidateRules = {
    spoolDir,
    trackerDir,
    fileSuffix: opts.fileSuffix,
    include: wholeName(opts.includePattern),
    ignore: wholeName(opts.ignorePattern),
    recursive: opts.recursiveDirectorySearch,
  };
  /** tracker_dir: the empty file that marks a file completed. */
  const mark = opts.trackingPolicy === 'tracker_dir' && opts.deletePolicy === 'never' ? marker(trackerDir, opts.fileSuffix) : undefined;
  const log = componentLogger(opts.name, opts.logger);
  const failure = (message: string, cause?: unknown): ComponentError =>
    new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: false, cause });

  const source = new Observable<Batch>((subscriber) => {
    const stop = new AbortController();
    const signal = stop.signal;
    const progress = new Progress(new Tracker(trackerDir), opts, metrics, log);
    const read = readRules(opts, metrics, failure, progress.tracker.path);
    const queue = new FileQueue({ spoolDir, trackerDir, rules, consumeOrder: opts.consumeOrder, read, progress, log, mark, failure, signal });
    const completion: CompletionOptions = {
      spoolDir,
      realSpoolDir: () => queue.realSpoolDir,
      fileSuffix: opts.fileSuffix,
      deletePolicy: opts.deletePolicy,
      mark,
      progress,
      log,
      failure,
      signal,
    };
    const complete = (f: SpoolFile): Promise<boolean> => completeFile(f, completion);
    const reader = new SpoolReader({ batchSize: opts.batchSize, pollDelayMs: opts.pollDelayMs, queue, complete, progress, read, signal });

    const inner = pollSource(
      // Every failure reaching here is fatal: retrying cannot fix a changed file or a broken directory
      // (tracker writes, renames and deletes that fail are retried inside next()).
      () =>
        reader.next().catch((error: unknown) => {
          throw error instanceof FlumeError ? error : failure(toError(error).message, error);
        }),
      // Back-off is ours (Flume's doubling); pollSource re-polls at once and poll() waits.
      { name: opts.name, maxInFlight: opts.maxInFlight, backoffSleepIncrementMs: 0, maxBackoffSleepMs: 0 },
      metrics,
    ).subscribe(subscriber);

    return () => {
      stop.abort();
      inner.unsubscribe();
      reader.close();
    };
  });
  return withMetrics(source, metrics);
});

function wholeName(pattern: string): RegExp {
  return javaRegex(pattern, { whole: true }).regex;
}
