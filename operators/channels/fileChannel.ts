import type { OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { loggerOption } from '../../lib/core/log.js';
import type { HasMetrics } from '../../lib/core/metrics.js';
import { nameOption } from '../../lib/core/options.js';
import { boundedChannelOptions, channelEngine, checkTransactionCapacity } from './channelEngine.js';
import { FILE_CHANNEL_COUNTERS, fileLogFlumeKeys, fileLogOptionsShape, resolveLogOptions } from './durableLog/options.js';
import { FileStore } from './fileStore.js';

export const fileChannelOptions = z
  .strictObject({
    ...nameOption('fileChannel'),
    ...loggerOption,
    ...boundedChannelOptions({ capacity: 1_000_000, transactionCapacity: 10_000, held: 'those being written and those taken and not yet committed' }),
    ...fileLogOptionsShape,
  })
  .check(checkTransactionCapacity);

export type FileChannelOptions = z.input<typeof fileChannelOptions>;

export const fileChannelSpec = defineComponent({
  name: 'fileChannel',
  kind: 'channel',
  summary: 'Durable channel on a write-ahead log with checkpoints: what it acked survives kill -9 (Flume file channel).',
  flumeTypes: ['file', 'org.apache.flume.channel.file.FileChannel'],
  flumeChecksBatchSize: true, // Flume's FileChannel implements TransactionCapacitySupported
  schema: fileChannelOptions,
  flumeKeys: { 'keep-alive': { option: 'keepAliveMs', convert: secondsToMs }, ...fileLogFlumeKeys },
  fromFlume: (props) => {
    const encryption = [...props.keys()].filter((k) => k.startsWith('encryption.'));
    return {
      options: {},
      consumed: encryption,
      problems: encryption.slice(0, 1).map((key) => ({
        key,
        message: `file channel encryption is not supported yet (${encryption.join(', ')}); an unencrypted channel would write the events in clear, so nothing starts`,
      })),
    };
  },
});

/**
 * Flume's file channel as an operator: the memory channel's contract (DESIGN.md §1) over a
 * write-ahead log, so that what it acked survives `kill -9`.
 *
 * - **Put**: an upstream batch is acked once its events are on disk: one frame per put, with a
 *   checksum per event, appended to a segment file and `fdatasync`ed (`fsync: 'transaction'`). Puts
 *   arriving while a write is under way share the next one (group commit: one write and one sync for
 *   all). When the events do not fit (`capacity`, `byteCapacity`, counting those being written and
 *   those taken and not committed) the put waits up to `keepAliveMs`, then is nacked with
 *   `ChannelFullError`. While less than `minimumRequiredSpace` is free, or once a write failed for
 *   want of space (ENOSPC, EDQUOT), puts are nacked with `ChannelFullError` at once and no file is
 *   created; what is stored is untouched, and puts resume by themselves once a probe finds
 *   space (1 MiB, or `minimumRequiredSpace`). Puts arriving while the log is opening (recovering)
 *   wait for it; their keep-alive starts once it is open.
 * - **Take**: batches of up to `transactionCapacity` events while fewer than `maxInFlight` are
 *   unsettled. An ack is written to the log before the room and the credit are released (and synced
 *   with the next group commit), so a restart after `kill -9` never delivers an acked take again. A
 *   nack puts the events back at the head, in order, for redelivery after
 *   `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`.
 * - **Disk**: segments (`log-<n>` in `dataDirs`) are deleted once everything in them was taken and
 *   committed and a checkpoint (`checkpointDir`, every `checkpointIntervalMs` and on close) covers
 *   them; a restart loads the checkpoint and replays only what was written after it. When the disk
 *   is full and no checkpoint fits, segments whose events were all taken are emptied in place to
 *   give their space back (a restart knows their events were taken). Memory holds a
 *   pointer per put transaction (~100 bytes) for every stored event, up to 32 MiB of recently put
 *   events, and the next two take batches read ahead of the sink.
 * - **Recovery**: a record torn by a crash at a segment's tail is cut off (it was never acked); a
 *   damaged record inside a segment is skipped, counted in `CorruptRecordCount` and logged with its
 *   file and offset; the channel opens either way. On a read-only or unwritable disk (EROFS,
 *   EACCES) it opens and delivers what it holds; puts are nacked with a retriable
 *   `FLUME_CHANNEL_IO` error, and takes that cannot be recorded are delivered again after a restart.
 * - **Flume's directories**: the log's format is rxflume's own; Apache Flume's file channel cannot be
 *   read. Directories holding it (`checkpoint.meta`, `inflightputs`, `log-<n>.meta`, …) are refused at
 *   open with a non-retriable `FLUME_CHANNEL_IO` error, before anything is created, locked or read there.
 * - **Lock**: `in_use.lock` in every directory stops a second channel, in this or another process,
 *   from opening them; opening then fails with a non-retriable `FLUME_CHANNEL_IO` error naming the
 *   holder. It is a kernel lock (flock(2), taken through util-linux or busybox `flock`, one spawn per
 *   open), held by an open descriptor: the kernel releases it when the process dies, so an agent
 *   killed with `kill -9` always reopens its channel, even as PID 1 of a container or when its PID
 *   was reused. Where no `flock` command runs, the lock is judged by the pid, process start time and
 *   boot id written in it, which cannot see another PID namespace (a warning says so at open).
 * - Upstream completion drains the channel, writes a checkpoint, releases files and locks, then
 *   completes. Unsubscribing nacks waiting puts and releases everything (once writes under way end).
 * - Refused puts are logged, once per kind every 30 s, with recovery reports (damaged records and
 *   their locations, torn tails), to `logger` or the process-wide log.
 *
 * Delivery: at-least-once across crashes. Every acked put is delivered after `kill -9` or a power
 * loss; after `kill -9` events are delivered twice only when their take was unsettled at the crash
 * (at most `maxInFlight` × `transactionCapacity`), after a power loss also the takes acked since the
 * last sync. With `fsync: 'interval'` puts survive a process crash, not a power loss within
 * `fsyncIntervalMs`.
 *
 * Metrics: Flume's channel counters, plus `EventPutErrorCount`, `EventTakeErrorCount`,
 * `CheckpointWriteErrorCount` and `CorruptRecordCount`.
 *
 * @example
 * pipe(
 *   taildirSource({ filegroups: { f1: '/var/log/app/.*\\.log' }, positionFile: '/var/lib/rxflume/taildir.json' }),
 *   fileChannel({ checkpointDir: '/var/lib/rxflume/fc/checkpoint', dataDirs: ['/var/lib/rxflume/fc/data'], transactionCapacity: 1000 }),
 *   kafkaSink({ brokers: ['localhost:9092'], topic: 'logs' }),
 * );
 */
export const fileChannel = component(fileChannelSpec, function fileChannel(options?: FileChannelOptions): OperatorFunction<Batch, Batch> & HasMetrics {
  const opts = parseOptions(fileChannelSpec, options);
  const log = resolveLogOptions(opts.name, opts);
  return channelEngine({ ...opts, counters: FILE_CHANNEL_COUNTERS }, (hooks) => new FileStore({ ...log, cacheBytes: 32 << 20 }, hooks));
});
