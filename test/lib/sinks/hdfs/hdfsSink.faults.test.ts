/**
 * hdfsSink through HDFS failures, each on a cluster of this file's own (scripts/hdfs.ts), fed by a
 * pipeline (sequence source → memory channel → sink) whose events are numbered: the NameNode restarted
 * mid-stream, the cluster's JVM killed mid-stream (the NameNode and the DataNode that was receiving the
 * APPEND die), one of two DataNodes killed while the NameNode lives, safe mode. Each time the sink backs
 * off, resumes, and a count of every event by its number shows none lost; duplicates are counted and
 * must stay within one batch per fault.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concat, ReplaySubject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatch, type Batch } from '../../../../lib/core/batch.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { pipe, type Pipeline } from '../../../../lib/core/pipe.js';
import { WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { hdfsSink } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import { sequenceSource } from '../../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';
import { dfsAdmin, mustRun, startHdfs, type Hdfs } from '../../../../scripts/hdfs.js';
import { hdfsEnv } from '../../../support/hdfs.js';
import { deliver, finish, listFiles, until } from './sinkSupport.js';

const env = hdfsEnv();
const BATCH = 50;

interface Run {
  pipeline: Pipeline;
  sink: ReturnType<typeof hdfsSink>;
  logs: string[];
  drained(): number;
  /** Sends events numbered `from` … `from+count-1` after the sequence, in batches of BATCH. */
  push(from: number, count: number): void;
  /** Ends the source, so the pipeline drains and the sink closes. */
  finish(): Promise<void>;
}

/** Numbered events (bodies "0" … "total-1") through a memory channel into a DataStream TEXT sink; the source stays open until `finish`. */
function run(hdfs: Hdfs, dir: string, total: number, replication?: number): Run {
  const logs: string[] = [];
  // Replays what was pushed before the sequence ended and concat subscribed to it.
  const release = new ReplaySubject<Batch>();
  const sink = hdfsSink({
    path: `${hdfs.webhdfs}${dir}`,
    user: hdfs.superuser,
    fileType: 'DataStream',
    rollCount: 0,
    rollSize: 0,
    rollIntervalS: 0,
    retryIntervalS: 2,
    callTimeoutMs: 10_000,
    ...(replication ? { replication } : {}),
    logger: (level, message) => logs.push(`${level} ${message}`),
  });
  const pipeline = pipe(
    concat(sequenceSource({ totalEvents: total, batchSize: BATCH }), release),
    memoryChannel({ capacity: 2000, transactionCapacity: BATCH, backoffSleepIncrementMs: 250, maxBackoffSleepMs: 1000 }),
    sink,
  );
  return {
    pipeline,
    sink,
    logs,
    drained: () => metricsOf(sink)!.get('EventDrainSuccessCount'),
    push(from, count) {
      for (let i = from; i < from + count; i += BATCH) {
        const n = Math.min(BATCH, from + count - i);
        release.next(createBatch(Array.from({ length: n }, (_, k) => ({ headers: {}, body: Buffer.from(String(i + k)) }))));
      }
    },
    async finish() {
      release.complete();
      await pipeline.done;
    },
  };
}

/** How many times each event number is in the files under `dir` (in-use ones too). */
async function tally(client: WebHdfsClient, dir: string, total: number): Promise<{ missing: number[]; duplicates: number; files: number; partial: string[] }> {
  const seen = new Map<number, number>();
  const partial: string[] = [];
  const files = await listFiles(client, dir);
  for (const f of files) {
    const text = (await client.open(f.path)).toString();
    if (text.length > 0 && !text.endsWith('\n')) partial.push(f.path);
    for (const line of text.split('\n').filter(Boolean)) seen.set(Number(line), (seen.get(Number(line)) ?? 0) + 1);
  }
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i));
  return { missing, duplicates: [...seen.values()].reduce((n, c) => n + c - 1, 0), files: files.length, partial };
}

/** Waits until every event was acked and only the open file is still in use (abandoned files repaired and closed), then ends the run. */
async function settle(r: Run, client: WebHdfsClient, dir: string, total: number, timeoutMs: number): Promise<void> {
  await until(() => r.drained() >= total, timeoutMs, `all ${total} events to be acked`);
  await until(async () => (await listFiles(client, dir)).filter((f) => f.pathSuffix.endsWith('.tmp')).length <= 1, timeoutMs, 'abandoned files to be repaired and closed');
  await r.finish();
}

