import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { asyncScheduler, type SchedulerAction, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions, pathOption } from '../core/config.js';
import { ComponentError, toError } from '../core/errors.js';
import { ComponentCounters, type HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import { nameOption } from '../core/options.js';
import { AVRO_CODECS, AVRO_EVENT_SCHEMA } from '../serializers/avroEventSerializer.js';
import { flumeSerializerName, serializerFactory, serializerOption, type EventSerializer } from '../serializers/eventSerializer.js';
import { syncDir } from '../fs/syncDir.js';

export { flumeSerializerName };

export const fileRollSinkOptions = z.strictObject({
  ...nameOption('fileRollSink'),
  directory: z.string().min(1).meta(pathOption('createDirectory')).describe('Directory the files are written to; created when missing (Flume sink.directory).'),
  rollIntervalS: z
    .number()
    .min(0)
    .default(30)
    .describe('Seconds between rolls to a new file; 0 = never roll, one file per run (Flume sink.rollInterval). Fractions allowed.'),
  ...serializerOption(
    "Event format: the body (TEXT), Java's headers map then the body (HEADER_AND_TEXT), an Avro container file (avro_event), or a serializer made with defineSerializer (in a configuration, a module: `sink.serializer = ./csv.js`).",
  ),
  appendNewline: z.boolean().default(true).describe('TEXT and HEADER_AND_TEXT: end each event with \\n (Flume serializer.appendNewline).'),
  syncIntervalBytes: z
    .number()
    .int()
    .min(32)
    .default(2_048_000)
    .describe('avro_event: largest uncompressed block; each batch is written as its own block(s) (Flume serializer.syncIntervalBytes).'),
  compressionCodec: z.enum(AVRO_CODECS).default('null').describe('avro_event: block codec (Flume serializer.compressionCodec).'),
  batchSize: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('Events per batch taken from the channel; smaller batches count as BatchUnderflowCount (Flume sink.batchSize).'),
  pathManager: z
    .enum(['DEFAULT', 'ROLLTIME'])
    .default('DEFAULT')
    .describe('File names: <prefix><startMillis>-<n> (DEFAULT) or <prefix><yyyyMMddHHmmss>-<n> (ROLLTIME), then .<extension> (Flume sink.pathManager).'),
  prefix: z.string().default('').describe('File name prefix (Flume sink.pathManager.prefix).'),
  extension: z.string().default('').describe('File name extension, without the dot (Flume sink.pathManager.extension).'),
  fsync: z.boolean().default(false).describe('fsync each batch (and each new file\'s directory entry) before acking it, so an ack survives a power loss.'),
});

export type FileRollSinkOptions = z.input<typeof fileRollSinkOptions>;

export const fileRollSinkSpec = defineComponent({
  name: 'fileRollSink',
  kind: 'sink',
  summary: 'Writes events to files in a local directory, rolling to a new file every interval (Flume file_roll sink).',
  flumeTypes: ['file_roll', 'org.apache.flume.sink.RollingFileSink'],
  flumeChecksBatchSize: true, // Flume's RollingFileSink implements BatchSizeSupported
  schema: fileRollSinkOptions,
  flumeKeys: {
    'sink.directory': 'directory',
    'sink.rollInterval': 'rollIntervalS',
    'sink.serializer': { option: 'serializer', convert: flumeSerializerName },
    'sink.serializer.appendNewline': 'appendNewline',
    'sink.serializer.syncIntervalBytes': 'syncIntervalBytes',
    'sink.serializer.compressionCodec': { option: 'compressionCodec', convert: (v: string) => v.trim().toLowerCase() },
    'sink.batchSize': 'batchSize',
    'sink.pathManager': { option: 'pathManager', convert: (v: string) => v.trim().toUpperCase() },
    'sink.pathManager.prefix': 'prefix',
    'sink.pathManager.extension': 'extension',
  },
});

/** Flume's `avro_event` record (`FlumeEventAvroEventSerializer`): no namespace, headers then body. */
export const FILE_ROLL_AVRO_SCHEMA = AVRO_EVENT_SCHEMA;

/**
 * Flume's file_roll sink: writes every batch to the current file in `directory` and acks it once
 * the bytes were handed to the OS (and fsynced with `fsync: true`); every `rollIntervalS` seconds
 * the current file is closed and the next batch opens a new one.
 *
 * - **Names**: `<prefix><startMillis>-<n>[.<extension>]`, Flume's `DefaultPathManager` (start time of
 *   the sink, then a counter from 1), or with `pathManager: 'ROLLTIME'` the local time
 *   `yyyyMMddHHmmss` of the roll in place of the start time. A file is created with `O_EXCL`: a name
 *   that exists already (a restart within the same millisecond, a clock set back) is skipped for the
 *   next counter, so **earlier files are never overwritten** (Flume truncates them).
 * - **Serializers** (Flume's, byte for byte): `TEXT` writes the body, plus `\n` with `appendNewline`;
 *   `HEADER_AND_TEXT` writes Java's `Map.toString()` of the headers (`{k1=v1, k2=v2}`, in header
 *   order — Java's HashMap order is arbitrary), a space, the body and `\n`; `avro_event` writes an
 *   Avro object container file of records `Event { headers: map<string>, body: bytes }` (the schema
 *   of Flume's `FlumeEventAvroEventSerializer`), readable by avro-tools, one block (or more, past
 *   `syncIntervalBytes`) per batch, so every acked batch is a complete block on disk. A serializer
 *   made with `defineSerializer` (in a configuration, a module named by `sink.serializer`, its
 *   options `sink.serializer.*`) gets `serializerOptions`, validated when the sink is built; one that
 *   throws nacks the batch as non-retriable.
 * - **Rolling** happens on the interval even while a batch is being written (the roll waits for
 *   it). Unlike Flume, an interval without events leaves no empty file: files are opened by a batch.
 * - **Failures**: a failed write truncates the file back to its last complete batch, closes it and
 *   nacks the batch (retriable `FLUME_SINK_FAILED`, `EventWriteFail`), the next batch opens a new
 *   file; a failed open counts `ConnectionFailedCount`. Events that cannot be serialized (a header
 *   that is not a string, for Avro) nack the batch as non-retriable.
 * - On `complete`/`error` the current file is closed after the last write; the roll timer (an RxJS
 *   `asyncScheduler` periodic action, started by the first batch) is released.
 *
 * Metrics: Flume's sink counters; `ConnectionCreatedCount`/`ConnectionClosedCount` count files opened
 * and closed.
 *
 * Delivery: at-least-once into the files; a batch redelivered after a failure is written again.
 *
 * @example
 * pipe(taildirSource({ ... }), memoryChannel(), fileRollSink({ directory: '/var/flume/out', rollIntervalS: 300, serializer: 'avro_event', extension: 'avro' }));
 */
export const fileRollSink = component(fileRollSinkSpec, function fileRollSink(options: FileRollSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(fileRollSinkSpec, options);
  // A built-in takes the sink's own options; a custom serializer its serializerOptions (validated now).
  const newSerializer = serializerFactory(
    opts.serializer,
    typeof opts.serializer === 'string' ? { appendNewline: opts.appendNewline, syncIntervalBytes: opts.syncIntervalBytes, compressionCodec: opts.compressionCodec } : opts.serializerOptions,
  );
  const serializerName = typeof opts.serializer === 'string' ? opts.serializer : opts.serializer.name;
  const counters = new ComponentCounters('SINK', opts.name);
  const seriesTimestamp = Date.now();
  let index = 0;
  let lastRoll = '';
  let current: { handle: FileHandle; path: string; size: number; serializer: EventSerializer } | undefined;
  let chain: Promise<void> = Promise.resolve();
  let rollTimer: Subscription | undefined;
  let closing = false;

  const failed = (message: string, cause: unknown, retriable = true): ComponentError =>
    new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}: ${toError(cause).message}`, { component: opts.name, retriable, cause });

  /** Runs `task` after every earlier write and roll, in order; the chain survives failures. */
  const enqueue = (task: () => Promise<void>): Promise<void> => {
    const run = chain.then(task);
    chain = run.catch(() => undefined);
    return run;
  };

  const nextName = (): string => {
    let stamp: string;
    if (opts.pathManager === 'ROLLTIME') {
      stamp = rollTimeStamp(new Date());
      if (stamp !== lastRoll) {
        index = 0;
        lastRoll = stamp;
      }
    } else {
      stamp = String(seriesTimestamp);
    }
    return `${opts.prefix}${stamp}-${++index}${opts.extension ? `.${opts.extension}` : ''}`;
  };

  const openNext = async (): Promise<void> => {
    try {
      await mkdir(opts.directory, { recursive: true });
      for (;;) {
        const path = join(opts.directory, nextName());
        try {
          const handle = await open(path, 'wx');
          current = { handle, path, size: 0, serializer: newSerializer() };
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
      if (opts.fsync) await syncDir(opts.directory);
    } catch (error) {
      counters.inc('ConnectionFailedCount');
      throw failed(`cannot open a file in ${opts.directory}`, error);
    }
    counters.inc('ConnectionCreatedCount');
    startRolling();
  };

  const closeCurrent = async (): Promise<void> => {
    const file = current;
    if (!file) return;
    current = undefined;
    try {
      await file.handle.close();
      counters.inc('ConnectionClosedCount');
    } catch {
      counters.inc('ConnectionFailedCount');
    }
  };

  const startRolling = (): void => {
    if (rollTimer || opts.rollIntervalS === 0 || closing) return;
    const period = opts.rollIntervalS * 1000;
    rollTimer = asyncScheduler.schedule(function roll(this: SchedulerAction<undefined>) {
      void enqueue(closeCurrent);
      this.schedule(undefined, period);
    }, period);
  };

  const serialize = (batch: Batch, file: { size: number; serializer: EventSerializer }): Buffer => {
    try {
      const bytes = file.serializer.serialize(batch.events);
      return file.size === 0 && file.serializer.header.length > 0 ? Buffer.concat([file.serializer.header, bytes]) : bytes;
    } catch (error) {
      throw failed(`cannot serialize a batch as ${serializerName}`, error, false);
    }
  };

  const writeBatch = async (batch: Batch): Promise<void> => {
    if (!current) await openNext();
    const file = current!;
    const bytes = serialize(batch, file);
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await file.handle.write(bytes, done, bytes.length - done, file.size + done);
        done += bytesWritten;
      }
      if (opts.fsync) await file.handle.sync();
      file.size += bytes.length;
    } catch (error) {
      // Leave the file ending on a complete batch (a valid Avro file), and start afresh.
      current = undefined;
      await file.handle.truncate(file.size).catch(() => undefined);
      await file.handle.close().catch(() => undefined);
      if (file.size === 0) await unlink(file.path).catch(() => undefined);
      counters.inc('ConnectionClosedCount');
      throw failed(`write to ${file.path} failed`, error);
    }
  };

  return createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      write: (batch) => enqueue(() => writeBatch(batch)),
      close: async () => {
        closing = true;
        rollTimer?.unsubscribe();
        rollTimer = undefined;
        await enqueue(closeCurrent);
      },
    },
    counters,
  );
});


function rollTimeStamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
