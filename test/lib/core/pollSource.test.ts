import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pollSource, type PollResult } from '../../../lib/core/pollSource.js';
import { bodies } from '../../support/batches.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A poll function answering from a script: arrays are batches, [] is an empty poll, null ends. */
function scripted(results: PollResult[]) {
  let calls = 0;
  const poll = () => {
    calls++;
    return results.length ? results.shift()! : null;
  };
  return { poll, calls: () => calls };
}

const ackAll = map((b: Batch) => {
  b.ack();
  return bodies(b).join(',');
});

describe('pollSource', () => {
  it('polls again at once after an ack and completes when poll returns null', () => {
    scheduler().run(({ expectObservable }) => {
      const { poll } = scripted([[event('1')], [event('2'), event('3')], null]);
      expectObservable(pollSource(poll).pipe(ackAll)).toBe('(ab|)', { a: '1', b: '2,3' });
    });
  });

  it('backs off min(n × increment, max) after empty polls, and resets after a batch', () => {
    scheduler().run(({ expectObservable }) => {
      const { poll } = scripted([[], [], [], [event('a')], [], [event('b')], null]);
      const source = pollSource(poll, { backoffSleepIncrementMs: 10, maxBackoffSleepMs: 25 });
      // empty polls at 0, 10, 30 → back-offs 10, 20, 25 → batch at 55; empty at 55 → 10 → batch at 65.
      expectObservable(source.pipe(ackAll)).toBe('55ms a 9ms (b|)', { a: 'a', b: 'b' });
    });
  });

  it('does not poll while a batch is unsettled (maxInFlight 1)', () => {
    let held: Batch | undefined;
    const { poll, calls } = scripted([[event('1')], [event('2')], null]);
    const got: string[] = [];
    pollSource(poll).subscribe((b) => {
      got.push(...bodies(b));
      held = b;
    });
    expect(calls()).toBe(1);
    held!.ack();
    expect(calls()).toBe(2);
    expect(got).toEqual(['1', '2']);
  });

  it('allows maxInFlight unsettled batches', () => {
    const { poll, calls } = scripted([[event('1')], [event('2')], [event('3')], null]);
    const held: Batch[] = [];
    pollSource(poll, { maxInFlight: 2 }).subscribe((b) => held.push(b));
    expect(calls()).toBe(2);
    held[0]!.ack();
    expect(calls()).toBe(3);
  });

  it('on nack calls rollback, backs off, and polls again', () => {
    const rolledBack: string[] = [];
    scheduler().run(({ expectObservable }) => {
      let attempt = 0;
      const poll = () => {
        attempt++;
        if (attempt > 2) return null;
        return { events: [event(String(attempt))], rollback: (e: Error) => void rolledBack.push(e.message) };
      };
      let first = true;
      const out = pollSource(poll, { backoffSleepIncrementMs: 7 }).pipe(
        map((b) => {
          if (first) {
            first = false;
            b.nack(new Error('full'));
          } else b.ack();
          return bodies(b).join(',');
        }),
      );
      expectObservable(out).toBe('a 6ms (b|)', { a: '1', b: '2' });
    });
    expect(rolledBack).toEqual(['full']);
  });

  it('polls again after a nack even when poll() had said it was exhausted', () => {
    const retry: ReturnType<typeof event>[][] = [];
    const fresh = [[event('a')]];
    const poll = () => {
      const events = retry.shift() ?? fresh.shift();
      return events ? { events, rollback: () => void retry.push(events) } : null;
    };
    const held: Batch[] = [];
    let completed = false;
    pollSource(poll, { maxInFlight: 2, backoffSleepIncrementMs: 0 }).subscribe({ next: (b) => held.push(b), complete: () => (completed = true) });
    expect(held).toHaveLength(1); // a, then null
    held[0]!.nack(new Error('full'));
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(held.map(bodies)).toEqual([['a'], ['a']]);
        expect(completed).toBe(false);
        held[1]!.ack(); // the next poll answers null at once: nothing is left
        expect(completed).toBe(true);
        resolve();
      }, 5),
    );
  });

  it('calls commit only after the ack', () => {
    const commits: number[] = [];
    let n = 0;
    let held: Batch | undefined;
    pollSource(() => (n < 1 ? { events: [event(String(n))], commit: () => commits.push(n++) } : null)).subscribe((b) => (held = b));
    expect(commits).toEqual([]);
    held!.ack();
    expect(commits).toEqual([0]);
  });

  it('ends with the error when a nack is not retriable', () => {
    scheduler().run(({ expectObservable }) => {
      const fatal = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
      const out = pollSource(() => [event('x')]).pipe(
        map((b) => {
          b.nack(fatal);
          return 'x';
        }),
      );
      // The nack happens inside map, so the error overtakes the mapped value.
      expectObservable(out).toBe('#', undefined, fatal);
    });
  });

  it("drops a batch polled with onNack 'drop' on any nack, counts it, and polls again at once", () => {
    let source!: ReturnType<typeof pollSource>;
    const rolledBack: string[] = [];
    scheduler().run(({ expectObservable }) => {
      const fatal = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
      const results: PollResult[] = [
        { events: [event('a')], onNack: 'drop', rollback: () => rolledBack.push('a') },
        { events: [event('b')], onNack: 'drop' },
        [event('c')],
        null,
      ];
      source = pollSource(() => results.shift() ?? null, { backoffSleepIncrementMs: 10 });
      let n = 0;
      const out = source.pipe(
        map((b) => {
          n++;
          if (n === 1) b.nack(new Error('full'));
          else if (n === 2) b.nack(fatal);
          else b.ack();
          return bodies(b).join(',');
        }),
      );
      expectObservable(out).toBe('(abc|)');
    });
    expect(rolledBack).toEqual([]);
    expect(metricsOf(source)!.get('ChannelWriteFail')).toBe(2);
  });

  it('counts a throwing poll and backs off; a non-retriable one ends the source', () => {
    let attempt = 0;
    let source!: ReturnType<typeof pollSource>;
    scheduler().run(({ expectObservable }) => {
      source = pollSource(
        () => {
          attempt++;
          if (attempt === 1) throw new Error('transient');
          if (attempt === 2) return [event('ok')];
          throw new ComponentError('FLUME_SOURCE_FAILED', 'gone', { retriable: false });
        },
        { backoffSleepIncrementMs: 3 },
      );
      expectObservable(source.pipe(ackAll)).toBe('3ms (a#)', { a: 'ok' }, new ComponentError('FLUME_SOURCE_FAILED', 'gone'));
    });
    expect(metricsOf(source)!.get('GenericProcessingFail')).toBe(2);
  });

  it('supports async polls and completes only after every batch is settled', async () => {
    const results: PollResult[] = [[event('1')], [event('2')], null];
    const source = pollSource(async () => results.shift() ?? null, { maxInFlight: 2 });
    const held: Batch[] = [];
    let completed = false;
    source.subscribe({ next: (b) => held.push(b), complete: () => (completed = true) });
    await new Promise((r) => setTimeout(r, 10));
    expect(held).toHaveLength(2);
    expect(completed).toBe(false);
    held[0]!.ack();
    held[1]!.ack();
    await new Promise((r) => setTimeout(r, 10));
    expect(completed).toBe(true);
    expect(metricsOf(source)!.snapshot()).toMatchObject({ EventReceivedCount: 2, EventAcceptedCount: 2, AppendBatchAcceptedCount: 2 });
  });

  it('a nack during an async poll still backs off before the next poll', async () => {
    let calls = 0;
    const pollTimes: number[] = [];
    const gate: Array<() => void> = [];
    // Each poll resolves only when the test lets it.
    const poll = () => {
      calls++;
      pollTimes.push(Date.now());
      return new Promise<PollResult>((resolve) => gate.push(() => resolve([event(String(calls))])));
    };
    const held: Batch[] = [];
    const sub = pollSource(poll, { maxInFlight: 2, backoffSleepIncrementMs: 300 }).subscribe((b) => held.push(b));
    gate.shift()!(); // batch 1 out; poll 2 under way
    await new Promise((r) => setTimeout(r, 5));
    expect([held.length, calls]).toEqual([1, 2]);
    held[0]!.nack(new Error('full')); // while poll 2 is pending
    const nackedAt = Date.now();
    gate.shift()!(); // poll 2 resolves: batch 2 out, and a slot is free
    await new Promise((r) => setTimeout(r, 100));
    expect(held).toHaveLength(2);
    expect(calls).toBe(2); // not polled at once: backing off
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(3);
    expect(pollTimes[2]! - nackedAt).toBeGreaterThanOrEqual(290);
    sub.unsubscribe();
  });

  it('unsubscribe stops polling and cancels the back-off timer', () => {
    let calls = 0;
    scheduler().run(({ expectObservable }) => {
      const source = pollSource(() => (calls++, []), { backoffSleepIncrementMs: 10 });
      expectObservable(source, '^ 15ms !').toBe('');
    });
    // polls at 0 and 10; the back-off due at 30 was cancelled at 16.
    expect(calls).toBe(2);
  });

  it('yields to the event loop while a synchronous source stays ready', async () => {
    let n = 0;
    let timerFired = false;
    setTimeout(() => (timerFired = true), 0);
    let sawTimerMidway = false;
    await new Promise<void>((resolve) =>
      pollSource(() => {
        if (n === 2_000_000) return null;
        if (timerFired && n < 2_000_000) sawTimerMidway = true;
        return [event(String(n++))];
      }).subscribe({ next: (b) => b.ack(), complete: resolve }),
    );
    expect(sawTimerMidway).toBe(true);
  }, 60_000);
});