describe.skipIf(env.skip)(`hdfsSink through NameNode restarts, kills and safe mode${env.note}`, () => {
  let hdfs: Hdfs;
  let data: string;
  let client: WebHdfsClient;
  beforeAll(async () => {
    if (env.skip) return;
    data = mkdtempSync(join(tmpdir(), 'rxflume-hdfs-faults-'));
    // A data folder of its own, kept by stop(): start() brings the same namespace back on the same ports.
    hdfs = await startHdfs({ dataDir: data });
    client = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser, timeoutMs: 10_000 });
  }, 240_000);
  afterAll(async () => {
    client?.close();
    await hdfs?.close();
    if (data) rmSync(data, { recursive: true, force: true });
  }, 120_000);

  it('NameNode restarted mid-stream: the sink backs off and resumes; every event is there, duplicates within a batch', async () => {
    const TOTAL = 3000;
    const dir = '/faults/restart';
    const r = run(hdfs, dir, TOTAL);
    await until(() => r.drained() >= 800, 120_000, 'the first events');
    await hdfs.stop();
    const failuresBefore = metricsOf(r.sink)!.get('EventWriteFail');
    await until(() => metricsOf(r.sink)!.get('EventWriteFail') > failuresBefore, 30_000, 'a failed write while HDFS is down');
    await hdfs.start();
    await settle(r, client, dir, TOTAL, 180_000);
    const t = await tally(client, dir, TOTAL);
    console.log(`[faults] restart: ${TOTAL} events in ${t.files} files, ${t.duplicates} duplicates, ${metricsOf(r.sink)!.get('EventWriteFail')} events nacked`);
    expect(t.missing).toEqual([]);
    expect(t.partial).toEqual([]);
    expect(t.duplicates).toBeLessThanOrEqual(BATCH);
    expect((await listFiles(client, dir)).filter((f) => f.pathSuffix.endsWith('.tmp'))).toEqual([]);
  }, 420_000);

  it('the cluster killed (SIGKILL) mid-stream, DataNode and NameNode with it: nothing lost once it is back, duplicates within a batch', async () => {
    const TOTAL = 3000;
    const dir = '/faults/kill';
    const r = run(hdfs, dir, TOTAL);
    await until(() => r.drained() >= 800, 120_000, 'the first events');
    await hdfs.stop({ signal: 'SIGKILL' });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await hdfs.start();
    // A file whose APPEND the kill cut keeps its dead writer's lease for HDFS's 60 s soft limit; then it is cut back and closed.
    await settle(r, client, dir, TOTAL, 240_000);
    const t = await tally(client, dir, TOTAL);
    console.log(`[faults] kill: ${TOTAL} events in ${t.files} files, ${t.duplicates} duplicates, ${metricsOf(r.sink)!.get('EventWriteFail')} events nacked`);
    expect(t.missing).toEqual([]);
    expect(t.partial).toEqual([]);
    expect(t.duplicates).toBeLessThanOrEqual(BATCH);
  }, 420_000);

  it('an in-use file a killed writer left open (the cluster SIGKILLed in the middle of an APPEND) is closed, cut back and renamed at the next start', async () => {
    const dir = '/faults/open-left';
    const crashed = hdfsSink({ path: `${hdfs.webhdfs}${dir}`, user: hdfs.superuser, fileType: 'DataStream', rollIntervalS: 0, rollCount: 0, rollSize: 0, logger: () => undefined });
    await deliver(crashed, [Array.from({ length: 5 }, (_, i) => ({ headers: {}, body: Buffer.from(String(i)) }))]);
    const [left] = await listFiles(client, dir);
    // An APPEND whose body stops half-way: the DataNode holds the file open for it when the cluster dies.
    const step1 = (await (await fetch(`${hdfs.webhdfs}/webhdfs/v1${left!.path}?op=APPEND&noredirect=true&user.name=${hdfs.superuser}`, { method: 'POST' })).json()) as { Location: string };
    const target = new URL(step1.Location);
    const req = http.request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: 'POST', headers: { 'content-length': 1_000_000, 'content-type': 'application/octet-stream' } });
    req.on('error', () => undefined);
    req.write('5\n6\n7 half');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await hdfs.stop({ signal: 'SIGKILL' });
    req.destroy();
    await hdfs.start();
    const lines: string[] = [];
    const restarted = hdfsSink({ path: `${hdfs.webhdfs}${dir}`, user: hdfs.superuser, fileType: 'DataStream', rollIntervalS: 0, rollCount: 0, rollSize: 0, retryIntervalS: 5, logger: (_l, m) => lines.push(m) });
    await deliver(restarted, [[{ headers: {}, body: Buffer.from('after') }]]);
    // Refused while the dead writer's lease lasts (60 s), then HDFS recovers it and the file is ours to close.
    await until(async () => (await listFiles(client, dir)).filter((f) => f.pathSuffix.endsWith('.tmp')).length === 1, 150_000, 'the recovery of the open file');
    await finish(restarted);
    const recovered = (await listFiles(client, dir)).find((f) => f.path === left!.path.replace(/\.tmp$/, ''))!;
    expect(recovered, lines.join('\n')).toBeDefined();
    const text = (await client.open(recovered.path)).toString();
    // Whatever of the cut APPEND HDFS kept, only whole lines remain.
    expect(text.startsWith('0\n1\n2\n3\n4\n')).toBe(true);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toContain('half');
  }, 420_000);

  it('safe mode: writes are refused as FLUME_HDFS_SAFE_MODE and retried; delivered once it is left', async () => {
    const TOTAL = 1000;
    const dir = '/faults/safemode';
    // The first 200 are written before safe mode, the rest only once it is on: nothing can slip through
    // while the dfsadmin JVM starts on a loaded machine.
    const r = run(hdfs, dir, 200);
    await until(() => r.drained() >= 200, 120_000, 'the first events');
    await mustRun(dfsAdmin(hdfs, ['-safemode', 'enter']), 'safemode enter');
    r.push(200, TOTAL - 200);
    await until(() => r.logs.some((l) => /FLUME_HDFS_SAFE_MODE|SafeModeException/.test(l)), 60_000, 'a safe-mode refusal');
    const stuck = r.drained();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(r.drained()).toBe(stuck);
    await mustRun(dfsAdmin(hdfs, ['-safemode', 'leave']), 'safemode leave');
    await settle(r, client, dir, TOTAL, 120_000);
    const t = await tally(client, dir, TOTAL);
    expect(t.missing).toEqual([]);
    expect(t.duplicates).toBe(0);
    expect(r.logs.find((l) => /SafeModeException/.test(l))).toMatch(/Name node is in safe mode/);
  }, 300_000);
});

