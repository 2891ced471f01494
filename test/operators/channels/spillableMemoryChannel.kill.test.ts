/**
 * The spillable memory channel's on-disk part survives SIGKILL (issue #19, item 4), exactly as its docs
 * promise: "a crash loses the in-memory part (up to memoryCapacity events, including those taken and not
 * yet acked); only the spilled part is durable and is delivered after a restart". A child process
 * (support/faultChild.mjs) puts into the channel while its sink holds the one batch it took, so the
 * memory part fills and everything after it spills; it is killed at a seeded random point, then a
 * drain run delivers what is left. Lost: at most memoryCapacity events, all among the first
 * memoryCapacity + one take put (the memory part); every event acked after that was spilled and arrives.
 */
import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../fixtures/taildir/rounds.js';
import { audit, drain, kill, readOr, sleep, start, withTimeout, type StartOptions } from './support/childSupport.js';
import { childBuild, tempDir } from './support/support.js';

const { build, dirs } = childBuild();

const MEMORY = 300;
const TAKE = 100; // faultChild's transactionCapacity; its sink takes one batch at a time
const OVERFLOW = 5000;
// Three rounds in CI; RXFLUME_SOAK=1 for more.
const ROUNDS = process.env['RXFLUME_SOAK'] === '1' ? 15 : 3;

/** Events acked into the channel so far (faultChild's acked.log). */
async function ackedSoFar(work: string): Promise<number> {
  return (await readOr(path.join(work, 'acked.log'))).split('\n').reduce((n, l) => n + (Number(l.split(' ')[1]) || 0), 0);
}

describe('spillableMemoryChannel: SIGKILL with a spilled part', () => {
  it(`${ROUNDS} kills at seeded random points: at most the memory part is lost, every spilled event is delivered after a restart`, async () => {
    const rnd = seededRandom();
    console.log(`spillable kill: seed ${rnd.seed} (replay with RXFLUME_CRASH_SEED=${rnd.seed})`);
    for (let round = 0; round < ROUNDS; round++) {
      const work = await tempDir('rxflume-smc-spill-kill-');
      dirs.push(work);
      const pause = path.join(work, 'pause');
      writeFileSync(pause, '');
      const o: StartOptions = {
        options: { memoryCapacity: MEMORY, overflowCapacity: OVERFLOW },
        env: { CHILD_CHANNEL: 'spillable', CHILD_PAUSE_FILE: pause },
      };
      const child = start(build(), work, 'run', 0, o);
      await withTimeout(child.ready, 30_000, `round ${round} to start`);
      // Past the memory part (and the held take): somewhere in the spilled part.
      const target = rnd.int(MEMORY + TAKE + 200, MEMORY + TAKE + OVERFLOW - 500);
      const until = Date.now() + 60_000;
      while ((await ackedSoFar(work)) < target && Date.now() < until) await sleep(20);
      await sleep(rnd.int(0, 50));
      await kill(child, `round ${round}`);
      const ackedAtKill = await ackedSoFar(work);
      expect(ackedAtKill, `seed ${rnd.seed} round ${round}: the child acked too little before the kill`).toBeGreaterThanOrEqual(target);
      rmSync(pause);
      await drain(build(), work, 1, { options: o.options, env: { CHILD_CHANNEL: 'spillable' } });
      const a = await audit(work);
      console.log(`round ${round}: ${a.acked} acked before the kill, ${a.missing.length} lost (memory part ≤ ${MEMORY}), ${a.redelivered + a.reput} duplicates`);
      expect(a.missing.length, `seed ${rnd.seed} round ${round}`).toBeLessThanOrEqual(MEMORY);
      // Lost only from the memory part: the first events put, never one that was spilled.
      expect(a.missing.filter((n) => n >= MEMORY + TAKE), `seed ${rnd.seed} round ${round}: spilled events lost`).toEqual([]);
    }
  }, 180_000);
});
