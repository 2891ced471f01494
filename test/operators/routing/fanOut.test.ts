import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createBatch, deriveBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { fanOut, fanOutStats } from '../../../operators/routing/fanOut.js';
import { multiplexing } from '../../../operators/routing/multiplexing.js';
import { replicating } from '../../../operators/routing/replicating.js';
import { bodiesOf, record, subjectSource, tracked } from './support.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const ackAll = map((batch: Batch) => {
  batch.ack();
  return bodiesOf(batch).join(',');
});

describe('fanOut — marbles', () => {
  it('replicates every batch to every branch, subscribes the source once, and completes all', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const a = tracked([1, 2]);
      const b = tracked([3]);
      const src = cold('a-b|', { a: a.batch, b: b.batch });
      const [x, y] = fanOut(src, replicating(), 2);
      expectObservable(x!.pipe(ackAll)).toBe('a-b|', { a: '1,2', b: '3' });
      expectObservable(y!.pipe(ackAll)).toBe('a-b|', { a: '1,2', b: '3' });
      expectSubscriptions(src.subscriptions).toBe('^--!');
      flush();
      expect([a.acks, b.acks]).toEqual([1, 1]);
    });
  });

  it('empty source completes every branch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const [x, y] = fanOut(cold<Batch>('|'), replicating(), 2);
      expectObservable(x!).toBe('|');
      expectObservable(y!).toBe('|');
    });
  });

  it('a source error reaches every branch after what was routed', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = tracked([1]);
      const [x, y] = fanOut(cold('a-#', { a: a.batch }), replicating(), 2);
      expectObservable(x!.pipe(ackAll)).toBe('a-#', { a: '1' });
      expectObservable(y!.pipe(ackAll)).toBe('a-#', { a: '1' });
    });
  });

  it('a late subscriber misses nothing: the source starts when the last branch subscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = tracked([1]);
      const b = tracked([2]);
      const src = cold('a-b|', { a: a.batch, b: b.batch });
      const [x, y] = fanOut(src, replicating(), 2);
      expectObservable(x!.pipe(ackAll)).toBe('---a-b|', { a: '1', b: '2' });
      expectObservable(y!.pipe(ackAll), '---^').toBe('---a-b|', { a: '1', b: '2' });
      expectSubscriptions(src.subscriptions).toBe('---^--!');
    });
  });

  it('never-ending source: unsubscribed only when every branch unsubscribed', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = tracked([1]);
      const src = cold('a-', { a: a.batch });
      const [x, y] = fanOut(src, replicating(), 2);
      expectObservable(x!.pipe(ackAll), '^-!').toBe('a-', { a: '1' });
      expectObservable(y!.pipe(ackAll), '^----!').toBe('a-', { a: '1' });
      expectSubscriptions(src.subscriptions).toBe('^----!');
    });
  });

  it('multiplexes by header, with default and optional, keeping source order per channel', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const a = tracked([
        ['1', { t: 'x' }],
        ['2', { t: 'y' }],
        ['3', {}],
        ['4', { t: 'x' }],
      ]);
      const src = cold('a|', { a: a.batch });
      const { cx, cy, audit } = fanOut(
        src,
        multiplexing({ header: 't', mapping: { x: ['cx'], y: 'cy' }, optional: { x: ['audit'] }, default: ['cy'] }),
        ['cx', 'cy', 'audit'],
      );
      expectObservable(cx.pipe(ackAll)).toBe('a|', { a: '1,4' });
      expectObservable(cy.pipe(ackAll)).toBe('a|', { a: '2,3' });
      expectObservable(audit.pipe(ackAll)).toBe('a|', { a: '1,4' });
      flush();
      expect(a.acks).toBe(1);
    });
  });
});

