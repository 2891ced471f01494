import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { map, Subject, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createDeferredBatch, type Batch } from '../../../lib/core/batch.js';
import { ChannelFullError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { event } from '../../../lib/core/event.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { batchOf, bodies, deferredBatchOf, range, type Recorded } from '../../support/batches.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Subscribes the channel with a sink that keeps every take for the test to settle. */
function harness(channel: ReturnType<typeof memoryChannel>) {
  const input = new Subject<Batch>();
  const takes: Batch[] = [];
  let completed = false;
  let failed: unknown;
  const sub: Subscription = input.pipe(channel).subscribe({
    next: (b) => takes.push(b),
    complete: () => (completed = true),
    error: (e: unknown) => (failed = e),
  });
  const put = (...values: (string | number)[]): Recorded => {
    const rec = batchOf(values);
    input.next(rec.batch);
    return rec;
  };
  /** A put whose events are made only when needed (an Avro source's answered-first calls). */
  const putDeferred = (...values: (string | number)[]) => {
    const rec = deferredBatchOf(values);
    input.next(rec.batch);
    return rec;
  };
  return { input, takes, put, putDeferred, sub, state: () => ({ completed, failed }) };
}

describe('memoryChannel — marbles', () => {
  it('passes batches through when the sink keeps up, and completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1, 2]);
      const b = batchOf([3]);
      const out = cold('a-b|', { a: a.batch, b: b.batch }).pipe(
        memoryChannel(),
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
      expectObservable(cold<Batch>('|').pipe(memoryChannel())).toBe('|');
    });
  });

  it('an upstream error arrives after what was stored drained', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1]);
      const out = cold('a-#', { a: a.batch }).pipe(
        memoryChannel(),
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
      expectObservable(never.pipe(memoryChannel()).pipe(map(bodies)), '^--!').toBe('a--', { a: ['1'] });
      expectSubscriptions(never.subscriptions).toBe('^--!');
    });
  });

  it('waits keep-alive for space, then nacks the put with ChannelFullError', () => {
    scheduler().run(({ cold, flush }) => {
      const a = batchOf([1, 2]);
      const b = batchOf([3]);
      const out: Batch[] = [];
      cold('ab', { a: a.batch, b: b.batch })
        .pipe(memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 50 }))
        .subscribe((x) => out.push(x));
      flush();
      expect(a.acked).toBe(1);
      expect(b.nacked[0]).toBeInstanceOf(ChannelFullError);
      expect((b.nacked[0] as FlumeError).retriable).toBe(true);
      expect(out).toHaveLength(1);
    });
  });

  it('a waiting put is stored as soon as a take is acked, in arrival order', () => {
    const h = harness(memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 60_000 }));
    h.put(1, 2);
    const w1 = h.put(3);
    const w2 = h.put(4);
    expect(w1.acked + w2.acked).toBe(0);
    h.takes[0]!.ack();
    expect([w1.acked, w2.acked]).toEqual([1, 1]);
    expect(h.takes.map(bodies).at(-1)).toEqual(['3', '4']);
    h.sub.unsubscribe();
  });

  it('redelivers nacked takes after min(n × step, max), in order', () => {
    const backoff = { backoffSleepIncrementMs: 10, maxBackoffSleepMs: 15 };
    scheduler().run(({ cold, expectObservable }) => {
      const a = batchOf([1, 2]);
      let attempt = 0;
      const out = cold('a', { a: a.batch }).pipe(
        memoryChannel(backoff),
        map((batch) => {
          attempt++;
          if (attempt <= 3) batch.nack(new Error('sink down'));
          else batch.ack();
          return bodies(batch).join(',');
        }),
      );
      // 0: first try, +10: second, +20 (capped at 15): third, +15: fourth, acked.
      expectObservable(out).toBe('a 9ms b 14ms c 14ms d', { a: '1,2', b: '1,2', c: '1,2', d: '1,2' });
    });
  });
});

