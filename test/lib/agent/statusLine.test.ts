import { describe, expect, it } from 'vitest';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { statusLine } from '../../../lib/agent/statusLine.js';

describe('statusLine', () => {
  it('shows events/s per source and sink from counter deltas, and channel fill', () => {
    const r1 = new ComponentCounters('SOURCE', 'r1');
    const c1 = new ComponentCounters('CHANNEL', 'c1');
    const k1 = new ComponentCounters('SINK', 'k1');
    c1.set('ChannelCapacity', 200);
    const line = statusLine();
    expect(line([r1, c1, k1], 1000)).toBe('r1 0 ev/s | c1 0% full | k1 0 ev/s');
    r1.inc('EventAcceptedCount', 5000);
    k1.inc('EventDrainSuccessCount', 2500);
    c1.set('ChannelSize', 50);
    expect(line([r1, c1, k1], 500)).toBe('r1 10,000 ev/s | c1 25% full | k1 5,000 ev/s');
  });
});