describe('fanOut — transactions', () => {
  it('acks the source batch only when every required part is stored', () => {
    const { subject, source } = subjectSource();
    const r = record(fanOut(source, replicating(), 3));
    const a = tracked([1, 2]);
    subject.next(a.batch);
    expect(r.parts.map((p) => p.map(bodiesOf))).toEqual([[['1', '2']], [['1', '2']], [['1', '2']]]);
    r.parts[0]![0]!.ack();
    r.parts[2]![0]!.ack();
    expect(a.acks).toBe(0);
    r.parts[1]![0]!.ack();
    expect(a.acks).toBe(1);
  });

  it('nacks with the first error once every required part settled', () => {
    const { subject, source } = subjectSource();
    const branches = fanOut(source, replicating(), 3);
    const r = record(branches);
    const a = tracked([1]);
    subject.next(a.batch);
    const first = new Error('c1 full');
    r.parts[1]![0]!.nack(first);
    r.parts[0]![0]!.nack(new Error('c0 full'));
    expect(a.errors).toEqual([]); // c2 still deciding: the source must not outrun it
    r.parts[2]![0]!.ack();
    expect(a.errors).toEqual([first]);
    expect(fanOutStats(branches).RequiredPutFailCount).toBe(2);
  });

  it('an optional channel never blocks nor fails the source batch, and gets its part after the required ones stored', () => {
    const { subject, source } = subjectSource();
    const failures: string[] = [];
    const branches = fanOut(source, replicating({ optional: [1] }), 2, { onOptionalFailure: (f) => failures.push(`${f.channel}:${f.error.message}`) });
    const r = record(branches);
    const a = tracked([1]);
    subject.next(a.batch);
    expect(r.parts[1]).toHaveLength(0); // offered only once the required part is stored
    r.parts[0]![0]!.ack();
    expect(a.acks).toBe(1);
    expect(r.parts[1]!.map(bodiesOf)).toEqual([['1']]);
    r.parts[1]![0]!.nack(new Error('optional full'));
    expect(a.errors).toEqual([]);
    expect(failures).toEqual(['1:optional full']);
    expect(fanOutStats(branches)).toMatchObject({ OptionalPutFailCount: 1, OptionalEventFailCount: 1 });
  });

  it('skips the optional parts of a batch whose required part failed (as Flume)', () => {
    const { subject, source } = subjectSource();
    const r = record(fanOut(source, replicating({ optional: [1] }), 2));
    const a = tracked([1]);
    subject.next(a.batch);
    r.parts[0]![0]!.nack(new Error('full'));
    expect(a.errors).toHaveLength(1);
    expect(r.parts[1]).toHaveLength(0);
  });

  it('a stuck optional channel holds at most maxPendingOptional parts; the rest is skipped and counted', () => {
    const { subject, source } = subjectSource();
    const branches = fanOut(source, replicating({ optional: ['slow'] }), ['fast', 'slow'], { maxPendingOptional: 2 });
    const r = record([branches.fast, branches.slow]);
    const sent = [tracked([1]), tracked([2]), tracked([3, 4])];
    for (const t of sent) {
      subject.next(t.batch);
      r.parts[0]!.at(-1)!.ack();
    }
    expect(sent.map((t) => t.acks)).toEqual([1, 1, 1]);
    expect(r.parts[1]!.map(bodiesOf)).toEqual([['1'], ['2']]);
    expect(fanOutStats(branches).OptionalEventSkippedCount).toBe(2);
    r.parts[1]![0]!.ack();
    const next = tracked([5]);
    subject.next(next.batch);
    r.parts[0]!.at(-1)!.ack();
    expect(r.parts[1]!.map(bodiesOf).at(-1)).toEqual(['5']);
  });

  it('optional parts keep source order even when later batches are stored first', () => {
    const { subject, source } = subjectSource();
    const r = record(fanOut(source, replicating({ optional: [1] }), 2));
    const a = tracked([1]);
    const b = tracked([2]);
    subject.next(a.batch);
    subject.next(b.batch);
    r.parts[0]![1]!.ack(); // b stored first
    expect(b.acks).toBe(1);
    expect(r.parts[1]).toHaveLength(0); // b's optional part waits for a's outcome
    r.parts[0]![0]!.ack();
    expect(r.parts[1]!.map(bodiesOf)).toEqual([['1'], ['2']]);
  });

  it('events with no channel are acked and counted as unrouted', () => {
    const { subject, source } = subjectSource();
    const branches = fanOut(source, multiplexing({ header: 'h', mapping: { a: [0] } }), 1);
    const r = record(branches);
    const t = tracked([['1', { h: 'zzz' }], ['2', {}]]);
    subject.next(t.batch);
    expect(t.acks).toBe(1);
    expect(r.parts[0]).toHaveLength(0);
    expect(fanOutStats(branches).EventUnroutedCount).toBe(2);
  });

  it('every further channel gets its own headers object; bodies are shared', () => {
    const { subject, source } = subjectSource();
    const r = record(fanOut(source, replicating(), 2));
    const t = tracked([['1', { k: 'v' }]]);
    subject.next(t.batch);
    const e0 = r.parts[0]![0]!.events[0]!;
    const e1 = r.parts[1]![0]!.events[0]!;
    e1.headers['k'] = 'changed';
    expect(e0.headers).toEqual({ k: 'v' });
    expect(e1.body).toBe(e0.body);
  });

  it('settling synchronously inside next keeps source order on every branch (re-entrant source)', () => {
    const { subject, source } = subjectSource();
    const [x, y] = fanOut(source, replicating({ optional: [1] }), 2);
    const seen: string[][] = [[], []];
    let n = 0;
    // Each ack makes the source emit the next batch from inside the branch's next().
    x!.subscribe((p) => {
      seen[0]!.push(bodiesOf(p).join());
      p.ack();
    });
    y!.subscribe((p) => {
      seen[1]!.push(bodiesOf(p).join());
      p.ack();
    });
    const emit = (): void => {
      if (n >= 5) return;
      subject.next(createBatch([event(String(n++))], { onAck: emit }));
    };
    emit();
    expect(seen).toEqual([['0', '1', '2', '3', '4'], ['0', '1', '2', '3', '4']]);
  });
});

