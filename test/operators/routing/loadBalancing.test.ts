import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { fanOut } from '../../../operators/routing/fanOut.js';
import { loadBalancing } from '../../../operators/routing/loadBalancing.js';
import { bodiesOf, tracked } from './support.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const ackAll = map((batch: Batch) => {
  batch.ack();
  return bodiesOf(batch).join(',');
});

describe('loadBalancing — marbles', () => {
  it('round_robin sends each event to the next channel in turn, across batches, and acks the source batch once every part is stored', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const a = tracked([1, 2, 3, 4]);
      const b = tracked([5, 6]);
      const [x, y, z] = fanOut(cold('a-b|', { a: a.batch, b: b.batch }), loadBalancing(), 3);
      // Batch b has no event for x: x gets nothing for it.
      expectObservable(x!.pipe(ackAll)).toBe('a--|', { a: '1,4' });
      expectObservable(y!.pipe(ackAll)).toBe('a-b|', { a: '2', b: '5' });
      expectObservable(z!.pipe(ackAll)).toBe('a-b|', { a: '3', b: '6' });
      flush();
      expect([a.acks, b.acks]).toEqual([1, 1]);
    });
  });

  it('random spreads events over every channel and loses none', () => {
    scheduler().run(({ cold, flush }) => {
      const bodies = Array.from({ length: 300 }, (_, i) => i);
      const a = tracked(bodies);
      const branches = fanOut(cold('a|', { a: a.batch }), loadBalancing({ policy: 'random' }), 3);
      const seen: string[][] = [[], [], []];
      branches.forEach((branch, i) => branch.pipe(ackAll).subscribe((s) => seen[i]!.push(...s.split(','))));
      flush();
      expect(seen.every((s) => s.length > 50)).toBe(true);
      expect(seen.flat().map(Number).sort((p, q) => p - q)).toEqual(bodies);
      expect(a.acks).toBe(1);
    });
  });

  it('rejects an unknown policy, naming it', () => {
    expect(() => loadBalancing({ policy: 'weighted' as 'random' })).toThrow(ConfigError);
    expect(() => loadBalancing({ policy: 'weighted' as 'random' })).toThrow(/policy/);
  });
});
