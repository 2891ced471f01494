/**
 * The HDFS sink's durability point over WebHDFS (issue #19, item 1). A WebHDFS CREATE or APPEND is
 * answered by the DataNode once it closed the file with the bytes in it (the block finalized on every
 * DataNode of the pipeline — on their disks only where the cluster runs with
 * dfs.datanode.synconclose); nothing later can be waited for over WebHDFS, so that answer is the point a
 * batch may be acked at. Proven on the system calls of a child process running netcat → hdfsSink with no
 * channel between (fixtures/netcatToSink.mjs): every line answered OK went out in a request to the
 * cluster, and that connection's HTTP success answer was read before the OK was written. (The native
 * transport's point, the DataNode's ack of the last packet carrying syncBlock — hsync —, is proven at
 * unit level in test/lib/hdfs/native/blockWriter.test.ts.)
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';
import { hdfsEnv, requireHdfs, uniquePath } from '../../support/hdfs.js';
import { isWrite } from '../../support/strace.js';
import { feedNetcat, netcatAcks, strace, tracedNetcatToSink } from './support.js';

const hdfs = hdfsEnv();

describe.skipIf(strace.skip || hdfs.skip)(`hdfsSink (WebHDFS) durability under strace${strace.note}${hdfs.note}`, () => {
  const tmp = scratch('rxflume-hdfs-strace-');
  beforeAll(() => buildDist(), 300_000);
  afterAll(() => tmp.cleanup());

  it("every line answered OK was sent to the cluster, and the answer to that request read, before the OK", async () => {
    const cluster = requireHdfs();
    const options = {
      path: `${cluster.webhdfs}${uniquePath('durability')}`,
      user: cluster.superuser,
      fileType: 'DataStream',
      rollCount: 0,
      rollSize: 0,
      rollIntervalS: 0,
      retryIntervalS: 1,
    };
    const { traced, port } = await tracedNetcatToSink(join(tmp.dir, 'hdfs.strace'), 'hdfsSink', options);
    try {
      expect(await feedNetcat(port, 2, 20, 10)).toHaveLength(40);
    } finally {
      await traced.stop();
    }
    const trace = traced.trace();
    const acks = netcatAcks(trace, port);
    expect(acks).toHaveLength(40);
    const netcat = new RegExp(`^TCP:\\[[^\\]]*:${port}->`);
    const toCluster = (c: { path?: string }) => c.path !== undefined && c.path.startsWith('TCP:') && !netcat.test(c.path);
    for (const { line, ack } of acks) {
      const needle = Buffer.from(line);
      const sent = trace.calls.find((c) => isWrite(c) && toCluster(c) && c.data?.includes(needle) && c.end < ack.start);
      expect(sent, `${line}: not sent to the cluster before its OK`).toBeDefined();
      const answer = trace.calls.find((c) => c.name === 'read' && c.file === sent!.file && c.start > sent!.end && /^HTTP\/1\.1 20[01] /.test(c.data?.toString('latin1') ?? ''));
      expect(answer, `${line}: no success answer read on ${sent!.path}`).toBeDefined();
      expect(answer!.end, `${line}: acked before the cluster answered its request`).toBeLessThan(ack.start);
    }
  }, 120_000);
});
