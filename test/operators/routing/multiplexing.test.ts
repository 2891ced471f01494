import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { fanOut } from '../../../operators/routing/fanOut.js';
import { multiplexing } from '../../../operators/routing/multiplexing.js';
import { bodiesOf, tracked } from './support.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const names = ['c1', 'c2', 'c3'];

describe('multiplexing', () => {
  const selector = multiplexing({
    header: 'state',
    mapping: { CZ: 'c1', US: ['c2', 'c3'] },
    optional: { CZ: 'c2 c1', XX: ['c3'] },
    default: ['c3'],
  }).bind(names);

  it("routes by the header's value as Flume's selector", () => {
    expect(selector.route(event('x', { state: 'US' }))).toEqual({ required: [1, 2], optional: [] });
    // c1 is required for CZ, so only c2 stays optional
    expect(selector.route(event('x', { state: 'CZ' }))).toEqual({ required: [0], optional: [1] });
    // unmapped, missing and blank values go to the default
    expect(selector.route(event('x', { state: 'FR' }))).toEqual({ required: [2], optional: [] });
    expect(selector.route(event('x', {}))).toEqual({ required: [2], optional: [] });
    expect(selector.route(event('x', { state: '  ' }))).toEqual({ required: [2], optional: [] });
    // a value with optional channels only: default required, optional minus default
    expect(selector.route(event('x', { state: 'XX' }))).toEqual({ required: [2], optional: [] });
  });

  it('uses flume.selector.header by default and has no default channels unless told', () => {
    const s = multiplexing({ mapping: { a: [0] } }).bind(['c']);
    expect(s.route(event('x', { 'flume.selector.header': 'a' }))).toEqual({ required: [0], optional: [] });
    expect(s.route(event('x', { other: 'a' }))).toEqual({ required: [], optional: [] });
  });

  it('a __proto__ header is an ordinary value', () => {
    const s = multiplexing({ header: '__proto__', mapping: { p: [0] }, default: [1] }).bind(['a', 'b']);
    const e = event('x', {});
    Object.defineProperty(e.headers, '__proto__', { value: 'p', enumerable: true });
    expect(s.route(e)).toEqual({ required: [0], optional: [] });
    expect(s.route(event('x'))).toEqual({ required: [1], optional: [] });
  });

  it('refuses an empty mapping and unknown channels', () => {
    expect(() => multiplexing({ mapping: { a: '' } })).toThrow(/multiplexing\.mapping\.a/);
    expect(() => multiplexing({ mapping: { a: ['c4'] }, optional: { b: ['c5'] } }).bind(names)).toThrow(ConfigError);
  });

  it('declares its Flume type names', () => {
    expect(multiplexing.spec).toMatchObject({ kind: 'selector', flumeTypes: ['multiplexing', 'org.apache.flume.channel.MultiplexingChannelSelector'] });
  });

  it("maps Flume's mapping.<value> and optional.<value> keys, the whole rest of the key being the value", () => {
    const props = new Map([
      ['header', 'v'],
      ['mapping.1.5', 'c1 c2'],
      ['optional.2.0', 'c3'],
      ['default', 'c3'],
    ]);
    expect(multiplexing.spec.fromFlume!(props)).toEqual({ options: { mapping: { '1.5': 'c1 c2' }, optional: { '2.0': 'c3' } }, consumed: ['mapping.1.5', 'optional.2.0'] });
  });

  it('marbles: splits each batch by header, one part per channel, in source order', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const a = tracked([
        ['1', { state: 'CZ' }],
        ['2', { state: 'US' }],
        ['3', { state: 'CZ' }],
      ]);
      const b = tracked([['4', { state: 'FR' }]]);
      const { c1, c2, c3 } = fanOut(
        cold('a-b-|', { a: a.batch, b: b.batch }),
        multiplexing({ header: 'state', mapping: { CZ: 'c1', US: 'c2 c3' }, default: 'c3' }),
        names,
      );
      const ack = map((batch: Batch) => {
        batch.ack();
        return bodiesOf(batch).join(',');
      });
      expectObservable(c1.pipe(ack)).toBe('a---|', { a: '1,3' });
      expectObservable(c2.pipe(ack)).toBe('a---|', { a: '2' });
      expectObservable(c3.pipe(ack)).toBe('a-b-|', { a: '2', b: '4' });
      flush();
      expect([a.acks, b.acks]).toEqual([1, 1]);
    });
  });
});
