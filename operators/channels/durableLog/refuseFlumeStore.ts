/**
 * Refuses directories holding Apache Flume's file channel. rxflume's log has a format of its own
 * (format.ts) but the same file names (`log-<n>`, `checkpoint`): read as its own, a Flume segment looks
 * like one long torn record and recovery would cut it off, destroying Flume's events. Flume's store is
 * recognised by files rxflume never writes, and left untouched: nothing is created, locked or read.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ComponentError } from '../../../lib/core/errors.js';

/** Files of Flume's checkpoint directory (and its backup) that rxflume never writes. */
const FLUME_CHECKPOINT_FILES = new Set(['checkpoint.meta', 'inflightputs', 'inflighttakes', 'queueset', 'backupComplete']);
/** The metadata file beside each of Flume's data files (LogFileV3). */
const FLUME_DATA_META = /^log-\d+\.meta$/;

/** Throws a non-retriable FLUME_CHANNEL_IO error when a directory holds Flume's file channel; a missing directory is fine. */
export async function refuseFlumeStore(name: string, checkpointDir: string, dataDirs: readonly string[]): Promise<void> {
  const found: string[] = [];
  const scan = async (dir: string, isFlume: (file: string) => boolean): Promise<void> => {
    const names = await fs.readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const hits = names.filter(isFlume).sort();
    if (hits.length > 0) found.push(`${dir} (${hits.slice(0, 3).join(', ')}${hits.length > 3 ? ', …' : ''})`);
  };
  await scan(checkpointDir, (f) => FLUME_CHECKPOINT_FILES.has(f));
  for (const dir of new Set(dataDirs.map((d) => path.resolve(d)))) await scan(dir, (f) => FLUME_DATA_META.test(f));
  if (found.length === 0) return;
  throw new ComponentError(
    'FLUME_CHANNEL_IO',
    `${name}: cannot open: ${found.join('; ')} ${found.length > 1 ? 'hold' : 'holds'} Apache Flume's file channel, whose format rxflume cannot read; ` +
      'nothing was changed there. Drain it with Flume, or give this channel directories of its own',
    { component: name, retriable: false },
  );
}
