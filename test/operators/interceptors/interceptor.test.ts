import fc from 'fast-check';
import { map, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { createSink } from '../../../lib/core/sink.js';
import { ComponentError, FlumeError } from '../../../lib/core/errors.js';
import { event, text, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { interceptor, keepEvents, replaceEvents } from '../../../operators/interceptors/interceptor.js';
import { events, run, tracked } from './support.js';

const bodies = (b: Batch): string[] => b.events.map((e) => text(e));
const keepOdd = (evs: readonly FlumeEvent[]): readonly FlumeEvent[] => keepEvents(evs, (e) => Number(text(e)) % 2 === 1);

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('interceptor (marbles)', () => {
  it('rewrites each batch, drops emptied ones, passes completion', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-c-|', {
        a: createBatch(events('1', '2', '3')),
        b: createBatch(events('2', '4')),
        c: createBatch(events('5')),
      });
      const out = src.pipe(interceptor('odd', keepOdd), map(bodies));
      expectObservable(out).toBe('-x---z-|', { x: ['1', '3'], z: ['5'] });
      expectSubscriptions(src.subscriptions).toBe('^------!');
    });
  });

  it('completes at once on an empty source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Batch>('|').pipe(interceptor('odd', keepOdd))).toBe('|');
    });
  });

  it('passes an upstream error through after the batches before it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('-a--#', { a: createBatch(events('1')) }, new Error('boom'));
      expectObservable(src.pipe(interceptor('odd', keepOdd), map(bodies))).toBe('-x--#', { x: ['1'] }, new Error('boom'));
    });
  });

  it('unsubscribes upstream on early unsubscribe', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a--a--a-|', { a: createBatch(events('1')) });
      expectObservable(src.pipe(interceptor('odd', keepOdd), map(bodies)), '^---!').toBe('-x---', { x: ['1'] });
      expectSubscriptions(src.subscriptions).toBe('^---!');
    });
  });

  it('releases a source that never emits', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold<Batch>('-');
      expectObservable(src.pipe(interceptor('odd', keepOdd)), '^--!').toBe('---');
      expectSubscriptions(src.subscriptions).toBe('^--!');
    });
  });
});

describe('interceptor (transactions)', () => {
  it('passes the same batch on when the rewrite returns the same array', () => {
    const { batch, log } = tracked(events('1', '3'));
    const [out] = run(interceptor('odd', keepOdd), batch);
    expect(out).toBe(batch);
    out!.ack();
    expect(log).toMatchObject({ acks: 1, nacks: 0 });
  });

  it('settles the upstream batch through a derived one', () => {
    const a = tracked(events('1', '2'));
    const b = tracked(events('3', '4'));
    const [outA, outB] = run(interceptor('odd', keepOdd), a.batch, b.batch);
    expect(outA).not.toBe(a.batch);
    expect(bodies(outA!)).toEqual(['1']);
    expect(a.log.acks + a.log.nacks).toBe(0);
    outA!.ack();
    const error = new Error('sink down');
    outB!.nack(error);
    expect(a.log).toMatchObject({ acks: 1, nacks: 0 });
    expect(b.log).toMatchObject({ acks: 0, nacks: 1, errors: [error] });
  });

  it('acks a batch whose events were all dropped, emits nothing and counts them', () => {
    const op = interceptor('odd', keepOdd);
    const { batch, log } = tracked(events('2', '4', '6'));
    expect(run(op, batch)).toEqual([]);
    expect(log).toMatchObject({ acks: 1, nacks: 0 });
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventDroppedCount: 3, EventFailedCount: 0 });
  });

  it('passes an empty batch through without calling the rewrite', () => {
    let calls = 0;
    const { batch } = tracked([]);
    const out = run(
      interceptor('x', (e) => {
        calls++;
        return e;
      }),
      batch,
    );
    expect(out).toEqual([batch]);
    expect(calls).toBe(0);
  });

  it('nacks a batch whose rewrite throws, non-retriable, counts it and goes on', () => {
    const op = interceptor('bad', (evs) => {
      if (text(evs[0]!) === 'poison') throw new TypeError('cannot read that');
      return evs;
    });
    const a = tracked(events('poison', 'x'));
    const b = tracked(events('fine'));
    const out = run(op, a.batch, b.batch);
    expect(out).toEqual([b.batch]);
    expect(a.log.nacks).toBe(1);
    const error = a.log.errors[0] as ComponentError;
    expect(error).toBeInstanceOf(ComponentError);
    expect(error).toMatchObject({ code: 'FLUME_INTERCEPTOR_FAILED', component: 'bad', retriable: false });
    expect(error.message).toContain('cannot read that');
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventFailedCount: 2, EventDroppedCount: 0 });
  });

  it("keeps a thrown FlumeError's retriable flag", () => {
    const op = interceptor('lookup', () => {
      throw new FlumeError('FLUME_SINK_FAILED', 'lookup service unavailable', { retriable: true });
    });
    const { batch, log } = tracked(events('a'));
    run(op, batch);
    expect(log.errors[0]).toMatchObject({ code: 'FLUME_INTERCEPTOR_FAILED', retriable: true });
  });

  it('attaches INTERCEPTOR counters that pipe() collects', async () => {
    let n = 0;
    const source = pollSource(() => (n < 4 ? events(String(n++), String(n++)) : null), { name: 'src' });
    const received: string[] = [];
    const sink = createSink('out', { write: (b) => void received.push(...bodies(b)) });
    const pipeline = pipe(source, interceptor('odd', keepOdd), sink);
    await pipeline.done;
    expect(received).toEqual(['1', '3']);
    expect(pipeline.metrics()['INTERCEPTOR.odd']).toMatchObject({ EventReceivedCount: 4, EventDroppedCount: 2 });
    expect(pipeline.metrics()['SOURCE.src']).toMatchObject({ EventAcceptedCount: 4 });
  });
});

