/**
 * Which file spooldirSource reads next: at start, the spool directory and the tracker are checked
 * and opened; then the file the tracker names comes first (resumed at its acked offset, unless it
 * changed, is gone or was marked completed), then the waiting files in `consumeOrder`. A file is
 * opened only while its directory is the real directory under spoolDir its path names.
 */
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { toError } from '../../core/errors.js';
import type { ComponentLogger } from '../../core/log.js';
import { listCandidates, pickCandidate, type Candidate, type CandidateRules } from './candidates.js';
import { CLEARED } from './completion.js';
import type { Progress } from './progress.js';
import { inside, SpoolFile, type ReadRules } from './spoolFile.js';
import type { TrackerState } from './tracker.js';

export interface FileQueueOptions {
  spoolDir: string;
  trackerDir: string;
  /** Which files are candidates (without completed and onLinkedDirectory: the queue skips marked files and warns of each linked directory once). */
  rules: CandidateRules;
  consumeOrder: 'oldest' | 'youngest' | 'random';
  read: ReadRules;
  progress: Progress;
  log: ComponentLogger;
  /** tracker_dir (with deletePolicy never): where a file's completion mark goes; otherwise undefined. */
  mark: ((rel: string) => string) | undefined;
  /** The source's fatal error of a message. */
  failure(message: string, cause?: unknown): Error;
  /** Aborted when the source is unsubscribed. */
  signal: AbortSignal;
}

export class FileQueue {
  /** spoolDir with its links resolved, once started. */
  realSpoolDir: string;
  private resume: TrackerState | undefined;
  private readonly listRules: CandidateRules;

  constructor(private readonly o: FileQueueOptions) {
    this.realSpoolDir = o.spoolDir;
    const linkedDirs = new Set<string>(); // symlinked directories already warned about
    const mark = o.mark;
    this.listRules = {
      ...o.rules,
      ...(mark && { completed: (rel: string) => existsSync(mark(rel)) }),
      onLinkedDirectory: (path) => {
        if (linkedDirs.has(path)) return;
        linkedDirs.add(path);
        o.log('warn', `${path} is a symbolic link to a directory: not searched (only real sub-directories of spoolDir are)`);
      },
    };
  }

  /** Checks the spool directory and opens the tracker (creating its directory); throws the source's failure when either cannot be used. */
  start(): void {
    const { spoolDir, trackerDir, failure } = this.o;
    const tracker = this.o.progress.tracker;
    let isDir = false;
    try {
      isDir = statSync(spoolDir).isDirectory();
    } catch (error) {
      throw failure(`spool directory ${spoolDir} cannot be read: ${toError(error).message}`, error);
    }
    if (!isDir) throw failure(`spoolDir ${spoolDir} is not a directory`);
    this.realSpoolDir = realpathSync(spoolDir);
    try {
      mkdirSync(trackerDir, { recursive: true });
      this.resume = tracker.open();
    } catch (error) {
      throw failure(`tracker ${tracker.path} cannot be used: ${toError(error).message}; delete it to start over`, error);
    }
  }

  /** The tracked file first, then the next waiting one; `undefined` when none waits. */
  async next(): Promise<SpoolFile | undefined> {
    const { spoolDir, mark, log, signal } = this.o;
    if (this.resume) {
      const at = this.resume;
      this.resume = undefined;
      const rel = at.file!;
      const path = join(spoolDir, ...rel.split('/'));
      const f = mark && existsSync(mark(rel)) ? undefined : await this.open({ path, rel, name: basename(path) }, at);
      if (signal.aborted) return undefined;
      if (f) {
        log('info', `resuming ${path} at byte ${at.pos} of ${at.size}`);
        return f;
      }
      log('info', `tracker names ${path}, which is gone (completed or removed); starting afresh`);
      this.o.progress.record(CLEARED);
    }
    for (;;) {
      const c = await pickCandidate(await listCandidates(this.listRules), this.o.consumeOrder);
      if (!c || signal.aborted) return undefined;
      const f = await this.open(c);
      if (f) return f;
    }
  }

  private async open(c: Candidate, at?: TrackerState): Promise<SpoolFile | undefined> {
    if (!(await inside(c, this.realSpoolDir))) {
      this.o.log('warn', `${c.path} is not inside spoolDir ${this.o.spoolDir} (a directory on its way is a symbolic link, or gone): not read`);
      return undefined;
    }
    const f = await SpoolFile.open(c, this.o.read, at?.pos);
    if (f && this.o.signal.aborted) {
      await f.release();
      return undefined;
    }
    if (f && at && !f.is(at)) {
      await f.release().catch(() => undefined); // the source fails: nothing more is read from it
      throw this.o.read.changed(f, 'has changed since it was partly read before the restart');
    }
    return f;
  }
}
