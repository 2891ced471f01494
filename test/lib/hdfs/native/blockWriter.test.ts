/**
 * BlockWriter's acknowledgement logic against a scripted DataNode (a TCP server speaking just enough of
 * DataTransferProtocol): a write resolves only after the DataNode acked its last packet, and that
 * packet asks for an fsync (syncBlock) when the write is synced. The real DataNode is in
 * nativeHdfsClient.test.ts and the sink's cluster-kill test.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockWriter } from '../../../../lib/hdfs/native/blockWriter.js';
import type { LocatedBlock } from '../../../../lib/hdfs/native/nameNodeClient.js';
import { delimited, message, pb, readVarint } from '../../../../lib/hdfs/native/protobuf.js';

interface Packet {
  seqno: bigint;
  last: boolean;
  sync: boolean;
  dataLength: number;
  offset: bigint;
  data: Buffer;
}

/** A DataNode that accepts the pipeline, records the packets' headers and acks only when told. */
async function scriptedDataNode(): Promise<{ port: number; packets: Packet[]; ack(seqno: bigint): void; close(): Promise<void> }> {
  const packets: Packet[] = [];
  let client: net.Socket | undefined;
  const server = net.createServer((socket) => {
    client = socket;
    let buf = Buffer.alloc(0);
    let setUp = false;
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!setUp) {
        // Version (2 bytes), op (1), then a delimited OpWriteBlockProto.
        const len = buf.length > 3 ? readVarint(buf, 3) : undefined;
        if (!len || buf.length < len[1] + Number(len[0])) return;
        buf = buf.subarray(len[1] + Number(len[0]));
        socket.write(delimited(message(pb.uint(1, 0))));
        setUp = true;
      }
      while (buf.length >= 6) {
        const payload = buf.readUInt32BE(0);
        const headerLength = buf.readUInt16BE(4);
        const total = 6 + headerLength + payload - 4;
        if (buf.length < total) return;
        // PacketHeaderProto as the writer lays it out: tag 0x09 offset, 0x11 seqno, 0x18 last, 0x25 length, 0x28 syncBlock.
        const seqno = buf.readBigInt64LE(6 + 10);
        const dataLength = buf.readInt32LE(6 + 21);
        const data = Buffer.from(buf.subarray(total - dataLength, total));
        packets.push({ seqno, last: buf[6 + 19] === 1, sync: headerLength > 25 && buf[6 + 25] === 0x28 && buf[6 + 26] === 1, dataLength, offset: buf.readBigInt64LE(6 + 1), data });
        buf = buf.subarray(total);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    packets,
    ack: (seqno) => client!.write(delimited(message(pb.sint(1, seqno), pb.uint(2, 0)))),
    close: () => {
      client?.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const located = (port: number): LocatedBlock => ({
  block: { poolId: 'BP-test', blockId: 1n, generationStamp: 1001n, numBytes: 0n },
  offset: 0,
  locations: [{ raw: Buffer.alloc(0), ipAddr: '127.0.0.1', hostName: 'localhost', xferPort: port }],
  token: message(),
  storageTypes: [1],
});

const options = { path: '/t/file', clientName: 'test', bytesPerChecksum: 512, packetSize: 65_536, timeoutMs: 10_000 };
const settled = (p: Promise<unknown>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200))]);

describe('BlockWriter acks', () => {
  let dn: Awaited<ReturnType<typeof scriptedDataNode>> | undefined;
  let writer: BlockWriter | undefined;
  afterEach(async () => {
    writer?.abort();
    await dn?.close();
  });

  it('a write resolves only once the DataNode acked its last packet, and asks for an fsync when synced', async () => {
    dn = await scriptedDataNode();
    writer = await BlockWriter.open(located(dn.port), options);
    writer.write(Buffer.alloc(300, 1), true);
    const first = writer.flush();
    expect(await settled(first)).toBe(false);
    await expect.poll(() => dn!.packets.length).toBe(1);
    expect(dn.packets[0]).toMatchObject({ seqno: 0n, last: false, sync: true, dataLength: 300 });
    dn.ack(0n);
    expect(await settled(first)).toBe(true);

    // An unsynced write (hflush) is not marked; a write spanning packets marks only its last one.
    writer.write(Buffer.alloc(100, 2));
    writer.write(Buffer.alloc(200_000, 3), true);
    const second = writer.flush();
    await expect.poll(() => dn!.packets.length).toBeGreaterThan(3);
    const sent = dn.packets.slice(1);
    expect(sent.map((p) => p.sync)).toEqual([...Array(sent.length - 1).fill(false), true]);
    dn.ack(sent.at(-2)!.seqno);
    expect(await settled(second)).toBe(false);
    dn.ack(sent.at(-1)!.seqno);
    expect(await settled(second)).toBe(true);
  });

  it('writes ending inside a checksum chunk: the next write sends that chunk again from its start, and the block holds every byte once', async () => {
    dn = await scriptedDataNode();
    writer = await BlockWriter.open(located(dn.port), options);
    const writes = [Buffer.alloc(300, 1), Buffer.alloc(100, 2), Buffer.alloc(200_000, 3), Buffer.alloc(5, 4), Buffer.alloc(70_000, 5)];
    for (const w of writes) writer.write(w);
    const expected = Buffer.concat(writes);
    await expect.poll(() => dn!.packets.reduce((n, p) => Math.max(n, Number(p.offset) + p.dataLength), 0)).toBe(expected.length);
    const block = Buffer.alloc(expected.length);
    for (const p of dn.packets) {
      // Every packet starts at a chunk boundary, and what it sends again equals what was sent before.
      expect(Number(p.offset) % options.bytesPerChecksum).toBe(0);
      p.data.copy(block, Number(p.offset));
    }
    expect(block.equals(expected)).toBe(true);
    expect(writer.bytesInBlock).toBe(expected.length);
  });
});