describe('memoryChannel — put and take', () => {
  it('acks a put once stored and takes up to transactionCapacity, paced by acks', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 3 }));
    const p1 = h.put(1, 2);
    expect(p1.acked).toBe(1);
    expect(h.takes.map(bodies)).toEqual([['1', '2']]);
    const p2 = h.put(3, 4);
    const p3 = h.put(5);
    expect(p2.acked + p3.acked).toBe(2);
    expect(h.takes).toHaveLength(1); // maxInFlight 1: nothing more until the sink acks
    h.takes[0]!.ack();
    expect(h.takes.map(bodies)).toEqual([['1', '2'], ['3', '4', '5']]);
  });

  it('maxInFlight lets several takes be unsettled at once', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 2, maxInFlight: 3 }));
    h.put(1, 2);
    h.put(3, 4);
    h.put(5, 6);
    h.put(7);
    expect(h.takes.map(bodies)).toEqual([['1', '2'], ['3', '4'], ['5', '6']]);
    h.takes[1]!.ack();
    expect(h.takes.map(bodies).at(-1)).toEqual(['7']);
  });

  it('counts unsettled takes against capacity, as Flume releases space only at take commit', () => {
    const h = harness(memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 0 }));
    h.put(1, 2);
    const full = h.put(3);
    expect(full.nacked[0]).toBeInstanceOf(ChannelFullError);
    h.takes[0]!.ack();
    expect(h.put(3).acked).toBe(1);
  });

  it('refuses a put larger than transactionCapacity with a non-retriable error', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 2 }));
    const big = h.put(1, 2, 3);
    expect(big.nacked[0]).toMatchObject({ code: 'FLUME_BATCH_TOO_LARGE', retriable: false });
  });

  it('bounds body bytes with byteCapacity, in 100-byte slots (see memoryChannel.byteCapacity.test.ts)', () => {
    const h = harness(memoryChannel({ capacity: 100, byteCapacity: 300, keepAliveMs: 0 }));
    expect(h.put('1'.repeat(150), '123').acked).toBe(1);
    expect(h.put('123').nacked[0]).toBeInstanceOf(ChannelFullError);
    h.takes[0]!.ack();
    expect(h.put('1'.repeat(300)).acked).toBe(1);
  });

  it('nack puts the events back at the head, before later puts, in order', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 2, backoffSleepIncrementMs: 0 }));
    h.put(1, 2);
    h.put(3, 4);
    h.takes[0]!.nack(new Error('sink failed'));
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        expect(h.takes.map(bodies)).toEqual([['1', '2'], ['1', '2']]);
        h.takes[1]!.ack();
        expect(h.takes.map(bodies).at(-1)).toEqual(['3', '4']);
        resolve();
      }, 5);
    });
  });

  it('whenFull dropNewest acks and counts what did not fit', () => {
    const channel = memoryChannel({ capacity: 3, transactionCapacity: 3, whenFull: 'dropNewest' });
    const h = harness(channel);
    h.put(1, 2);
    const p = h.put(3, 4, 5);
    expect(p.acked).toBe(1);
    expect(metricsOf(channel)!.get('EventDroppedCount')).toBe(2);
    h.takes[0]!.ack();
    expect(h.takes.map(bodies).at(-1)).toEqual(['3']);
  });

  it('whenFull dropOldest evicts the oldest stored events, never unsettled takes', () => {
    const channel = memoryChannel({ capacity: 4, transactionCapacity: 2, whenFull: 'dropOldest' });
    const h = harness(channel);
    h.put(1, 2); // taken, in flight
    h.put(3, 4); // stored
    const p = h.put(5, 6);
    expect(p.acked).toBe(1);
    expect(metricsOf(channel)!.get('EventDroppedCount')).toBe(2);
    h.takes[0]!.ack();
    expect(h.takes.map(bodies).at(-1)).toEqual(['5', '6']);
  });

  it('drains on upstream completion, then completes', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 2 }));
    h.put(1, 2);
    h.put(3);
    h.input.complete();
    expect(h.state().completed).toBe(false);
    h.takes[0]!.ack();
    expect(h.state().completed).toBe(false);
    h.takes[1]!.ack();
    expect(h.state().completed).toBe(true);
  });

  it('unsubscribe nacks puts still waiting for space', () => {
    const h = harness(memoryChannel({ capacity: 1, transactionCapacity: 1, keepAliveMs: 60_000 }));
    h.put(1);
    const waiting = h.put(2);
    expect(waiting.acked + waiting.nacked.length).toBe(0);
    h.sub.unsubscribe();
    expect(waiting.nacked[0]).toMatchObject({ code: 'FLUME_CHANNEL_CLOSED' });
  });

  it('publishes Flume channel counters', () => {
    const channel = memoryChannel({ capacity: 10, transactionCapacity: 5 });
    const h = harness(channel);
    h.put(1, 2, 3);
    h.put(4);
    const m = metricsOf(channel)!.snapshot();
    expect(m).toMatchObject({
      ChannelCapacity: 10,
      ChannelSize: 1,
      EventPutAttemptCount: 4,
      EventPutSuccessCount: 4,
      EventTakeAttemptCount: 3,
      EventTakeSuccessCount: 0,
    });
    expect(m['ChannelFillPercentage']).toBeCloseTo(10);
    h.takes[0]!.ack();
    expect(metricsOf(channel)!.get('EventTakeSuccessCount')).toBe(3);
  });
});

