import { describe, expect, it } from 'vitest';
import { SwitchSink } from '../../../lib/agent/switchSink.js';
import { member, sent } from '../sinks/groupSupport.js';

describe('SwitchSink', () => {
  it('holds batches while it has no sink and hands them to the first one swapped in', () => {
    const s = new SwitchSink();
    const a = sent();
    s.next(a.batch);
    const k1 = member();
    s.swap(k1.sink);
    expect(k1.got).toEqual([a.batch]);
    expect(a.acks).toBe(1);
  });

  it('completes the sink it replaces, and closes once every sink it had closed', async () => {
    const s = new SwitchSink();
    const k1 = member('hold');
    const k2 = member();
    s.swap(k1.sink);
    s.next(sent().batch);
    s.swap(k2.sink);
    expect(k1.ended()).toBe('complete');
    s.next(sent().batch);
    expect([k1.got.length, k2.got.length]).toEqual([1, 1]);
    let closed = false;
    void s.closed.then(() => (closed = true));
    s.complete();
    await s.closed;
    expect([closed, k2.ended()]).toEqual([true, 'complete']);
  });

  it('on its end, nacks what no sink took (retriable FLUME_CHANNEL_CLOSED), or with the error that ended it', async () => {
    const held = sent();
    const s = new SwitchSink();
    s.next(held.batch);
    s.complete();
    await s.closed;
    expect(held.errors[0]).toMatchObject({ code: 'FLUME_CHANNEL_CLOSED', retriable: true });
    const failed = sent();
    const t = new SwitchSink();
    t.next(failed.batch);
    const boom = new Error('channel failed');
    t.error(boom);
    expect(failed.errors).toEqual([boom]);
  });
});
