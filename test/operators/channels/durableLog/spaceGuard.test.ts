import { describe, expect, it } from 'vitest';
import { SpaceGuard } from '../../../../operators/channels/durableLog/spaceGuard.js';
import { memoryLogger } from '../support/support.js';

function guard(minimumRequiredSpace: number, maxFileSize = 1 << 30) {
  const probe = { free: 0, calls: 0 };
  const log = memoryLogger();
  const g = new SpaceGuard({
    dirs: ['/a', '/b'],
    minimumRequiredSpace,
    maxFileSize,
    freeSpace: (dir) => {
      probe.calls++;
      // The smaller figure of the two directories counts.
      return dir === '/a' ? probe.free : probe.free + 1000;
    },
    logger: log.logger,
  });
  return { g, probe, lines: log.lines };
}

/** Lets a probe that ok() started finish. */
const probesDone = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('SpaceGuard', () => {
  it('refuses while less than minimumRequiredSpace is free, says so once, and resumes after a probe finds space', async () => {
    const { g, probe, lines } = guard(1000);
    probe.free = 500;
    await g.probe();
    expect(g.ok()).toBe(false);
    expect(lines.filter((l) => /below minimumRequiredSpace 1000: refusing puts/.test(l.message))).toHaveLength(1);
    await probesDone();
    probe.free = 5000;
    expect(g.ok()).toBe(false); // the figure is old, but low: a probe starts at once
    await probesDone();
    expect(g.ok()).toBe(true);
    expect(lines.at(-1)!.message).toMatch(/back above minimumRequiredSpace: accepting puts/);
  });

  it('counts what was written since the last probe against the figure', async () => {
    const { g, probe } = guard(1000);
    probe.free = 1500;
    await g.probe();
    expect(g.ok()).toBe(true);
    g.wrote(600);
    expect(g.ok()).toBe(false);
    expect(g.freeBytes()).toBe(900);
  });

  it('after a write failed for want of space, refuses until min(1 MiB, maxFileSize) is free, even with no minimum', async () => {
    const { g, probe, lines } = guard(0, 4096);
    expect(g.ok()).toBe(true);
    g.check(enospc());
    expect(g.outOfSpace()?.code).toBe('ENOSPC');
    expect(lines.at(-1)!.message).toMatch(/the disk is full .*until 4096 bytes are free/);
    probe.free = 4000;
    expect(g.ok()).toBe(false); // starts a probe
    await probesDone();
    expect(g.outOfSpace()?.code).toBe('ENOSPC'); // still out of space: 4000 of 4096 bytes free
    probe.free = 4096;
    expect(g.ok()).toBe(false);
    await probesDone();
    expect(g.outOfSpace()).toBeUndefined();
    expect(g.ok()).toBe(true);
    expect(lines.at(-1)!.message).toMatch(/space is back \(4096 bytes free\)/);
  });

  it('only a lack of space stops puts; other errors leave it alone', () => {
    const { g } = guard(0);
    g.check(Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    g.check(new Error('no code'));
    expect(g.outOfSpace()).toBeUndefined();
    expect(g.ok()).toBe(true);
  });

  it('an unreadable figure keeps the last one and is reported', async () => {
    const log = memoryLogger();
    let fail = false;
    const g = new SpaceGuard({
      dirs: ['/a'],
      minimumRequiredSpace: 10,
      maxFileSize: 4096,
      freeSpace: () => {
        if (fail) throw new Error('statfs failed');
        return 100;
      },
      logger: log.logger,
    });
    await g.probe();
    fail = true;
    await g.probe();
    expect(g.ok()).toBe(true);
    expect(log.lines.some((l) => l.level === 'warn' && /cannot read free space: statfs failed/.test(l.message))).toBe(true);
  });
});
