import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tracker } from '../../../../lib/sources/spooldir/tracker.js';
import {
  countLines,
  deliveries,
  kill,
  redelivered,
  repairTail,
  CRASH_ROUNDS,
  seededRandom,
  sleep,
  startChild,
  waitFor,
  type Child,
} from '../../../fixtures/taildir/rounds.js';
import { mountSmallFs, type SmallFs } from '../../../fixtures/taildir/smallFs.js';

// spooldirSource in a child process, killed with SIGKILL at random points over several rounds (mid
// file, between files, between the last ack and the rename, while the spool directory is read-only),
// then restarted on the same tracker: no acked line is lost, and each kill makes at most the batches
// in flight come again (the tracker is fdatasync'ed before an ack returns).

const child = fileURLToPath(new URL('../../../fixtures/spooldir/spoolChild.mjs', import.meta.url));

let root: string;
let fs: SmallFs | undefined;
const children: Child[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rxflume-spool-crash-'));
});

afterEach(async () => {
  for (const c of children.splice(0)) await kill(c);
  fs?.close();
  fs = undefined;
  chmodSync(root, 0o700);
  rmSync(root, { recursive: true, force: true });
});

function run(spoolDir: string, out: string, options: object, tag: number, unprivileged = false): Child {
  const c = startChild(child, [spoolDir, out, JSON.stringify(options), String(tag)], unprivileged);
  children.push(c);
  return c;
}

const waiting = (spoolDir: string) => readdirSync(spoolDir).filter((n) => n.endsWith('.log'));
const trackerState = (trackerDir: string) => {
  const t = new Tracker(trackerDir);
  try {
    return t.open();
  } finally {
    t.close();
  }
};

describe('spooldirSource: SIGKILL at random points', () => {
  it('over several rounds, some while the spool directory is read-only: nothing lost, at most maxInFlight batches again per kill', async () => {
    const rnd = seededRandom();
    console.log(`spooldir SIGKILL: seed ${rnd.seed} (replay with RXFLUME_CRASH_SEED=${rnd.seed})`);
    fs = await mountSmallFs(16 << 20);
    const spoolDir = join(fs.dir, 'spool');
    mkdirSync(spoolDir);
    // Outside the small file system: an open tracker would keep it from turning read-only (EBUSY).
    const trackerDir = join(root, 'tracker');
    const out = join(root, 'out.txt');
    const maxInFlight = 2;
    const expected: string[] = [];
    let files = 0;
    const addFile = (count: number) => {
      const name = `f${files++}`;
      const lines = Array.from({ length: count }, (_, i) => `${name}-${i}`);
      writeFileSync(join(spoolDir, `${name}.log`), lines.join('\n') + '\n');
      expected.push(...lines);
    };

    const rounds = CRASH_ROUNDS;
    const report: string[] = [];
    let readOnly = false;
    for (let round = 0; round <= rounds; round++) {
      const last = round === rounds;
      if (readOnly && (last || rnd.next() < 0.5)) {
        fs.readOnly(false); // else the restart itself happens read-only, and it is lifted below
        readOnly = false;
      }
      if (!readOnly && !last) for (let n = rnd.int(1, 2); n > 0; n--) addFile(rnd.int(100, 3000));
      const options = { trackerDir, batchSize: [7, 50, 100][rnd.int(0, 2)], maxInFlight, minBackoffMs: 20, maxBackoffMs: 100 };
      const before = countLines(out);
      const c = run(spoolDir, out, options, round);
      if (readOnly) {
        await sleep(rnd.int(50, 300));
        fs.readOnly(false);
        readOnly = false;
      }
      if (last) {
        await waitFor(() => waiting(spoolDir).length === 0 && trackerState(trackerDir) === undefined, 'every file to complete', 120_000);
        await sleep(200); // anything more would be an extra duplicate
        await kill(c, 'SIGTERM');
        break;
      }
      // Anywhere from before the first line to after the last file completed.
      const threshold = rnd.int(0, expected.length - new Set(deliveries(out).map((d) => d.body)).size + 100);
      await waitFor(() => countLines(out) - before >= threshold || waiting(spoolDir).length === 0, `${threshold} lines`, 120_000);
      let note = '';
      if (rnd.next() < 0.3) {
        fs.readOnly(true);
        readOnly = true;
        note = ', read-only';
      }
      await sleep(rnd.int(0, 40));
      await kill(c);
      repairTail(out);
      report.push(`round ${round}: batch ${options.batchSize}, killed after ${countLines(out) - before} lines${note}`);
    }

    const all = deliveries(out);
    const seen = new Set(all.map((d) => d.body));
    const lost = expected.filter((b) => !seen.has(b));
    const foreign = [...seen].filter((b) => !expected.includes(b));
    const again = redelivered(all);
    const perKill = Array.from({ length: rounds }, (_, r) => again.get(r)?.size ?? 0);
    console.log(
      `spooldir SIGKILL (seed ${rnd.seed}): ${expected.length} lines in ${files} files, ${all.length} deliveries, ` +
        `lost ${lost.length}, duplicated ${all.length - seen.size}; batches sent again per kill: ${perKill.join(', ')}\n  ${report.join('\n  ')}`,
    );
    expect(lost, `seed ${rnd.seed}`).toEqual([]);
    expect(foreign, `seed ${rnd.seed}`).toEqual([]);
    expect(again.get(rounds), `seed ${rnd.seed}`).toBeUndefined(); // the last run was stopped cleanly
    perKill.forEach((n, round) => expect(n, `seed ${rnd.seed} round ${round}`).toBeLessThanOrEqual(maxInFlight));
    expect(readdirSync(spoolDir).sort()).toEqual(Array.from({ length: files }, (_, i) => `f${i}.log.COMPLETED`).sort());
  }, 300_000);

  it('EACCES: a spool directory the process may not write holds the completed file back, then it completes by itself', async () => {
    const spoolDir = join(root, 'spool');
    mkdirSync(spoolDir);
    const lines = Array.from({ length: 300 }, (_, i) => `a-${i}`);
    writeFileSync(join(spoolDir, 'a.log'), lines.join('\n') + '\n');
    writeFileSync(join(spoolDir, 'b.log'), 'b-0\n');
    const out = join(root, 'out.txt');
    chmodSync(spoolDir, 0o555); // readable, not writable: a.log can be read, not renamed
    const c = run(spoolDir, out, { trackerDir: join(root, 'tracker'), batchSize: 100, minBackoffMs: 20, maxBackoffMs: 100 }, 0, true);
    await waitFor(() => c.stdout.some((l) => l.startsWith('warn') && l.includes('EACCES')) || c.process.exitCode !== null, 'the failed rename to be logged');
    expect(c.process.exitCode).toBeNull(); // not ended by the error
    await sleep(300);
    expect(deliveries(out).map((d) => d.body)).toEqual(lines); // b.log waits for a.log
    expect(waiting(spoolDir)).toEqual(['a.log', 'b.log']);
    expect(c.stdout.filter((l) => l.startsWith('warn'))).toHaveLength(1);

    chmodSync(spoolDir, 0o755);
    await waitFor(() => waiting(spoolDir).length === 0, 'both files to complete');
    await kill(c, 'SIGTERM');
    expect(deliveries(out).map((d) => d.body)).toEqual([...lines, 'b-0']);
    expect(c.stdout.some((l) => /^info tracker and spool directory writable again after \d+ failed attempts$/.test(l))).toBe(true);
    expect(existsSync(join(spoolDir, 'a.log.COMPLETED'))).toBe(true);
  }, 60_000);
});
