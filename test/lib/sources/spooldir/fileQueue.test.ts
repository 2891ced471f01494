import { mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpoolFile } from '../../../../lib/sources/spooldir/spoolFile.js';
import { Tracker, type TrackerState } from '../../../../lib/sources/spooldir/tracker.js';
import { bodies } from '../../../support/batches.js';
import { spoolHarness, type Harness, type HarnessOptions } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  h?.cleanup();
});

function harness(o: HarnessOptions = {}): Harness {
  h = spoolHarness(o);
  return h;
}

/** Writes `name` with a modification time `age` seconds in the past. */
function spool(dir: string, name: string, content: string, age = 0): void {
  const path = join(dir, name);
  writeFileSync(path, content);
  const t = Date.now() / 1000 - age;
  utimesSync(path, t, t);
}

/** Saves `state` as the tracker a previous run left. */
function track(trackerDir: string, state: TrackerState): void {
  mkdirSync(trackerDir, { recursive: true });
  const t = new Tracker(trackerDir);
  t.open();
  t.save(state);
  t.close();
}

describe('spooldir FileQueue', () => {
  it('refuses a missing spool directory, or one that is not a directory', () => {
    const a = harness();
    rmSync(a.spoolDir, { recursive: true });
    expect(() => a.queue.start()).toThrow(`s: spool directory ${a.spoolDir} cannot be read: ENOENT`);
    writeFileSync(a.spoolDir, 'a file');
    expect(() => a.queue.start()).toThrow(`s: spoolDir ${a.spoolDir} is not a directory`);
  });

  it('refuses a tracker that is not one', () => {
    const a = harness();
    mkdirSync(a.trackerDir);
    writeFileSync(a.progress.tracker.path, 'garbage');
    expect(() => a.queue.start()).toThrow(/^s: tracker .* cannot be used: .*holds no valid tracker slot.*; delete it to start over$/);
  });

  it('gives the waiting files oldest first, skipping hidden ones, then undefined', async () => {
    const a = harness();
    spool(a.spoolDir, 'new.log', 'n\n', 10);
    spool(a.spoolDir, 'old.log', 'o\n', 100);
    spool(a.spoolDir, '.hidden', 'h\n', 1000);
    a.queue.start();
    const first = (await a.queue.next())!;
    expect(first.name).toBe('old.log');
    await first.release();
    rmSync(first.path);
    const second = (await a.queue.next())!;
    expect(second.name).toBe('new.log');
    await second.release();
    rmSync(second.path);
    await expect(a.queue.next()).resolves.toBeUndefined();
  });

  it('resumes the tracked file at its offset before any other', async () => {
    const a = harness();
    spool(a.spoolDir, 'old.log', 'o\n', 100);
    spool(a.spoolDir, 'b.log', 'one\ntwo\n', 10);
    const f = (await SpoolFile.open({ path: join(a.spoolDir, 'b.log'), rel: 'b.log', name: 'b.log' }, a.read))!;
    track(a.trackerDir, { ...f.state(), pos: 4 });
    await f.release();
    a.queue.start();
    const resumed = (await a.queue.next())!;
    expect(resumed.name).toBe('b.log');
    expect(resumed.committed).toBe(4);
    expect(bodies((await resumed.nextBatch(10, () => false))!)).toEqual(['two']);
    await resumed.release();
    expect(a.logs).toContain(`info resuming ${join(a.spoolDir, 'b.log')} at byte 4 of 8`);
  });

  it('starts afresh when the tracked file is gone, clearing the tracker', async () => {
    const a = harness();
    track(a.trackerDir, { file: 'gone.log', ino: '1', size: 3, mtimeNs: '1', pos: 2 });
    spool(a.spoolDir, 'c.log', 'c\n');
    a.queue.start();
    const f = (await a.queue.next())!;
    expect(f.name).toBe('c.log');
    await f.release();
    expect(a.logs).toContain(`info tracker names ${join(a.spoolDir, 'gone.log')}, which is gone (completed or removed); starting afresh`);
    expect(a.tracked()).toBeUndefined();
  });

  it('fails when the tracked file changed while stopped, counting EventReadFail, its handle closed first', async () => {
    const a = harness();
    spool(a.spoolDir, 'b.log', 'one\ntwo\n');
    track(a.trackerDir, { file: 'b.log', ino: '1', size: 8, mtimeNs: '1', pos: 4 });
    const release = vi.spyOn(SpoolFile.prototype, 'release');
    a.queue.start();
    await expect(a.queue.next()).rejects.toThrow(/b\.log has changed since it was partly read before the restart/);
    expect(a.metrics.get('EventReadFail')).toBe(1);
    expect(release).toHaveBeenCalledTimes(1); // by the queue, not left for the source's teardown
  });

  it('with tracker_dir, does not resume a tracked file already marked completed, nor list it', async () => {
    const a = harness({ marks: true });
    spool(a.spoolDir, 'b.log', 'one\n');
    track(a.trackerDir, { file: 'b.log', ino: '1', size: 4, mtimeNs: '1', pos: 2 });
    writeFileSync(join(a.trackerDir, 'b.log.COMPLETED'), '');
    a.queue.start();
    await expect(a.queue.next()).resolves.toBeUndefined();
    expect(a.logs.some((l) => l.startsWith('info tracker names'))).toBe(true);
  });

  it('does not search a linked directory, warning of it once', async () => {
    const a = harness({ recursive: true });
    const outside = join(a.root, 'outside');
    mkdirSync(outside);
    spool(outside, 'x.log', 'x\n');
    symlinkSync(outside, join(a.spoolDir, 'linked'));
    a.queue.start();
    await expect(a.queue.next()).resolves.toBeUndefined();
    await expect(a.queue.next()).resolves.toBeUndefined();
    expect(a.logs.filter((l) => l.includes('is a symbolic link to a directory'))).toHaveLength(1);
  });

  it('gives nothing once the source stopped', async () => {
    const a = harness();
    spool(a.spoolDir, 'a.log', 'a\n');
    a.queue.start();
    a.stop.abort();
    await expect(a.queue.next()).resolves.toBeUndefined();
  });
});
