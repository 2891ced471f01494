import { userInfo } from 'node:os';
import { z } from 'zod';
import { component, defineComponent, parseOptions, type FlumeMapped, type FlumeProblem } from '../../core/config.js';
import { ConfigError, describeError } from '../../core/errors.js';
import { componentLogger, loggerOption } from '../../core/log.js';
import { ComponentCounters, type HasMetrics } from '../../core/metrics.js';
import { nameOption } from '../../core/options.js';
import { createSink, type Sink } from '../../core/sink.js';
import { resolveCodec, type HadoopCodec } from '../../hdfs/codecs.js';
import type { HdfsClient } from '../../hdfs/hdfsClient.js';
import { NativeHdfsClient } from '../../hdfs/native/nativeHdfsClient.js';
import { WebHdfsClient } from '../../hdfs/webHdfsClient.js';
import { AVRO_CODECS } from '../../serializers/avroEventSerializer.js';
import { flumeSerializerName, serializerFactory, serializerOption } from '../../serializers/eventSerializer.js';
import { parseEscapes, resolveHostNames, type Token } from './bucketPath.js';
import { BucketWriters } from './bucketWriters.js';
import { hdfsLocation, type HdfsLocation } from './hdfsLocation.js';
import { localZone, resolveZone, type Zone } from './javaTime.js';

const FILE_TYPES = ['SequenceFile', 'DataStream', 'CompressedStream'] as const;

