import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { taildirSource, type TaildirSourceOptions } from '../../../../lib/sources/taildir/taildirSource.js';
import { mountSmallFs, type SmallFs } from '../../../fixtures/taildir/smallFs.js';

// The position file on a file system that fills up (ENOSPC) or turns read-only (EROFS): the source
// keeps tailing, counts and logs the failure, never replaces the good file with a broken one, leaves
// no temp file behind, and writes the positions again once it can, without a new change to prompt it.
// EACCES (a directory the process may not write) is in crash.test.ts: it needs a process without
// root's override of permissions.

let dir: string;
let fs: SmallFs;
let stateDir: string;
let positionFile: string;
const subscriptions: Subscription[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-taildir-faults-'));
  mkdirSync(join(dir, 'logs'));
  fs = await mountSmallFs(1 << 20);
  stateDir = join(fs.dir, 'state');
  positionFile = join(stateDir, 'taildir_position.json');
});

afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
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

const app = () => join(dir, 'logs', 'app.log');
const numbered = (from: number, count: number) => Array.from({ length: count }, (_, i) => `line ${from + i}\n`).join('');
const storedPos = (): number | undefined => {
  const entries = JSON.parse(readFileSync(positionFile, 'utf8')) as Array<{ inode: number; pos: number }>;
  return entries.find((e) => e.inode === statSync(app()).ino)?.pos;
};

function tail(options: Partial<TaildirSourceOptions>) {
  const logs: string[] = [];
  let acked = 0;
  const source = taildirSource({
    filegroups: { g: `${join(dir, 'logs')}/app\\.log` },
    positionFile,
    scanIntervalMs: 20,
    backoffSleepIncrementMs: 20,
    maxBackoffSleepMs: 100,
    logger: (level, message) => logs.push(`${level} ${message}`),
    ...options,
  });
  subscriptions.push(
    source.subscribe((b) => {
      acked += b.events.length;
      b.ack();
    }),
  );
  return { logs, acked: () => acked, failures: () => metricsOf(source)!.get('PositionWriteFail') };
}

/** Runs one outage: tailing goes on, the stored file stays the last good one, and catches up afterwards. */
async function outage(
  t: ReturnType<typeof tail>,
  start: () => void,
  end: () => void,
  code: string,
): Promise<void> {
  writeFileSync(app(), numbered(0, 100));
  await waitFor(() => existsSync(positionFile) && storedPos() === statSync(app()).size, 'the first positions');
  const good = readFileSync(positionFile, 'utf8');

  start();
  appendFileSync(app(), numbered(100, 100));
  await waitFor(() => t.acked() === 200, 'the lines written during the outage'); // tailing goes on
  await waitFor(() => t.failures() >= 2, 'failed writes, retried');
  expect(readFileSync(positionFile, 'utf8')).toBe(good); // never a half-written file over the good one
  expect(readdirSync(stateDir)).toEqual(['taildir_position.json']); // no temp file left taking space
  const warnings = t.logs.filter((l) => l.startsWith('warn'));
  expect(warnings).toHaveLength(1); // once per outage, not per attempt
  expect(warnings[0]).toContain(code);

  end();
  // Nothing else changes: the writer must come back by itself.
  const recovered = () => t.logs.filter((l) => l.startsWith('info') && /position file .* written again after \d+ failed/.test(l));
  // The line is logged just after the write that the file shows: wait for both.
  await waitFor(() => storedPos() === statSync(app()).size && recovered().length > 0, 'the positions written once the file system is back');
  expect(readdirSync(stateDir)).toEqual(['taildir_position.json']);
  expect(recovered()).toHaveLength(1);
}

describe('taildirSource: position file faults', () => {
  for (const writePosIntervalMs of [0, 30]) {
    it(`ENOSPC (writePosIntervalMs ${writePosIntervalMs}): keeps tailing, keeps the old file whole, catches up once space returns`, async () => {
      const t = tail({ writePosIntervalMs });
      await outage(t, () => fs.fill(), () => fs.free(), 'ENOSPC');
    });

    it(`EROFS (writePosIntervalMs ${writePosIntervalMs}): the same on a read-only file system`, async () => {
      const t = tail({ writePosIntervalMs });
      await outage(t, () => fs.readOnly(true), () => fs.readOnly(false), 'EROFS');
    });
  }

  it('a restart while the file system is full starts from the last good positions, and writes them once it can', async () => {
    writeFileSync(app(), numbered(0, 50));
    const first = tail({ writePosIntervalMs: 0 });
    await waitFor(() => existsSync(positionFile) && storedPos() === statSync(app()).size, 'the first positions');
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    fs.fill();
    appendFileSync(app(), numbered(50, 50));
    const second = tail({ writePosIntervalMs: 0 });
    await waitFor(() => second.acked() === 50, 'only the new lines');
    await sleep(100);
    expect(second.acked()).toBe(50);
    expect(first.acked()).toBe(50);
    fs.free();
    await waitFor(() => storedPos() === statSync(app()).size, 'the positions once space returns');
  });

  it('temp files left by a killed process are removed at start; those of a live process are not', async () => {
    mkdirSync(stateDir, { recursive: true });
    const stale = `${positionFile}.${2 ** 22 + 7}.3.tmp`; // above Linux's pid_max default: no such process
    const live = `${positionFile}.${process.ppid}.1.tmp`;
    writeFileSync(stale, '[{"inode":1,');
    writeFileSync(live, '[');
    writeFileSync(app(), numbered(0, 10));
    const t = tail({ writePosIntervalMs: 0 });
    await waitFor(() => t.acked() === 10 && existsSync(positionFile), 'the lines');
    expect(readdirSync(stateDir).sort()).toEqual(['taildir_position.json', `taildir_position.json.${process.ppid}.1.tmp`]);
  });
});