/** The IPC address of each DataNode (its RPC server's metrics bean is named after its port), from the cluster's JMX. */
async function dataNodeIpcAddresses(hdfs: Hdfs): Promise<string[]> {
  const jmx = (await (await fetch(`${hdfs.webhdfs}/jmx?qry=Hadoop:service=DataNode,name=RpcActivityForPort*`)).json()) as { beans: Array<{ name: string }> };
  return jmx.beans.map((b) => `127.0.0.1:${/RpcActivityForPort(\d+)$/.exec(b.name)![1]}`);
}

/** The DataNodes the NameNode counts as live. */
async function liveDataNodes(hdfs: Hdfs): Promise<number> {
  const nn = (await (await fetch(`${hdfs.webhdfs}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo`)).json()) as { beans: Array<{ LiveNodes: string }> };
  return Object.keys(JSON.parse(nn.beans[0]!.LiveNodes) as object).length;
}

describe.skipIf(env.skip)(`hdfsSink when one of two DataNodes dies${env.note}`, () => {
  let hdfs: Hdfs;
  let client: WebHdfsClient;
  beforeAll(async () => {
    if (env.skip) return;
    // The NameNode notices a dead DataNode within seconds instead of 10 minutes.
    hdfs = await startHdfs({ dataNodes: 2, conf: { 'dfs.namenode.heartbeat.recheck-interval': '2000', 'dfs.heartbeat.interval': '1' } });
    client = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser, timeoutMs: 10_000 });
  }, 240_000);
  afterAll(async () => {
    client?.close();
    await hdfs?.close();
  }, 120_000);

  it('a DataNode shut down mid-stream (replication 2): writes go on through the other; every event readable, duplicates within a batch', async () => {
    const TOTAL = 3000;
    const dir = '/faults/datanode';
    const r = run(hdfs, dir, TOTAL, 2);
    await until(() => r.drained() >= 800, 120_000, 'the first events');
    const ipc = await dataNodeIpcAddresses(hdfs);
    expect(ipc).toHaveLength(2);
    await mustRun(dfsAdmin(hdfs, ['-shutdownDatanode', ipc[0]!]), `shutdownDatanode ${ipc[0]}`);
    await until(async () => (await liveDataNodes(hdfs)) === 1, 60_000, 'the NameNode to see one DataNode');
    await settle(r, client, dir, TOTAL, 240_000);
    const t = await tally(client, dir, TOTAL);
    console.log(`[faults] datanode: ${TOTAL} events in ${t.files} files, ${t.duplicates} duplicates, ${metricsOf(r.sink)!.get('EventWriteFail')} events nacked`);
    expect(await liveDataNodes(hdfs)).toBe(1);
    expect(t.missing).toEqual([]);
    expect(t.partial).toEqual([]);
    expect(t.duplicates).toBeLessThanOrEqual(BATCH);
  }, 420_000);
});