describe('memoryChannel — deferred puts (events made when taken)', () => {
  it('acks a deferred put before its events are made, and makes them once, as they are taken', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 10 }));
    const first = h.put(0); // taken at once: the sink holds it
    let madeAtAck = -1;
    const rec = deferredBatchOf([1, 2], () => [event('1'), event('2')]);
    const batch = createDeferredBatch(rec.batch.deferred!, { onAck: () => (madeAtAck = rec.makes) });
    h.input.next(batch);
    expect(madeAtAck).toBe(0);
    expect(rec.makes).toBe(0);
    expect(first.acked).toBe(1);
    h.takes[0]!.ack();
    expect(h.takes.map(bodies)).toEqual([['0'], ['1', '2']]);
    expect(rec.makes).toBe(1);
    expect(batch.events).toBe(h.takes[1]!.events);
    expect(rec.makes).toBe(1);
  });

  it('counts unmade events against capacity and in ChannelSize', () => {
    const channel = memoryChannel({ capacity: 5, transactionCapacity: 3, keepAliveMs: 0 });
    const h = harness(channel);
    h.put(1, 2);
    const waiting = h.putDeferred(3, 4, 5);
    expect(waiting.acked).toBe(1);
    expect(waiting.makes).toBe(0);
    expect(metricsOf(channel)!.get('ChannelSize')).toBe(3);
    expect(h.put(6).nacked[0]).toBeInstanceOf(ChannelFullError);
    h.takes[0]!.ack();
    expect(h.takes.map(bodies).at(-1)).toEqual(['3', '4', '5']);
  });

  it('merges and splits deferred puts across takes, in order, through a nacked take', async () => {
    const h = harness(memoryChannel({ capacity: 20, transactionCapacity: 3, backoffSleepIncrementMs: 0 }));
    h.put(0);
    const a = h.putDeferred(1, 2);
    const b = h.putDeferred(3, 4);
    const c = h.putDeferred(5);
    expect([a.makes, b.makes, c.makes]).toEqual([0, 0, 0]);
    h.takes[0]!.ack();
    expect(bodies(h.takes[1]!)).toEqual(['1', '2', '3']);
    expect([a.makes, b.makes, c.makes]).toEqual([1, 1, 0]);
    h.takes[1]!.nack(new Error('sink failed'));
    await new Promise((r) => setTimeout(r, 5));
    expect(bodies(h.takes[2]!)).toEqual(['1', '2', '3']);
    h.takes[2]!.ack();
    expect(bodies(h.takes[3]!)).toEqual(['4', '5']);
    expect([a.makes, b.makes, c.makes]).toEqual([1, 1, 1]);
  });

  it('makes the events before storing them when body bytes are counted (weighing needs the bodies)', () => {
    const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 10, byteCapacity: 1000 }));
    h.put(0);
    const rec = h.putDeferred(1, 2);
    expect(rec.acked).toBe(1);
    expect(rec.makes).toBe(1);
  });

  it('makes them at put for whenFull drops, which must look at them', () => {
    const channel = memoryChannel({ capacity: 3, transactionCapacity: 3, whenFull: 'dropNewest' });
    const h = harness(channel);
    h.put(1, 2);
    const rec = h.putDeferred(3, 4, 5);
    expect(rec.acked).toBe(1);
    expect(rec.makes).toBe(1);
    expect(metricsOf(channel)!.get('EventDroppedCount')).toBe(2);
    h.takes[0]!.ack();
    expect(h.takes.map(bodies).at(-1)).toEqual(['3']);
  });

  it('ends with FLUME_DEFERRED_EVENTS when events cannot be made, or not as many as counted', () => {
    for (const make of [
      () => {
        throw new Error('bad bytes');
      },
      () => [event('only one')],
    ]) {
      const h = harness(memoryChannel({ capacity: 10, transactionCapacity: 10 }));
      h.put(0);
      h.input.next(deferredBatchOf([1, 2], make).batch);
      h.takes[0]!.ack();
      expect(h.state().failed).toMatchObject({ code: 'FLUME_DEFERRED_EVENTS' });
    }
  });
});

