import { describe, expect, it } from 'vitest';
import { event } from '../../../lib/core/event.js';
import { uuidInterceptor } from '../../../operators/interceptors/uuidInterceptor.js';
import { through } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidInterceptor', () => {
  it('sets a distinct UUID per event under id, keeping an existing one by default', () => {
    const out = through(uuidInterceptor(), [event('a'), event('b'), event('c', { id: 'given' })]);
    const ids = out.map((e) => e.headers['id']!);
    expect(ids[0]).toMatch(UUID);
    expect(ids[1]).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[2]).toBe('given');
  });

  it('keeps the id of a redelivered event, so duplicates can be recognised', () => {
    const op = uuidInterceptor();
    const e = event('a');
    const first = through(op, [e])[0]!.headers['id'];
    expect(through(op, [e])[0]!.headers['id']).toBe(first);
  });

  it('uses headerName and prefix, and overwrites with preserveExisting false', () => {
    const op = uuidInterceptor({ headerName: 'eventId', prefix: 'web-', preserveExisting: false });
    const [e] = through(op, [event('a', { eventId: 'old' })]);
    expect(e!.headers['eventId']).toMatch(/^web-[0-9a-f-]{36}$/);
    expect(uuidInterceptor.spec.flumeTypes).toEqual(['org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder']);
  });
});
