import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryWatchers } from '../../../../lib/sources/taildir/directoryWatchers.js';
import { sleep, waitFor } from '../../../support/net.js';

let dir: string;
let watchers: DirectoryWatchers | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-taildir-watch-'));
});
afterEach(() => {
  watchers?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('DirectoryWatchers', () => {
  it('calls back on a change in any watched directory, each directory watched once', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    const calls: number[] = [];
    watchers = new DirectoryWatchers(() => calls.push(Date.now()));
    watchers.watch([a, b, a]);
    expect(watchers.has(a) && watchers.has(b)).toBe(true);
    expect(watchers.has(dir)).toBe(false);
    writeFileSync(join(b, 'x.log'), 'line\n');
    await waitFor(() => calls.length > 0, 'a call back for the new file');
  });

  it('skips a directory that cannot be watched, and watches it once it exists', () => {
    const later = join(dir, 'later');
    watchers = new DirectoryWatchers(() => undefined);
    expect(() => watchers!.watch([later])).not.toThrow();
    expect(watchers.has(later)).toBe(false);
    mkdirSync(later);
    watchers.watch([later]);
    expect(watchers.has(later)).toBe(true);
  });

  it('stops calling back once closed', async () => {
    let calls = 0;
    watchers = new DirectoryWatchers(() => calls++);
    watchers.watch([dir]);
    watchers.close();
    expect(watchers.has(dir)).toBe(false);
    writeFileSync(join(dir, 'x.log'), 'line\n');
    await sleep(200);
    expect(calls).toBe(0);
  });
});