describe('fanOut — end of the source', () => {
  it('a source that emits and completes from inside a settle callback: the end comes after the last batch', () => {
    const { subject, source } = subjectSource();
    const [x, y] = fanOut(source, replicating(), 2);
    const seen: string[][] = [[], []];
    [x!, y!].forEach((b, i) =>
      b.subscribe({
        next: (p) => {
          seen[i]!.push(bodiesOf(p).join());
          p.ack();
        },
        complete: () => seen[i]!.push('|'),
      }),
    );
    subject.next(
      createBatch([event('1')], {
        onAck: () => {
          subject.next(createBatch([event('2')]));
          subject.complete();
        },
      }),
    );
    expect(seen).toEqual([
      ['1', '2', '|'],
      ['1', '2', '|'],
    ]);
  });
});

describe('fanOut — subscription', () => {
  it('a branch unsubscribed while others run keeps its parts queued, then hands them over on resubscribe', () => {
    const { subject, source } = subjectSource();
    const [x, y] = fanOut(source, replicating(), 2);
    const xs: Batch[] = [];
    x!.subscribe((p) => xs.push(p));
    const ys1: Batch[] = [];
    const sub = y!.subscribe((p) => ys1.push(p));
    sub.unsubscribe();
    const a = tracked([1]);
    subject.next(a.batch);
    xs[0]!.ack();
    expect(a.acks).toBe(0); // y's part is waiting: the source is held
    const ys2: Batch[] = [];
    y!.subscribe((p) => ys2.push(p));
    expect(ys2.map(bodiesOf)).toEqual([['1']]);
    ys2[0]!.ack();
    expect(a.acks).toBe(1);
  });

  it('when every branch unsubscribes, the source is unsubscribed and parts not handed over are nacked', () => {
    const { subject, source, live } = subjectSource();
    const [x, y] = fanOut(source, replicating(), 2);
    const xs: Batch[] = [];
    const sx = x!.subscribe((p) => xs.push(p));
    const sy = y!.subscribe(() => undefined);
    expect(live()).toBe(1);
    sy.unsubscribe();
    const a = tracked([1]);
    subject.next(a.batch);
    xs[0]!.ack();
    sx.unsubscribe();
    expect(live()).toBe(0);
    expect(a.errors).toHaveLength(1);
    expect(a.errors[0]).toMatchObject({ code: 'FLUME_CHANNEL_CLOSED', retriable: true });
  });

  it('a second subscriber to the same branch is refused', () => {
    const { source } = subjectSource();
    const [x] = fanOut(source, replicating(), 2);
    x!.subscribe(() => undefined);
    let error: unknown;
    x!.subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toBeInstanceOf(FlumeError);
  });

  it('resubscribing every branch after all ended subscribes the source again', () => {
    const { subject, source, total } = subjectSource();
    const [x, y] = fanOut(source, replicating(), 2);
    const s1 = [x!.subscribe(), y!.subscribe()];
    s1.forEach((s) => s.unsubscribe());
    const r = record([x!, y!]);
    const a = tracked([1]);
    subject.next(a.batch);
    r.parts.forEach((p) => p[0]!.ack());
    expect(a.acks).toBe(1);
    expect(total()).toBe(2);
  });
});

