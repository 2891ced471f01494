import { describe, expect, it } from 'vitest';
import { Subscriber } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { event } from '../../../lib/core/event.js';
import { replicating } from '../../../operators/routing/replicating.js';
import { FanOutRun, newFanOutStats } from '../../../operators/routing/fanOutRun.js';
import { bodiesOf, tracked } from './support.js';

/** A run over two channels (the second optional unless told), with subscribers the test attaches. */
function setup(maxPendingOptional = 20, optional = ['c2']) {
  const got: Batch[][] = [[], []];
  const ends: string[] = [];
  const subscribers: (Subscriber<Batch> | undefined)[] = [undefined, undefined];
  const attach = (i: number, onNext?: () => void) =>
    (subscribers[i] = new Subscriber<Batch>({
      next: (b) => (got[i]!.push(b), onNext?.()),
      complete: () => ends.push(`${i}|`),
      error: () => ends.push(`${i}#`),
    }));
  const stats = newFanOutStats();
  const run = new FanOutRun({
    name: 'f',
    names: ['c1', 'c2'],
    bound: replicating({ optional }).bind(['c1', 'c2']),
    maxPendingOptional,
    onOptionalFailure: undefined,
    stats,
    subscriber: (i) => subscribers[i],
  });
  return { run, got, ends, attach, stats };
}

describe('FanOutRun', () => {
  it('settles the source batch from its required part, then offers the optional part', () => {
    const { run, got, attach } = setup();
    attach(0);
    attach(1);
    const a = tracked([1, 2]);
    run.accept(a.batch);
    expect(got.map((l) => l.length)).toEqual([1, 0]);
    got[0]![0]!.ack();
    expect(a.acks).toBe(1);
    expect(got[1]!.map(bodiesOf)).toEqual([['1', '2']]);
  });

  it('queues parts for a branch without subscriber and hands them over when it resumes', () => {
    const { run, got, attach } = setup();
    attach(0);
    run.accept(tracked([1]).batch);
    got[0]![0]!.ack();
    expect(got[1]).toEqual([]);
    attach(1);
    run.resume(1);
    expect(got[1]!.map(bodiesOf)).toEqual([['1']]);
  });

  it('ends each branch only after its queued parts and the optional parts still waiting for their required outcome', () => {
    const { run, got, ends, attach } = setup();
    attach(0);
    attach(1);
    run.accept(tracked([1]).batch);
    run.finish('complete');
    expect(ends).toEqual([]);
    got[0]![0]!.ack();
    expect(got[1]!.map(bodiesOf)).toEqual([['1']]);
    expect(ends.sort()).toEqual(['0|', '1|']);
  });

  it('keeps source order on every branch when the source emits from inside a branch (trampolined)', () => {
    const { run, got, attach } = setup(20, []);
    let n = 0;
    const emit = (): void => {
      if (n < 3) run.accept(createBatch([event(String(n++))]));
    };
    // Branch 0 makes the source emit the next batch while the current one is being routed.
    attach(0, emit);
    attach(1);
    emit();
    expect(got.map((l) => l.map((b) => bodiesOf(b).join()))).toEqual([
      ['0', '1', '2'],
      ['0', '1', '2'],
    ]);
  });

  it('skips and counts optional parts past maxPendingOptional', () => {
    const { run, got, attach, stats } = setup(1);
    attach(0);
    attach(1);
    for (const items of [[1], [2, 3]]) {
      run.accept(tracked(items).batch);
      got[0]!.at(-1)!.ack();
    }
    expect(got[1]!.map(bodiesOf)).toEqual([['1']]);
    expect(stats.OptionalEventSkippedCount).toBe(2);
  });

  it('close nacks, retriably, what no branch took and refuses what comes after', () => {
    const { run, attach } = setup();
    attach(1);
    const a = tracked([1]);
    run.accept(a.batch);
    run.close();
    expect(a.errors).toEqual([expect.objectContaining({ code: 'FLUME_CHANNEL_CLOSED', retriable: true, message: expect.stringMatching(/c1 \(#0\)/) })]);
    const b = tracked([2]);
    run.accept(b.batch);
    expect(b.errors[0]).toMatchObject({ code: 'FLUME_CHANNEL_CLOSED', message: 'f: every channel was unsubscribed' });
  });
});
