/**
 * lib/hdfs/native against the run's real HDFS (NameNode RPC and DataNode pipelines, no WebHDFS): what
 * it writes is read back by Hadoop's own client (`hadoop fs -cat`) byte for byte — before the file is
 * closed too (hflush), across blocks, after a reopen — and HDFS's refusals come back with their codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeHdfsClient } from '../../../../lib/hdfs/native/nativeHdfsClient.js';
import { WebHdfsError } from '../../../../lib/hdfs/webHdfsError.js';
import { fsCat, hdfsEnv, requireHdfs, uniquePath } from '../../../support/hdfs.js';
import { refusal } from '../../../support/hdfsRefusal.js';

const env = hdfsEnv();

/** Deterministic bytes, all 256 values. */
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + (i >> 8)) & 0xff));

describe.skipIf(env.skip)(`NativeHdfsClient against HDFS${env.note}`, () => {
  let client: NativeHdfsClient;
  let dir: string;

  beforeAll(async () => {
    if (env.skip) return;
    const hdfs = requireHdfs();
    client = new NativeHdfsClient({ host: '127.0.0.1', port: hdfs.port, user: hdfs.superuser, timeoutMs: 20_000, component: 'test' });
    dir = uniquePath('native');
    expect(await client.mkdirs(dir)).toBe(true);
  });
  afterAll(() => client?.close());

  it('create and appends are hflushed: Hadoop reads every byte while the file is still open, then after it is closed', async () => {
    const hdfs = requireHdfs();
    const path = `${dir}/open.tmp`;
    // Sizes that end inside a checksum chunk, so the next write re-sends that chunk.
    const parts = [bytes(1000, 1), bytes(1, 2), bytes(511, 3), bytes(70_000, 4), Buffer.from('end\n')];
    await client.create(path, parts[0]!);
    expect(client.openFiles).toContain(path);
    expect((await fsCat(hdfs, path)).equals(parts[0]!)).toBe(true);
    for (let i = 1; i < parts.length; i++) await client.append(path, parts[i]!);
    const all = Buffer.concat(parts);
    expect((await fsCat(hdfs, path)).equals(all)).toBe(true);
    expect((await client.stat(path))!.length).toBe(all.length);
    expect(await client.rename(path, `${dir}/open`)).toBe(true);
    expect(client.openFiles).not.toContain(path);
    expect((await fsCat(hdfs, `${dir}/open`)).equals(all)).toBe(true);
    expect((await client.open(`${dir}/open`)).equals(all)).toBe(true);
    expect((await client.open(`${dir}/open`, { offset: 999, length: 600 })).equals(all.subarray(999, 1599))).toBe(true);
  });

  it('a file of several blocks (1 MiB each): ended, added and completed in order; Hadoop reads it whole', async () => {
    const hdfs = requireHdfs();
    const path = `${dir}/blocks`;
    const parts = Array.from({ length: 9 }, (_, i) => bytes(300_001 + i, i));
    await client.create(path, parts[0]!, { blockSize: 1024 * 1024 });
    for (const part of parts.slice(1)) await client.append(path, part);
    await client.closeFile(path);
    const all = Buffer.concat(parts);
    const located = await client.nn.getBlockLocations(path, 0, all.length);
    expect(located!.blocks.map((b) => Number(b.block.numBytes))).toEqual([1048576, 1048576, all.length - 2 * 1048576]);
    expect((await fsCat(hdfs, path)).equals(all)).toBe(true);
    expect((await client.open(path)).equals(all)).toBe(true);
  });

  it('a buffer handed over is freed once its write settled, after every byte is in HDFS; a slice of a larger one, or one kept, is not touched', async () => {
    const hdfs = requireHdfs();
    const path = `${dir}/handed-over`;
    // Across a block boundary: part of it goes through one pipeline, the rest through the next.
    const first = bytes(1_500_000, 5);
    const expected = [Buffer.from(first)];
    await client.create(path, first, { blockSize: 1024 * 1024, handOver: true });
    expect(first.buffer.byteLength).toBe(0);
    const larger = bytes(200_000, 6);
    const slice = larger.subarray(100, 150_100);
    expected.push(Buffer.from(slice));
    await client.append(path, slice, { handOver: true });
    expect(larger.buffer.byteLength).toBe(200_000);
    const kept = bytes(100_000, 7);
    expected.push(Buffer.from(kept));
    await client.append(path, kept);
    expect(kept.buffer.byteLength).toBe(100_000);
    await client.closeFile(path);
    expect((await fsCat(hdfs, path)).equals(Buffer.concat(expected))).toBe(true);
  });

  it('appending to a closed file reopens it on a new block', async () => {
    const hdfs = requireHdfs();
    const path = `${dir}/reopen`;
    await client.create(path, Buffer.from('first\n'));
    await client.closeFile(path);
    await client.append(path, Buffer.from('second\n'));
    await client.closeFile(path);
    expect((await fsCat(hdfs, path)).toString()).toBe('first\nsecond\n');
    expect((await client.nn.getBlockLocations(path, 0, 100))!.blocks).toHaveLength(2);
  });

  it('a file left open by a writer that is gone is recovered before it is appended to or truncated', async () => {
    const hdfs = requireHdfs();
    const path = `${dir}/orphan`;
    const gone = new NativeHdfsClient({ host: '127.0.0.1', port: hdfs.port, user: hdfs.superuser, timeoutMs: 20_000 });
    await gone.create(path, Buffer.from('kept\n'));
    // The writer dies: no complete(), its lease stays until recovered.
    gone.nn.close();
    for (const p of gone.openFiles) (gone as unknown as { streams: Map<string, { abort(): void }> }).streams.get(p)!.abort();
    // An empty append closes it (lease recovery), then an append and a truncate go through.
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      closed = await client.append(path, Buffer.alloc(0)).then(
        () => true,
        (e: unknown) => (e instanceof WebHdfsError && e.code === 'FLUME_HDFS_LEASE' ? new Promise<boolean>((r) => setTimeout(() => r(false), 200)) : Promise.reject(e)),
      );
    }
    expect(closed).toBe(true);
    expect((await fsCat(hdfs, path)).toString()).toBe('kept\n');
    await client.append(path, Buffer.from('more\n'));
    await client.closeFile(path);
    // 5 is the first block's end: a cut there needs no block recovery.
    expect(await client.truncate(path, 5)).toBe(true);
    for (let i = 0; i < 100 && (await client.stat(path))!.length !== 5; i++) await new Promise((r) => setTimeout(r, 200));
    expect((await fsCat(hdfs, path)).toString()).toBe('kept\n');
  });

  it('HDFS refusals carry their stable codes and exception names', async () => {
    const hdfs = requireHdfs();
    await client.create(`${dir}/exists`, Buffer.from('x'));
    await client.closeFile(`${dir}/exists`);
    const exists = await refusal(client.create(`${dir}/exists`, Buffer.from('y')));
    expect(exists.code).toBe('FLUME_HDFS_EXISTS');
    expect(exists.exception).toBe('FileAlreadyExistsException');
    expect(exists.message).toContain(`${dir}/exists`);
    expect((await refusal(client.listStatus(`${dir}/missing`))).code).toBe('FLUME_HDFS_NOT_FOUND');
    expect((await refusal(client.append(`${dir}/missing`, Buffer.from('z')))).code).toBe('FLUME_HDFS_NOT_FOUND');
    expect(await client.stat(`${dir}/missing`)).toBeUndefined();
    const stranger = new NativeHdfsClient({ host: '127.0.0.1', port: hdfs.port, user: 'nobody-here' });
    try {
      const denied = await refusal(stranger.create(`/native-denied-${Date.now()}`, Buffer.from('x')));
      expect(denied.code).toBe('FLUME_HDFS_PERMISSION');
      expect(denied.exception).toBe('AccessControlException');
    } finally {
      await stranger.close();
    }
    expect((await refusal(client.stat('relative/path'))).code).toBe('FLUME_HDFS_BAD_REQUEST');
  });

  it('lists a directory with the hflushed length of an open file', async () => {
    const path = `${dir}/listed/a.tmp`;
    await client.create(path, bytes(1234, 9));
    const [entry] = await client.listStatus(`${dir}/listed`);
    expect(entry).toMatchObject({ pathSuffix: 'a.tmp', type: 'FILE', length: 1234, permission: '644' });
    expect(await client.delete(path)).toBe(true);
    expect(client.openFiles).not.toContain(path);
  });

  it('a NameNode that is not there fails the call with FLUME_HDFS_IO, not a hang', async () => {
    const nowhere = new NativeHdfsClient({ host: '127.0.0.1', port: 1, user: 'x', timeoutMs: 5000 });
    const error = await refusal(nowhere.stat('/x'));
    expect(error.code).toBe('FLUME_HDFS_IO');
    await nowhere.close();
  });
});
