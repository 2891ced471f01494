/**
 * hdfsSink through a real HttpFS gateway (Hadoop 3.4.1's, scripts/httpfs.ts) in front of the run's
 * HDFS: `gateway: 'httpfs'` writes DataStream TEXT and a SequenceFile in two batches with a roll, each
 * CREATE and APPEND one request carrying the bytes (`data=true`), and the files read back through the
 * NameNode (its WebHDFS and Hadoop's own readers over RPC) equal what was sent. A request HttpFS refuses
 * (permission denied) is a clear error with nothing written, and the same sink delivers once it is allowed.
 *
 * HttpFS runs in its own JVM, started here and stopped at the end; the cluster lets its login user
 * (`httpfs`) impersonate (test/support/hdfsGlobalSetup.ts passes httpfsProxyUserConf()).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import type { WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { hdfsSink, type HdfsSinkOptions } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import { fsShell, mustRun } from '../../../../scripts/hdfs.js';
import { HTTPFS_VERSION, startHttpFs, type HttpFs } from '../../../../scripts/httpfs.js';
import { startFailure } from '../../../../scripts/service.js';
import { fsCat, hadoopReadSequenceFiles, hdfsEnv, requireHdfs, shown, uniquePath, type HdfsCluster } from '../../../support/hdfs.js';
import { clientOf, deliver, ev, finish, listFiles, send } from './sinkSupport.js';

const env = hdfsEnv();

/** What reached HttpFS: one entry per HTTP request. */
interface Seen {
  method: string;
  op: string;
  path: string;
  data: string | null;
  noredirect: string | null;
  bytes: number;
}