describe('fanOut — configuration', () => {
  it('names unknown channels with a suggestion', () => {
    const { source } = subjectSource();
    expect(() => fanOut(source, replicating({ optional: ['c3'] }), ['c1', 'c2'])).toThrow(ConfigError);
    expect(() => fanOut(source, multiplexing({ mapping: { a: ['kafka1'] }, default: [5] }), ['kafka', 'file'])).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({ path: 'multiplexing.default.0', expected: 'one of the channels kafka, file' }),
          expect.objectContaining({ path: 'multiplexing.mapping.a.0', suggestion: 'kafka' }),
        ],
      }),
    );
  });

  it('refuses bad channel lists and options', () => {
    const { source } = subjectSource();
    expect(() => fanOut(source, replicating(), 0)).toThrow(ConfigError);
    expect(() => fanOut(source, replicating(), ['a', 'a'])).toThrow(ConfigError);
    expect(() => fanOut(source, replicating(), 2, { maxPendingOptional: 0 })).toThrow(/maxPendingOptional/);
    expect(() => multiplexing({ mapping: { a: [] } })).toThrow(/mapping\.a/);
  });

  it('accepts channel operators by list or by name, piping each branch through its channel', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const a = tracked([1]);
      const tag = (t: string) => map((b: Batch) => deriveBatch(b, b.events.map((e) => event(`${t}${e.body}`))));
      const { p, q } = fanOut(cold('a|', { a: a.batch }), replicating(), { p: tag('p'), q: tag('q') });
      expectObservable(p.pipe(ackAll)).toBe('a|', { a: 'p1' });
      expectObservable(q.pipe(ackAll)).toBe('a|', { a: 'q1' });
    });
  });
});