export const hdfsSinkOptions = z
  .strictObject({
    ...nameOption('hdfsSink'),
    path: z
      .string()
      .min(1)
      .describe(
        'Directory of the files, with escapes (%{header}, %Y%m%d…, %[localhost]): hdfs://namenode[:rpcPort]/dir, webhdfs://host:port/dir, http(s)://host:port/dir or /dir (Flume hdfs.path).',
      ),
    transport: z
      .enum(['auto', 'webhdfs', 'native'])
      .default('auto')
      .describe(
        "auto: native for an hdfs:// path unless webHdfsUrl is set or gateway is httpfs, else webhdfs. native (an hdfs:// path without webHdfsUrl): Hadoop's own protocols (NameNode RPC, port 8020 by default; DataNode pipelines; files kept open, each batch hsynced), as Flume writes. webhdfs: every path over WebHDFS (an hdfs:// path's NameNode on port 9870, unless webHdfsUrl says where).",
      ),
    webHdfsUrl: z
      .string()
      .optional()
      .describe('Where WebHDFS requests go (the NameNode HTTP server or HttpFS, http(s)://host:port); by default http://<namenode>:9870 of an hdfs:// path, or http://localhost:9870 for a bare path.'),
    gateway: z.enum(['namenode', 'httpfs']).default('namenode').describe('namenode: writes go to a DataNode in two steps; httpfs: in one request through an HttpFS gateway.'),
    user: z.string().min(1).optional().describe('user.name of simple authentication; by default the user running the agent (as Flume runs as its user).'),
    proxyUser: z.string().min(1).optional().describe('Write as this user (WebHDFS doas; the NameNode must allow it by hadoop.proxyuser rules) (Flume hdfs.proxyUser).'),
    filePrefix: z.string().default('FlumeData').describe('File name before the counter, with escapes (Flume hdfs.filePrefix).'),
    fileSuffix: z.string().default('').describe('File name ending after the counter, no dot added; empty: the codec\'s extension (Flume hdfs.fileSuffix).'),
    inUsePrefix: z.string().default('').describe('Prefix of a file while it is written (Flume hdfs.inUsePrefix).'),
    inUseSuffix: z.string().default('.tmp').describe('Suffix of a file while it is written (Flume hdfs.inUseSuffix).'),
    emptyInUseSuffix: z.boolean().default(false).describe('No in-use suffix at all, whatever inUseSuffix says (Flume hdfs.emptyInUseSuffix).'),
    rollIntervalS: z.number().min(0).default(30).describe('Seconds after which a file is closed; 0: never by time (Flume hdfs.rollInterval).'),
    rollSize: z.number().int().min(0).default(1024).describe('Event body bytes after which a file is closed; 0: never by size (Flume hdfs.rollSize).'),
    rollCount: z.number().int().min(0).default(10).describe('Events after which a file is closed; 0: never by count (Flume hdfs.rollCount).'),
    idleTimeoutS: z.number().min(0).default(0).describe('Seconds without writes after which a file is closed; 0: never (Flume hdfs.idleTimeout).'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Expected events per batch, for BatchCompleteCount/BatchUnderflowCount; a batch is written as one request per file whatever its size (Flume hdfs.batchSize).'),
    maxOpenFiles: z.number().int().min(1).default(5000).describe('Open files (buckets) at most; past it the least recently used is closed (Flume hdfs.maxOpenFiles).'),
    fileType: z.enum(FILE_TYPES).default('SequenceFile').describe('SequenceFile (Hadoop\'s key-value format), DataStream (the serializer\'s bytes) or CompressedStream (them compressed with codec) (Flume hdfs.fileType).'),
    codec: z
      .string()
      .optional()
      .describe('gzip, bzip2, snappy, deflate or default (or a Hadoop codec class); SequenceFile: block compression; CompressedStream: required; DataStream: none (Flume hdfs.codeC).'),
    writeFormat: z.enum(['Writable', 'Text']).default('Writable').describe('SequenceFile values: BytesWritable (Writable) or Text of the bodies; keys are the timestamp header as LongWritable (Flume hdfs.writeFormat).'),
    ...serializerOption(
      "DataStream and CompressedStream: TEXT, HEADER_AND_TEXT, avro_event, or a serializer made with defineSerializer (in a configuration, a module: `serializer = ./csv.js`, its options serializer.*); SequenceFile ignores it, as Flume does (writeFormat chooses there) (Flume serializer).",
    ),
    appendNewline: z.boolean().default(true).describe('TEXT and HEADER_AND_TEXT: end each event with \\n (Flume serializer.appendNewline).'),
    syncIntervalBytes: z.number().int().min(32).default(2_048_000).describe('avro_event: largest uncompressed Avro block (Flume serializer.syncIntervalBytes).'),
    compressionCodec: z.enum(AVRO_CODECS).default('null').describe('avro_event: Avro block codec (Flume serializer.compressionCodec).'),
    closeTries: z.number().int().min(0).default(0).describe('Attempts to close (rename) a file; 0: until it succeeds or the sink stops (Flume hdfs.closeTries).'),
    retryIntervalS: z
      .number()
      .default(180)
      .describe('Longest wait between close attempts (they start 1 s apart and double); ≤ 0 means a single attempt (Flume hdfs.retryInterval).'),
    callTimeoutMs: z.number().int().min(1).default(30_000).describe('Deadline of each HDFS request (Flume hdfs.callTimeout).'),
    minBlockReplicas: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Accepted for Flume configurations (hdfs.minBlockReplicas); it never rolls a file: a pipeline that loses a DataNode fails the write instead (native), and WebHDFS shows no pipeline.'),
    replication: z.number().int().min(1).optional().describe('Replication of the files created; by default the cluster\'s.'),
    round: z.boolean().default(false).describe('Round the timestamp down for the time escapes (Flume hdfs.round).'),
    roundValue: z.number().int().default(1).describe('Round down to a multiple of this many units: 1–60 for second and minute, 1–24 for hour (Flume hdfs.roundValue).'),
    roundUnit: z.enum(['second', 'minute', 'hour']).default('second').describe('Unit of rounding (Flume hdfs.roundUnit).'),
    timeZone: z.string().optional().describe("Zone of the time escapes: an IANA name, UTC, GMT+hh:mm or a Java short ID; by default the agent's (Flume hdfs.timeZone)."),
    useLocalTimeStamp: z.boolean().default(false).describe('Time escapes use the clock instead of the timestamp header (Flume hdfs.useLocalTimeStamp).'),
    recoverInUseFiles: z
      .boolean()
      .default(true)
      .describe('When first writing to a bucket, close in-use files an earlier run left there (cut to their last complete batch); Flume leaves them.'),
    recoverQuietS: z
      .number()
      .min(0)
      .default(10)
      .describe(
        "recoverInUseFiles: an in-use file numbered before this run's start (or modified before it) is recovered once it has not changed for this many seconds, so that a killed writer's last request can land first.",
      ),
    maxConcurrentWrites: z.number().int().min(1).default(16).describe('Files written at once within a batch (one request each).'),
    maxWriteBytes: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'Event body bytes written together at most: batches that wait while a write runs go in the next one up to this (whole batches, at least one). By default 1 MiB natively (a write costs one pipeline round trip), 16 MiB over WebHDFS (each request pays a fixed latency).',
      ),
    ...loggerOption,
  })
  .superRefine((o, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    let codec: HadoopCodec | undefined;
    if (o.codec !== undefined) {
      try {
        codec = resolveCodec(o.codec);
      } catch (error) {
        issue('codec', error instanceof ConfigError ? `${error.issues[0]!.expected} (received ${error.issues[0]!.received})` : String(error));
      }
    }
    if (o.fileType === 'DataStream' && codec) issue('codec', 'no codec with fileType DataStream (Flume refuses it too); use CompressedStream');
    if (o.fileType === 'CompressedStream' && o.codec === undefined) issue('codec', 'a codec: fileType CompressedStream needs one');
    if (o.round) {
      const max = o.roundUnit === 'hour' ? 24 : 60;
      if (o.roundValue < 1 || o.roundValue > max) issue('roundValue', `an integer 1–${max} for roundUnit ${o.roundUnit}, received ${o.roundValue}`);
    }
    if (o.timeZone !== undefined) {
      try {
        resolveZone(o.timeZone);
      } catch (error) {
        issue('timeZone', (error as Error).message);
      }
    }
    for (const key of ['path', 'filePrefix'] as const) {
      try {
        parseEscapes(o[key]);
      } catch (error) {
        issue(key, `a template with valid escapes: ${(error as Error).message}`);
      }
    }
    try {
      hdfsLocation(o.path, { webHdfsUrl: o.webHdfsUrl, user: o.user ?? 'user', transport: o.transport, gateway: o.gateway });
    } catch (error) {
      issue('path', `an HDFS path: ${(error as Error).message}`);
    }
  });

