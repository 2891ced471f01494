import { describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import fc from 'fast-check';
import { catchError, concat, defer, EMPTY, from, map, mergeMap, of, Subject, timer, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { createSink } from '../../../lib/core/sink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { fromObservable, type ObservableItem } from '../../../lib/sources/fromObservable.js';
import { bodies } from '../../support/batches.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/**
 * A sink that settles each batch `ms` after it arrived, emitting its bodies joined (with "!" when it
 * nacks) just before settling, so that a completion or error the settle causes comes after the value.
 */
const settleAfter = (ms: number, nack: (b: Batch, n: number) => Error | undefined = () => undefined): OperatorFunction<Batch, string> => {
  let n = 0;
  return mergeMap((b) =>
    timer(ms).pipe(
      mergeMap(() => {
        const error = nack(b, ++n);
        return concat(
          of(bodies(b).join(',') + (error ? '!' : '')),
          defer(() => {
            if (error) b.nack(error);
            else b.ack();
            return EMPTY;
          }),
        );
      }),
    ),
  );
};
const ackAll = settleAfter(0);
const ackAfter = (ms: number) => settleAfter(ms);

/** Turns an error into a value so marbles can compare its code. */
const errorCode = <T>(source: Observable<T>) =>
  source.pipe(catchError((e: unknown) => of(`error:${e instanceof FlumeError ? e.code : String(e)}`)));

describe('fromObservable — marbles', () => {
  it('emits full batches of batchSize as items arrive, and completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('-a-b-c-d-|');
      expectObservable(fromObservable(input, { batchSize: 2 }).pipe(ackAll)).toBe('---x---y-|', { x: 'a,b', y: 'c,d' });
    });
  });

  it('emits a partial batch batchTimeoutMs after its first item arrived', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('ab-------c--|');
      expectObservable(fromObservable(input, { batchSize: 10, batchTimeoutMs: 5 }).pipe(ackAll)).toBe('-----x------(y|)', {
        x: 'a,b',
        y: 'c',
      });
    });
  });

  it('sends the partial batch as soon as there is room when its timeout passed during an unsettled batch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('abc 20ms |');
      // a,b at 1 (acked at 11); c waits: its timeout (2 + 5) passes at 7, it goes out at the ack, 11.
      expectObservable(fromObservable(input, { batchSize: 2, batchTimeoutMs: 5 }).pipe(ackAfter(10))).toBe('11ms x 9ms y 1ms |', {
        x: 'a,b',
        y: 'c',
      });
    });
  });

  it('keeps at most maxInFlight batches unsettled', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('abcdef|');
      // Batches a,b (1) and c,d (3) go out at once; e,f waits for the first ack at 11 and is acked at 21.
      expectObservable(fromObservable(input, { batchSize: 2, maxInFlight: 2 }).pipe(ackAfter(10))).toBe('11ms x 1ms y 7ms (z|)', {
        x: 'a,b',
        y: 'c,d',
        z: 'e,f',
      });
    });
  });

  it('completes at once on an empty Observable', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(fromObservable(cold('|')).pipe(ackAll)).toBe('|');
    });
  });

  it('never completes (and emits nothing) on a silent Observable', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(fromObservable(cold('-')).pipe(ackAll)).toBe('-');
    });
  });

  it('on upstream error flushes, waits for the acks, then errors', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('ab#', undefined, new Error('app failed'));
      expectObservable(errorCode(fromObservable(input, { batchSize: 5 }).pipe(ackAfter(10)))).toBe('12ms (xe|)', {
        x: 'a,b',
        e: 'error:Error: app failed',
      });
    });
  });

  it('waits for every ack before completing', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('abc|');
      expectObservable(fromObservable(input, { batchSize: 2 }).pipe(ackAfter(10))).toBe('11ms x 9ms (y|)', { x: 'a,b', y: 'c' });
    });
  });

  it("fails with FLUME_SOURCE_OVERFLOW when the buffer is full (whenFull: 'error')", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const input = cold('abcde');
      const held = map((b: Batch) => bodies(b).join(',')); // never acked
      expectObservable(errorCode(fromObservable(input, { batchSize: 2, bufferLimit: 2 }).pipe(held))).toBe('-x--(e|)', {
        x: 'a,b',
        e: 'error:FLUME_SOURCE_OVERFLOW',
      });
      expectSubscriptions(input.subscriptions).toBe('^---!');
    });
  });

  it("drops and counts the newest item when full (whenFull: 'dropNewest')", () => {
    let source: ReturnType<typeof fromObservable> | undefined;
    scheduler().run(({ cold, expectObservable }) => {
      source = fromObservable(cold('abcde|'), { batchSize: 2, bufferLimit: 2, whenFull: 'dropNewest' });
      expectObservable(source.pipe(ackAfter(10))).toBe('11ms x 9ms (y|)', { x: 'a,b', y: 'c,d' });
    });
    expect(metricsOf(source)!.get('EventDroppedCount')).toBe(1);
  });

  it("drops and counts the oldest waiting item when full (whenFull: 'dropOldest')", () => {
    let source: ReturnType<typeof fromObservable> | undefined;
    scheduler().run(({ cold, expectObservable }) => {
      source = fromObservable(cold('abcdef|'), { batchSize: 2, bufferLimit: 2, whenFull: 'dropOldest' });
      expectObservable(source.pipe(ackAfter(10))).toBe('11ms x 9ms (y|)', { x: 'a,b', y: 'e,f' });
    });
    expect(metricsOf(source)!.get('EventDroppedCount')).toBe(2);
  });

  it('re-sends a nacked batch after min(n × backoffSleepIncrementMs, maxBackoffSleepMs)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const sink = settleAfter(0, (_, n) => (n <= 3 ? new Error('channel full') : undefined));
      const source = fromObservable(cold('ab|'), { batchSize: 2, backoffSleepIncrementMs: 10, maxBackoffSleepMs: 15 });
      // nacks at 1, 11, 26 → waits 10, 15 (capped), 15.
      expectObservable(source.pipe(sink)).toBe('-n 9ms n 14ms n 14ms (a|)', { n: 'a,b!', a: 'a,b' });
    });
  });

  it('fails with a non-retriable nack', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const input = cold('ab-c');
      const sink = settleAfter(0, () => new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false }));
      expectObservable(errorCode(fromObservable(input, { batchSize: 2 }).pipe(sink))).toBe('-(xe|)', { x: 'a,b!', e: 'error:FLUME_BATCH_TOO_LARGE' });
      expectSubscriptions(input.subscriptions).toBe('^!');
    });
  });

  it('fails with FLUME_SOURCE_FAILED, after flushing, on an item that is not an event body', () => {
    let source: ReturnType<typeof fromObservable> | undefined;
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('a-n', { a: 'a', n: 42 as unknown as string });
      source = fromObservable(input, { batchSize: 5 });
      expectObservable(errorCode(source.pipe(ackAll))).toBe('--(xe|)', { x: 'a', e: 'error:FLUME_SOURCE_FAILED' });
    });
    expect(metricsOf(source)!.get('EventReadFail')).toBe(1);
  });

  it("unsubscribes from the app's Observable and stops its timers on early unsubscribe", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const input = cold('a-b-c-d-e');
      // The partial batch's timer (due at 5) must not fire after the unsubscribe at 3.
      expectObservable(fromObservable(input, { batchSize: 3, batchTimeoutMs: 5 }).pipe(ackAll), '^--!').toBe('---');
      expectSubscriptions(input.subscriptions).toBe('^--!');
    });
  });
});

