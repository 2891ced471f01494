import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { filterEvents } from '../../../operators/interceptors/filterEvents.js';
import { run, through, tracked } from './support.js';

describe('filterEvents', () => {
  it('keeps the events the predicate accepts and counts the others as dropped', () => {
    const op = filterEvents((e) => e.headers['level'] !== 'DEBUG', { name: 'noDebug' });
    const out = through(op, [event('a', { level: 'INFO' }), event('b', { level: 'DEBUG' }), event('c')]);
    expect(out.map((e) => text(e))).toEqual(['a', 'c']);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventDroppedCount: 1 });
    expect(metricsOf(op)!.name).toBe('noDebug');
  });

  it('passes the very batch on when every event is kept, and acks one emptied', () => {
    const op = filterEvents((e) => text(e) !== 'x');
    const kept = tracked([event('a')]);
    expect(run(op, kept.batch)).toEqual([kept.batch]);
    const emptied = tracked([event('x'), event('x')]);
    expect(run(op, emptied.batch)).toEqual([]);
    expect(emptied.log.acks).toBe(1);
  });

  it('rejects a non-function predicate', () => {
    expect(() => filterEvents(undefined as never)).toThrow(ConfigError);
    expect(() => filterEvents(undefined as never)).toThrow('filterEvents.keep: expected a function, received nothing');
  });
});
