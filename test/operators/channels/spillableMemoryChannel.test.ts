import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { asyncScheduler, EMPTY, map, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ChannelFullError, ConfigError, type FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import {
  spillableMemoryChannel,
  spillableMemoryChannelSpec,
  type SpillableMemoryChannelOptions,
} from '../../../operators/channels/spillableMemoryChannel.js';
import { batchOf, bodies, range } from '../../support/batches.js';
import { collect, harness, memoryLogger, tempDir, until } from './support/support.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const quiet = { logger: () => undefined } as const;
const memoryOnly = (extra: SpillableMemoryChannelOptions = {}) => spillableMemoryChannel({ overflowCapacity: 0, ...quiet, ...extra });

const dirs: string[] = [];
const subs: Subscription[] = [];

afterEach(async () => {
  for (const s of subs.splice(0)) s.unsubscribe();
  await new Promise((r) => setTimeout(r, 50));
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function spillDirs() {
  const root = await tempDir('rxflume-smc-');
  dirs.push(root);
  return { checkpointDir: path.join(root, 'checkpoint'), dataDirs: [path.join(root, 'data')] };
}

async function segments(dataDir: string): Promise<number> {
  try {
    return (await fs.readdir(dataDir)).filter((f) => f.startsWith('log-')).length;
  } catch {
    return 0;
  }
}

describe('spillableMemoryChannel — marbles (memory only)', () => {
  it('passes batches through when the sink keeps up, and completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1, 2]);
      const b = batchOf([3]);
      const out = cold('a-b|', { a: a.batch, b: b.batch }).pipe(
        memoryOnly(),
        map((batch) => {
          batch.ack();
          return bodies(batch).join(',');
        }),
      );
      expectObservable(out).toBe('a-b|', { a: '1,2', b: '3' });
    });
  });

  it('empty upstream completes at once', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Batch>('|').pipe(memoryOnly())).toBe('|');
    });
  });

  it('an upstream error arrives after what was stored drained', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1]);
      const out = cold('a-#', { a: a.batch }).pipe(
        memoryOnly(),
        map((batch) => {
          batch.ack();
          return bodies(batch).join(',');
        }),
      );
      expectObservable(out).toBe('a-#', { a: '1' });
    });
  });

  it('early unsubscribe releases upstream and timers', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = batchOf([1]);
      const never = cold('a-', { a: a.batch });
      expectObservable(never.pipe(memoryOnly()).pipe(map(bodies)), '^--!').toBe('a--', { a: ['1'] });
      expectSubscriptions(never.subscriptions).toBe('^--!');
    });
  });

  it('when memory is full and there is no overflow, waits keep-alive then nacks with ChannelFullError', () => {
    scheduler().run(({ cold, flush }) => {
      const a = batchOf([1, 2]);
      const b = batchOf([3]);
      cold('ab', { a: a.batch, b: b.batch })
        .pipe(memoryOnly({ memoryCapacity: 2, transactionCapacity: 2, keepAliveMs: 50 }))
        .subscribe(() => undefined);
      flush();
      expect(a.acked).toBe(1);
      expect(b.nacked[0]).toBeInstanceOf(ChannelFullError);
      expect((b.nacked[0] as FlumeError).retriable).toBe(true);
    });
  });

  it('redelivers nacked takes after min(n × backoffSleepIncrementMs, maxBackoffSleepMs), in order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1, 2]);
      let attempt = 0;
      const out = cold('a', { a: a.batch }).pipe(
        memoryOnly({ backoffSleepIncrementMs: 10, maxBackoffSleepMs: 15 }),
        map((batch) => {
          attempt++;
          if (attempt <= 3) batch.nack(new Error('sink down'));
          else batch.ack();
          return bodies(batch).join(',');
        }),
      );
      expectObservable(out).toBe('a 9ms b 14ms c 14ms d', { a: '1,2', b: '1,2', c: '1,2', d: '1,2' });
    });
  });

  it('bounds memory bytes with byteCapacity, in avgEventSize slots', () => {
    const h = harness(memoryOnly({ byteCapacity: 30, avgEventSize: 10, keepAliveMs: 0 }));
    subs.push(h.sub);
    expect(h.put('12345678901', '123').acked).toBe(1);
    expect(h.put('123').nacked[0]).toBeInstanceOf(ChannelFullError);
    h.takes[0]!.ack();
    expect(h.put('1'.repeat(30)).acked).toBe(1);
  });
});