export type HdfsSinkOptions = z.input<typeof hdfsSinkOptions>;

const secondsOf = (value: string): unknown => (/^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value);
const lower = (value: string): string => value.trim().toLowerCase();
const fileTypeOf = (value: string): string => FILE_TYPES.find((t) => t.toLowerCase() === value.trim().toLowerCase()) ?? value.trim();

const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  'hdfs.kerberosPrincipal': 'Kerberos is not supported: rxflume writes to HDFS with simple authentication (the user, and hdfs.proxyUser as the user it acts as)',
  'hdfs.kerberosKeytab': 'Kerberos is not supported: rxflume writes to HDFS with simple authentication (the user, and hdfs.proxyUser as the user it acts as)',
};
const IGNORED_KEYS: Readonly<Record<string, string>> = {
  'hdfs.threadsPoolSize': 'has no effect: HDFS requests are asynchronous, there is no thread pool to size',
  'hdfs.rollTimerPoolSize': 'has no effect: roll timers need no threads',
  'hdfs.useRawLocalFileSystem': 'has no effect: rxflume writes to HDFS only, never to a local file system',
};

/** Kerberos keys named as unsupported; the thread pool and local file system keys accepted with a warning. */
function unsupportedFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const problems: FlumeProblem[] = [];
  const consumed: string[] = [];
  for (const key of props.keys()) {
    const unsupported = UNSUPPORTED_KEYS[key];
    const ignored = IGNORED_KEYS[key];
    if (unsupported) problems.push({ key, message: unsupported });
    else if (ignored) problems.push({ key, message: ignored, severity: 'warning' });
    else continue;
    consumed.push(key);
  }
  return { options: {}, consumed, problems };
}

