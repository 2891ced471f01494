/**
 * What becomes of a spooled file once all its events are acked: renamed with `fileSuffix`, deleted
 * (`deletePolicy: 'immediate'`), or left as it is and marked by an empty file under the tracker
 * directory (`trackingPolicy: 'tracker_dir'`); then the tracker is cleared. Nothing outside
 * spoolDir is ever renamed or deleted, and a completed name already taken fails the source.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError } from '../../core/errors.js';
import type { ComponentLogger } from '../../core/log.js';
import { syncDir } from '../../fs/syncDir.js';
import type { Progress } from './progress.js';
import { inside, type SpoolFile } from './spoolFile.js';
import type { TrackerState } from './tracker.js';

/** The tracker state naming no file: nothing to resume. */
export const CLEARED: TrackerState = { file: null, ino: '0', size: 0, mtimeNs: '0', pos: 0 };

/** tracker_dir: the path of the empty file that marks the file at `rel` (its path under spoolDir) completed. */
export function marker(trackerDir: string, fileSuffix: string): (rel: string) => string {
  return (rel) => join(trackerDir, ...rel.split('/')) + fileSuffix;
}

export interface CompletionOptions {
  spoolDir: string;
  /** spoolDir with its links resolved, once the source started. */
  realSpoolDir(): string;
  fileSuffix: string;
  deletePolicy: 'never' | 'immediate';
  /** tracker_dir (with deletePolicy never): where a file's completion mark goes; otherwise undefined. */
  mark: ((rel: string) => string) | undefined;
  progress: Progress;
  log: ComponentLogger;
  /** The source's fatal error of a message. */
  failure(message: string): Error;
  /** Aborted when the source is unsubscribed. */
  signal: AbortSignal;
}

/**
 * Renames, deletes or marks `f`, all of whose events are acked, after checking it did not change;
 * false when that failed for now (counted in `GenericProcessingFail` and to be retried after
 * `progress.retryDelay`) or the source stopped meanwhile. Throws the source's failure when `f` is
 * no longer inside spoolDir or its completed name is taken.
 */
export async function completeFile(f: SpoolFile, o: CompletionOptions): Promise<boolean> {
  const { progress, log, failure } = o;
  await f.checkUnchanged();
  await f.release();
  if (o.signal.aborted) return false;
  if (!(await inside(f, o.realSpoolDir()))) {
    throw failure(
      `cannot complete ${f.path}: its directory is no longer inside spoolDir ${o.spoolDir} (replaced by a symbolic link, or moved); ` +
        'nothing outside spoolDir is renamed or deleted: it is left as it is',
    );
  }
  if (o.mark) {
    const dest = o.mark(f.rel);
    if (existsSync(dest)) throw failure(`cannot complete ${f.path}: ${dest} exists (file name re-used); it is left as it is`);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await (await open(dest, 'wx')).close();
    } catch (error) {
      progress.failed('GenericProcessingFail', `cannot create ${dest} to mark ${f.path} completed, all of whose events are acked`, error);
      return false;
    }
    await durable(dirname(dest), f.path, log);
    progress.worked();
    log('info', `${f.path}: ${f.events} events sent; marked completed by ${dest}`);
    progress.record(CLEARED);
    return true;
  }
  const dest = f.path + o.fileSuffix;
  const immediate = o.deletePolicy === 'immediate';
  if (!immediate && existsSync(dest)) throw failure(`cannot complete ${f.path}: ${dest} exists (file name re-used); it is left as it is`);
  try {
    await (immediate ? rm(f.path) : rename(f.path, dest));
  } catch (error) {
    progress.failed('GenericProcessingFail', `cannot ${immediate ? 'delete' : 'rename'} ${f.path}, all of whose events are acked`, error);
    return false;
  }
  await durable(dirname(f.path), f.path, log);
  progress.worked();
  log('info', immediate ? `${f.path}: ${f.events} events sent; deleted` : `${f.path}: ${f.events} events sent; renamed to ${basename(dest)}`);
  progress.record(CLEARED); // if this fails, the next poll retries it before sending anything
  return true;
}

/**
 * Syncs the directory of a completion (rename, delete or marker) before the tracker forgets the file:
 * else a power loss could bring the file back under its old name with the tracker cleared, and the whole
 * file would be read again. The completion is done either way; a failed sync is logged.
 */
async function durable(dir: string, file: string, log: ComponentLogger): Promise<void> {
  await syncDir(dir).catch((error: unknown) => log('warn', `cannot sync ${dir} after completing ${file}: ${describeError(error)}`));
}
