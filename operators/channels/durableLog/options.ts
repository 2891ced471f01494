/** The write-ahead log's options, shared by the file channel and the spillable memory channel's overflow. */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { pathOption, secondsToMs, type FlumeKeyMapping } from '../../../lib/core/config.js';
import { componentLogger, type ComponentLogger } from '../../../lib/core/log.js';
import { statfsFreeSpace, type FreeSpaceProbe } from './spaceGuard.js';

// Created at open when missing; validate checks they can be.
const dir = z.string().min(1).meta(pathOption('createDirectory'));

export const fileLogOptionsShape = {
  checkpointDir: dir
    .default('~/.flume/file-channel/checkpoint')
    .describe(
      'Directory of the checkpoint; give every channel its own. It and each data directory hold in_use.lock: a kernel lock (flock) ' +
        'released when the process dies; without a flock command, judged by pid, process start time and boot id.',
    ),
  dataDirs: z
    .union([dir, z.array(dir).min(1)])
    .default('~/.flume/file-channel/data')
    .describe('Directory, or directories (spread over disks), of the log segments; written in turn, one group commit each.'),
  maxFileSize: z
    .number()
    .int()
    .min(4096)
    .max(2146435071)
    .default(2146435071)
    .describe('Bytes per segment file before a new one is started; emptied segments are deleted.'),
  minimumRequiredSpace: z
    .number()
    .int()
    .min(0)
    .default(524288000)
    .describe('Puts are nacked with ChannelFullError while fewer bytes than this are free on a channel directory; 0 disables the check.'),
  checkpointIntervalMs: z
    .number()
    .int()
    .min(1)
    .default(30000)
    .describe('Time between checkpoints, which bound the replay on restart (Flume checkpointInterval).'),
  checkpointOnClose: z.boolean().default(true).describe('Write a checkpoint on close, so the next open replays nothing.'),
  fsync: z
    .enum(['transaction', 'interval'])
    .default('transaction')
    .describe(
      "'transaction': a put is acked only once on disk (one fdatasync per group commit); " +
        "'interval': once written, synced every fsyncIntervalMs — survives kill -9 but not power loss (Flume fsyncPerTransaction=false).",
    ),
  fsyncIntervalMs: z.number().int().min(1).default(5000).describe("With fsync 'interval', time between syncs (Flume fsyncInterval)."),
  freeSpace: z
    .custom<FreeSpaceProbe>((v) => typeof v === 'function', { message: 'a function (dir) => bytes | Promise<bytes>' })
    .optional()
    .describe('Free bytes in the file system of a directory, for minimumRequiredSpace; fs.statfs by default.'),
};

export const fileLogFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = {
  dataDirs: { option: 'dataDirs', convert: (v: string) => v.split(',').map((d) => d.trim()).filter(Boolean) },
  checkpointInterval: 'checkpointIntervalMs',
  fsyncPerTransaction: { option: 'fsync', convert: (v: string) => (v.trim().toLowerCase() === 'false' ? 'interval' : 'transaction') },
  fsyncInterval: { option: 'fsyncIntervalMs', convert: secondsToMs },
};

/** The parsed options of `fileLogOptionsShape`, with the channel's logger. */
export type FileLogOptions = z.output<z.ZodObject<typeof fileLogOptionsShape>> & { logger?: ComponentLogger | undefined };

/** The options with directories resolved (`~` expanded), the logger and the free-space probe filled in. */
export type ResolvedLogOptions = Omit<FileLogOptions, 'dataDirs' | 'logger' | 'freeSpace'> & { dataDirs: string[]; logger: ComponentLogger; freeSpace: FreeSpaceProbe };

export function resolveLogOptions<T extends FileLogOptions>(name: string, opts: T): T & ResolvedLogOptions {
  const dataDirs = (Array.isArray(opts.dataDirs) ? opts.dataDirs : [opts.dataDirs]).map(expandHome);
  return { ...opts, checkpointDir: expandHome(opts.checkpointDir), dataDirs, logger: componentLogger(name, opts.logger), freeSpace: opts.freeSpace ?? statfsFreeSpace };
}

function expandHome(p: string): string {
  return path.resolve(p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
}

/** Counters of the file channel beyond Flume's common channel set (Flume's FileChannelCounter, plus damage found). */
export const FILE_CHANNEL_COUNTERS = ['EventPutErrorCount', 'EventTakeErrorCount', 'CheckpointWriteErrorCount', 'CorruptRecordCount'] as const;
