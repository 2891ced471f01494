import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import type { Batch } from '../../../../lib/core/batch.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { spooldirSource, type SpooldirSourceOptions } from '../../../../lib/sources/spooldir/spooldirSource.js';
import { Tracker } from '../../../../lib/sources/spooldir/tracker.js';
import { mountSmallFs, type SmallFs } from '../../../fixtures/taildir/smallFs.js';

// The tracker, or the spool directory, on a file system that fills up (ENOSPC) or turns read-only
// (EROFS): the source sends nothing more while its progress cannot be recorded or a completed file
// cannot be renamed, counts and logs it, keeps the last good state, and carries on by itself once it
// can. EACCES (a spool directory it may not write) is in crash.test.ts: it needs a process without
// root's override of permissions.

let dir: string;
let fs: SmallFs;
let subscriptions: Subscription[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-spool-faults-'));
  fs = await mountSmallFs(1 << 20);
});

afterEach(() => {
  for (const s of subscriptions) s.unsubscribe();
  subscriptions = [];
  fs.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const trackedState = (trackerDir: string) => {
  const tracker = new Tracker(trackerDir);
  try {
    return tracker.open();
  } finally {
    tracker.close();
  }
};
const lines = (count: number) => Array.from({ length: count }, (_, i) => `line ${i + 1}`);

function spool(options: Partial<SpooldirSourceOptions> & { spoolDir: string }, settle: (b: Batch) => void = (b) => b.ack()) {
  const logs: string[] = [];
  const deliveries: string[][] = [];
  const acked: string[] = [];
  const state: { error?: unknown } = {};
  const source = spooldirSource({
    pollDelayMs: 10,
    minBackoffMs: 20,
    maxBackoffMs: 80,
    logger: (level, message) => logs.push(`${level} ${message}`),
    ...options,
  });
  subscriptions.push(
    source.subscribe({
      next: (b) => {
        const text = b.events.map((e) => e.body.toString('latin1'));
        deliveries.push(text);
        const ack = b.ack.bind(b);
        Object.defineProperty(b, 'ack', { value: () => (acked.push(...text), ack()) });
        settle(b);
      },
      error: (e: unknown) => (state.error = e),
    }),
  );
  const counter = (key: string) => metricsOf(source)!.get(key);
  expect(metricsOf(source)!.snapshot()).toHaveProperty('TrackerWriteFail', 0);
  return { logs, deliveries, acked, state, counter };
}

describe('spooldirSource: tracker and spool directory faults', () => {
  it('ENOSPC on the tracker: nothing more is sent until progress is recorded, then it carries on by itself', async () => {
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir);
    writeFileSync(join(spoolDir, 'a.log'), lines(50).join('\n') + '\n');
    const trackerDir = join(fs.dir, 'tracker');
    mkdirSync(trackerDir);
    fs.fill(); // the tracker file is new: its first save needs space
    const r = spool({ spoolDir, trackerDir, batchSize: 10 });
    await waitFor(() => r.counter('TrackerWriteFail') >= 3, 'failed saves, retried');
    expect(r.state.error).toBeUndefined();
    expect(r.deliveries).toHaveLength(1); // the acked batch is not yet recorded: nothing more goes out
    const warnings = r.logs.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ENOSPC');

    fs.free();
    await waitFor(() => existsSync(join(spoolDir, 'a.log.COMPLETED')), 'the file to complete');
    expect(r.acked).toEqual(lines(50));
    expect(r.logs).toContain(`info tracker and spool directory writable again after ${r.counter('TrackerWriteFail')} failed attempts`);
    await waitFor(() => trackedState(trackerDir) === undefined, 'the tracker to be cleared once the file completed');
  });

  it('a restart during the outage resumes from the last state recorded: only the unrecorded batch comes again', async () => {
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir);
    writeFileSync(join(spoolDir, 'a.log'), lines(50).join('\n') + '\n');
    const trackerDir = join(fs.dir, 'tracker');
    mkdirSync(trackerDir);
    const held: Batch[] = [];
    const first = spool({ spoolDir, trackerDir, batchSize: 10 }, (b) => held.push(b));
    await waitFor(() => held.length === 1, 'the first batch');
    held[0]!.ack(); // recorded (its slot is allocated)
    await waitFor(() => held.length === 2, 'the second batch');
    fs.fill();
    held[1]!.ack(); // the other slot cannot be allocated: not recorded
    await waitFor(() => first.counter('TrackerWriteFail') >= 1, 'the failed save');
    for (const s of subscriptions.splice(0)) s.unsubscribe(); // stops as a crash would, still full

    const second = spool({ spoolDir, trackerDir, batchSize: 10 });
    await waitFor(() => second.deliveries.length === 1 && second.counter('TrackerWriteFail') >= 2, 'the resumed batch, and a failed save');
    expect(second.deliveries[0]).toEqual(lines(20).slice(10)); // lines 11-20 again: the one unrecorded batch
    fs.free();
    await waitFor(() => existsSync(join(spoolDir, 'a.log.COMPLETED')), 'the file to complete');
    expect([...first.acked, ...second.acked]).toEqual([...lines(20), ...lines(50).slice(10)]);
  });

  for (const deletePolicy of ['never', 'immediate'] as const) {
    it(`EROFS on the spool directory (deletePolicy ${deletePolicy}): the completed file waits, then is completed by itself`, async () => {
      const spoolDir = join(fs.dir, 'spool');
      mkdirSync(spoolDir);
      writeFileSync(join(spoolDir, 'a.log'), lines(30).join('\n') + '\n');
      writeFileSync(join(spoolDir, 'b.log'), 'b\n');
      const held: Batch[] = [];
      let n = 0;
      const r = spool({ spoolDir, trackerDir: join(dir, 'tracker'), batchSize: 10, deletePolicy }, (b) => (++n === 3 ? held.push(b) : b.ack()));
      await waitFor(() => held.length === 1, 'the last batch of a.log');
      fs.readOnly(true); // the source holds a.log open for reading only, so the remount is allowed
      held[0]!.ack();
      await waitFor(() => r.counter('GenericProcessingFail') >= 3, 'failed completions, retried');
      expect(r.state.error).toBeUndefined();
      expect(readdirSync(spoolDir).sort()).toEqual(['a.log', 'b.log']);
      expect(r.deliveries).toHaveLength(3); // b.log waits for a.log
      const warnings = r.logs.filter((l) => l.startsWith('warn'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('EROFS');

      fs.readOnly(false);
      await waitFor(() => r.acked.length === 31, 'b.log');
      await waitFor(() => !existsSync(join(spoolDir, 'b.log')), 'b.log to complete');
      expect(readdirSync(spoolDir).sort()).toEqual(deletePolicy === 'never' ? ['a.log.COMPLETED', 'b.log.COMPLETED'] : []);
      expect(r.acked).toEqual([...lines(30), 'b']);
    });
  }

  it('a directory bind-mounted into itself is searched once', async () => {
    const spoolDir = join(fs.dir, 'spool');
    mkdirSync(join(spoolDir, 'sub', 'loop'), { recursive: true });
    writeFileSync(join(spoolDir, 'top.log'), 'top\n');
    fs.bind('spool', 'spool/sub/loop'); // spool/sub/loop is spool again, without a symbolic link
    const headers: string[] = [];
    const r = spool({ spoolDir, recursiveDirectorySearch: true, fileHeader: true }, (b) => {
      headers.push(...b.events.map((e) => e.headers['file']!));
      b.ack();
    });
    await waitFor(() => existsSync(join(spoolDir, 'top.log.COMPLETED')), 'top.log');
    await sleep(100);
    expect(r.acked).toEqual(['top']);
    // Found under its own name, not as sub/loop/top.log (which sorts first).
    expect(headers).toEqual([join(spoolDir, 'top.log')]);
    expect(r.state.error).toBeUndefined();
  });
});
