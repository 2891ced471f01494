import { existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLEARED, marker } from '../../../../lib/sources/spooldir/completion.js';
import { spoolHarness, type Harness, type HarnessOptions } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.cleanup());

/** A started harness with `rel` written and opened, as the queue gives it, and its state tracked. */
async function opened(rel: string, o: HarnessOptions = {}) {
  h = spoolHarness({ recursive: rel.includes('/'), ...o });
  mkdirSync(join(h.spoolDir, rel, '..'), { recursive: true });
  writeFileSync(join(h.spoolDir, rel), 'a\nb\n');
  h.queue.start();
  const f = (await h.queue.next())!;
  h.progress.record(f.state());
  return { h, f, path: join(h.spoolDir, rel) };
}

describe('spooldir completion', () => {
  it('marker: a file under trackerDir at the path under spoolDir, with the suffix', () => {
    expect(marker('/t', '.DONE')('sub/a.log')).toBe(join('/t', 'sub', 'a.log.DONE'));
  });

  it('renames a completed file with the suffix and clears the tracker', async () => {
    const { h, f, path } = await opened('a.log');
    expect(h.tracked()?.file).toBe('a.log');
    await expect(h.complete(f)).resolves.toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}.COMPLETED`, 'utf8')).toBe('a\nb\n');
    expect(h.tracked()).toBeUndefined();
    expect(h.logs).toContain(`info ${path}: 0 events sent; renamed to a.log.COMPLETED`);
  });

  it('deletes it with deletePolicy immediate', async () => {
    const { h, f, path } = await opened('a.log', { deletePolicy: 'immediate' });
    await expect(h.complete(f)).resolves.toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.COMPLETED`)).toBe(false);
    expect(h.tracked()).toBeUndefined();
  });

  it('with tracker_dir, leaves it as it is and creates an empty mark under the tracker directory', async () => {
    const { h, f, path } = await opened('sub/a.log', { marks: true });
    await expect(h.complete(f)).resolves.toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('a\nb\n');
    expect(statSync(join(h.trackerDir, 'sub', 'a.log.COMPLETED')).size).toBe(0);
    expect(h.tracked()).toBeUndefined();
  });

  it('fails the source when the completed name is taken, leaving the file and the tracker as they are', async () => {
    const { h, f, path } = await opened('a.log');
    writeFileSync(`${path}.COMPLETED`, 'older');
    await expect(h.complete(f)).rejects.toThrow(`s: cannot complete ${path}: ${path}.COMPLETED exists (file name re-used)`);
    expect(existsSync(path)).toBe(true);
    expect(h.tracked()?.file).toBe('a.log');
  });

  it('fails the source when its directory is no longer inside spoolDir, renaming nothing', async () => {
    const { h, f, path } = await opened('sub/a.log');
    const moved = join(h.root, 'elsewhere');
    renameSync(join(h.spoolDir, 'sub'), moved);
    symlinkSync(moved, join(h.spoolDir, 'sub'));
    await expect(h.complete(f)).rejects.toThrow(/its directory is no longer inside spoolDir/);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(join(moved, 'a.log.COMPLETED'))).toBe(false);
  });

  it('fails the source when the file changed since it was opened', async () => {
    const { h, f, path } = await opened('a.log');
    writeFileSync(path, 'a\nb\nc\n');
    await expect(h.complete(f)).rejects.toThrow(/Spooled files must not change/);
    expect(existsSync(path)).toBe(true);
  });

  it('a mark that cannot be created is counted and to be retried (false), the tracker kept', async () => {
    const { h, f } = await opened('sub/a.log', { marks: true });
    writeFileSync(join(h.trackerDir, 'sub'), 'a file where the directory of marks should be');
    await expect(h.complete(f)).resolves.toBe(false);
    expect(h.metrics.get('GenericProcessingFail')).toBe(1);
    expect(h.tracked()?.file).toBe('sub/a.log');
    expect(h.logs.some((l) => l.startsWith('warn cannot create'))).toBe(true);
  });

  it('does nothing once the source stopped', async () => {
    const { h, f, path } = await opened('a.log');
    h.stop.abort();
    await expect(h.complete(f)).resolves.toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  it('CLEARED names no file', () => {
    expect(CLEARED.file).toBeNull();
  });
});
