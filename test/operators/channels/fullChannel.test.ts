/**
 * A channel full for a long time: the sink stops acking, the source keeps offering and is refused
 * (keep-alive, then ChannelFullError) again and again; memory stays flat, nothing stored moves, and
 * once the sink is back everything acked is delivered once. 20 s here; set RXFLUME_FULL_CHANNEL_MS
 * for the long form (e.g. 600000 for ten minutes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { audit, sleep, start, withTimeout } from './support/childSupport.js';
import { childBuild, tempDir } from './support/support.js';

const FULL_MS = Number(process.env['RXFLUME_FULL_CHANNEL_MS'] ?? 20_000);
/** Growth of the heap and of Buffers outside it allowed while full (the channel itself holds pointers and a bounded cache). */
const HEAP_GROWTH_BOUND = 32 * 2 ** 20;

const { build, dirs } = childBuild();

interface Stats {
  heapUsed: number;
  external: number;
  rss: number;
  ChannelSize: number;
  EventPutAttemptCount: number;
  EventPutSuccessCount: number;
}

const cases = [
  // faultChild.mjs defaults: file capacity 5000; spillable memory 500 + overflow 5000; one take of 100 held by the sink.
  { kind: 'file', full: 5000 - 100 },
  { kind: 'spillable', full: 5500 - 100 },
] as const;

describe(`channels full for ${FULL_MS / 1000} s`, () => {
  for (const { kind, full } of cases) {
    it(`${kind}: stays full with flat memory while the source is refused, then delivers everything acked once`, async () => {
      const work = await tempDir('rxflume-fc-full-');
      dirs.push(work);
      const pause = path.join(work, 'pause');
      await fs.writeFile(pause, '');
      const total = full + 3000;
      const child = start(build(), work, 'run', 0, {
        env: { CHILD_CHANNEL: kind, CHILD_PAUSE_FILE: pause, CHILD_STATS_MS: '500', CHILD_TOTAL_EVENTS: String(total) },
      });
      await withTimeout(child.ready, 30_000, 'the run to start');
      const stats = (): Stats[] => [...child.output().matchAll(/^stats (.*)$/gm)].map((m) => JSON.parse(m[1]!) as Stats);
      await withTimeout(
        (async () => {
          while (!stats().some((s) => s.ChannelSize >= full)) await sleep(100);
        })(),
        30_000,
        'the channel to fill up',
      );
      const fullFrom = stats().length - 1;
      const deadline = Date.now() + FULL_MS;
      while (Date.now() < deadline) {
        await sleep(Math.min(1000, deadline - Date.now()));
        const gone = await Promise.race([child.exited.then(() => true), Promise.resolve(false)]);
        if (gone) throw new Error(`the run ended while full:\n${child.output()}`);
      }
      const during = stats().slice(fullFrom);
      await fs.rm(pause);
      const { code } = await withTimeout(child.exited, 120_000, 'the run to finish once the sink is back');
      expect(code, child.output()).toBe(0);
      const first = during[0]!;
      const last = during.at(-1)!;
      const memory = (s: Stats) => s.heapUsed + s.external;
      const peak = Math.max(...during.map(memory));
      const a = await audit(work);
      console.log(
        `${kind} full for ${FULL_MS / 1000} s: ChannelSize ${Math.min(...during.map((s) => s.ChannelSize))}..${Math.max(...during.map((s) => s.ChannelSize))}, ` +
          `${last.EventPutAttemptCount - first.EventPutAttemptCount} events offered and refused meanwhile, ` +
          `heap+external ${(memory(first) / 2 ** 20).toFixed(1)} → peak ${(peak / 2 ** 20).toFixed(1)} MB (bound +${HEAP_GROWTH_BOUND / 2 ** 20} MB), ` +
          `rss ${(last.rss / 2 ** 20).toFixed(0)} MB; then ${a.acked} acked, ${a.received} received, ${a.missing.length} missing`,
      );
      expect(during.length).toBeGreaterThanOrEqual(Math.floor(FULL_MS / 500) - 2);
      // Full all along: nothing taken, nothing stored beyond capacity, the source refused again and again.
      expect(during.every((s) => s.ChannelSize >= full && s.ChannelSize <= full + 100)).toBe(true);
      expect(last.EventPutSuccessCount).toBe(first.EventPutSuccessCount);
      expect(last.EventPutAttemptCount - first.EventPutAttemptCount).toBeGreaterThan(0);
      expect(peak - memory(first)).toBeLessThan(HEAP_GROWTH_BOUND);
      expect(a.acked).toBe(total);
      expect(a.missing).toEqual([]);
      expect(a.received).toBe(total); // no kill: each delivered once
    }, FULL_MS + 180_000);
  }
});
