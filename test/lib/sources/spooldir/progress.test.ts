import { describe, expect, it } from 'vitest';
import { event } from '../../../../lib/core/event.js';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import { Progress } from '../../../../lib/sources/spooldir/progress.js';
import type { Tracker, TrackerState } from '../../../../lib/sources/spooldir/tracker.js';

function setup(failing: { on: boolean } = { on: false }) {
  const saved: TrackerState[] = [];
  const tracker = {
    path: '/spool/.flumespool/rxflume-spooldir.json',
    save: (s: TrackerState) => {
      if (failing.on) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      saved.push(s);
    },
    close: () => saved.push({ file: 'closed', ino: '0', size: 0, mtimeNs: '0', pos: -1 }),
  } as unknown as Tracker;
  const logs: string[] = [];
  const metrics = new ComponentCounters('SOURCE', 's');
  const progress = new Progress(tracker, { minBackoffMs: 250, maxBackoffMs: 1000 }, metrics, (level, message) => logs.push(`${level} ${message}`));
  return { progress, saved, logs, metrics };
}

const state = (pos: number): TrackerState => ({ file: 'a.log', ino: '1', size: 100, mtimeNs: '1', pos });

describe('spooldir Progress', () => {
  it('moves the acked offset only over batches acked with all before them', () => {
    const { progress } = setup();
    const [a, b, c] = [10, 20, 30].map((end) => progress.sent([event('x')], end));
    expect(progress.acked(b!)).toBeUndefined();
    expect(progress.unsettled).toBe(3);
    expect(progress.acked(a!)).toBe(20);
    expect(progress.acked(c!)).toBe(30);
    expect(progress.unsettled).toBe(0);
  });

  it('re-sends nacked batches in file order after a back-off doubling from minBackoffMs to maxBackoffMs, reset by an ack', () => {
    const { progress } = setup();
    const [a, b] = [10, 20].map((end) => progress.sent([event('x')], end));
    progress.nacked(b!, 0);
    progress.nacked(a!, 0);
    expect(progress.nextRetry(0)).toEqual({ sent: a, wait: 500 });
    progress.takeRetry();
    expect(progress.nextRetry(600)).toEqual({ sent: b, wait: -350 });
    progress.takeRetry();
    expect(progress.nextRetry(0)).toBeUndefined();
    for (let i = 0; i < 3; i++) progress.nacked(a!, 0);
    expect(a!.due).toBe(1000);
    progress.acked(a!);
    progress.nacked(b!, 0);
    expect(b!.due).toBe(250);
  });

  it('keeps progress that cannot be written pending, counts each failure, logs an outage once and its end', () => {
    const failing = { on: true };
    const { progress, saved, logs, metrics } = setup(failing);
    expect(progress.record(state(10))).toBe(false);
    expect(progress.behind).toBe(true);
    expect(progress.retryDelay).toBe(250);
    expect(progress.flush()).toBe(false);
    expect(progress.retryDelay).toBe(500);
    expect(metrics.get('TrackerWriteFail')).toBe(2);
    expect(logs).toEqual([
      `warn cannot write tracker /spool/.flumespool/rxflume-spooldir.json (ENOSPC): nothing more is sent until that works again; retrying after 250 ms doubling up to 1000 ms`,
    ]);
    failing.on = false;
    expect(progress.flush()).toBe(true);
    expect(progress.behind).toBe(false);
    expect(saved).toEqual([state(10)]);
    expect(logs[1]).toBe('info tracker and spool directory writable again after 2 failed attempts');
  });

  it('tries what is pending once more on close, then closes the tracker', () => {
    const failing = { on: true };
    const { progress, saved } = setup(failing);
    progress.record(state(10));
    failing.on = false;
    progress.close();
    expect(saved.map((s) => s.pos)).toEqual([10, -1]);
  });
});