describe('fanOut — property', () => {
  it('each channel receives exactly its events in source order (required part first); the source batch settles once all required parts did', () => {
    const headerValue = fc.constantFrom('a', 'b', 'c', '', undefined);
    fc.assert(
      fc.property(
        fc.array(fc.array(headerValue, { maxLength: 8 }), { maxLength: 6 }),
        fc.record({ a: fc.subarray([0, 1, 2], { minLength: 1 }), b: fc.subarray([0, 1, 2], { minLength: 1 }) }),
        fc.subarray([0, 1, 2]),
        fc.subarray([0, 1, 2]),
        (batches, mapping, defaults, optionalA) => {
          const { subject, source } = subjectSource();
          const branches = fanOut(source, multiplexing({ header: 'h', mapping, default: defaults, optional: { a: optionalA } }), 3);
          const got: string[][] = [[], [], []];
          branches.forEach((b, i) =>
            b.subscribe((p) => {
              got[i]!.push(...bodiesOf(p));
              p.ack();
            }),
          );
          const expected: string[][] = [[], [], []];
          let id = 0;
          const sent = batches.map((values) => {
            const events: FlumeEvent[] = values.map((v) => event(String(id++), v === undefined ? {} : { h: v }));
            // Per batch and channel: the required part, then the optional part (two transactions, as Flume).
            const reqParts: string[][] = [[], [], []];
            const optParts: string[][] = [[], [], []];
            for (const e of events) {
              const v = e.headers['h'];
              const req = v === 'a' || v === 'b' ? mapping[v] : defaults;
              const opt = v === 'a' ? optionalA.filter((c) => !req.includes(c)) : [];
              for (const c of req) reqParts[c]!.push(e.body.toString());
              for (const c of opt) optParts[c]!.push(e.body.toString());
            }
            for (let c = 0; c < 3; c++) expected[c]!.push(...reqParts[c]!, ...optParts[c]!);
            const t = { acks: 0, errors: [] as Error[] };
            subject.next(createBatch(events, { onAck: () => t.acks++, onNack: (e) => t.errors.push(e) }));
            return t;
          });
          expect(got).toEqual(expected);
          expect(sent.every((t) => t.acks === 1 && t.errors.length === 0)).toBe(true);
        },
      ),
    );
  });
});

describe('fanOut — end to end through memory channels', () => {
  it('replicates a polled source into two pipelines; every event reaches both sinks and the source is acked', async () => {
    let n = 0;
    let acked = 0;
    const source = pollSource(
      () => {
        if (n >= 500) return null;
        const events = Array.from({ length: 10 }, () => event(String(n++)));
        return { events, commit: () => (acked += events.length) };
      },
      { maxInFlight: 2 },
    );
    const { c1, c2 } = fanOut(source, replicating(), ['c1', 'c2']);
    const got: Record<string, string[]> = { c1: [], c2: [] };
    const sinkFor = (k: string) =>
      createSink(k, {
        write: async (batch) => {
          await new Promise((r) => setImmediate(r));
          got[k]!.push(...bodiesOf(batch));
        },
      });
    const p1 = pipe(c1, memoryChannel({ name: 'c1', capacity: 50, transactionCapacity: 10 }), sinkFor('c1'));
    const p2 = pipe(c2, memoryChannel({ name: 'c2', capacity: 50, transactionCapacity: 10 }), sinkFor('c2'));
    await Promise.all([p1.done, p2.done]);
    const all = Array.from({ length: 500 }, (_, i) => String(i));
    expect(got.c1).toEqual(all);
    expect(got.c2).toEqual(all);
    expect(acked).toBe(500);
  });

  it('a full optional channel never slows the required one; the source is paced by the required channel', async () => {
    let n = 0;
    let maxAhead = 0;
    let stored = 0;
    const source = pollSource(() => {
      if (n >= 200) return null;
      maxAhead = Math.max(maxAhead, n - stored);
      return [event(String(n++))];
    });
    const { main, side } = fanOut(source, replicating({ optional: ['side'] }), ['main', 'side']);
    const mainSink = createSink('main', {
      write: async () => {
        await new Promise((r) => setImmediate(r));
        stored++;
      },
    });
    // The side sink never finishes a write: its channel fills up and refuses puts.
    const stuck = createSink('side', { write: () => new Promise<void>(() => undefined) });
    const p1 = pipe(main, memoryChannel({ name: 'main', capacity: 5, transactionCapacity: 1 }), mainSink);
    const side$: Observable<Batch> = side;
    const p2 = pipe(side$, memoryChannel({ name: 'side', capacity: 3, transactionCapacity: 1, keepAliveMs: 0 }), stuck);
    await p1.done;
    expect(stored).toBe(200);
    // in flight: the source's one batch + what the main channel holds (capacity 5)
    expect(maxAhead).toBeLessThanOrEqual(7);
    void p2.stop({ timeoutMs: 10 }).catch(() => undefined);
  });
});
