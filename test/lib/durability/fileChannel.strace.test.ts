/**
 * The file channel acks a put only once it is on disk (issue #19, item 1). A SIGKILL cannot show a
 * missing fsync (the page cache outlives the process); the agent's system calls can: an agent child
 * process (netcat → file channel → null) runs under strace, netcat clients send lines, and for every line
 * answered OK the trace must hold the write of its body to a segment file, then a sync of that same open
 * file, both before the write of the OK.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, describe } from 'vitest';
import { scratch } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';
import { isSync } from '../../support/strace.js';
import { feedNetcat, netcatAcks, port as freePort, strace, syncAfter, tracedAgent, writesOf } from './support.js';

const SEGMENT = /\/data\/log-\d+$/;

function conf(dir: string, port: number, channel: string[]): string {
  return [
    'a1.sources = r1',
    'a1.channels = c1',
    'a1.sinks = k1',
    'a1.sources.r1.type = netcat',
    'a1.sources.r1.bind = 127.0.0.1',
    `a1.sources.r1.port = ${port}`,
    'a1.sources.r1.channels = c1',
    'a1.channels.c1.type = file',
    `a1.channels.c1.checkpointDir = ${join(dir, 'checkpoint')}`,
    `a1.channels.c1.dataDirs = ${join(dir, 'data')}`,
    'a1.channels.c1.minimumRequiredSpace = 0',
    ...channel.map((l) => `a1.channels.c1.${l}`),
    'a1.sinks.k1.type = null',
    'a1.sinks.k1.channel = c1',
    '',
  ].join('\n');
}

describe.skipIf(strace.skip)(`file channel durability under strace${strace.note}`, () => {
  const tmp = scratch('rxflume-fc-strace-');
  beforeAll(() => buildDist(), 300_000);
  afterAll(() => tmp.cleanup());

  it('fsyncPerTransaction (the default): every line answered OK was written to a segment and that file synced before the OK', async () => {
    const dir = join(tmp.dir, 'tx');
    const port = await freePort();
    const agent = tracedAgent(tmp.dir, tmp.write('tx.properties', conf(dir, port, [])));
    try {
      const sent = await feedNetcat(port, 3, 40, 10);
      expect(sent).toHaveLength(120);
    } finally {
      await agent.stop();
    }
    const trace = agent.trace();
    const acks = netcatAcks(trace, port);
    expect(acks.map((a) => a.line).sort()).toEqual(Array.from({ length: 3 }, (_, c) => Array.from({ length: 40 }, (_, i) => `E${c}-${i};`)).flat().sort());
    for (const { line, ack } of acks) {
      const [put] = writesOf(trace, line, SEGMENT);
      expect(put, `no write of ${line} to a segment`).toBeDefined();
      expect(put!.end, `${line} acked before it was written`).toBeLessThan(ack.start);
      const sync = syncAfter(trace, put!.file!, put!.end);
      expect(sync, `${line}: no sync of ${put!.path} after its write`).toBeDefined();
      expect(sync!.end, `${line}: acked (line ${ack.start}) before the sync of ${put!.path} returned (line ${sync!.end})`).toBeLessThan(ack.start);
    }
  }, 60_000);

  it('fsyncPerTransaction = false: acked once written, and synced every fsyncInterval while running (not only on close)', async () => {
    const dir = join(tmp.dir, 'interval');
    const port = await freePort();
    const agent = tracedAgent(tmp.dir, tmp.write('interval.properties', conf(dir, port, ['fsyncPerTransaction = false', 'fsyncInterval = 1'])));
    try {
      expect(await feedNetcat(port, 2, 20, 10)).toHaveLength(40);
      // Two intervals pass with the agent idle: a sync must come from the timer, before the stop.
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      await agent.stop();
    }
    const trace = agent.trace();
    const acks = netcatAcks(trace, port);
    expect(acks).toHaveLength(40);
    const term = trace.signals.find((s) => s.signal === 'SIGTERM');
    expect(term).toBeDefined();
    let ackedBeforeSync = 0;
    for (const { line, ack } of acks) {
      const [put] = writesOf(trace, line, SEGMENT);
      expect(put, `no write of ${line} to a segment`).toBeDefined();
      expect(put!.end).toBeLessThan(ack.start);
      const sync = syncAfter(trace, put!.file!, put!.end);
      expect(sync, `${line}: no sync of ${put!.path} before the stop`).toBeDefined();
      expect(sync!.end).toBeLessThan(term!.index);
      if (sync!.end > ack.start) ackedBeforeSync++;
    }
    // The mode promises less than 'transaction': acks do not wait for a sync.
    expect(ackedBeforeSync).toBeGreaterThan(0);
    expect(trace.calls.filter((c) => isSync(c) && SEGMENT.test(c.path ?? '')).length).toBeGreaterThan(0);
  }, 60_000);
});