export const hdfsSinkSpec = defineComponent({
  name: 'hdfsSink',
  kind: 'sink',
  summary: "Writes events into HDFS files (WebHDFS or native RPC): SequenceFile, text or compressed, bucketed by Flume's path escapes, acked once HDFS holds them (Flume hdfs sink).",
  flumeTypes: ['hdfs', 'org.apache.flume.sink.hdfs.HDFSEventSink'],
  flumeChecksBatchSize: true, // Flume's HDFSEventSink implements BatchSizeSupported
  schema: hdfsSinkOptions,
  flumeKeys: {
    'hdfs.path': 'path',
    'hdfs.filePrefix': 'filePrefix',
    'hdfs.fileSuffix': 'fileSuffix',
    'hdfs.inUsePrefix': 'inUsePrefix',
    'hdfs.inUseSuffix': 'inUseSuffix',
    'hdfs.emptyInUseSuffix': 'emptyInUseSuffix',
    'hdfs.rollInterval': { option: 'rollIntervalS', convert: secondsOf },
    'hdfs.rollSize': 'rollSize',
    'hdfs.rollCount': 'rollCount',
    'hdfs.idleTimeout': { option: 'idleTimeoutS', convert: secondsOf },
    'hdfs.batchSize': 'batchSize',
    'hdfs.maxOpenFiles': 'maxOpenFiles',
    'hdfs.fileType': { option: 'fileType', convert: fileTypeOf },
    'hdfs.codeC': 'codec',
    'hdfs.writeFormat': 'writeFormat',
    serializer: { option: 'serializer', convert: flumeSerializerName },
    'serializer.appendNewline': 'appendNewline',
    'serializer.syncIntervalBytes': 'syncIntervalBytes',
    'serializer.compressionCodec': { option: 'compressionCodec', convert: lower },
    'hdfs.closeTries': 'closeTries',
    'hdfs.retryInterval': { option: 'retryIntervalS', convert: secondsOf },
    'hdfs.callTimeout': 'callTimeoutMs',
    'hdfs.minBlockReplicas': 'minBlockReplicas',
    'hdfs.round': 'round',
    'hdfs.roundValue': 'roundValue',
    'hdfs.roundUnit': { option: 'roundUnit', convert: lower },
    'hdfs.timeZone': 'timeZone',
    'hdfs.useLocalTimeStamp': 'useLocalTimeStamp',
    'hdfs.proxyUser': 'proxyUser',
  },
  fromFlume: unsupportedFromFlume,
  // Events in hand: at 0.4 s a request on a stock cluster, 20,000 make ~50,000 events/s; a crash duplicates at most these.
  takesAhead: 20_000,
});

