/**
 * Helpers for the hdfsSink tests against the run's real HDFS (test/support/hdfsGlobalSetup.ts).
 */
import { createBatch } from '../../../../lib/core/batch.js';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import { metricsOf, type MetricsSnapshot } from '../../../../lib/core/metrics.js';
import type { Sink } from '../../../../lib/core/sink.js';
import { WebHdfsClient, type FileStatus } from '../../../../lib/hdfs/webHdfsClient.js';
import type { HdfsSinkOptions } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import type { HdfsCluster } from '../../../support/hdfs.js';

/** Offers one batch to the sink; resolves 'ack' or the nack's error. */
export function send(sink: Sink, events: readonly FlumeEvent[]): Promise<'ack' | Error> {
  return new Promise((resolve) => {
    sink.next(createBatch(events, { onAck: () => resolve('ack'), onNack: (e) => resolve(e) }));
  });
}

/** Offers the batches one after the other; throws on the first nack. */
export async function deliver(sink: Sink, batches: readonly (readonly FlumeEvent[])[]): Promise<void> {
  for (const batch of batches) {
    const outcome = await send(sink, batch);
    if (outcome !== 'ack') throw outcome;
  }
}

export async function finish(sink: Sink): Promise<void> {
  sink.complete();
  await sink.closed;
}

export const counters = (sink: Sink): MetricsSnapshot => metricsOf(sink)!.snapshot();

export function clientOf(hdfs: HdfsCluster, user = hdfs.superuser): WebHdfsClient {
  return new WebHdfsClient({ url: hdfs.webhdfs, user });
}

/** Every file under `dir`, recursively, as absolute paths with their status; [] when `dir` does not exist. */
export async function listFiles(client: WebHdfsClient, dir: string): Promise<Array<FileStatus & { path: string }>> {
  let entries: FileStatus[];
  try {
    entries = await client.listStatus(dir);
  } catch (error) {
    if ((error as { code?: string }).code === 'FLUME_HDFS_NOT_FOUND') return [];
    throw error;
  }
  const out: Array<FileStatus & { path: string }> = [];
  for (const e of entries) {
    const path = `${dir}/${e.pathSuffix}`;
    if (e.type === 'DIRECTORY') out.push(...(await listFiles(client, path)));
    else out.push({ ...e, path });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

/** Polls `check` every 100 ms until it holds, for at most `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Which transport the sink tests write with: Hadoop's RPC and DataTransferProtocol by default (the
 * sink's own choice for an hdfs:// path), WebHDFS with `RXFLUME_HDFS_TRANSPORT=webhdfs` (the same tests,
 * run again over an http:// path).
 */
export const TRANSPORT: 'webhdfs' | 'native' = process.env['RXFLUME_HDFS_TRANSPORT'] === 'webhdfs' ? 'webhdfs' : 'native';

/** The sink's path for `dir` of the cluster: hdfs://host:rpcPort/dir (native, no transport option: the default picks it), or http://host:port/dir under TRANSPORT webhdfs. */
export const pathOn = (hdfs: HdfsCluster, dir: string): string => `${TRANSPORT === 'native' ? hdfs.uri : hdfs.webhdfs}${dir}`;

/** A sink on `dir` as the superuser that never rolls by itself and retries after 1 s, quiet; `over` changes any of it. */
export const sinkOptions = (hdfs: HdfsCluster, dir: string, over: Partial<HdfsSinkOptions> = {}): HdfsSinkOptions => ({
  path: pathOn(hdfs, dir),
  user: hdfs.superuser,
  rollCount: 0,
  rollSize: 0,
  rollIntervalS: 0,
  retryIntervalS: 1,
  logger: () => undefined,
  ...over,
});

/** An event with a `timestamp` header (and `seq`), its body `body` or `event <i>`. */
export function ev(i: number, headers: Record<string, string> = {}, body?: string | Buffer): FlumeEvent {
  return { headers: { timestamp: String(1_700_000_000_000 + i), seq: String(i), ...headers }, body: body === undefined ? Buffer.from(`event ${i}`) : Buffer.isBuffer(body) ? body : Buffer.from(body) };
}
