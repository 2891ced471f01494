import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { mapEvents } from '../../../operators/interceptors/mapEvents.js';
import { events, run, through, tracked } from './support.js';

describe('mapEvents', () => {
  it('rewrites in place, replaces or drops (null) each event', () => {
    const op = mapEvents((e) => {
      if (text(e) === 'drop') return null;
      if (text(e) === 'new') return event('NEW', e.headers);
      e.headers['seen'] = 'yes';
      return e;
    });
    const out = through(op, events('a', 'drop', 'new'));
    expect(out.map((e) => [text(e), e.headers['seen']])).toEqual([
      ['a', 'yes'],
      ['NEW', undefined],
    ]);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventDroppedCount: 1 });
    expect(metricsOf(op)!.name).toBe('mapEvents');
  });

  it('acks at once a batch it dropped entirely', () => {
    const { batch, log } = tracked(events('a', 'b'));
    expect(run(mapEvents(() => undefined, { name: 'none' }), batch)).toEqual([]);
    expect(log.acks).toBe(1);
  });

  it('nacks the batch when fn throws', () => {
    const { batch, log } = tracked(events('a'));
    run(
      mapEvents(() => {
        throw new Error('bad');
      }),
      batch,
    );
    expect(log.errors[0]).toMatchObject({ code: 'FLUME_INTERCEPTOR_FAILED', retriable: false });
  });

  it('rejects a non-function and unknown options', () => {
    expect(() => mapEvents('x' as never)).toThrow(ConfigError);
    expect(() => mapEvents('x' as never)).toThrow('mapEvents.fn: expected a function, received "x"');
    expect(() => mapEvents((e) => e, { nmae: 'x' } as never)).toThrow('mapEvents.nmae');
    expect(mapEvents.spec.kind).toBe('interceptor');
  });
});
