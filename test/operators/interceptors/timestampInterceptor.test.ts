import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { timestampInterceptor } from '../../../operators/interceptors/timestampInterceptor.js';
import { events, through } from './support.js';

describe('timestampInterceptor', () => {
  it('stamps each batch with the scheduler clock, read once per batch', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('--a---b|', { a: createBatch(events('1', '2')), b: createBatch(events('3')) });
      const out = src.pipe(
        timestampInterceptor(),
        map((b) => b.events.map((e) => e.headers['timestamp'])),
      );
      expectObservable(out).toBe('--x---y|', { x: ['2', '2'], y: ['6'] });
    });
  });

  it('sets the current epoch ms as a string under Flume defaults', () => {
    const before = Date.now();
    const [e] = through(timestampInterceptor(), [event('x', { timestamp: '1' })]);
    const stamped = Number(e!.headers['timestamp']);
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(Date.now());
  });

  it('uses its header option and preserves an existing value when told', () => {
    const op = timestampInterceptor({ header: 'ts', preserveExisting: true });
    const out = through(op, [event('a', { ts: 'old' }), event('b')]);
    expect(out[0]!.headers).toEqual({ ts: 'old' });
    expect(out[1]!.headers['ts']).toMatch(/^\d+$/);
  });

  it("declares Flume's type names and maps headerName onto header", () => {
    expect(timestampInterceptor.spec.flumeTypes).toContain('timestamp');
    expect(timestampInterceptor.spec.flumeKeys).toEqual({ headerName: 'header' });
    expect(() => timestampInterceptor({ header: '' })).toThrow(ConfigError);
    expect(() => timestampInterceptor({ headerName: 'x' } as never)).toThrow(/timestampInterceptor\.headerName/);
  });
});
