import { describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import fc from 'fast-check';
import { tap, type Observable } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { bodies } from '../../support/batches.js';

/** Subscribes and lets `onBatch` settle each batch; resolves with the batches' bodies on completion. */
function run(source: Observable<Batch>, onBatch: (b: Batch, i: number) => void = (b) => b.ack()): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const seen: string[][] = [];
    source.subscribe({
      next: (b) => {
        seen.push(bodies(b));
        onBatch(b, seen.length - 1);
      },
      error: reject,
      complete: () => resolve(seen),
    });
  });
}

const numbers = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sequenceSource', () => {
  it('emits "0" … "totalEvents-1" in batches of batchSize with empty headers, then completes', async () => {
    const source = sequenceSource({ totalEvents: 10, batchSize: 4 });
    const headers: object[] = [];
    const seen = await run(source, (b) => {
      headers.push(...b.events.map((e) => e.headers));
      b.ack();
    });
    expect(seen).toEqual([['0', '1', '2', '3'], ['4', '5', '6', '7'], ['8', '9']]);
    expect(headers.every((h) => Object.keys(h).length === 0)).toBe(true);
    expect(metricsOf(source)!.snapshot()).toMatchObject({ EventReceivedCount: 10, EventAcceptedCount: 10, AppendBatchAcceptedCount: 3 });
  });

  it('defaults to batches of one (Flume batchSize 1)', async () => {
    expect(await run(sequenceSource({ totalEvents: 3 }))).toEqual([['0'], ['1'], ['2']]);
  });

  it('writes the digits right across decade boundaries', async () => {
    const seen = await run(sequenceSource({ totalEvents: 10_050, batchSize: 997 }));
    expect(seen.flat()).toEqual(numbers(10_050));
  });

  it('completes at once with totalEvents 0', async () => {
    expect(await run(sequenceSource({ totalEvents: 0 }))).toEqual([]);
  });

  it('is cold: each subscription starts again at 0', async () => {
    const source = sequenceSource({ totalEvents: 3, batchSize: 3 });
    expect(await run(source)).toEqual([['0', '1', '2']]);
    expect(await run(source)).toEqual([['0', '1', '2']]);
  });

  it('re-sends nacked numbers (same bodies) before new ones, never skipping one', async () => {
    const seen = await run(sequenceSource({ totalEvents: 6, batchSize: 2, backoffSleepIncrementMs: 1 }), (b, i) =>
      i === 1 ? b.nack(new Error('channel full')) : b.ack(),
    );
    expect(seen).toEqual([['0', '1'], ['2', '3'], ['2', '3'], ['4', '5']]);
  });

  it('re-sends every nacked batch with maxInFlight > 1 and completes only after all were acked', async () => {
    const held: Batch[] = [];
    const acked: string[] = [];
    const done = run(sequenceSource({ totalEvents: 9, batchSize: 3, maxInFlight: 3, backoffSleepIncrementMs: 1 }), (b) => held.push(b));
    await sleep(5);
    expect(held.map(bodies)).toEqual([['0', '1', '2'], ['3', '4', '5'], ['6', '7', '8']]);
    // The last numbers were generated; a nack now must still bring them back.
    held[2]!.ack();
    held[1]!.nack(new Error('no'));
    held[0]!.nack(new Error('no'));
    acked.push('6', '7', '8');
    const settle = async () => {
      while (held.length < 5) await sleep(2);
      for (const b of held.slice(3)) {
        acked.push(...bodies(b));
        b.ack();
      }
    };
    await settle();
    const seen = await done;
    // Both come back (in the order their nacks arrived), and only then does the source complete.
    expect(seen.slice(3).sort()).toEqual([['0', '1', '2'], ['3', '4', '5']]);
    expect(acked.sort((a, b) => Number(a) - Number(b))).toEqual(numbers(9));
  });

  it('fails with a non-retriable nack', async () => {
    const error = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
    await expect(run(sequenceSource({ totalEvents: 5 }), (b) => b.nack(error))).rejects.toBe(error);
  });

  it('acks every number at least once whatever the nacks (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { maxLength: 30 }),
        async (total, batchSize, maxInFlight, nackPattern) => {
          const acked = new Set<string>();
          let k = 0;
          const held: Batch[] = [];
          let flushing = false;
          // Settle asynchronously, out of order, so that several batches are in flight at once.
          const flush = () => {
            if (flushing) return;
            flushing = true;
            setImmediate(() => {
              flushing = false;
              for (const b of held.splice(0).reverse()) {
                if (nackPattern[k++]) b.nack(new Error('retry')); // a finite run of nacks, then acks
                else {
                  for (const body of bodies(b)) acked.add(body);
                  b.ack();
                }
              }
            });
          };
          await run(sequenceSource({ totalEvents: total, batchSize, maxInFlight, backoffSleepIncrementMs: 0 }), (b) => {
            held.push(b);
            flush();
          });
          expect([...acked].sort((a, b) => Number(a) - Number(b))).toEqual(numbers(total));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps memory bounded: with a sink that never acks, it generated at most capacity + its in-flight batches', async () => {
    let highest = -1;
    const batchSize = 10;
    const maxInFlight = 2;
    const capacity = 100;
    const source = sequenceSource({ totalEvents: 10_000_000, batchSize, maxInFlight, backoffSleepIncrementMs: 2, maxBackoffSleepMs: 10 });
    const taken: Batch[] = [];
    const sub = source
      .pipe(
        tap((b) => {
          for (const e of b.events) highest = Math.max(highest, Number(e.body.toString()));
        }),
        memoryChannel({ capacity, transactionCapacity: capacity, keepAliveMs: 5 }),
      )
      .subscribe((b) => taken.push(b)); // never acked
    await sleep(400);
    sub.unsubscribe();
    const m = metricsOf(source)!.snapshot();
    // The channel refused puts many times over, and the source re-sent instead of generating more.
    expect(m['ChannelWriteFail']).toBeGreaterThan(0);
    expect(m['EventReceivedCount']).toBeGreaterThan(capacity + batchSize * maxInFlight);
    expect(taken.length).toBe(1);
    expect(highest + 1).toBeLessThanOrEqual(capacity + batchSize * maxInFlight);
  });

  it('rejects bad options with ConfigError naming each', () => {
    expect(() => sequenceSource({ batchSize: 0, totalEvents: -1 })).toThrow(ConfigError);
    const e = thrown(() => sequenceSource({ batchSize: 0, totalEvents: -1 }));
    expect(e).toBeInstanceOf(ConfigError);
    const paths = (e as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['sequenceSource.batchSize', 'sequenceSource.totalEvents']));
    expect((e as ConfigError).message).toContain('sequenceSource.totalEvents: expected number ≥ 0, received -1');
    expect(() => sequenceSource({ totalEvents: Infinity })).not.toThrow();
  });

  it('declares Flume seq and maps totalEvents = Long.MAX_VALUE to unbounded', () => {
    const spec = sequenceSource.spec;
    expect(spec.flumeTypes).toEqual(expect.arrayContaining(['seq', 'org.apache.flume.source.SequenceGeneratorSource']));
    const mapping = spec.flumeKeys!['totalEvents'] as { convert: (v: string) => unknown };
    expect(mapping.convert('9223372036854775807')).toBe(Infinity);
    expect(mapping.convert('1000')).toBe(1000);
  });
});
