import { homedir } from 'node:os';
import { join } from 'node:path';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { backoffFlumeKeys, backoffOptions } from '../../core/backoff.js';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions, pathOption } from '../../core/config.js';
import { componentLogger, loggerOption, type ComponentLogger } from '../../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { maxInFlightOption, nameOption } from '../../core/options.js';
import { pollOptionsOf, pollSource } from '../../core/pollSource.js';
import { parseFileGroup, type FileGroup } from './fileGroups.js';
import { Tailer } from './tailer.js';

/** Receives warnings (a position file that cannot be written) and recoveries. */
export type TaildirLogger = ComponentLogger;

const fileGroupPath = z
  .string()
  .check((ctx) => {
    const problem = parseFileGroup('', ctx.value);
    if (typeof problem === 'string') ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })
  // Flume refuses to start on a file group whose directory does not exist; validate says so first.
  .meta(pathOption('patternDirectory'));

const countOrInfinity = z.union([z.number().int().min(1), z.literal(Infinity)], { error: 'integer ≥ 1 or Infinity' });

export const taildirSourceOptions = z
  .strictObject({
    ...nameOption('taildirSource'),
    filegroups: z
      .record(z.string().min(1), fileGroupPath)
      .refine((groups) => Object.keys(groups).length > 0, 'at least one file group')
      .describe("File groups: `{ name: '/dir/regex' }`; the regex must match a whole file name, the directory is literal (Flume filegroups)."),
    positionFile: z
      .string()
      .min(1)
      .meta(pathOption('createFile'))
      .default('~/.flume/taildir_position.json')
      .describe("Flume's JSON position file `[{inode, pos, file}]`, rewritten atomically; a leading `~/` is the home directory."),
    headers: z
      .record(z.string(), z.record(z.string(), z.string()))
      .default({})
      .describe('Static headers per file group: `{ group: { key: value } }` (Flume headers.<group>.<key>).'),
    batchSize: z.number().int().min(1).default(100).describe('Lines per batch, at most; a batch holds lines of one file.'),
    maxBatchCount: countOrInfinity
      .default(Infinity)
      .describe('Batches read from one file in a row before the others get a turn (Flume maxBatchCount).'),
    ...maxInFlightOption('reading stops beyond'),
    skipToEnd: z.boolean().default(false).describe('Files found at start without a stored position are read from their end.'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(120_000)
      .describe('A file not grown for this long is closed (and its partial last line sent, see flushOnIdle); reopened when it grows.'),
    flushOnIdle: z
      .boolean()
      .default(true)
      .describe('When an idle file is closed, send its partial last line as an event (as Flume); false keeps it until its newline.'),
    writePosIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(3000)
      .describe(
        'How often the position file is rewritten when it changed (Flume writePosInterval); 0 rewrites it, synchronously, after every turn that moved a checkpoint.',
      ),
    fileHeader: z.boolean().default(false).describe("Add the file's path as a header."),
    fileHeaderKey: z.string().min(1).default('file').describe('Header key for fileHeader.'),
    byteOffsetHeader: z.boolean().default(false).describe("Add the line's byte offset in its file as header `byteoffset`."),
    maxLineLength: z
      .number()
      .int()
      .min(1)
      .default(1_048_576)
      .describe('Longest body in bytes; longer lines are split or truncated (longLines) and counted in LongLineCount.'),
    longLines: z
      .enum(['split', 'truncate'])
      .default('split')
      .describe("'split' sends a long line as pieces of maxLineLength bytes; 'truncate' sends its first maxLineLength bytes only."),
    cachePatternMatching: z
      .boolean()
      .default(true)
      .describe("List a group's directory again only when its mtime changed (Flume cachePatternMatching)."),
    scanIntervalMs: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('Periodic scan for new, rotated, deleted and idle files; fs.watch events trigger one sooner.'),
    readBufferBytes: z
      .number()
      .int()
      .min(1024)
      .default(262_144)
      .describe('Bytes per read (one more is read ahead); lines are cut from these buffers without copying.'),
    ...backoffOptions('a nack, before the same batch is sent again'),
    ...loggerOption,
  })
  .check((ctx) => {
    const { filegroups, headers } = ctx.value;
    for (const name of Object.keys(headers)) {
      if (!Object.hasOwn(filegroups, name)) {
        ctx.issues.push({ code: 'custom', path: ['headers', name], message: `a file group name (${Object.keys(filegroups).join(', ')})`, input: headers[name] });
      }
    }
  });

export type TaildirSourceOptions = z.input<typeof taildirSourceOptions>;

export const taildirSourceSpec = defineComponent({
  name: 'taildirSource',
  kind: 'source',
  summary: 'Tails files matching per-group regexes, by inode, with a Flume position file: nothing lost or repeated across rotation and restarts.',
  flumeTypes: ['TAILDIR', 'org.apache.flume.source.taildir.TaildirSource'],
  flumeChecksBatchSize: true, // Flume's TaildirSource implements BatchSizeSupported
  schema: taildirSourceOptions,
  flumeKeys: {
    // `filegroups = f1 f2`, `filegroups.<fg>` and `headers.<fg>.<key>` are nested keys the agent assembles.
    positionFile: 'positionFile',
    idleTimeout: 'idleTimeoutMs',
    writePosInterval: 'writePosIntervalMs',
    // Flume's default is Long.MAX_VALUE: beyond a JS number, so it means unbounded.
    maxBatchCount: { option: 'maxBatchCount', convert: (v: string) => (Number(v) >= Number.MAX_SAFE_INTEGER ? Infinity : Number(v)) },
    ...backoffFlumeKeys,
  },
  // Flume lists the groups (`filegroups = f1 f2`) and then gives each one (`filegroups.f1 = /dir/regex`).
  fromFlume: (props) => {
    const names = (props.get('filegroups') ?? '').split(/\s+/).filter(Boolean);
    const filegroups: Record<string, string> = {};
    const consumed = ['filegroups'];
    for (const name of names) {
      const path = props.get(`filegroups.${name}`);
      if (path !== undefined) {
        filegroups[name] = path;
        consumed.push(`filegroups.${name}`);
      }
    }
    return { options: names.length ? { filegroups } : {}, consumed };
  },
});

/**
 * Flume's TAILDIR source: follows every file whose name matches a group's regex, emitting each line
 * as an event (body: the line's exact bytes, invalid UTF-8 included, without `\n` or a `\r` before
 * it; headers: the group's `headers`, plus the path with `fileHeader` and `byteoffset` with
 * `byteOffsetHeader`). A batch holds up to `batchSize` lines of one file; files are read oldest-modified
 * first, `maxBatchCount` batches of one file in a row.
 *
 * Files are known by inode, so rotation loses and repeats nothing:
 * - rename-and-create: the renamed file is read to its end through its open descriptor, under any
 *   name, and released once idle for `idleTimeoutMs` (or deleted); the new file is read from 0. A
 *   rename to another matching name just continues (Flume's taildir has read such files again from 0);
 * - copy-truncate and truncation: a file smaller than what was read is read again from 0 (a file
 *   truncated and grown back past that point between two looks cannot be told apart);
 * - deleted files are read to their end and released; new matching files are found by a scan every
 *   `scanIntervalMs`, sooner on an fs.watch event;
 * - a partial last line is held until its newline arrives, or until the file is closed as idle
 *   (`flushOnIdle`, as Flume) or leaves for good (renamed away or deleted, then idle or read);
 * - lines over `maxLineLength` bytes are split into pieces or truncated (`longLines`) and counted.
 *
 * Checkpoints: the position file is Flume's JSON (`[{"inode":…,"pos":…,"file":"…"}]`), so a Flume
 * agent's file is taken over (by inode, as Flume) and Flume can read ours. It records, per file,
 * only offsets whose events and all earlier events of that file were acked, and is rewritten
 * atomically (temp file, fsync, rename) every `writePosIntervalMs` when it changed and when the
 * source stops; with `writePosIntervalMs: 0`, synchronously at the end of every event-loop turn that
 * moved a checkpoint (fewer duplicates after a crash, at the cost of a write per turn). At start, a
 * stored inode whose name no longer matches (rotated while stopped) is looked for in the group's
 * directory and read to its end. The position file itself is never tailed.
 *
 * Delivery: at-least-once. A nacked batch is re-sent with the same lines (the same offsets) after
 * `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`; a non-retriable nack ends the source. After a
 * crash, lines are re-read from the position file: duplicates are the unsettled batches plus those
 * acked since the last position write (with `writePosIntervalMs: 0`, those acked in the turn the
 * process died in). The checkpoint moves when the next stage acks: behind a memory channel, events it
 * holds at a crash are lost, as in Flume.
 *
 * Backpressure and memory: reading happens only while fewer than `maxInFlight` batches are
 * unsettled. Beyond those, the source holds per open file at most the rest of its last read buffer
 * (`readBufferBytes`, or the partial line when longer) and one buffer read ahead; files that are
 * caught up hold only a partial last line. Bodies are views into those buffers, not copies.
 *
 * Errors: a missing group directory or an unreadable position file at start fail the source with
 * `ComponentError` `FLUME_SOURCE_FAILED`. Per-file read errors are counted in `EventReadFail` and the
 * file is retried on the next scan.
 *
 * A position file that cannot be written (disk full, read-only file system, no permission) does not
 * stop tailing, as in Flume: files still being written and rotated would otherwise lose lines once
 * logrotate deletes them. Each failed write counts in `PositionWriteFail`; the first of an outage is
 * logged with its cause (`logger`), and the recovery too. The old file is never replaced by a partial
 * one and no temp file is left taking space (temp files of killed processes are removed at start).
 * Positions stay in memory and are written as soon as that works again: at the next interval, or,
 * with `writePosIntervalMs: 0`, after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)` (at
 * least 50 ms) without waiting for another ack. A crash during an outage re-sends what was acked
 * since the last successful write.
 *
 * Counters beside Flume's: `OpenFileCount`, `FileRotatedCount`, `FileTruncatedCount`,
 * `FileDeletedCount`, `LongLineCount`, `PositionWriteFail`. Unsubscribing closes every file and
 * watcher, stops the timers and writes the positions a last time.
 *
 * @example
 * pipe(
 *   taildirSource({
 *     filegroups: { app: '/var/log/app/.*\\.log' },
 *     headers: { app: { service: 'checkout' } },
 *     positionFile: '/var/lib/rxflume/taildir_position.json',
 *     batchSize: 500,
 *     fileHeader: true,
 *   }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   loggerSink(),
 * );
 */
export const taildirSource = component(taildirSourceSpec, function taildirSource(options: TaildirSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(taildirSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['OpenFileCount', 'FileRotatedCount', 'FileTruncatedCount', 'FileDeletedCount', 'LongLineCount', 'PositionWriteFail']) {
    metrics.set(key, 0);
  }
  const groups = Object.entries(opts.filegroups).map(([name, spec]) => parseFileGroup(name, spec, opts.headers[name]) as FileGroup);
  const positionFile = opts.positionFile.startsWith('~/') ? join(homedir(), opts.positionFile.slice(2)) : opts.positionFile;

  const source = new Observable<Batch>((subscriber) => {
    const tailer = new Tailer(
      {
        ...opts,
        groups,
        positionFile,
        lines: { maxLineLength: opts.maxLineLength, longLines: opts.longLines },
        log: componentLogger(opts.name, opts.logger),
      },
      metrics,
    );
    const inner = pollSource(tailer.poll, pollOptionsOf(opts), metrics).subscribe(subscriber);
    return () => {
      inner.unsubscribe();
      tailer.close();
    };
  });
  return withMetrics(source, metrics);
});