describe('keepEvents / replaceEvents', () => {
  it('return the same array when nothing changed', () => {
    const evs = events('1', '3');
    expect(keepEvents(evs, () => true)).toBe(evs);
    expect(replaceEvents(evs, (e) => e)).toBe(evs);
  });

  it('copy only once something changed', () => {
    const evs = events('1', '2', '3');
    expect(keepEvents(evs, (e) => text(e) !== '2').map((e) => text(e))).toEqual(['1', '3']);
    const replaced = replaceEvents(evs, (e) => (text(e) === '1' ? null : text(e) === '2' ? event('two') : e));
    expect(replaced.map((e) => text(e))).toEqual(['two', '3']);
    expect(replaced[1]).toBe(evs[2]);
    expect(evs.map((e) => text(e))).toEqual(['1', '2', '3']);
  });
});

describe('interceptor (property)', () => {
  it('settles every upstream batch exactly once, whatever is dropped, failed, acked or nacked', () => {
    const spec = fc.record({
      keep: fc.array(fc.boolean(), { maxLength: 6 }),
      throws: fc.boolean(),
      downstream: fc.constantFrom('ack', 'nack', 'ackLater', 'nackLater'),
    });
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 25 }), fc.boolean(), (specs, settleLater) => {
        const bySpec = new Map<readonly FlumeEvent[], (typeof specs)[number]>();
        const upstream = specs.map((s) => {
          const t = tracked(s.keep.map((k, i) => event(String(i), { keep: String(k) })));
          bySpec.set(t.batch.events, s);
          return { ...t, spec: s };
        });
        const op = interceptor('p', (evs) => {
          if (bySpec.get(evs)!.throws) throw new Error('rewrite failed');
          return keepEvents(evs, (e) => e.headers['keep'] === 'true');
        });
        // The downstream decision travels with the batch: derived batches map back in emission order.
        const emittedFrom = upstream.filter((u) => u.spec.keep.length === 0 || (!u.spec.throws && u.spec.keep.some(Boolean)));
        const later: Array<() => void> = [];
        let i = 0;
        const src = new Observable<Batch>((s) => {
          for (const u of upstream) s.next(u.batch);
          s.complete();
        });
        src.pipe(op).subscribe((b) => {
          const d = emittedFrom[i++]!.spec.downstream;
          const settle = (): void => (d.startsWith('ack') ? b.ack() : b.nack(new Error('no')));
          if (d.endsWith('Later') && settleLater) later.push(settle);
          else settle();
        });
        for (const settle of later) settle();
        expect(i).toBe(emittedFrom.length);
        let received = 0;
        let dropped = 0;
        let failed = 0;
        for (const u of upstream) {
          expect(u.log.acks + u.log.nacks).toBe(1);
          const n = u.spec.keep.length;
          const kept = u.spec.keep.filter(Boolean).length;
          received += n;
          if (n > 0 && u.spec.throws) failed += n;
          else dropped += n - kept;
          const acked = n > 0 && u.spec.throws ? false : n > 0 && kept === 0 ? true : u.spec.downstream.startsWith('ack');
          expect(u.log.acks).toBe(acked ? 1 : 0);
        }
        expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: received, EventDroppedCount: dropped, EventFailedCount: failed });
      }),
      { numRuns: 300 },
    );
  });
});
