import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { staticInterceptor } from '../../../operators/interceptors/staticInterceptor.js';
import { through } from './support.js';

describe('staticInterceptor', () => {
  it("sets key=value with Flume's defaults, preserving an existing header", () => {
    const out = through(staticInterceptor(), [event('a', { key: 'mine' }), event('b')]);
    expect(out.map((e) => e.headers)).toEqual([{ key: 'mine' }, { key: 'value' }]);
  });

  it('overwrites with preserveExisting false', () => {
    const op = staticInterceptor({ key: 'dc', value: 'NYC', preserveExisting: false, name: 'dc' });
    const out = through(op, [event('a', { dc: 'SF' }), event('b')]);
    expect(out.map((e) => e.headers['dc'])).toEqual(['NYC', 'NYC']);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 2, EventDroppedCount: 0 });
  });

  it('rejects an empty key', () => {
    expect(() => staticInterceptor({ key: '' })).toThrow(ConfigError);
    expect(() => staticInterceptor({ key: '' })).toThrow(/staticInterceptor\.key/);
  });
});