/**
 * Flume's HDFS sink: each event goes to the file of its bucket — `path` and `filePrefix`
 * with Flume's escapes replaced for the event (`%{header}`, `%Y-%m-%d/%H%M`, `%[localhost]`, …; see
 * bucketPath.ts), rounded with `round`/`roundValue`/`roundUnit` in `timeZone` — named
 * `<filePrefix>.<counter><fileSuffix or codec extension>`, with `inUsePrefix`/`inUseSuffix` (`.tmp`)
 * while open. A file is closed (renamed) after `rollCount` events, `rollSize` body bytes,
 * `rollIntervalS`, `idleTimeoutS` without writes, or when `maxOpenFiles` buckets are exceeded (least
 * recently used first). Formats (`fileType`): SequenceFile (LongWritable timestamp keys, BytesWritable
 * or Text values by `writeFormat`; block-compressed with `codec`), DataStream and CompressedStream (the
 * TEXT, HEADER_AND_TEXT or avro_event serializer, compressed per batch with `codec`). Hadoop reads every
 * file (`hadoop fs -text`, SequenceFile.Reader, its codecs). A serializer made with `defineSerializer`
 * (in a configuration, a module named by `serializer`, its options `serializer.*`) writes DataStream
 * and CompressedStream files as file_roll's does, with `serializerOptions` validated when the sink is
 * built; one that throws refuses the batch as non-retriable (FLUME_BAD_EVENT). SequenceFile ignores
 * `serializer`, as Flume's HDFSSequenceFile does.
 *
 * An `hdfs://namenode[:port]/…` path (port 8020 by default) is written as Flume writes it, over
 * Hadoop's own protocols (lib/hdfs/native: NameNode RPC, DataTransferProtocol to the DataNodes): each
 * file's output stream stays open and each batch's bytes are hsynced — on the disks of every DataNode
 * of the pipeline — before it is acked (Flume only hflushes); rolling completes the file, then renames
 * it; a file whose pipeline broke is recovered (lease recovery), cut back to what was acked and closed
 * in the background. A SIGKILL of the whole cluster mid-stream loses nothing acked. Writes go over
 * WebHDFS instead for a `webhdfs://`, `http(s)://` or bare `/…` path, when `webHdfsUrl` is set (the
 * NameNode's HTTP server or HttpFS) or `gateway` is `httpfs`, or with `transport: 'webhdfs'` (then an
 * hdfs:// path's NameNode on port 9870). Either way as `user` or as `proxyUser`; Kerberos is not
 * supported. A batch is one write
 * per file it touches — an hsync, or a WebHDFS CREATE or APPEND whose answer comes once the DataNode
 * closed the file with the bytes in it — and batches that arrive while one is written go together in
 * the next writes (the channel's `maxInFlight` lets several wait). The first time it writes to a bucket
 * it closes the in-use files an earlier run left there (`recoverInUseFiles`: those numbered before
 * this run's start, once unchanged for `recoverQuietS`), cut to their last complete batch.
 *
 * Over WebHDFS, throughput is events in flight over the request's latency: every WebHDFS write closes the file, and
 * the DataNode's own client then often waits 400 ms before the close goes through (its
 * `dfs.client.block.write.locateFollowingBlock.initial.delay.ms`), which Flume, keeping its file open,
 * never pays. So the sink wants many batches at once: in an agent its channel hands it up to 20,000
 * events (or its capacity, if smaller) as batches of `transactionCapacity`, unless the configuration sets the channel's
 * `maxInFlight`; in a pipeline give the channel that `maxInFlight` yourself. The events in hand then
 * bound the rate (about that number / 0.4 s events a second on such a cluster); lowering that
 * delay in the DataNodes' `hdfs-site.xml` (10–50 ms) lifts it tenfold (`npm run bench:hdfs` measures both).
 *
 * Delivery: at-least-once. A batch is acked only once every file it went to has its bytes in HDFS; a
 * failed batch is nacked with nothing of it left in HDFS (files it changed are cut back or abandoned and
 * repaired), and the channel offers it again after its back-off; duplicates arise only from a crash
 * between a write and its ack, and are at most what the sink held: the channel's `maxInFlight` ×
 * `transactionCapacity` events (in an agent, by default, up to 20,000; Flume's are one
 * batch). A batch with an event that cannot be placed — no `timestamp` header
 * while the path needs one (unless `useLocalTimeStamp`), an escape making an invalid path — is refused
 * before anything is written, naming the event and the file; as in Flume, it is offered again.
 *
 * Errors: the HDFS refusal of the request that failed — FLUME_HDFS_PERMISSION, FLUME_HDFS_QUOTA,
 * FLUME_HDFS_SAFE_MODE, FLUME_HDFS_LEASE, FLUME_HDFS_IO, FLUME_HDFS_TIMEOUT, FLUME_HDFS_BAD_REQUEST —
 * naming the file; FLUME_BAD_EVENT for a batch refused before writing (no timestamp, an invalid path, an
 * event its format cannot hold), naming the event and the file.
 *
 * Counters: Flume's sink counters; ConnectionCreatedCount / ConnectionClosedCount count files created
 * and closed, ConnectionFailedCount failed creates and close attempts.
 *
 * @example
 * pipe(
 *   taildirSource({ filegroups: { f1: '/var/log/app/.*log' }, positionFile: '/var/lib/rxflume/taildir.json' }),
 *   timestampInterceptor(),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 1000, maxInFlight: 10 }),
 *   hdfsSink({ path: 'hdfs://namenode/flume/events/%Y-%m-%d/%H', fileType: 'DataStream', rollCount: 0, rollSize: 128 * 1024 * 1024, batchSize: 1000 }),
 * );
 */
