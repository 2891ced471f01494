import { afterEach, describe, expect, it, vi } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { take, type Observable } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { stressSource } from '../../../lib/sources/stressSource.js';

/** Subscribes and lets `onBatch` settle each batch; resolves with the batches on completion. */
function run(source: Observable<Batch>, onBatch: (b: Batch, i: number) => void = (b) => b.ack()): Promise<Batch[]> {
  return new Promise((resolve, reject) => {
    const seen: Batch[] = [];
    source.subscribe({
      next: (b) => {
        seen.push(b);
        onBatch(b, seen.length - 1);
      },
      error: reject,
      complete: () => resolve(seen),
    });
  });
}

const sizes = (batches: Batch[]) => batches.map((b) => b.events.length);

afterEach(() => {
  vi.useRealTimers();
});

describe('stressSource', () => {
  it('emits events of `size` bytes sharing one body, headers {}, in batches, cutting the last to maxTotalEvents', async () => {
    const batches = await run(stressSource({ size: 64, maxTotalEvents: 10, batchSize: 4 }));
    expect(sizes(batches)).toEqual([4, 4, 2]);
    const events = batches.flatMap((b) => b.events);
    expect(events.every((e) => e.body.length === 64 && e.body === events[0]!.body)).toBe(true);
    expect(events.every((e) => Object.keys(e.headers).length === 0)).toBe(true);
  });

  it("sends the same batchSize event objects in every batch, as Flume's StressSource does (no allocation per event)", async () => {
    const batches = await run(stressSource({ size: 8, maxTotalEvents: 7, batchSize: 3 }));
    expect(sizes(batches)).toEqual([3, 3, 1]);
    const [first, second, last] = batches.map((b) => b.events);
    expect(new Set(first).size).toBe(3);
    second!.forEach((e, i) => expect(e).toBe(first![i]));
    expect(last![0]).toBe(first![0]);
    // Each batch its own array: a channel may hold one while the next is made.
    expect(second).not.toBe(first);
  });

  it('defaults to 500-byte bodies in batches of one', async () => {
    const batches = await run(stressSource({ maxTotalEvents: 3 }));
    expect(sizes(batches)).toEqual([1, 1, 1]);
    expect(batches[0]!.events[0]!.body.length).toBe(500);
  });

  it('counts nacked events against maxTotalEvents and does not re-send them', async () => {
    const source = stressSource({ maxTotalEvents: 6, batchSize: 2, backoffSleepIncrementMs: 1 });
    const batches = await run(source, (b, i) => (i === 0 ? b.nack(new Error('full')) : b.ack()));
    expect(sizes(batches)).toEqual([2, 2, 2]);
    expect(metricsOf(source)!.snapshot()).toMatchObject({ EventReceivedCount: 6, EventAcceptedCount: 4, ChannelWriteFail: 2 });
  });

  it('completes after exactly maxSuccessfulEvents acked events, nacks notwithstanding', async () => {
    const source = stressSource({ maxSuccessfulEvents: 7, batchSize: 3, maxInFlight: 2, backoffSleepIncrementMs: 1 });
    let settled = 0;
    await run(source, (b) => setImmediate(() => (++settled % 3 === 0 ? b.nack(new Error('full')) : b.ack())));
    expect(metricsOf(source)!.get('EventAcceptedCount')).toBe(7);
    expect(metricsOf(source)!.get('ChannelWriteFail')).toBeGreaterThan(0);
  });

  it('is unbounded by default', async () => {
    const batches = await run(stressSource({ batchSize: 100 }).pipe(take(50)), (b) => b.ack());
    expect(batches.length).toBe(50);
  });

  it('paces generation to maxEventsPerSecond and releases its timer on unsubscribe', async () => {
    vi.useFakeTimers();
    const times: number[] = [];
    const start = Date.now();
    const sub = stressSource({ size: 1, batchSize: 10, maxEventsPerSecond: 100 }).subscribe((b) => {
      times.push(Date.now() - start);
      b.ack();
    });
    await vi.advanceTimersByTimeAsync(350);
    // 10 events per 100 ms.
    expect(times).toEqual([0, 100, 200, 300]);
    sub.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails with a non-retriable nack', async () => {
    const error = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
    await expect(run(stressSource({ batchSize: 5 }), (b) => b.nack(error))).rejects.toBe(error);
  });

  it('rejects bad options naming each', () => {
    const e = thrown(() => stressSource({ size: -1, batchSize: 0, maxTotalEvents: 1.5 }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues.map((i) => i.path).sort()).toEqual([
      'stressSource.batchSize',
      'stressSource.maxTotalEvents',
      'stressSource.size',
    ]);
  });

  it('declares Flume StressSource and maps -1 limits to unbounded', () => {
    const spec = stressSource.spec;
    expect(spec.flumeTypes).toContain('org.apache.flume.source.StressSource');
    const total = spec.flumeKeys!['maxTotalEvents'] as { convert: (v: string) => unknown };
    expect(total.convert('-1')).toBe(Infinity);
    expect(total.convert('1000')).toBe(1000);
  });
});