/** A pass-through proxy in front of HttpFS that records every request (op, data=, body size). */
async function recordingProxy(target: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const to = new URL(target);
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const entry: Seen = {
      method: req.method ?? '?',
      op: (url.searchParams.get('op') ?? '?').toUpperCase(),
      path: decodeURIComponent(url.pathname.replace(/^\/webhdfs\/v1/, '')),
      data: url.searchParams.get('data'),
      noredirect: url.searchParams.get('noredirect'),
      bytes: 0,
    };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    const forward = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Two batches; with rollCount 3 the first file holds events 0–2 and the second 3–5 (its second batch an APPEND). */
const BATCHES: FlumeEvent[][] = [[ev(0), ev(1), ev(2), ev(3, {}, Buffer.from([0xff, 0x00, 0xc3, 0x0a]))], [ev(4, {}, Buffer.alloc(0)), ev(5, {}, 'héllo wörld')]];
const FILES = [BATCHES.flat().slice(0, 3), BATCHES.flat().slice(3)];
const textOf = (events: readonly FlumeEvent[]) => Buffer.concat(events.flatMap((e) => [e.body, Buffer.from('\n')]));

describe.skipIf(env.skip)(`hdfsSink through HttpFS ${HTTPFS_VERSION}${env.note}`, () => {
  let httpfs: HttpFs | undefined;
  let problem: { skipReason: string } | { failure: string } | undefined;
  let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
  let client: WebHdfsClient;
  let root: string;

  beforeAll(async () => {
    if (env.skip || env.cluster === null) return; // requireHdfs() fails each test with the global setup's reason
    client = clientOf(env.cluster);
    root = uniquePath('sink-httpfs');
    await client.mkdirs(root, '755');
    try {
      httpfs = await startHttpFs({ hdfs: env.cluster });
    } catch (error) {
      // Java or Maven missing skips (unless RXFLUME_REQUIRE_HDFS=1: CI); any other failure fails the tests.
      problem = startFailure(error, `Hadoop ${HTTPFS_VERSION} HttpFS`, 'RXFLUME_REQUIRE_HDFS');
      return;
    }
    proxy = await recordingProxy(httpfs.url);
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await httpfs?.close();
    client?.close();
  });

  /** The cluster and the recording proxy in front of HttpFS; fails (or skips) the test when HttpFS did not start. */
  function setup(ctx: TestContext): { hdfs: HdfsCluster; url: string; seen: Seen[] } {
    const hdfs = requireHdfs();
    if (problem && 'failure' in problem) throw new Error(problem.failure);
    if (problem) ctx.skip(problem.skipReason);
    if (!proxy) throw new Error('HttpFS was not started');
    return { hdfs, url: proxy.url, seen: proxy.seen };
  }

  const options = (url: string, dir: string, user: string, over: Partial<HdfsSinkOptions> = {}): HdfsSinkOptions => ({
    path: `${url}${dir}`,
    gateway: 'httpfs',
    user,
    rollCount: 3,
    rollSize: 0,
    rollIntervalS: 0,
    retryIntervalS: 1,
    logger: () => undefined,
    ...over,
  });

  /** The sink's files under `dir` (listed through the NameNode): two, closed, final names. */
  async function twoFiles(dir: string): Promise<string[]> {
    const files = await listFiles(client, dir);
    expect(files.map((f) => f.pathSuffix)).toEqual([expect.stringMatching(/^FlumeData\.\d+$/), expect.stringMatching(/^FlumeData\.\d+$/)]);
    return files.map((f) => f.path);
  }

  /** Every CREATE and APPEND under `dir` went to HttpFS once, with data=true and the bytes: no two-step write, no DataNode hop. */
  function expectOneStepWrites(seen: readonly Seen[], dir: string): Seen[] {
    const writes = seen.filter((s) => s.path.startsWith(`${dir}/`) && (s.op === 'CREATE' || s.op === 'APPEND'));
    expect(writes.filter((s) => s.op === 'CREATE')).toHaveLength(2);
    expect(writes.filter((s) => s.op === 'APPEND').length).toBeGreaterThanOrEqual(1);
    for (const write of writes) expect(write).toMatchObject({ method: write.op === 'CREATE' ? 'PUT' : 'POST', data: 'true', noredirect: null });
    return writes;
  }

  it('DataStream TEXT, two batches and a roll: one request per CREATE/APPEND through HttpFS; the NameNode reads back the same bytes', async (ctx) => {
    const { hdfs, url, seen } = setup(ctx);
    const dir = `${root}/text`;
    const sink = hdfsSink(options(url, dir, hdfs.superuser, { fileType: 'DataStream' }));
    await deliver(sink, BATCHES);
    await finish(sink);
    const paths = await twoFiles(dir);
    const writes = expectOneStepWrites(seen, dir);
    // The bytes sent through HttpFS are the files' bytes: nothing written twice, nothing lost.
    expect(writes.reduce((n, s) => n + s.bytes, 0)).toBe(FILES.reduce((n, f) => n + textOf(f).length, 0));
    for (const [i, path] of paths.entries()) {
      expect((await client.open(path)).equals(textOf(FILES[i]!)), `${path} through the NameNode's WebHDFS`).toBe(true);
      expect((await fsCat(hdfs, path)).equals(textOf(FILES[i]!)), `${path} through hadoop fs -cat`).toBe(true);
    }
  }, 60_000);

  it('SequenceFile (Writable), two batches and a roll: one request per CREATE/APPEND through HttpFS; SequenceFile.Reader reads the same records', async (ctx) => {
    const { hdfs, url, seen } = setup(ctx);
    const dir = `${root}/seq`;
    const sink = hdfsSink(options(url, dir, hdfs.superuser, { fileType: 'SequenceFile' }));
    await deliver(sink, BATCHES);
    await finish(sink);
    const paths = await twoFiles(dir);
    expectOneStepWrites(seen, dir);
    const files = await hadoopReadSequenceFiles(hdfs, paths);
    files.forEach((file, i) => {
      expect(file, file.file).toMatchObject({ keyClass: 'org.apache.hadoop.io.LongWritable', valueClass: 'org.apache.hadoop.io.BytesWritable', compressed: false });
      expect(file.records, file.file).toEqual(FILES[i]!.map((e) => ({ key: shown.long(BigInt(e.headers['timestamp']!)), value: shown.bytes(e.body) })));
    });
  }, 60_000);

  it('permission denied through HttpFS (HTTP 500 AccessControlException): FLUME_HDFS_PERMISSION naming the file, nothing written; delivered once allowed', async (ctx) => {
    const { hdfs, url, seen } = setup(ctx);
    const dir = `${root}/locked`;
    await client.mkdirs(dir, '755');
    const sink = hdfsSink(options(url, dir, 'eve', { fileType: 'DataStream' }));
    const refused = await send(sink, [ev(0)]);
    expect(refused).toMatchObject({ code: 'FLUME_HDFS_PERMISSION', retriable: false });
    expect((refused as Error).message).toMatch(
      new RegExp(`batch of 1 events rolled back, nothing of it left in HDFS: WebHDFS CREATE ${dir}/FlumeData\\.\\d+\\.tmp failed: AccessControlException: Permission denied: user=eve, access=WRITE`),
    );
    // It reached HttpFS as one CREATE carrying the batch (data=true), which HttpFS refused.
    expect(seen.filter((s) => s.path.startsWith(`${dir}/`) && s.op === 'CREATE')).toEqual([expect.objectContaining({ data: 'true', bytes: textOf([ev(0)]).length })]);
    expect(await listFiles(client, dir)).toEqual([]);
    await mustRun(fsShell(hdfs, ['-chmod', '777', dir]), 'chmod');
    expect(await send(sink, [ev(1)])).toBe('ack');
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(files.map((f) => [f.pathSuffix, f.owner])).toEqual([[expect.stringMatching(/^FlumeData\.\d+$/), 'eve']]);
    expect((await client.open(files[0]!.path)).toString()).toBe('event 1\n');
  }, 60_000);

  // Without an explicit permission the gateways differ: the NameNode's WebHDFS makes a file 644, HttpFS
  // 755 (HttpFSFileSystem.DEFAULT_PERMISSION, umask 000 forced). The client sends Hadoop's 644.
  it('files are 644 through both gateways, as Hadoop makes them under umask 022 (HttpFS alone would make them 755)', async (ctx) => {
    const { hdfs, url } = setup(ctx);
    const permissions = async (base: string, gateway: 'httpfs' | 'namenode') => {
      const dir = `${root}/permission-${gateway}`;
      const sink = hdfsSink(options(base, dir, hdfs.superuser, { fileType: 'DataStream', gateway }));
      await deliver(sink, [[ev(0)]]);
      await finish(sink);
      return (await listFiles(client, dir)).map((f) => f.permission);
    };
    expect(await permissions(hdfs.webhdfs, 'namenode')).toEqual(['644']);
    expect(await permissions(url, 'httpfs')).toEqual(['644']);
  }, 60_000);
});
