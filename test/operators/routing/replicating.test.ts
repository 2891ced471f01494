import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { fanOut } from '../../../operators/routing/fanOut.js';
import { replicating } from '../../../operators/routing/replicating.js';
import { bodiesOf, tracked } from './support.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('replicating', () => {
  it('routes every event to every channel; optional ones apart (by name, index or Flume list)', () => {
    const names = ['c1', 'c2', 'c3'];
    expect(replicating().bind(names).route(event('x'))).toEqual({ required: [0, 1, 2], optional: [] });
    expect(replicating({ optional: ['c3', 1] }).bind(names).constant).toEqual({ required: [0], optional: [2, 1] });
    expect(replicating({ optional: 'c2  c3' }).bind(names).constant).toEqual({ required: [0], optional: [1, 2] });
  });

  it('refuses unknown options and channels, naming each', () => {
    expect(() => replicating({ optionals: ['c1'] } as never)).toThrow(/replicating\.optionals.*did you mean `optional`/);
    expect(() => replicating({ optional: ['c9', 7] }).bind(['c1', 'c2'])).toThrow(ConfigError);
    expect(() => replicating({ optional: ['c9', 7] }).bind(['c1', 'c2'])).toThrow(/replicating\.optional\.0.*\n.*replicating\.optional\.1/);
  });

  it('declares its Flume type names', () => {
    expect(replicating.spec.flumeTypes).toContain('replicating');
    expect(replicating.spec.flumeTypes).toContain('org.apache.flume.channel.ReplicatingChannelSelector');
  });

  it('marbles: the optional copy follows the required one, same timeline when it stores at once', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const a = tracked([1, 2]);
      const b = tracked([3]);
      const [req, opt] = fanOut(cold('a--b|', { a: a.batch, b: b.batch }), replicating({ optional: [1] }), 2);
      const failOptional = map((batch: Batch) => {
        batch.nack(new Error('optional channel down'));
        return bodiesOf(batch).join(',');
      });
      const ack = map((batch: Batch) => {
        batch.ack();
        return bodiesOf(batch).join(',');
      });
      expectObservable(req!.pipe(ack)).toBe('a--b|', { a: '1,2', b: '3' });
      expectObservable(opt!.pipe(failOptional)).toBe('a--b|', { a: '1,2', b: '3' });
      flush();
      expect([a.acks, b.acks, a.errors.length + b.errors.length]).toEqual([1, 1, 0]);
    });
  });
});
