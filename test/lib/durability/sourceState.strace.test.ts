/**
 * The state files of taildir and spooldir are durable when they say so (issue #19, item 1), proven on an
 * agent child process's system calls:
 * - taildir's position file: each version is written to a temp file, synced, then renamed over the
 *   position file, then its directory synced; positions never go back and never pass the file's end;
 * - spooldir's tracker: every save is synced before the next save and before a spooled file is renamed;
 *   a completed file's rename is synced (its directory) before the tracker forgets the file — else a
 *   power loss could leave the file under its old name with the tracker cleared, and the whole file
 *   would be read again.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';
import { sleep, waitFor } from '../../support/net.js';
import { isSync, isWrite, type Syscall, type Trace } from '../../support/strace.js';
import { strace, syncAfter, tracedAgent } from './support.js';

const agentConf = (source: string[]): string =>
  [
    'a1.sources = r1',
    'a1.channels = c1',
    'a1.sinks = k1',
    ...source.map((l) => `a1.sources.r1.${l}`),
    'a1.sources.r1.channels = c1',
    'a1.channels.c1.type = memory',
    'a1.channels.c1.capacity = 100000',
    'a1.channels.c1.transactionCapacity = 1000',
    'a1.sinks.k1.type = null',
    'a1.sinks.k1.channel = c1',
    '',
  ].join('\n');

/** Calls after line `after` on the same thread or another, in the order they began. */
const firstAfter = (trace: Trace, after: number, pred: (c: Syscall) => boolean): Syscall | undefined =>
  trace.calls.filter((c) => c.start > after && pred(c)).sort((a, b) => a.start - b.start)[0];

describe.skipIf(strace.skip)(`taildir and spooldir state files under strace${strace.note}`, () => {
  const tmp = scratch('rxflume-state-strace-');
  beforeAll(() => buildDist(), 300_000);
  afterAll(() => tmp.cleanup());

  it('taildir: every position file version is synced before it is renamed into place, and its directory synced after', async () => {
    const dir = join(tmp.dir, 'taildir');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const log = join(dir, 'logs', 'app.log');
    const positionFile = join(dir, 'state', 'taildir_position.json');
    writeFileSync(log, '');
    const agent = tracedAgent(
      dir,
      tmp.write('taildir.properties', agentConf(['type = TAILDIR', `positionFile = ${positionFile}`, 'filegroups = f1', `filegroups.f1 = ${join(dir, 'logs')}/.*\\.log`, 'writePosInterval = 50'])),
    );
    try {
      for (let round = 0; round < 10; round++) {
        appendFileSync(log, Array.from({ length: 50 }, (_, i) => `line-${round}-${i}\n`).join(''));
        await sleep(80);
      }
      const size = statSync(log).size;
      const pos = (): number => (existsSync(positionFile) ? (JSON.parse(readFileSync(positionFile, 'utf8')) as Array<{ pos: number }>)[0]?.pos ?? 0 : 0);
      await waitFor(() => pos() === size, 'the position file to reach the end of the log', 30_000);
    } finally {
      await agent.stop();
    }
    const trace = agent.trace();
    const size = statSync(log).size;
    const renames = trace.calls.filter((c) => c.name.startsWith('rename') && c.to === positionFile && c.result === 0);
    expect(renames.length).toBeGreaterThan(1);
    let last = 0;
    for (const rename of renames) {
      const open = trace.calls.filter((c) => c.name === 'openat' && c.path === rename.from && c.fd !== undefined && c.end < rename.start).at(-1);
      expect(open, `no open of ${rename.from}`).toBeDefined();
      const writes = trace.calls.filter((c) => isWrite(c) && c.file === open!.file);
      expect(writes.length).toBeGreaterThan(0);
      const lastWrite = writes.reduce((a, b) => (a.end > b.end ? a : b));
      const sync = syncAfter(trace, open!.file!, lastWrite.end);
      expect(sync, `${rename.from}: not synced before its rename`).toBeDefined();
      expect(sync!.end).toBeLessThan(rename.start);
      const dirSync = firstAfter(trace, rename.end, (c) => isSync(c) && c.path === dirname(positionFile));
      expect(dirSync, `${dirname(positionFile)} not synced after the rename at line ${rename.start}`).toBeDefined();
      const nextRename = renames.find((r) => r.start > rename.end);
      if (nextRename) expect(dirSync!.end).toBeLessThan(nextRename.start);
      // What was renamed into place: the positions never go back and never pass the file's end.
      const text = Buffer.concat(writes.map((w) => w.data!)).toString();
      const pos = (JSON.parse(text) as Array<{ pos: number }>)[0]?.pos ?? 0;
      expect(pos).toBeGreaterThanOrEqual(last);
      expect(pos).toBeLessThanOrEqual(size);
      last = pos;
    }
    expect(last).toBe(size);
  }, 60_000);

  it('spooldir: every tracker save is synced before the next save and before a rename; a rename is synced before the tracker is cleared', async () => {
    const dir = join(tmp.dir, 'spooldir');
    const spool = join(dir, 'spool');
    const trackerDir = join(dir, 'tracker');
    mkdirSync(spool, { recursive: true });
    for (let f = 0; f < 3; f++) writeFileSync(join(spool, `f${f}.log`), Array.from({ length: 300 }, (_, i) => `f${f}-line-${i}\n`).join(''));
    const agent = tracedAgent(dir, tmp.write('spooldir.properties', agentConf(['type = spooldir', `spoolDir = ${spool}`, `trackerDir = ${trackerDir}`, 'batchSize = 50'])));
    try {
      await waitFor(() => readdirSync(spool).filter((n) => n.endsWith('.COMPLETED')).length === 3, 'three files completed', 30_000);
      // The clearing after the last rename.
      await sleep(300);
    } finally {
      await agent.stop();
    }
    const trace = agent.trace();
    const trackerPath = join(trackerDir, 'rxflume-spooldir.json');
    const saves = trace.calls.filter((c) => isWrite(c) && c.path === trackerPath);
    const renames = trace.calls.filter((c) => c.name.startsWith('rename') && c.from?.startsWith(`${spool}/`) && c.to?.endsWith('.COMPLETED') && c.result === 0);
    expect(renames).toHaveLength(3);
    expect(saves.length).toBeGreaterThan(3);
    for (const save of saves) {
      const sync = syncAfter(trace, save.file!, save.end);
      expect(sync, `tracker save at line ${save.start} never synced`).toBeDefined();
      const next = firstAfter(trace, save.end, (c) => (isWrite(c) && c.path === trackerPath) || renames.includes(c));
      if (next) expect(sync!.end, `tracker save at line ${save.start} not synced before line ${next.start}`).toBeLessThan(next.start);
    }
    for (const rename of renames) {
      // The save that forgets the file (file: null) follows its rename; the rename must be durable first.
      const clearing = saves.find((s) => s.start > rename.end && s.data!.toString().includes('"file":null'));
      expect(clearing, `no tracker clearing after the rename of ${rename.from}`).toBeDefined();
      const dirSync = firstAfter(trace, rename.end, (c) => isSync(c) && c.path === spool);
      expect(dirSync, `${spool} never synced after the rename of ${rename.from}`).toBeDefined();
      expect(dirSync!.end, `the tracker forgot ${rename.from} before its rename was synced`).toBeLessThan(clearing!.start);
    }
  }, 60_000);
});
