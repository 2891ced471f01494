import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch } from '../../../../lib/core/batch.js';
import { spooldirSource } from '../../../../lib/sources/spooldir/spooldirSource.js';
import { Tracker } from '../../../../lib/sources/spooldir/tracker.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-spool-life-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

describe('spooldirSource: unsubscribed while completing a file', () => {
  it('a rename under way is still recorded in the tracker (else a new file of that name, inode, size and mtime would be taken for the completed one)', async () => {
    // Unsubscribe exactly when the rename has happened on disk but its callback has not run yet:
    // between event-loop turns, spin synchronously until the completed name appears.
    let raced = 0;
    for (let round = 0; round < 20 && raced < 3; round++) {
      const path = join(dir, `r${round}.log`);
      writeFileSync(path, 'x\n');
      let held: Batch | undefined;
      const subscription = spooldirSource({ spoolDir: dir, pollDelayMs: 1, logger: () => undefined }).subscribe((b) => (held = b));
      const until = Date.now() + 10_000;
      while (!held && Date.now() < until) await sleep(1);
      held!.ack();
      let seen = false;
      while (!seen && Date.now() < until) {
        await tick();
        const spinUntil = Date.now() + 3;
        while (!(seen = existsSync(`${path}.COMPLETED`)) && Date.now() < spinUntil);
      }
      subscription.unsubscribe();
      // The rename's callback, and anything it still does, run after the unsubscribe: read the tracker
      // until it no longer names the file, for at most 5 s (a loaded machine delays the fs callbacks).
      const readTracker = () => {
        const tracker = new Tracker(join(dir, '.flumespool'));
        try {
          return tracker.open();
        } finally {
          tracker.close();
        }
      };
      let state = readTracker();
      for (const settle = Date.now() + 5_000; state?.file === `r${round}.log` && Date.now() < settle; state = readTracker()) await sleep(10);
      if (seen) raced++;
      // The file is completed: the tracker must not name it any more.
      expect(state?.file).not.toBe(`r${round}.log`);
    }
    expect(raced).toBeGreaterThan(0);
  });
});