describe('memoryChannel — invariants', () => {
  it('every put is settled once and every stored event is delivered in order across nacks', () => {
    return fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 5 }), sinkNacks: fc.boolean(), deferred: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        (puts, txCap) => {
          const h = harness(memoryChannel({ capacity: 1000, transactionCapacity: Math.max(5, txCap), backoffSleepIncrementMs: 0, keepAliveMs: 0 }));
          const recs: Recorded[] = [];
          let next = 0;
          for (const p of puts) recs.push((p.deferred ? h.putDeferred : h.put)(...range(next, p.size))), (next += p.size);
          h.input.complete();
          // Settle takes in emission order: nack a take the first time it is seen if asked to.
          const delivered: string[] = [];
          const seen = new Set<Batch>();
          let i = 0;
          let nackBudget = puts.filter((p) => p.sinkNacks).length;
          return new Promise<void>((resolve, reject) => {
            const step = () => {
              try {
                while (i < h.takes.length) {
                  const t = h.takes[i++]!;
                  if (seen.has(t)) continue;
                  seen.add(t);
                  if (nackBudget-- > 0) t.nack(new Error('x'));
                  else {
                    delivered.push(...bodies(t));
                    t.ack();
                  }
                }
                if (!h.state().completed) return void setImmediate(step);
                for (const r of recs) expect(r.acked + r.nacked.length).toBe(1);
                expect(delivered).toEqual(range(0, next).map(String));
                resolve();
              } catch (e) {
                reject(e);
              }
            };
            step();
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a synchronous sink does not grow the stack (1M events, batch 1)', async () => {
    let n = 0;
    const total = 1_000_000;
    const source = pollSource(() => (n < total ? [event(String(n++))] : null));
    let received = 0;
    const pipeline = pipe(
      source,
      memoryChannel({ capacity: 100, transactionCapacity: 1 }),
      createSink('count', { write: (b) => void (received += b.events.length) }),
    );
    await pipeline.done;
    expect(received).toBe(total);
  }, 120_000);
});

describe('memoryChannel — bounded memory', () => {
  it('with a sink that never acks, the source produces no more than capacity + its in-flight batch', async () => {
    let generated = 0;
    const retry: ReturnType<typeof event>[][] = [];
    const batchSize = 100;
    const source = pollSource(
      () => {
        const events = retry.shift() ?? Array.from({ length: batchSize }, () => event(String(generated++)));
        return { events, rollback: () => void retry.push(events) };
      },
      { backoffSleepIncrementMs: 1, maxBackoffSleepMs: 5 },
    );
    const channel = memoryChannel({ capacity: 1000, transactionCapacity: 100, keepAliveMs: 5 });
    const sub = source.pipe(channel).subscribe(() => {});
    await new Promise((r) => setTimeout(r, 300));
    sub.unsubscribe();
    expect(metricsOf(channel)!.get('EventPutSuccessCount')).toBe(1000);
    expect(metricsOf(source)!.get('ChannelWriteFail')).toBeGreaterThan(0);
    expect(generated).toBeLessThanOrEqual(1000 + batchSize);
  });
});
