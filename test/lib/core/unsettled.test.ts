import { describe, expect, it } from 'vitest';
import { asyncScheduler, filter, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { describeUnsettled, UnsettledTracker } from '../../../lib/core/unsettled.js';
import { batchOf, bodies } from '../../support/batches.js';

const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('UnsettledTracker', () => {
  it('names the stage that dropped a batch (marbles: source → [0] pass-through → [1] filter → [2] sink)', () => {
    scheduler().run(({ cold, flush }) => {
      const [a, b, c] = [batchOf(['a']), batchOf(['b']), batchOf(['c'])];
      const tracker = new UnsettledTracker(['INTERCEPTOR.same', 'an unnamed operator', 'SINK.k1']);
      const source: Observable<Batch> = cold('a 9ms b 9ms c', { a: a.batch, b: b.batch, c: c.batch });
      const held: Batch[] = [];
      source
        .pipe(tracker.before(0), tracker.before(1), filter((x) => bodies(x)[0] !== 'b'), tracker.before(2))
        // The sink acks a at once and holds c until 50.
        .subscribe((x) => (bodies(x)[0] === 'a' ? x.ack() : held.push(x)));
      const reports: unknown[] = [];
      asyncScheduler.schedule(() => reports.push(tracker.report()), 40);
      asyncScheduler.schedule(() => reports.push(tracker.report(25)), 41);
      asyncScheduler.schedule(() => held.forEach((x) => x.ack()), 50);
      asyncScheduler.schedule(() => reports.push(tracker.report()), 60);
      flush();
      expect(reports).toEqual([
        // b (10) waits at [0] and [1] but not [2]: the filter holds it; c (20) waits at every boundary: the sink holds it.
        [
          { index: 1, name: 'an unnamed operator', batches: 1, oldestMs: 30 },
          { index: 2, name: 'SINK.k1', batches: 1, oldestMs: 20 },
        ],
        // Only b has waited 25 ms or more.
        [{ index: 1, name: 'an unnamed operator', batches: 1, oldestMs: 31 }],
        [{ index: 1, name: 'an unnamed operator', batches: 1, oldestMs: 50 }],
      ]);
    });
  });

  it('onlyNew: a stall is reported once, a new one again', () => {
    scheduler().run(({ cold, flush }) => {
      const [a, b] = [batchOf(['a']), batchOf(['b'])];
      const tracker = new UnsettledTracker(['s', 'sink']);
      cold('a 99ms b', { a: a.batch, b: b.batch }).pipe(tracker.before(0), filter(() => false), tracker.before(1)).subscribe();
      const counts: number[] = [];
      for (const t of [20, 40, 60, 120, 140]) asyncScheduler.schedule(() => counts.push(tracker.report(10, true).reduce((n, s) => n + s.batches, 0)), t);
      flush();
      // a at 20 (new), nothing at 40 or 60, both at 120 (b is new), nothing at 140.
      expect(counts).toEqual([1, 0, 0, 2, 0]);
    });
  });

  it('forgets settled batches as it goes, and never counts a batch without `settled`', () => {
    scheduler().run(({ cold, flush }) => {
      const tracker = new UnsettledTracker(['sink']);
      const many = Array.from({ length: 1000 }, (_, i) => batchOf([i]).batch);
      const foreign = { events: [], ack() {}, nack() {} } as unknown as Batch;
      const tap0 = tracker.before(0);
      cold<Batch>('(abc|)', { a: many[0]!, b: many[1]!, c: foreign }).pipe(tap0).subscribe((x) => x.ack());
      for (const m of many.slice(2)) {
        cold<Batch>('(m|)', { m }).pipe(tap0).subscribe((x) => x.ack());
      }
      flush();
      // The map behind it was swept on the way (at 64 entries): it does not keep the 1000 batches seen.
      expect((tracker as unknown as { held: { size: number }[] }).held[0]!.size).toBeLessThanOrEqual(64);
      expect(tracker.report()).toEqual([]);
    });
  });

  it('forgets batches settled in order at once: a settled batch is not kept (it would keep its events alive)', () => {
    scheduler().run(({ cold, flush }) => {
      const tracker = new UnsettledTracker(['sink']);
      const tap0 = tracker.before(0);
      const held = (tracker as unknown as { held: { size: number }[] }).held[0]!;
      const sizes: number[] = [];
      for (let i = 0; i < 200; i++) {
        cold<Batch>('(m|)', { m: batchOf([i]).batch }).pipe(tap0).subscribe((x) => {
          sizes.push(held.size);
          x.ack();
        });
      }
      flush();
      // Each batch finds the one before it settled and drops it: the map holds the newest only.
      expect(Math.max(...sizes)).toBe(1);
      expect(tracker.report()).toEqual([]);
    });
  });

  it('describes the stages, the sink by its name', () => {
    expect(
      describeUnsettled(
        [
          { index: 0, name: 'an unnamed operator', batches: 2, oldestMs: 1500.4 },
          { index: 2, name: 'SINK.k1', batches: 1, oldestMs: 12 },
        ],
        2,
        'never settled',
      ),
    ).toMatch(/^3 batches never settled: stage 0 \(an unnamed operator\) holds 2, the oldest for 1500 ms; the sink SINK.k1 holds 1, the oldest for 12 ms\. Every stage must ack, nack or pass on/);
  });
});
