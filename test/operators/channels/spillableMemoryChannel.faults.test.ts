/**
 * The spillable memory channel in an agent process (fileChannel/faultChild.mjs) killed with SIGKILL
 * at random moments, and on a full disk (a small tmpfs, as root). Only the in-memory part may be
 * lost on a kill — at most memoryCapacity events each time — and with memoryCapacity 0 nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, drain, kill, readOr, segmentsIn, sleep, start, withTimeout, type StartOptions } from './support/childSupport.js';
import { buildForChildren, tempDir } from './support/support.js';

let build: string;
let mount: string;
const dirs: string[] = [];

beforeAll(async () => {
  build = await buildForChildren();
  dirs.push(build);
  mount = await tempDir('rxflume-smc-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
});

afterAll(async () => {
  spawnSync('umount', ['-l', mount]);
  for (const d of [...dirs, mount]) await fs.rm(d, { recursive: true, force: true });
});

const spillable = (options: object, env: Record<string, string> = {}): StartOptions => ({ options, env: { CHILD_CHANNEL: 'spillable', ...env } });

async function killRuns(work: string, kills: number, o: StartOptions): Promise<void> {
  for (let run = 0; run < kills; run++) {
    const child = start(build, work, 'run', run, o);
    if (run % 3 === 0) await sleep(100 + Math.random() * 200); // some kills while it opens
    else {
      await withTimeout(child.ready, 30_000, `run ${run} to start`);
      await sleep(Math.random() * 500);
    }
    await kill(child, `run ${run}`);
  }
}

describe('spillableMemoryChannel under kill -9', () => {
  it('memoryCapacity 0 (every put on disk): loses no acked event over 10 SIGKILLs', async () => {
    const work = await tempDir('rxflume-smc-kill0-');
    dirs.push(work);
    const o = spillable({ memoryCapacity: 0 });
    await killRuns(work, 10, o);
    await drain(build, work, 10, o);
    const a = await audit(work);
    console.log(`spillable, memoryCapacity 0, kill -9 × 10: ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates`);
    expect(a.acked).toBeGreaterThan(1000);
    expect(a.missing).toEqual([]);
    expect(await readOr(path.join(work, 'channel.log'))).not.toMatch(/damaged/);
    expect(await segmentsIn(path.join(work, 'data1'), path.join(work, 'data2'))).toEqual([]);
  }, 180_000);

  it('memoryCapacity 300: each kill loses at most the in-memory part; the spilled part is delivered', async () => {
    const work = await tempDir('rxflume-smc-kill-');
    dirs.push(work);
    const memoryCapacity = 300;
    const kills = 10;
    const o = spillable({ memoryCapacity });
    await killRuns(work, kills, o);
    await drain(build, work, kills, o);
    const a = await audit(work);
    const log = await readOr(path.join(work, 'channel.log'));
    console.log(
      `spillable, memoryCapacity ${memoryCapacity}, kill -9 × ${kills}: ${a.acked} acked, ${a.missing.length} missing ` +
        `(bound ${kills * memoryCapacity}: the in-memory part at each kill), ${a.redelivered + a.reput} duplicates`,
    );
    expect(a.acked).toBeGreaterThan(1000);
    expect(a.missing.length).toBeLessThanOrEqual(kills * memoryCapacity);
    expect(log).not.toMatch(/damaged/);
  }, 180_000);
});

describe('spillableMemoryChannel on a full disk (tmpfs)', () => {
  it('puts bound for the overflow are refused while the disk is full, the overflow frees its space, and nothing acked is lost', async () => {
    const work = await tempDir('rxflume-smc-full-');
    dirs.push(work);
    const root = path.join(mount, 'channel');
    const pause = path.join(work, 'pause');
    await fs.writeFile(pause, '');
    const total = 20_000;
    const child = start(
      build,
      work,
      'run',
      0,
      spillable(
        { memoryCapacity: 300, checkpointDir: path.join(root, 'checkpoint'), dataDirs: [path.join(root, 'data')] },
        { CHILD_PAUSE_FILE: pause, CHILD_TOTAL_EVENTS: String(total) },
      ),
    );
    await withTimeout(child.ready, 30_000, 'the run to start');
    // The sink holds its first take: memory fills, then the overflow (up to 5000 events).
    await sleep(1500);
    const filler = path.join(mount, 'filler');
    const handle = await fs.open(filler, 'w');
    let full: unknown;
    try {
      for (let i = 0; i < 1 << 16; i++) await handle.write(Buffer.alloc(i < 128 ? 64 * 1024 : 1024));
    } catch (error) {
      full = error;
    } finally {
      await handle.close();
    }
    // The disk must really be full for what follows to mean anything.
    expect((full as NodeJS.ErrnoException | undefined)?.code).toBe('ENOSPC');
    await fs.rm(pause); // the sink is back: the overflow drains on a full disk
    let mostSegments = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      mostSegments = Math.max(mostSegments, (await segmentsIn(path.join(root, 'data'))).length);
    }
    await fs.rm(filler);
    const { code } = await withTimeout(child.exited, 120_000, 'the run to finish');
    expect(code, child.output()).toBe(0);
    const a = await audit(work);
    const log = await readOr(path.join(work, 'channel.log'));
    console.log(
      `spillable on a full disk: ${a.acked} acked, ${a.received} received, ${a.missing.length} missing; ` +
        `"disk is full" ${(log.match(/the disk is full/g) ?? []).length}×; at most ${mostSegments} segment files while full`,
    );
    // The overflow holds at most 5000 small events (~130 KB) in 64 KB segments: refused puts add none.
    expect(mostSegments).toBeLessThanOrEqual(6);
    expect(log).toMatch(/the disk is full/);
    expect(a.acked).toBe(total);
    expect(a.missing).toEqual([]);
    // Drained: no segment holds anything. Segments emptied while no checkpoint could be written are cut to
    // 0 bytes rather than deleted (an empty file tells recovery their events were taken); when the drain
    // ends after the disk was freed, they are gone.
    const left = await segmentsIn(path.join(root, 'data'));
    expect(Object.fromEntries(await Promise.all(left.map(async (f) => [f, (await fs.stat(f)).size] as const)))).toEqual(Object.fromEntries(left.map((f) => [f, 0])));
  }, 180_000);
});
