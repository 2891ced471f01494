/**
 * Reads a range of one block from a DataNode (DataTransferProtocol OP_READ_BLOCK 81): the op, a
 * BlockOpResponseProto, then packets laid out as the writer's (header, checksums, data) from the
 * chunk boundary at or before the offset asked for, ending with an empty last packet; CRC32C
 * checksums are verified; a CHECKSUM_OK status tells the DataNode the read went well.
 */
import { WebHdfsError } from '../webHdfsError.js';
import { CHECKSUM_CRC32C, clientHeader, connectDataNode, OP_READ_BLOCK, opHeader } from './blockWriter.js';
import { crc32c } from './crc32c.js';
import type { LocatedBlock } from './nameNodeClient.js';
import { delimited, Fields, message, pb } from './protobuf.js';
import { SocketReader } from './socketReader.js';

const CHECKSUM_OK = 6;

export interface BlockReadOptions {
  path: string;
  clientName: string;
  timeoutMs: number;
  component?: string | undefined;
}

/** `length` bytes of the block from `offset` (both within the block), from the first DataNode that answers. */
export async function readBlock(located: LocatedBlock, offset: number, length: number, o: BlockReadOptions): Promise<Buffer> {
  let last: unknown;
  for (const node of located.locations) {
    try {
      return await readFrom(node.ipAddr, node.xferPort, located, offset, length, o);
    } catch (error) {
      last = error;
    }
  }
  if (last) throw last;
  throw new WebHdfsError('FLUME_HDFS_IO', `HDFS read ${o.path} failed: block ${located.block.blockId} has no DataNode`, { op: 'readBlock', path: o.path, component: o.component });
}

async function readFrom(host: string, port: number, located: LocatedBlock, offset: number, length: number, o: BlockReadOptions): Promise<Buffer> {
  const target = `${host}:${port}`;
  const error = (what: string, cause?: unknown) => new WebHdfsError('FLUME_HDFS_IO', `HDFS read ${o.path} failed: ${what} (DataNode ${target})`, { op: 'readBlock', path: o.path, component: o.component, cause });
  const socket = await connectDataNode(host, port, o.timeoutMs, () => error('cannot connect'));
  const reader = new SocketReader(socket, () => `the DataNode ${target}`);
  const timer = setTimeout(() => socket.destroy(), o.timeoutMs);
  try {
    socket.write(opHeader(OP_READ_BLOCK, message(pb.bytes(1, clientHeader(located, o.clientName)), pb.uint(2, offset), pb.uint(3, length), pb.uint(4, true))));
    const answer = Fields.decode(await reader.readDelimited());
    if ((answer.num(1) ?? 1) !== 0) throw error(`read refused: ${answer.string(5) ?? `status ${answer.num(1)}`}`);
    const checksum = answer.message(4)?.message(1);
    const type = checksum?.num(1) ?? 0;
    const bpc = checksum?.num(2) ?? 512;
    const sumSize = type === 0 ? 0 : 4;
    const parts: Buffer[] = [];
    let start: number | undefined;
    for (;;) {
      const prefix = await reader.read(6);
      const payload = prefix.readUInt32BE(0);
      const header = Fields.decode(await reader.read(prefix.readUInt16BE(4)));
      const dataLen = header.num(4) ?? 0;
      const packetOffset = header.num(1) ?? 0;
      const sums = await reader.read(payload - 4 - dataLen);
      const data = await reader.read(dataLen);
      if (type === CHECKSUM_CRC32C) {
        for (let c = 0; c * bpc < dataLen; c++) {
          if (crc32c(data, c * bpc, Math.min(dataLen, (c + 1) * bpc)) !== sums.readUInt32BE(c * sumSize)) throw error(`checksum mismatch at ${packetOffset + c * bpc} of block ${located.block.blockId}`);
        }
      }
      if (dataLen > 0) {
        start ??= packetOffset;
        parts.push(data);
      }
      if (header.bool(3) || dataLen === 0) break;
    }
    socket.end(delimited(message(pb.uint(1, CHECKSUM_OK))));
    const all = Buffer.concat(parts);
    const skip = offset - (start ?? offset);
    return all.subarray(skip, skip + length);
  } catch (cause) {
    socket.destroy();
    throw cause instanceof WebHdfsError ? cause : error((cause as Error).message, cause);
  } finally {
    clearTimeout(timer);
  }
}
