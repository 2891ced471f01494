import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRASH_ROUNDS, deliveries, kill, outSize, redelivered, repairTail, seededRandom, sleep, startChild, waitFor, type Child } from '../../../fixtures/taildir/rounds.js';
import { mountSmallFs, type SmallFs } from '../../../fixtures/taildir/smallFs.js';

// taildirSource in a child process, killed with SIGKILL at random points over several rounds while a
// writer appends and rotates, some kills during an outage of the position file's file system
// (ENOSPC), then restarted on the same position file: no acked line is lost, and a kill makes only
// the unrecorded batches come again — those in flight and those acked in the turn before the
// position write (writePosIntervalMs 0), so at most 2 × maxInFlight, plus during an outage those
// acked since it began.

const runner = fileURLToPath(new URL('../../../fixtures/taildir/runner.mjs', import.meta.url));

let root: string;
let fs: SmallFs | undefined;
const children: Child[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rxflume-taildir-crash-'));
  mkdirSync(join(root, 'logs'));
});

afterEach(async () => {
  for (const c of children.splice(0)) await kill(c);
  fs?.close();
  fs = undefined;
  rmSync(root, { recursive: true, force: true });
});

function run(positionFile: string, options: object, tag: number, unprivileged = false): Child {
  const c = startChild(runner, [join(root, 'logs'), positionFile, join(root, 'out.txt'), JSON.stringify(options), String(tag)], unprivileged);
  children.push(c);
  return c;
}

