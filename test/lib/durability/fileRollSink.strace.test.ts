/**
 * fileRollSink's `fsync` option (issue #19, item 1): with it, a batch is acked only once its bytes and
 * its file's directory entry are on disk; without it, once written (handed to the OS). Proven on the
 * system calls of a child process running netcat → fileRoll with no channel between
 * (fixtures/netcatToSink.mjs), so that the source's OK is written only after the sink acked the batch.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';
import { isSync, type Trace } from '../../support/strace.js';
import { feedNetcat, netcatAcks, strace, syncAfter, tracedNetcatToSink, writesOf } from './support.js';

describe.skipIf(strace.skip)(`fileRollSink durability under strace${strace.note}`, () => {
  const tmp = scratch('rxflume-roll-strace-');
  beforeAll(() => buildDist(), 300_000);
  afterAll(() => tmp.cleanup());

  async function run(name: string, mode: 'fsync' | 'plain'): Promise<{ trace: Trace; port: number; out: string }> {
    const out = join(tmp.dir, name);
    const { traced, port } = await tracedNetcatToSink(join(tmp.dir, `${name}.strace`), 'fileRollSink', { directory: out, rollIntervalS: 0, fsync: mode === 'fsync' });
    try {
      expect(await feedNetcat(port, 3, 30, 10)).toHaveLength(90);
    } finally {
      await traced.stop();
    }
    return { trace: traced.trace(), port, out };
  }

  it('fsync: every line answered OK was written to its file and that file synced, and the new file\'s directory synced, before the OK', async () => {
    const { trace, port, out } = await run('fsync', 'fsync');
    const acks = netcatAcks(trace, port);
    expect(acks).toHaveLength(90);
    const inOut = new RegExp(`^${out}/[^/]+$`);
    const created = trace.calls.filter((c) => c.name === 'openat' && c.fd !== undefined && inOut.test(c.path ?? ''));
    expect(created.length).toBeGreaterThan(0);
    for (const { line, ack } of acks) {
      const [put] = writesOf(trace, line, inOut);
      expect(put, `no write of ${line}`).toBeDefined();
      expect(put!.end).toBeLessThan(ack.start);
      const sync = syncAfter(trace, put!.file!, put!.end);
      expect(sync, `${line}: no sync of ${put!.path}`).toBeDefined();
      expect(sync!.end, `${line}: acked before its file was synced`).toBeLessThan(ack.start);
      // The file's name: its directory was synced after the file was created, before this ack.
      const open = created.find((c) => c.file === put!.file)!;
      const dirSync = trace.calls.find((c) => isSync(c) && c.path === out && c.start > open.end);
      expect(dirSync, `${line}: ${out} not synced after ${put!.path} was created`).toBeDefined();
      expect(dirSync!.end).toBeLessThan(ack.start);
    }
  }, 60_000);

  it('without fsync (the default, as Flume): acked once written, never synced', async () => {
    const { trace, port, out } = await run('plain', 'plain');
    const acks = netcatAcks(trace, port);
    expect(acks).toHaveLength(90);
    const inOut = new RegExp(`^${out}/[^/]+$`);
    for (const { line, ack } of acks) {
      const [put] = writesOf(trace, line, inOut);
      expect(put, `no write of ${line}`).toBeDefined();
      expect(put!.end).toBeLessThan(ack.start);
    }
    expect(trace.calls.filter((c) => isSync(c) && (inOut.test(c.path ?? '') || c.path === out))).toEqual([]);
  }, 60_000);
});