describe('spillableMemoryChannel — overflow', () => {
  it('spills once overflowTimeoutMs passed even when the clock reads a millisecond short as its timer fires', async () => {
    const d = await spillDirs();
    const channel = spillableMemoryChannel({ ...d, ...quiet, minimumRequiredSpace: 0, memoryCapacity: 4, transactionCapacity: 2, overflowTimeoutMs: 30, keepAliveMs: 2000 });
    const h = harness(channel);
    subs.push(h.sub);
    const first = h.put(1, 2);
    await until(() => first.acked === 1, 'the open');
    expect(h.put(3, 4).acked).toBe(1);
    // Node may run a timer when Date.now() says 29 of its 30 ms went by; a clock lagging by 1 ms makes that certain.
    const spilled = h.put(5, 6);
    const now = asyncScheduler.now.bind(asyncScheduler);
    const lagging = vi.spyOn(asyncScheduler, 'now').mockImplementation(() => now() - 1);
    try {
      await until(() => spilled.acked + spilled.nacked.length > 0, 'the spill or the keep-alive', 5000);
      expect(spilled.nacked).toEqual([]);
      expect(spilled.acked).toBe(1);
    } finally {
      lagging.mockRestore();
    }
  });

  it('spills to disk after overflowTimeoutMs, keeps order across memory and overflow, and drains both', async () => {
    const d = await spillDirs();
    const channel = spillableMemoryChannel({ ...d, ...quiet, minimumRequiredSpace: 0, memoryCapacity: 4, transactionCapacity: 2, overflowTimeoutMs: 30 });
    const h = harness(channel);
    subs.push(h.sub);
    const first = h.put(1, 2);
    await until(() => first.acked === 1, 'the open'); // puts wait while the overflow log opens
    expect(h.put(3, 4).acked).toBe(1); // memory: acked at once
    const spilled = h.put(5, 6);
    expect(spilled.acked).toBe(0); // memory full: it waits for room…
    await until(() => spilled.acked === 1, 'the spill'); // …then goes to disk
    expect(await segments(d.dataDirs[0]!)).toBe(1);
    // Memory has room again after a take, but the overflow holds events: new puts follow them there.
    h.takes[0]!.ack();
    const later = h.put(7, 8);
    await until(() => later.acked === 1, 'the next put');
    const delivered: string[] = ['1', '2'];
    await until(() => {
      for (const t of h.takes.slice(1)) {
        if (t.settled) continue;
        delivered.push(...bodies(t));
        t.ack();
      }
      return delivered.length === 8;
    }, 'everything');
    expect(delivered).toEqual(range(1, 8).map(String));
    // Once the overflow is empty, puts go to memory again: acked at once.
    await until(() => metricsOf(channel)!.get('EventTakeSuccessCount') === 8, 'every take committed');
    expect(h.put(9).acked).toBe(1);
    expect(bodies(h.takes.at(-1)!)).toEqual(['9']);
    h.takes.at(-1)!.ack();
    h.input.complete();
    await until(() => h.state().completed, 'completion');
  });

  it('a crash loses the in-memory part; the spilled part survives and is delivered first after a restart', async () => {
    const d = await spillDirs();
    const opts = { ...d, ...quiet, minimumRequiredSpace: 0, memoryCapacity: 3, transactionCapacity: 3, overflowTimeoutMs: 0 };
    const { logger, lines } = memoryLogger();
    const h = harness(spillableMemoryChannel({ ...opts, logger }));
    h.put('m1', 'm2', 'm3'); // memory
    const o1 = h.put('o1', 'o2');
    const o2 = h.put('o3');
    await until(() => o1.acked + o2.acked === 2, 'the spilled puts');
    h.sub.unsubscribe(); // as good as a crash for the memory part
    expect(lines.some((l) => /3 events in memory: they are lost/.test(l.message))).toBe(true);
    // Reopening at once: it waits for the closing channel to release the directories.
    const c = collect(spillableMemoryChannel(opts), EMPTY);
    subs.push(c.sub);
    await until(() => c.state().completed || c.state().failed !== undefined, 'the drain');
    expect(c.state().failed).toBeUndefined();
    expect(c.received).toEqual(['o1', 'o2', 'o3']);
  });

  it('memoryCapacity 0 sends every put to disk: a file channel', async () => {
    const d = await spillDirs();
    const channel = spillableMemoryChannel({ ...d, ...quiet, minimumRequiredSpace: 0, memoryCapacity: 0, overflowCapacity: 100, transactionCapacity: 10 });
    const h = harness(channel);
    subs.push(h.sub);
    const p = h.put(1, 2, 3);
    expect(p.acked).toBe(0);
    await until(() => p.acked === 1, 'the durable put');
    await until(() => h.takes.length === 1, 'a take');
    expect(bodies(h.takes[0]!)).toEqual(['1', '2', '3']);
    expect(metricsOf(channel)!.get('ChannelCapacity')).toBe(100);
  });

  it('when memory and overflow are both full, a put waits keep-alive and is nacked', async () => {
    const d = await spillDirs();
    const h = harness(
      spillableMemoryChannel({ ...d, ...quiet, minimumRequiredSpace: 0, memoryCapacity: 2, overflowCapacity: 2, transactionCapacity: 2, overflowTimeoutMs: 0, keepAliveMs: 30 }),
    );
    subs.push(h.sub);
    h.put(1, 2);
    const o = h.put(3, 4);
    await until(() => o.acked === 1, 'the spill');
    const full = h.put(5);
    await until(() => full.nacked.length === 1, 'the nack');
    expect(full.nacked[0]).toBeInstanceOf(ChannelFullError);
    expect(full.nacked[0]!.message).toMatch(/memory holds 2 of 2 events; overflow: capacity 2/);
  });

  it('options: names bad ones, maps Flume keys', () => {
    expect(() => spillableMemoryChannel({ memoryCapacity: 0, overflowCapacity: 0 })).toThrow(ConfigError);
    expect(() => spillableMemoryChannel({ memoryCapacity: 10, overflowCapacity: 0, transactionCapacity: 20 })).toThrow(
      /transactionCapacity: expected integer ≤ max\(memoryCapacity, overflowCapacity\) \(10\)/,
    );
    const m = spillableMemoryChannelSpec.flumeKeys!['overflowTimeout']!;
    expect(typeof m === 'object' && m.option === 'overflowTimeoutMs' && m.convert('3')).toBe(3000);
    // Flume forces its overflow's keep-alive to 0 and fails a put that fits nowhere after overflowTimeout.
    const mapped = spillableMemoryChannelSpec.fromFlume!(new Map([['overflowTimeout', '0'], ['keep-alive', '5']]));
    expect(mapped.options).toEqual({ keepAliveMs: 0 });
    expect(mapped.consumed).toEqual(['keep-alive']);
    expect(mapped.problems).toEqual([expect.objectContaining({ key: 'keep-alive', severity: 'warning', message: expect.stringMatching(/ignores keep-alive/) })]);
    expect(spillableMemoryChannelSpec.fromFlume!(new Map([['overflowTimeout', '2']]))).toEqual({ options: { keepAliveMs: 2000 }, consumed: [], problems: [] });
    expect(spillableMemoryChannelSpec.flumeTypes).toContain('SPILLABLEMEMORY');
  });
});
