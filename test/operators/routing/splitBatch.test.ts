import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import type { BoundSelector, Route } from '../../../operators/routing/channelSelector.js';
import { splitBatch } from '../../../operators/routing/splitBatch.js';

const bodies = (list: FlumeEvent[] | undefined) => list?.map((e) => e.body.toString());
const perEvent = (routes: Record<string, Route>): BoundSelector => ({ route: (e) => routes[e.body.toString()] ?? { required: [], optional: [] } });

describe('splitBatch', () => {
  it('a constant route hands the whole list to the first channel and a copy with its own headers to each other', () => {
    const events = [event('a', { k: 'v' }), event('b')];
    const split = splitBatch(events, { constant: { required: [2, 0], optional: [1] }, route: () => ({ required: [], optional: [] }) }, 3);
    expect(split.required[2]).toBe(events);
    expect(split.required[0]).not.toBe(events);
    expect(bodies(split.required[0])).toEqual(['a', 'b']);
    expect(bodies(split.optional[1])).toEqual(['a', 'b']);
    expect(split.required[0]![0]!.headers).not.toBe(events[0]!.headers);
    expect(split.required[0]![0]!.headers).toEqual({ k: 'v' });
    expect(split.optional[1]![0]!.body).toBe(events[0]!.body);
    expect(split.unrouted).toBe(0);
  });

  it('a constant route to no channel leaves every event unrouted', () => {
    const split = splitBatch([event('a'), event('b')], { constant: { required: [], optional: [] }, route: () => ({ required: [], optional: [] }) }, 2);
    expect(split).toMatchObject({ unrouted: 2 });
    expect([...split.required, ...split.optional].every((l) => l === undefined)).toBe(true);
  });

  it('routes event by event, keeping source order per channel, the first channel of each event sharing it', () => {
    const events = ['1', '2', '3', '4'].map((b) => event(b));
    const split = splitBatch(
      events,
      perEvent({ '1': { required: [0], optional: [1] }, '2': { required: [1], optional: [] }, '4': { required: [0, 1], optional: [] } }),
      2,
    );
    expect(bodies(split.required[0])).toEqual(['1', '4']);
    expect(bodies(split.required[1])).toEqual(['2', '4']);
    expect(bodies(split.optional[1])).toEqual(['1']);
    expect(split.required[0]![0]).toBe(events[0]);
    expect(split.optional[1]![0]).not.toBe(events[0]);
    expect(split.required[1]![1]).not.toBe(events[3]);
    expect(split.unrouted).toBe(1);
  });

  it("throws what the selector throws (the fan-out nacks the source batch with it)", () => {
    expect(() => splitBatch([event('x')], { route: () => { throw new Error('bad route'); } }, 1)).toThrow('bad route');
  });

  it('property: each channel gets exactly the events routed to it, in order; unrouted counts those routed nowhere', () => {
    const width = 4;
    const channelSet = fc.uniqueArray(fc.integer({ min: 0, max: width - 1 }), { maxLength: width });
    fc.assert(
      fc.property(fc.array(fc.record({ required: channelSet, optional: channelSet }), { maxLength: 30 }), (routes) => {
        const events = routes.map((_, i) => event(String(i)));
        const table = Object.fromEntries(routes.map((r, i) => [String(i), { required: r.required, optional: r.optional.filter((c) => !r.required.includes(c)) }]));
        const split = splitBatch(events, perEvent(table), width);
        for (let c = 0; c < width; c++) {
          const want = (kind: 'required' | 'optional') => events.filter((e) => table[e.body.toString()]![kind].includes(c)).map((e) => e.body.toString());
          expect(bodies(split.required[c]) ?? []).toEqual(want('required'));
          expect(bodies(split.optional[c]) ?? []).toEqual(want('optional'));
        }
        expect(split.unrouted).toBe(routes.filter((r) => r.required.length + r.optional.length === 0).length);
      }),
    );
  });
});