export const hdfsSink = component(hdfsSinkSpec, function hdfsSink(options: HdfsSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(hdfsSinkSpec, options);
  const counters = new ComponentCounters('SINK', opts.name);
  const log = componentLogger(opts.name, opts.logger);
  const user = opts.user ?? userInfo().username;
  const location: HdfsLocation = hdfsLocation(opts.path, { webHdfsUrl: opts.webHdfsUrl, user, transport: opts.transport, gateway: opts.gateway });
  const codec = opts.codec === undefined ? undefined : resolveCodec(opts.codec);
  const zone: Zone = opts.timeZone === undefined ? localZone() : resolveZone(opts.timeZone);
  const pathTokens: Token[] = parseEscapes(location.pathTemplate);
  const prefixTokens: Token[] = parseEscapes(opts.filePrefix);
  const client: HdfsClient =
    location.transport === 'native'
      ? new NativeHdfsClient({ host: location.host, port: location.port, user, doAs: opts.proxyUser, timeoutMs: opts.callTimeoutMs, component: opts.name })
      : new WebHdfsClient({
          url: location.url,
          user,
          doAs: opts.proxyUser,
          gateway: opts.gateway,
          timeoutMs: opts.callTimeoutMs,
          maxSockets: opts.maxConcurrentWrites,
          component: opts.name,
        });
  const retryIntervalMs = opts.retryIntervalS * 1000;
  // A built-in takes the sink's own options; a custom serializer its serializerOptions (validated now, as file_roll does).
  const builtIn = typeof opts.serializer === 'string';
  const newSerializer = serializerFactory(
    opts.serializer,
    builtIn ? { appendNewline: opts.appendNewline, syncIntervalBytes: opts.syncIntervalBytes, compressionCodec: opts.compressionCodec } : opts.serializerOptions,
  );
  const serializerName = typeof opts.serializer === 'string' ? opts.serializer : opts.serializer.name;
  const writers = new BucketWriters({
    name: opts.name,
    client,
    pathTokens,
    prefixTokens,
    escape: { zone, round: opts.round ? { unit: opts.roundUnit, value: opts.roundValue } : undefined, useLocalTimeStamp: opts.useLocalTimeStamp, now: Date.now },
    resolveHost: resolveHostNames,
    extension: opts.fileSuffix !== '' ? opts.fileSuffix : (codec?.extension ?? ''),
    inUsePrefix: opts.inUsePrefix,
    inUseSuffix: opts.emptyInUseSuffix ? '' : opts.inUseSuffix,
    rollIntervalMs: opts.rollIntervalS * 1000,
    rollSize: opts.rollSize,
    rollCount: opts.rollCount,
    idleTimeoutMs: opts.idleTimeoutS * 1000,
    maxOpenFiles: opts.maxOpenFiles,
    // Flume: a retry interval ≤ 0 means one attempt.
    closeTries: retryIntervalMs <= 0 ? 1 : opts.closeTries,
    retryIntervalMs: Math.max(retryIntervalMs, 1),
    callTimeoutMs: opts.callTimeoutMs,
    replication: opts.replication,
    maxConcurrentWrites: opts.maxConcurrentWrites,
    maxWriteBytes: opts.maxWriteBytes ?? (location.transport === 'native' ? 1 << 20 : 16 << 20),
    recoverInUseFiles: opts.recoverInUseFiles,
    quietMs: opts.recoverQuietS * 1000,
    writer: {
      fileType: opts.fileType,
      codec,
      writeFormat: opts.writeFormat,
      newSerializer,
      serializerName,
      serializerOutputIsFresh: builtIn,
      now: Date.now,
    },
    // A custom serializer's files have no end marker the repair knows: they are kept as they are.
    tail: builtIn ? { fileType: opts.fileType, serializer: opts.serializer as string, appendNewline: opts.appendNewline } : { fileType: opts.fileType, serializer: '', appendNewline: false },
    counters,
    log,
  });
  return createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      logger: opts.logger,
      write: (batch) => writers.write(batch),
      close: async () => {
        try {
          await writers.close();
        } finally {
          // Files the native client could not complete stay leased, and are recovered at the next start.
          await Promise.resolve(client.close()).catch((error: unknown) => log('warn', `closing the HDFS client: ${describeError(error)}`));
        }
      },
    },
    counters,
  );
});
