/**
 * kill -9, for real: a child process runs source → fileChannel → recording sink and is SIGKILLed at
 * random moments (and at chosen ones: mid-checkpoint, mid-deletion); a last run drains the channel.
 * Every event whose put was acked must have been delivered.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { audit, drain as drainRun, kill, readOr, sleep, start as startRun, UNRECORDED_PUT_EVENTS, UNSETTLED_TAKE_EVENTS, withTimeout, type StartOptions } from './support/childSupport.js';
import { seededRandom } from '../../fixtures/taildir/rounds.js';
import { childBuild, tempDir } from './support/support.js';

const { build, dirs } = childBuild();

const start = (work: string, mode: 'run' | 'drain', run: number, o: StartOptions = {}) => startRun(build(), work, mode, run, o);
const drain = (work: string, run: number) => drainRun(build(), work, run);

describe('fileChannel under kill -9', () => {
  it('loses no acked event over 20 SIGKILLs at seeded random points; duplicates stay within what was unsettled at each kill', async () => {
    const work = await tempDir('rxflume-fc-kill-');
    dirs.push(work);
    const rnd = seededRandom();
    console.log(`fileChannel SIGKILL: seed ${rnd.seed} (replay with RXFLUME_CRASH_SEED=${rnd.seed})`);
    const kills = process.env['RXFLUME_SOAK'] === '1' ? 60 : 20;
    let killedDuringOpen = 0;
    for (let run = 0; run < kills; run++) {
      const child = start(work, 'run', run);
      if (run % 3 === 0) {
        // Some kills land while the channel is still recovering or opening.
        await sleep(rnd.int(100, 300));
        killedDuringOpen++;
      } else {
        await withTimeout(child.ready, 30_000, `run ${run} to start`);
        await sleep(rnd.int(0, 400));
      }
      await kill(child, `run ${run}`);
    }
    const drained = await drain(work, kills);
    const a = await audit(work);
    const log = await readOr(path.join(work, 'channel.log'));
    const torn = (log.match(/cut off a torn record/g) ?? []).length;
    const damaged = (log.match(/damaged/g) ?? []).length;
    console.log(
      `kill -9 × ${kills} (${killedDuringOpen} early): ${a.acked} events acked, ${a.received} received (${a.distinct} distinct), ` +
        `${a.missing.length} acked events missing, ${a.redelivered} redelivered by the channel (bound ${kills * UNSETTLED_TAKE_EVENTS}), ` +
        `${a.reput} put again by the source (bound ${kills * UNRECORDED_PUT_EVENTS}); torn tails cut: ${torn}; ${drained.trim().replace(/\s+/g, " ")}`,
    );
    expect(a.acked).toBeGreaterThan(1000);
    expect(a.missing.slice(0, 20), `seed ${rnd.seed}`).toEqual([]);
    expect(a.redelivered, `seed ${rnd.seed}`).toBeLessThanOrEqual(kills * UNSETTLED_TAKE_EVENTS);
    expect(a.reput, `seed ${rnd.seed}`).toBeLessThanOrEqual(kills * UNRECORDED_PUT_EVENTS);
    expect(damaged, `seed ${rnd.seed}`).toBe(0); // a crash tears tails; it never damages what was written before
    // Nothing is left behind: the channel drained, every segment emptied and deleted.
    const left = [...(await fs.readdir(path.join(work, 'data1'))), ...(await fs.readdir(path.join(work, 'data2')))].filter((f) => f.startsWith('log-'));
    expect(left).toEqual([]);
  }, 600_000);

  it('when writes fail for want of space (EFBIG under ulimit -f), puts are nacked, nothing stored is harmed, and the channel goes on', async () => {
    const work = await tempDir('rxflume-fc-full-');
    dirs.push(work);
    // 200 blocks of 512 bytes: each segment fills up after ~100 KB, far below maxFileSize.
    const child = start(work, 'run', 0, { env: { CHILD_TOTAL_EVENTS: '10000' }, options: { maxFileSize: 1 << 20, checkpointIntervalMs: 1000 }, fileSizeLimitBlocks: 200 });
    const { code } = await withTimeout(child.exited, 60_000, 'the run under a file size limit');
    expect(code, child.output()).toBe(0);
    const metrics = JSON.parse(/metrics (.*)/.exec(child.output())![1]!) as Record<string, number>;
    const log = await readOr(path.join(work, 'channel.log'));
    await drain(work, 1);
    const a = await audit(work);
    const after = (await readOr(path.join(work, 'channel.log'))).slice(log.length);
    console.log(
      `EFBIG: ${metrics['EventPutErrorCount']} events of failed puts nacked and retried; ${a.acked} acked, ${a.missing.length} missing, ` +
        `${a.redelivered + a.reput} duplicates; reopen report: ${/opened with .*/.exec(after)?.[0]}`,
    );
    expect(metrics['EventPutErrorCount']).toBeGreaterThan(0);
    expect(a.acked).toBe(10000);
    expect(a.missing).toEqual([]);
    expect(after).not.toMatch(/damaged|torn|unusable/);
  }, 90_000);

  const points = ['checkpoint-half-written', 'checkpoint-tmp-written', 'checkpoint-renamed', 'segment-deleted'] as const;
  for (const point of points) {
    it(`opens cleanly after kill -9 at ${point}`, async () => {
      const work = await tempDir('rxflume-fc-point-');
      dirs.push(work);
      // A first run with no crash point leaves a checkpoint and segments behind.
      const first = start(work, 'run', 0, { options: { maxFileSize: 4096 } });
      await withTimeout(first.ready, 30_000, 'the first run');
      await sleep(300);
      first.proc.kill('SIGKILL');
      await first.exited;
      // Segments empty out in batches between checkpoints, so that a deletion has several to do.
      const second = start(work, 'run', 1, { env: { RXFLUME_FILECHANNEL_CRASH_AT: point }, options: { maxFileSize: 4096, checkpointIntervalMs: 400 } });
      const { signal } = await withTimeout(second.exited, 30_000, `the crash at ${point}`);
      expect(signal).toBe('SIGKILL');
      const log = await readOr(path.join(work, 'channel.log'));
      const drained = await drain(work, 2);
      const a = await audit(work);
      const after = (await readOr(path.join(work, 'channel.log'))).slice(log.length);
      console.log(`kill -9 at ${point}: ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ${drained.trim().replace(/\s+/g, " ")}`);
      expect(a.missing).toEqual([]);
      expect(after).not.toMatch(/unusable|damaged|no longer exist/);
      await expect(fs.access(path.join(work, 'checkpoint', 'checkpoint.tmp'))).rejects.toThrow();
    }, 90_000);
  }
});
