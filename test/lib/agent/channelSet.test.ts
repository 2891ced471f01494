import { describe, expect, it } from 'vitest';
import { map, of, Subject, type Observable } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentCounters, withMetrics } from '../../../lib/core/metrics.js';
import { ChannelSet } from '../../../lib/agent/channelSet.js';
import type { Planned } from '../../../lib/agent/plan.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { member, sent } from '../sinks/groupSupport.js';

const channel = (name: string, capacity = 100): Planned => ({
  name,
  spec: memoryChannel.spec,
  factory: memoryChannel as never,
  options: { name, capacity },
  line: 1,
  locations: new Map(),
});

describe('ChannelSet', () => {
  it('runs each channel from its inputs into the sink connected to it', async () => {
    const set = new ChannelSet(() => expect.unreachable());
    set.update([channel('c1')]);
    const k1 = member();
    set.connect('c1', k1.sink);
    const input = new Subject<Batch>();
    set.feed('c1', input);
    const a = sent(3);
    input.next(a.batch);
    await new Promise((r) => setTimeout(r, 20));
    expect(k1.got.flatMap((b) => b.events)).toEqual(a.batch.events);
    expect(set.countersOf('c1')).toBeInstanceOf(ComponentCounters);
    // The sources' parts end (the agent stops them), then the channel's input closes: it drains and completes.
    input.complete();
    set.closeInputs();
    await Promise.all(set.closed);
    expect(k1.ended()).toBe('complete');
  });

  it('keeps an unchanged channel across an update, and closes a changed or removed one', async () => {
    const set = new ChannelSet(() => expect.unreachable());
    set.update([channel('c1'), channel('c2'), channel('c3')]);
    const sinks = ['c1', 'c2', 'c3'].map((name) => {
      const k = member();
      set.connect(name, k.sink);
      return k;
    });
    const c1 = set.countersOf('c1');
    set.update([channel('c1'), channel('c2', 200)]);
    expect(set.names()).toEqual(['c1', 'c2']);
    expect(set.countersOf('c1')).toBe(c1);
    expect(set.countersOf('c2')).not.toBeUndefined();
    await Promise.all(set.closed.slice(1, 3));
    // The replaced c2 and the removed c3 drained to their sinks and completed them; c1's sink runs on.
    expect(sinks.map((k) => k.ended())).toEqual([undefined, 'complete', 'complete']);
  });

  it('reports a channel that fails, and ends its sink with the error', async () => {
    const failure = new Error('disk gone');
    const errors: unknown[] = [];
    const set = new ChannelSet((e) => errors.push(e));
    const failing = (source: Observable<Batch>) => source.pipe(map((): Batch => { throw failure; }));
    set.update([{ ...channel('c1'), factory: (() => withMetrics(failing, new ComponentCounters('CHANNEL', 'c1'))) as never }]);
    const k1 = member();
    set.connect('c1', k1.sink);
    set.feed('c1', of(sent().batch));
    expect(errors).toEqual([failure]);
    expect(k1.ended()).toEqual({ error: failure });
  });
});
