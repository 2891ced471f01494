import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import type { Batch } from '../../../../lib/core/batch.js';
import { ComponentError } from '../../../../lib/core/errors.js';
import { spooldirSource, type SpooldirSourceOptions } from '../../../../lib/sources/spooldir/spooldirSource.js';

// Issue #10 item 6: nothing outside spoolDir is ever renamed or deleted, symlinked directories are
// not descended into, and a link loop is not walked. Symlinked files are read, as Flume does.

let root: string;
let spoolDir: string;
let outside: string;
let subscriptions: Subscription[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rxflume-spool-links-'));
  spoolDir = join(root, 'spool');
  outside = join(root, 'outside');
  mkdirSync(spoolDir);
  mkdirSync(outside);
});

afterEach(() => {
  for (const s of subscriptions) s.unsubscribe();
  subscriptions = [];
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function spool(options: Partial<SpooldirSourceOptions> = {}, settle: (b: Batch) => void = (b) => b.ack()) {
  const logs: string[] = [];
  const acked: string[] = [];
  const state: { error?: unknown } = {};
  const source = spooldirSource({ spoolDir, pollDelayMs: 10, logger: (level, message) => logs.push(`${level} ${message}`), ...options });
  subscriptions.push(
    source.subscribe({
      next: (b) => {
        const text = b.events.map((e) => e.body.toString('latin1'));
        const ack = b.ack.bind(b);
        Object.defineProperty(b, 'ack', { value: () => (acked.push(...text), ack()) });
        settle(b);
      },
      error: (e: unknown) => (state.error = e),
    }),
  );
  return { acked, logs, state };
}

const names = (at: string) => readdirSync(at).sort();

describe('spooldirSource and symlinks', () => {
  it('recursiveDirectorySearch does not descend into a symlinked directory: the files it leads to are neither read nor renamed', async () => {
    writeFileSync(join(outside, 'x.log'), 'outside\n');
    symlinkSync(outside, join(spoolDir, 'linked'), 'dir');
    mkdirSync(join(spoolDir, 'real'));
    writeFileSync(join(spoolDir, 'real', 'r.log'), 'inside\n');
    const r = spool({ recursiveDirectorySearch: true });
    await waitFor(() => existsSync(join(spoolDir, 'real', 'r.log.COMPLETED')), 'the real sub-directory');
    await sleep(100); // several more polls
    expect(r.acked).toEqual(['inside']);
    expect(names(outside)).toEqual(['x.log']);
    expect(r.logs.filter((l) => l.includes('linked'))).toEqual([
      `warn ${join(spoolDir, 'linked')} is a symbolic link to a directory: not searched (only real sub-directories of spoolDir are)`,
    ]);
  });

  it('deletePolicy immediate never deletes a file reached through a symlinked directory', async () => {
    writeFileSync(join(outside, 'precious.log'), 'keep me\n');
    symlinkSync(outside, join(spoolDir, 'linked'), 'dir');
    writeFileSync(join(spoolDir, 'a.log'), 'a\n');
    const r = spool({ recursiveDirectorySearch: true, deletePolicy: 'immediate' });
    await waitFor(() => !existsSync(join(spoolDir, 'a.log')), 'a.log to be deleted');
    await sleep(100);
    expect(r.acked).toEqual(['a']);
    expect(readFileSync(join(outside, 'precious.log'), 'utf8')).toBe('keep me\n');
  });

  it('a symlink loop is not walked: each real file is read once, and the search ends', async () => {
    mkdirSync(join(spoolDir, 'sub'));
    writeFileSync(join(spoolDir, 'sub', 's.log'), 's\n');
    symlinkSync('..', join(spoolDir, 'sub', 'up'), 'dir'); // sub/up → spoolDir: a loop
    symlinkSync('.', join(spoolDir, 'self'), 'dir');
    writeFileSync(join(spoolDir, 'top.log'), 'top\n');
    const r = spool({ recursiveDirectorySearch: true });
    await waitFor(() => r.acked.length === 2, 'both files');
    await sleep(100);
    expect(r.acked.sort()).toEqual(['s', 'top']);
    expect(names(spoolDir)).toEqual(['.flumespool', 'self', 'sub', 'top.log.COMPLETED']);
    expect(names(join(spoolDir, 'sub'))).toEqual(['s.log.COMPLETED', 'up']);
    expect(r.state.error).toBeUndefined();
  });

  it('a symlinked file is read through the link (as Flume); the link itself is renamed, its target outside is left as it is', async () => {
    writeFileSync(join(outside, 'target.log'), 'one\ntwo\n');
    symlinkSync(join(outside, 'target.log'), join(spoolDir, 'link.log'));
    const r = spool({ fileHeader: true });
    await waitFor(() => existsSync(join(spoolDir, 'link.log.COMPLETED')), 'the link to be completed');
    expect(r.acked).toEqual(['one', 'two']);
    expect(lstatSync(join(spoolDir, 'link.log.COMPLETED')).isSymbolicLink()).toBe(true);
    expect(names(outside)).toEqual(['target.log']);
    expect(readFileSync(join(outside, 'target.log'), 'utf8')).toBe('one\ntwo\n');
  });

  it('with deletePolicy immediate, a symlinked file is completed by removing the link, never its target', async () => {
    writeFileSync(join(outside, 'target.log'), 'one\n');
    symlinkSync(join(outside, 'target.log'), join(spoolDir, 'link.log'));
    const r = spool({ deletePolicy: 'immediate' });
    await waitFor(() => !existsSync(join(spoolDir, 'link.log')) && !lstatOrUndefined(join(spoolDir, 'link.log')), 'the link to be removed');
    expect(r.acked).toEqual(['one']);
    expect(readFileSync(join(outside, 'target.log'), 'utf8')).toBe('one\n');
  });

  it('a sub-directory swapped for a symlink to where it was moved, while its file is read, fails the source instead of renaming outside', async () => {
    mkdirSync(join(spoolDir, 'sub'));
    writeFileSync(join(spoolDir, 'sub', 'a.log'), 'a\nb\n');
    const held: Batch[] = [];
    const r = spool({ recursiveDirectorySearch: true, batchSize: 1 }, (b) => held.push(b));
    await waitFor(() => held.length === 1, 'the first batch');
    // Same inode, same size and mtime: only where it lives has changed.
    renameSync(join(spoolDir, 'sub'), join(outside, 'sub'));
    symlinkSync(join(outside, 'sub'), join(spoolDir, 'sub'), 'dir');
    held[0]!.ack();
    await waitFor(() => held.length === 2, 'the second batch');
    held[1]!.ack();
    await waitFor(() => r.state.error !== undefined, 'the source to fail');
    expect(r.state.error).toBeInstanceOf(ComponentError);
    expect((r.state.error as ComponentError).code).toBe('FLUME_SOURCE_FAILED');
    expect((r.state.error as Error).message).toMatch(/no longer inside spoolDir/);
    expect(names(join(outside, 'sub'))).toEqual(['a.log']);
  });

  it('a tracked file whose directory became a symlink while stopped is not resumed through the link', async () => {
    mkdirSync(join(spoolDir, 'sub'));
    writeFileSync(join(spoolDir, 'sub', 'a.log'), 'a\nb\n');
    const first = spool({ recursiveDirectorySearch: true, batchSize: 1 }, (b) => (first.acked.length === 0 ? b.ack() : undefined));
    await waitFor(() => first.acked.length === 1, 'the first line');
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    renameSync(join(spoolDir, 'sub'), join(outside, 'sub'));
    symlinkSync(join(outside, 'sub'), join(spoolDir, 'sub'), 'dir');
    writeFileSync(join(spoolDir, 'next.log'), 'next\n');

    const second = spool({ recursiveDirectorySearch: true });
    await waitFor(() => existsSync(join(spoolDir, 'next.log.COMPLETED')), 'next.log');
    expect(second.acked).toEqual(['next']);
    expect(names(join(outside, 'sub'))).toEqual(['a.log']);
    expect(second.logs).toContain(
      `warn ${join(spoolDir, 'sub', 'a.log')} is not inside spoolDir ${spoolDir} (a directory on its way is a symbolic link, or gone): not read`,
    );
  });
});

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