/** Line `seq`, padded so lines differ in length. */
const line = (seq: number) => `${seq} ${'p'.repeat(seq % 50)}`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${line(from + i)}\n`).join('');

describe('taildirSource: SIGKILL at random points', () => {
  it('over several rounds with appends and rotations, some during ENOSPC: nothing lost, re-sent batches bounded per kill', async () => {
    const rnd = seededRandom();
    console.log(`taildir SIGKILL: seed ${rnd.seed} (replay with RXFLUME_CRASH_SEED=${rnd.seed})`);
    fs = await mountSmallFs(1 << 20);
    const positionFile = join(fs.dir, 'state', 'taildir_position.json');
    const out = join(root, 'out.txt');
    const app = join(root, 'logs', 'app.log');
    const maxInFlight = 2;
    let written = 0;
    let rotations = 0;
    const writer = setInterval(() => {
      const n = rnd.int(10, 150);
      appendFileSync(app, lines(written, written + n));
      written += n;
      if (rnd.next() < 0.01) renameSync(app, `${app}.${++rotations}`); // still matches the group
    }, 10);

    const rounds = CRASH_ROUNDS;
    const report: string[] = [];
    let full = false;
    /** Per round, the output offset from which its batches were acked while positions could not be written. */
    const outageFrom = new Map<number, number>();
    try {
      for (let round = 0; round < rounds; round++) {
        const options = { batchSize: [10, 100, 500][rnd.int(0, 2)], maxInFlight, writePosIntervalMs: 0, backoffSleepIncrementMs: 20, maxBackoffSleepMs: 100 };
        const before = outSize(out);
        if (full) outageFrom.set(round, before); // restarted with the file system still full
        const c = run(positionFile, options, round);
        if (full && rnd.next() < 0.75) {
          await sleep(rnd.int(50, 500));
          fs.free();
          full = false;
        }
        const threshold = rnd.int(0, 300_000);
        await waitFor(() => outSize(out) - before >= threshold || c.process.exitCode !== null, `${threshold} bytes delivered`, 120_000);
        expect(c.process.exitCode).toBeNull();
        let note = '';
        if (!full && rnd.next() < 0.25) {
          outageFrom.set(round, outSize(out)); // before: batches acked while it fills count as during the outage
          fs.fill();
          full = true;
          note = ', during ENOSPC';
          await sleep(rnd.int(0, 300));
        } else {
          await sleep(rnd.int(0, 40));
        }
        await kill(c);
        repairTail(out);
        report.push(`round ${round}: batch ${options.batchSize}, killed after ${outSize(out) - before} bytes${note}`);
        await sleep(rnd.int(0, 200)); // the writer goes on while nothing runs
      }
    } finally {
      clearInterval(writer);
    }
    if (full) fs.free();

    const last = run(positionFile, { batchSize: 500, maxInFlight, writePosIntervalMs: 0 }, rounds);
    const delivered = () => new Set(deliveries(out).map((d) => d.body)).size;
    await waitFor(() => delivered() >= written, `all ${written} lines`, 180_000);
    await sleep(300); // anything more would be an extra duplicate
    await kill(last, 'SIGTERM');

    const all = deliveries(out);
    const counts = new Map<string, number>();
    for (const d of all) counts.set(d.body, (counts.get(d.body) ?? 0) + 1);
    let lost = 0;
    for (let seq = 0; seq < written; seq++) if (!counts.has(line(seq))) lost++;
    const malformed = [...counts.keys()].filter((b) => b !== line(Number(b.split(' ', 1)[0])));
    const again = redelivered(all);
    const perKill = Array.from({ length: rounds }, (_, round) => {
      const from = outageFrom.get(round);
      const duringOutage = from === undefined ? 0 : new Set(all.filter((d) => d.tag === round && d.offset >= from).map((d) => d.batch)).size;
      return { sentAgain: again.get(round)?.size ?? 0, bound: 2 * maxInFlight + duringOutage, duringOutage };
    });
    console.log(
      `taildir SIGKILL (seed ${rnd.seed}): ${written} lines in ${rotations + 1} files, ${all.length} deliveries, lost ${lost}, ` +
        `duplicated ${all.length - counts.size}, malformed ${malformed.length}; batches sent again per kill: ` +
        perKill.map((k) => `${k.sentAgain} (≤ ${2 * maxInFlight}${k.duringOutage ? ` + ${k.duringOutage} acked during the outage` : ''})`).join(', ') +
        `\n  ${report.join('\n  ')}`,
    );
    perKill.forEach((k, round) => expect(k.sentAgain, `seed ${rnd.seed} round ${round}`).toBeLessThanOrEqual(k.bound));
    expect(lost, `seed ${rnd.seed}`).toBe(0);
    expect(malformed, `seed ${rnd.seed}`).toEqual([]);
    expect(again.get(rounds), `seed ${rnd.seed}`).toBeUndefined();
  }, 400_000);

  it('EACCES: a state directory the process may not write: tailing goes on, positions are written once it may again', async () => {
    const stateDir = join(root, 'state');
    mkdirSync(stateDir);
    const positionFile = join(stateDir, 'taildir_position.json');
    const app = join(root, 'logs', 'app.log');
    writeFileSync(app, lines(0, 100));
    const c = run(positionFile, { batchSize: 50, writePosIntervalMs: 0, backoffSleepIncrementMs: 20, maxBackoffSleepMs: 100 }, 0, true);
    const stored = () =>
      existsSync(positionFile) ? (JSON.parse(readFileSync(positionFile, 'utf8')) as Array<{ inode: number; pos: number }>).find((e) => e.inode === statSync(app).ino)?.pos : undefined;
    await waitFor(() => stored() === statSync(app).size, 'the first positions');
    const good = readFileSync(positionFile, 'utf8');

    chmodSync(stateDir, 0o555);
    appendFileSync(app, lines(100, 200));
    await waitFor(() => deliveries(join(root, 'out.txt')).length === 200 || c.process.exitCode !== null, 'the lines appended meanwhile');
    expect(c.process.exitCode).toBeNull();
    await waitFor(() => c.stdout.some((l) => l.startsWith('warn') && l.includes('EACCES')), 'the failed write to be logged');
    expect(readFileSync(positionFile, 'utf8')).toBe(good);

    chmodSync(stateDir, 0o755);
    await waitFor(() => stored() === statSync(app).size, 'the positions once writable again');
    await waitFor(() => c.stdout.some((l) => /^info position file .* written again after \d+ failed attempts$/.test(l)), 'the recovery to be logged');
    await kill(c, 'SIGTERM');
    expect(deliveries(join(root, 'out.txt')).map((d) => d.body)).toEqual(Array.from({ length: 200 }, (_, i) => line(i)));
  }, 60_000);
});
