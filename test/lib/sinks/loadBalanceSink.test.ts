import { describe, expect, it } from 'vitest';
import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { loadBalanceSink } from '../../../lib/sinks/loadBalanceSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { member, sent } from './groupSupport.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const at = (ms: number, fn: () => void): void => void asyncScheduler.schedule(fn, ms);

describe('loadBalanceSink', () => {
  it('round robin sends batch i to member i mod n', () => {
    const ms = [member(), member(), member()];
    const g = loadBalanceSink([ms[0]!.sink, ms[1]!.sink, ms[2]!.sink]);
    const batches = Array.from({ length: 9 }, () => sent());
    for (const s of batches) g.next(s.batch);
    ms.forEach((m, k) => expect(m.got.map((b) => b.events)).toEqual([0, 1, 2].map((r) => batches[r * 3 + k]!.batch.events)));
    expect(batches.every((s) => s.acks === 1)).toBe(true);
  });

  it('random spreads batches roughly evenly', () => {
    const ms = [member(), member()];
    const g = loadBalanceSink([ms[0]!.sink, ms[1]!.sink], { selector: 'random' });
    for (let i = 0; i < 2000; i++) g.next(sent().batch);
    for (const m of ms) {
      expect(m.got.length).toBeGreaterThan(800);
      expect(m.got.length).toBeLessThan(1200);
    }
  });

  it('a failing member passes the same batch on to the next; without backoff it is tried every time', () => {
    const bad = member('nack');
    const good = member('ack');
    const g = loadBalanceSink({ bad: bad.sink, good: good.sink });
    const batches = Array.from({ length: 4 }, () => sent());
    for (const s of batches) g.next(s.batch);
    expect(batches.every((s) => s.acks === 1)).toBe(true);
    expect(good.got.length).toBe(4);
    // round robin: bad first for batches 0 and 2 (then good), good first for 1 and 3
    expect(bad.got.length).toBe(2);
    expect(metricsOf(g)!.snapshot()).toMatchObject({ 'BatchFailCount.bad': 2, EventDrainSuccessCount: 4, EventWriteFail: 0 });
  });

  it('with backoff, a failed member is left out for 2 s, then 4 s after a consecutive failure', () => {
    scheduler().run(({ flush }) => {
      // One member, so the round-robin position cannot hide when it is tried.
      const bad = member('nack');
      const g = loadBalanceSink({ bad: bad.sink }, { backoff: true });
      const triedBadAt: number[] = [];
      for (const t of [0, 1000, 1999, 2001, 3000, 6000, 6002]) {
        at(t, () => {
          const before = bad.got.length;
          g.next(sent().batch);
          if (bad.got.length > before) triedBadAt.push(t);
        });
      }
      flush();
      // fail at 0 → out until 2000; tried at 2001 → fails again (within 2 s + 2 s) → out until 6001
      expect(triedBadAt).toEqual([0, 2001, 6002]);
    });
  });

  it("with backoff a failure within an hour of the last one is consecutive, successes in between or not (Flume's OrderSelector)", () => {
    scheduler().run(({ flush }) => {
      const flaky = member('ack');
      const good = member('ack');
      const g = loadBalanceSink({ flaky: flaky.sink, good: good.sink }, { backoff: true });
      const triedFlakyAt: number[] = [];
      const send = (t: number, fail: boolean) =>
        at(t, () => {
          flaky.behaviour = fail ? 'nack' : 'ack';
          const before = flaky.got.length;
          // Two batches: round robin puts flaky first in one of them whatever the head.
          g.next(sent().batch);
          g.next(sent().batch);
          if (flaky.got.length > before) triedFlakyAt.push(t);
        });
      // fails at 0 (out 2 s); at 10 s it is back and succeeds; it fails again at 60 s: 60 s after the
      // last failure is within the hour, so this is its second consecutive failure: out 4 s, not 2.
      send(0, true);
      send(10_000, false);
      send(60_000, true);
      send(62_500, false);
      send(64_001, false);
      flush();
      expect(triedFlakyAt).toEqual([0, 10_000, 60_000, 64_001]);
    });
  });

  it('with backoff a failure more than an hour after the last one restarts at 2 s; maxTimeOutMs caps the back-off', () => {
    scheduler().run(({ flush }) => {
      const bad = member('nack');
      const g = loadBalanceSink({ bad: bad.sink }, { backoff: true, maxTimeOutMs: 3000 });
      const triedBadAt: number[] = [];
      for (const t of [0, 2001, 5001, 8001, 3_700_000, 3_701_999, 3_702_001]) {
        at(t, () => {
          const before = bad.got.length;
          g.next(sent().batch);
          if (bad.got.length > before) triedBadAt.push(t);
        });
      }
      flush();
      expect(triedBadAt).toEqual([0, 2001, 5001, 8001, 3_700_000, 3_702_001]);
    });
  });

  it('nacks with a retriable FLUME_SINK_FAILED when all failed, and at once when all are backed off', () => {
    scheduler().run(({ flush }) => {
      const a = member('nack');
      const b = member('throw');
      const g = loadBalanceSink({ a: a.sink, b: b.sink }, { backoff: true });
      const s1 = sent(2);
      const s2 = sent(1);
      at(0, () => g.next(s1.batch));
      at(5, () => g.next(s2.batch));
      flush();
      expect(s1.errors[0]).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: true });
      expect(s1.errors[0]!.message).toMatch(/all configured sinks have failed/);
      expect(s2.errors[0]!.message).toMatch(/every sink is backed off/);
      expect([a.got.length, b.got.length]).toEqual([1, 1]);
    });
  });

  it('forwards complete once idle and closes when all members closed', async () => {
    const a = member('hold');
    const b = member('ack');
    const g = loadBalanceSink({ a: a.sink, b: b.sink });
    const s = sent();
    g.next(s.batch);
    g.complete();
    expect(a.ended()).toBeUndefined();
    a.held[0]!.ack();
    expect([a.ended(), b.ended()]).toEqual(['complete', 'complete']);
    await expect(g.closed).resolves.toBeUndefined();
  });

  it('validates its options and maps Flume keys', () => {
    const a = member();
    expect(() => loadBalanceSink([a.sink], { selector: 'least_used' as never })).toThrow(/loadBalanceSink\.selector/);
    expect(() => loadBalanceSink([a.sink], { maxTimeOut: 1 } as never)).toThrow(ConfigError);
    const keys = loadBalanceSink.spec.flumeKeys!;
    const convert = (k: string, v: string) => (keys[k] as { convert: (v: string) => unknown }).convert(v);
    expect(convert('selector', 'ROUND_ROBIN')).toBe('round_robin');
    expect(convert('backoff', 'TRUE')).toBe(true);
    expect(keys['selector.maxTimeOut']).toBe('maxTimeOutMs');
    expect(loadBalanceSink.spec.flumeTypes).toContain('load_balance');
  });

  it('end to end: spreads batches over two sinks in parallel, every event delivered once', async () => {
    let n = 0;
    const got: Record<string, string[]> = { s1: [], s2: [] };
    let concurrent = 0;
    let maxConcurrent = 0;
    const sink = (k: string) =>
      createSink(k, {
        write: async (batch) => {
          concurrent++;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          await new Promise((r) => setTimeout(r, 1));
          concurrent--;
          got[k]!.push(...batch.events.map((e) => e.body.toString()));
        },
      });
    const p = pipe(
      pollSource(() => (n < 400 ? Array.from({ length: 10 }, () => event(String(n++))) : null), { maxInFlight: 4 }),
      memoryChannel({ capacity: 200, transactionCapacity: 10, maxInFlight: 2 }),
      loadBalanceSink({ s1: sink('s1'), s2: sink('s2') }),
    );
    await p.done;
    expect(got.s1!.length).toBe(200);
    expect(got.s2!.length).toBe(200);
    expect([...got.s1!, ...got.s2!].map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(maxConcurrent).toBe(2);
  });
});
