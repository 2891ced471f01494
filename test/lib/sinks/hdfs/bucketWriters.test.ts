/**
 * BucketWriters' rounds on their own, against a client that records its writes and holds each until
 * released: the batches waiting while a write runs go in the next round, up to maxWriteBytes of bodies
 * (whole batches, at least one). The real-HDFS behaviour is in the hdfsSink tests.
 */
import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../../lib/core/batch.js';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import { CODECS } from '../../../../lib/hdfs/codecs.js';
import type { HdfsClient, WriteOptions } from '../../../../lib/hdfs/hdfsClient.js';
import { parseEscapes } from '../../../../lib/sinks/hdfs/bucketPath.js';
import { BucketWriters } from '../../../../lib/sinks/hdfs/bucketWriters.js';
import type { FileWriterOptions } from '../../../../lib/sinks/hdfs/fileWriters.js';
import { serializerFactory } from '../../../../lib/serializers/eventSerializer.js';
import { resolveZone } from '../../../../lib/sinks/hdfs/javaTime.js';

/** create/append recorded as their sizes; each resolves when `release` is called. */
function heldClient(): { client: HdfsClient; writes: number[]; release(): void } {
  const writes: number[] = [];
  const waiting: Array<() => void> = [];
  const write = async (_path: string, data: Uint8Array): Promise<void> => {
    writes.push(data.length);
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const client = { create: write, append: write, listStatus: async () => [], stat: async () => undefined, close: async () => undefined } as unknown as HdfsClient;
  return { client, writes, release: () => waiting.splice(0).forEach((r) => r()) };
}

function writers(client: HdfsClient, maxWriteBytes: number, writer: Partial<FileWriterOptions> = {}): BucketWriters {
  return new BucketWriters({
    name: 'k1',
    client,
    pathTokens: parseEscapes('/logs'),
    prefixTokens: parseEscapes('FlumeData'),
    escape: { zone: resolveZone('UTC'), round: undefined, useLocalTimeStamp: true, now: Date.now },
    resolveHost: async () => ({ localhost: 'h', ip: '127.0.0.1', fqdn: 'h' }),
    extension: '',
    inUsePrefix: '',
    inUseSuffix: '.tmp',
    rollIntervalMs: 0,
    rollSize: 0,
    rollCount: 0,
    idleTimeoutMs: 0,
    maxOpenFiles: 10,
    closeTries: 1,
    retryIntervalMs: 1,
    callTimeoutMs: 1000,
    replication: undefined,
    maxConcurrentWrites: 4,
    maxWriteBytes,
    recoverInUseFiles: false,
    quietMs: 10_000,
    writer: { fileType: 'DataStream', writeFormat: 'Writable', newSerializer: serializerFactory('TEXT'), serializerName: 'TEXT', serializerOutputIsFresh: true, now: Date.now, ...writer },
    tail: { fileType: 'DataStream', serializer: 'TEXT', appendNewline: true },
    counters: new ComponentCounters('SINK', 'k1'),
    log: () => undefined,
  });
}

/** A batch of `n` events of 99 bytes (100 with the newline). */
const batch = (n: number) => createBatch(Array.from({ length: n }, () => ({ headers: {}, body: Buffer.alloc(99, 0x61) })));

describe('BucketWriters rounds', () => {
  it('batches waiting while a write runs go in the next rounds, at most maxWriteBytes of bodies each (whole batches, at least one)', async () => {
    const { client, writes, release } = heldClient();
    const w = writers(client, 2000);
    const done = [w.write(batch(10))];
    await expect.poll(() => writes.length).toBe(1);
    // While the first round is held: 5 batches of 990 body bytes, and one of 3000 alone over the bound.
    for (let i = 0; i < 5; i++) done.push(w.write(batch(10)));
    done.push(w.write(batch(30)));
    for (let round = 1; round <= 4; round++) {
      release();
      await expect.poll(() => writes.length).toBe(round + 1);
    }
    release();
    await Promise.all(done);
    expect(writes).toEqual([1000, 2000, 2000, 1000, 3000]);
    await w.close();
  });

  it("hands its units over to the client (to be freed once written) only when they are its own: a built-in serializer's or a codec's", async () => {
    const handedOver = async (writer: Partial<FileWriterOptions>) => {
      const seen: Array<boolean | undefined> = [];
      const write = async (_path: string, _data: Uint8Array, options?: WriteOptions) => void seen.push(options?.handOver);
      const client = { create: write, append: write, listStatus: async () => [], stat: async () => undefined, close: async () => undefined } as unknown as HdfsClient;
      const w = writers(client, 1 << 20, writer);
      await w.write(batch(3));
      await w.write(batch(3));
      await w.close();
      return seen;
    };
    expect(await handedOver({})).toEqual([true, true]);
    // A custom serializer may keep what it returns: its bytes are left to the GC, unless a codec made new ones.
    expect(await handedOver({ serializerOutputIsFresh: false })).toEqual([false, false]);
    expect(await handedOver({ serializerOutputIsFresh: false, fileType: 'CompressedStream', codec: CODECS.gzip })).toEqual([true, true]);
    expect(await handedOver({ fileType: 'SequenceFile' })).toEqual([true, true]);
  });
});
