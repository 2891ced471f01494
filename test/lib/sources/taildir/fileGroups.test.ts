import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupMatcher, parseFileGroup, type FileGroup } from '../../../../lib/sources/taildir/fileGroups.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-taildir-groups-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('parseFileGroup', () => {
  it('splits a literal directory from a regex over whole file names', () => {
    const group = parseFileGroup('f1', '/var/log/test1/.*log.*', { a: 'b' }) as FileGroup;
    expect(group).toMatchObject({ name: 'f1', dir: '/var/log/test1', headers: { a: 'b' } });
    expect(group.pattern.test('example.log')).toBe(true);
    expect(group.pattern.test('log')).toBe(true);
    expect(group.pattern.test('example.txt')).toBe(false);
    const exact = parseFileGroup('f2', '/var/log/app.log') as FileGroup;
    expect(exact.pattern.test('app.log')).toBe(true);
    expect(exact.pattern.test('app.log.1')).toBe(false); // a whole-name match, as Java's matches()
  });

  it('explains what is wrong', () => {
    expect(parseFileGroup('f', 'logs/app.log')).toMatch(/absolute path/);
    expect(parseFileGroup('f', '/var/log/')).toMatch(/file name regex/);
    expect(parseFileGroup('f', '/var/log/(')).toMatch(/Java regular expression/);
    expect(parseFileGroup('f', '/var/log/\\p{InGreek}')).toMatch(/Unicode blocks/);
  });

  it('reads the file name part as a Java regex (possessive, ASCII \\w, inline flags)', () => {
    const group = parseFileGroup('f', '/var/log/(?i)\\w++\\.log') as FileGroup;
    expect(group.pattern.test('app.log')).toBe(true);
    expect(group.pattern.test('APP.LOG')).toBe(true);
    expect(group.pattern.test('été.log')).toBe(false);
    expect(group.pattern.test('app.log.1')).toBe(false);
  });
});

describe('GroupMatcher', () => {
  const group = () => parseFileGroup('g', join(dir, '.*\\.log')) as FileGroup;

  it('lists matching files, not directories or other names', async () => {
    writeFileSync(join(dir, 'a.log'), '');
    writeFileSync(join(dir, 'b.txt'), '');
    mkdirSync(join(dir, 'sub.log'));
    const m = new GroupMatcher(group(), false);
    expect(await m.list()).toEqual([join(dir, 'a.log')]);
    expect((await m.others()).sort()).toEqual([join(dir, 'b.txt')]);
  });

  it('with cachePatternMatching, lists again only when the directory changed', async () => {
    writeFileSync(join(dir, 'a.log'), '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(dir, old, old);
    const cached = new GroupMatcher(group(), true);
    const uncached = new GroupMatcher(group(), false);
    expect(await cached.list()).toEqual([join(dir, 'a.log')]);
    // A new file, with the directory's mtime put back: the cache cannot see it, the plain listing can.
    writeFileSync(join(dir, 'b.log'), '');
    utimesSync(dir, old, old);
    expect(await cached.list()).toEqual([join(dir, 'a.log')]);
    expect((await uncached.list()).sort()).toEqual([join(dir, 'a.log'), join(dir, 'b.log')]);
    // Any real change to the directory moves its mtime, and the cache lists again.
    writeFileSync(join(dir, 'c.log'), '');
    expect(statSync(dir).mtimeMs).toBeGreaterThan(old.getTime());
    expect((await cached.list()).sort()).toEqual([join(dir, 'a.log'), join(dir, 'b.log'), join(dir, 'c.log')]);
  });

  it('fails when the directory is missing', async () => {
    const m = new GroupMatcher(parseFileGroup('g', join(dir, 'nope', 'x')) as FileGroup, true);
    await expect(m.list()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