describe('fromObservable', () => {
  it('accepts strings (UTF-8), Buffers, Uint8Arrays and events', async () => {
    const e = event('evt', { k: 'v' });
    const input = from<ObservableItem[]>(['héllo', Buffer.from([1, 2]), new Uint8Array([3]), e]);
    const events: FlumeEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      fromObservable(input).subscribe({
        next: (b) => {
          events.push(...b.events);
          b.ack();
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(events.map((x) => [...x.body])).toEqual([[...Buffer.from('héllo')], [1, 2], [3], [...Buffer.from('evt')]]);
    expect(events[3]).toBe(e);
  });

  it('counts received, accepted and batches', async () => {
    const input = new Subject<string>();
    const source = fromObservable(input, { batchSize: 3 });
    const done = new Promise<void>((resolve) => source.subscribe({ next: (b) => b.ack(), complete: resolve }));
    for (let i = 0; i < 7; i++) input.next(String(i));
    input.complete();
    await done;
    expect(metricsOf(source)!.snapshot()).toMatchObject({
      EventReceivedCount: 7,
      EventAcceptedCount: 7,
      AppendBatchReceivedCount: 3,
      AppendBatchAcceptedCount: 3,
      EventDroppedCount: 0,
    });
  });

  it('runs in pipe() through a memory channel that pushes back, losing nothing', async () => {
    const input = new Subject<string>();
    const written: string[] = [];
    const pipeline = pipe(
      fromObservable(input, { batchSize: 10, batchTimeoutMs: 5, bufferLimit: 1000, backoffSleepIncrementMs: 1 }),
      memoryChannel({ capacity: 20, transactionCapacity: 10, keepAliveMs: 1 }),
      createSink('slow', {
        write: async (b) => {
          await new Promise((r) => setTimeout(r, 1));
          written.push(...bodies(b));
        },
      }),
    );
    for (let i = 0; i < 500; i++) input.next(String(i));
    input.complete();
    await pipeline.done;
    expect(written).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  });

  it('reads an AsyncIterable only as there is room: a producer far faster than the sink is never far ahead, nothing overflows or is lost', async () => {
    const TOTAL = 5000;
    let pulled = 0;
    let aheadMax = 0;
    const written: string[] = [];
    async function* produce(): AsyncGenerator<string> {
      for (let i = 0; i < TOTAL; i++) {
        pulled++;
        aheadMax = Math.max(aheadMax, pulled - written.length);
        yield String(i);
      }
    }
    // A buffer limit far below TOTAL: an Observable this fast would overflow it (FLUME_SOURCE_OVERFLOW).
    const pipeline = pipe(
      fromObservable(produce(), { batchSize: 10, batchTimeoutMs: 5, bufferLimit: 20, backoffSleepIncrementMs: 1 }),
      memoryChannel({ capacity: 40, transactionCapacity: 10, keepAliveMs: 1 }),
      createSink('slow', {
        write: async (b) => {
          await new Promise((r) => setTimeout(r, 1));
          written.push(...bodies(b));
        },
      }),
    );
    await pipeline.done;
    expect(written).toEqual(Array.from({ length: TOTAL }, (_, i) => String(i)));
    // Ahead of the sink by at most: the channel's capacity, its batch in the sink, the source's batches in flight and its buffer.
    expect(aheadMax).toBeLessThanOrEqual(40 + 10 + 10 + 20 + 1);
  });

  it('ends an AsyncIterable on unsubscribe (a generator\'s finally runs), and fails on an item that is not an event body', async () => {
    let finallyRan = false;
    async function* endless(): AsyncGenerator<string> {
      try {
        for (let i = 0; ; i++) yield String(i);
      } finally {
        finallyRan = true;
      }
    }
    const got: string[] = [];
    const sub = fromObservable(endless(), { batchSize: 5, batchTimeoutMs: 5 }).subscribe((b) => {
      got.push(...bodies(b));
      b.ack();
    });
    await expect.poll(() => got.length).toBeGreaterThan(20);
    sub.unsubscribe();
    await expect.poll(() => finallyRan).toBe(true);

    async function* bad(): AsyncGenerator<unknown> {
      yield 'ok';
      yield 42;
    }
    const failed = await new Promise<unknown>((resolve) =>
      fromObservable(bad() as AsyncIterable<ObservableItem>, { batchSize: 5, batchTimeoutMs: 5 }).subscribe({ next: (b) => b.ack(), error: resolve }),
    );
    expect(failed).toBeInstanceOf(ComponentError);
    expect((failed as ComponentError).code).toBe('FLUME_SOURCE_FAILED');
  });

  it('delivers every item exactly once, in order, when nothing is nacked or dropped (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 6 }),
        (gaps, batchSize, maxInFlight, ackDelay) => {
          const got: string[] = [];
          let completed = false;
          scheduler().run(({ cold }) => {
            // One item after each gap, then completion.
            const marble = gaps.map((g) => '-'.repeat(g) + 'x').join('') + '|';
            let n = 0;
            const input = cold(marble).pipe(map(() => String(n++)));
            const out = fromObservable(input, { batchSize, maxInFlight, batchTimeoutMs: 4 }).pipe(
              mergeMap((b) =>
                timer(ackDelay).pipe(
                  map(() => {
                    got.push(...bodies(b));
                    b.ack();
                    return 0;
                  }),
                ),
              ),
            );
            out.subscribe({ complete: () => (completed = true) });
          });
          // Every sink delay is the same, so even with maxInFlight > 1 acks come in order.
          expect(got).toEqual(gaps.map((_, i) => String(i)));
          expect(completed).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects bad options naming each', () => {
    const e = thrown(() => fromObservable(of('a'), { batchSize: 10, bufferLimit: 5, whenFull: 'drop' as 'error' }));
    expect(e).toBeInstanceOf(ConfigError);
    const paths = (e as ConfigError).issues.map((i) => i.path);
    expect(paths).toContain('fromObservable.whenFull');
    expect(thrown(() => fromObservable(of('a'), { batchSize: 10, bufferLimit: 5 }))).toMatchObject({
      message: 'fromObservable.bufferLimit: expected integer ≥ batchSize (10), received 5',
    });
  });
});
