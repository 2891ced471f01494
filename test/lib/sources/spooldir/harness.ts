/** The parts spooldirSource composes, over a temporary spool directory, for their unit tests. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import type { CandidateRules } from '../../../../lib/sources/spooldir/candidates.js';
import { completeFile, marker, type CompletionOptions } from '../../../../lib/sources/spooldir/completion.js';
import { FileQueue, type FileQueueOptions } from '../../../../lib/sources/spooldir/fileQueue.js';
import { Progress } from '../../../../lib/sources/spooldir/progress.js';
import { readRules, type ReadOptions } from '../../../../lib/sources/spooldir/readRules.js';
import type { SpoolFile } from '../../../../lib/sources/spooldir/spoolFile.js';
import { Tracker, type TrackerState } from '../../../../lib/sources/spooldir/tracker.js';
import { scratch } from '../../../support/cli.js';

export interface HarnessOptions {
  /** trackingPolicy tracker_dir: completed files are marked, not renamed. */
  marks?: boolean;
  deletePolicy?: 'never' | 'immediate';
  recursive?: boolean;
  read?: Partial<ReadOptions>;
}

/** A fresh spool directory (with .flumespool as the tracker directory) and the parts over it; `cleanup` removes it. */
export function spoolHarness(o: HarnessOptions = {}) {
  const dir = scratch('rxflume-spool-parts-');
  const root = dir.dir;
  const spoolDir = join(root, 'spool');
  mkdirSync(spoolDir);
  const trackerDir = join(spoolDir, '.flumespool');
  const metrics = new ComponentCounters('SOURCE', 's');
  const logs: string[] = [];
  const log = (level: string, message: string): void => void logs.push(`${level} ${message}`);
  const failure = (message: string): Error => new Error(`s: ${message}`);
  const stop = new AbortController();
  const progress = new Progress(new Tracker(trackerDir), { minBackoffMs: 10, maxBackoffMs: 40 }, metrics, log);
  const read = readRules(
    {
      deserializer: 'LINE',
      maxBlobLength: 1000,
      maxLineLength: 100,
      inputCharset: 'UTF-8',
      outputCharset: 'UTF-8',
      decodeErrorPolicy: 'FAIL',
      fileHeader: false,
      fileHeaderKey: 'file',
      basenameHeader: true,
      basenameHeaderKey: 'basename',
      ...o.read,
    },
    metrics,
    failure,
    progress.tracker.path,
  );
  const mark = o.marks ? marker(trackerDir, '.COMPLETED') : undefined;
  const rules: CandidateRules = { spoolDir, trackerDir, fileSuffix: '.COMPLETED', include: /^.*$/, ignore: /^$/, recursive: o.recursive ?? false };
  const queueOptions: FileQueueOptions = { spoolDir, trackerDir, rules, consumeOrder: 'oldest', read, progress, log, mark, failure, signal: stop.signal };
  const queue = new FileQueue(queueOptions);
  const completion: CompletionOptions = {
    spoolDir,
    realSpoolDir: () => queue.realSpoolDir,
    fileSuffix: '.COMPLETED',
    deletePolicy: o.deletePolicy ?? 'never',
    mark,
    progress,
    log,
    failure,
    signal: stop.signal,
  };
  return {
    root,
    spoolDir,
    trackerDir,
    metrics,
    logs,
    stop,
    progress,
    read,
    queue,
    complete: (f: SpoolFile) => completeFile(f, completion),
    /** What the tracker holds, read by a second Tracker. */
    tracked: (): TrackerState | undefined => {
      const t = new Tracker(trackerDir);
      try {
        return t.open();
      } finally {
        t.close();
      }
    },
    cleanup: () => {
      progress.close();
      dir.cleanup();
    },
  };
}

export type Harness = ReturnType<typeof spoolHarness>;
