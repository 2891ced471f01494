import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inside, SpoolFile, type ReadRules } from '../../../../lib/sources/spooldir/spoolFile.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spoolfile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rules = (over: Partial<ReadRules> = {}): ReadRules => ({
  blob: false,
  maxBlobLength: 100,
  maxLineLength: 100,
  codec: { input: 'UTF-8', output: 'UTF-8', policy: 'FAIL' },
  headers: (f) => ({ file: f.name }),
  changed: (f, what) => new Error(`${f.name} ${what}`),
  malformed: (f, offset) => new Error(`${f.name} malformed at ${offset}`),
  ...over,
});

async function openAt(name: string, content: string | Buffer, r = rules(), from = 0) {
  writeFileSync(join(dir, name), content);
  const f = await SpoolFile.open({ path: join(dir, name), rel: name, name }, r, from);
  return f!;
}

const never = () => false;

describe('SpoolFile', () => {
  it('gives lines in batches with the offset after each batch, a last line without newline included', async () => {
    const f = await openAt('a.log', 'one\ntwo\r\nthree');
    const first = await f.nextBatch(2, never);
    expect(first!.events.map((e) => e.body.toString())).toEqual(['one', 'two\r']);
    expect(first!.end).toBe(9);
    expect(first!.events[0]!.headers).toEqual({ file: 'a.log' });
    const second = await f.nextBatch(2, never);
    expect(second).toMatchObject({ end: 14 });
    expect(second!.events.map((e) => e.body.toString())).toEqual(['three']);
    expect(f.exhausted).toBe(true);
    expect(await f.nextBatch(2, never)).toBeUndefined();
    expect(f.events).toBe(3);
    await f.release();
  });

  it('resumes at a tracked offset, and gives BLOB files in pieces of maxBlobLength', async () => {
    const resumed = await openAt('r.log', 'one\ntwo\n', rules(), 4);
    expect((await resumed.nextBatch(10, never))!.events.map((e) => e.body.toString())).toEqual(['two']);
    const blob = await openAt('b.bin', Buffer.alloc(250, 1), rules({ blob: true }));
    const got = await blob.nextBatch(10, never);
    expect(got!.events.map((e) => e.body.length)).toEqual([100, 100, 50]);
    expect(got!.end).toBe(250);
    await resumed.release();
    await blob.release();
  });

  it('fails the read of a file that grew, was replaced or was removed, naming what happened', async () => {
    const grown = await openAt('g.log', 'a\n');
    appendFileSync(join(dir, 'g.log'), 'b\n');
    await expect(grown.nextBatch(10, never)).rejects.toThrow('g.log has changed size since being read (2 → 4 bytes)');
    const replaced = await openAt('r.log', 'a\n');
    writeFileSync(join(dir, 'other'), 'b\n');
    renameSync(join(dir, 'other'), join(dir, 'r.log'));
    await expect(replaced.checkUnchanged()).rejects.toThrow('r.log was replaced by another file while being read');
    const removed = await openAt('x.log', 'a\n');
    rmSync(join(dir, 'x.log'));
    await expect(removed.checkUnchanged()).rejects.toThrow('x.log was removed while being read');
    for (const f of [grown, replaced, removed]) await f.release();
  });

  it('knows a tracker state of its own and none of a changed file', async () => {
    const f = await openAt('s.log', 'abc\n');
    const state = f.state();
    expect(state).toMatchObject({ file: 's.log', size: 4, pos: 0 });
    expect(f.is(state)).toBe(true);
    expect(f.is({ ...state, size: 5 })).toBe(false);
    expect(f.is({ ...state, pos: 5 })).toBe(false);
    expect(await SpoolFile.open({ path: join(dir, 'gone'), rel: 'gone', name: 'gone' }, rules())).toBeUndefined();
    await f.release();
  });

  it('tells whether a file is in the real directory its relative path names (no symbolic link on the way)', async () => {
    mkdirSync(join(dir, 'sub'));
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'link'));
    expect(await inside({ path: join(dir, 'sub', 'a'), rel: 'sub/a', name: 'a' }, dir)).toBe(true);
    expect(await inside({ path: join(dir, 'a'), rel: 'a', name: 'a' }, dir)).toBe(true);
    expect(await inside({ path: join(dir, 'link', 'a'), rel: 'link/a', name: 'a' }, dir)).toBe(false);
  });
});
