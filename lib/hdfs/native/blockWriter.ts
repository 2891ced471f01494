/**
 * Writes one block through its DataNode pipeline (DataTransferProtocol version 28, OP_WRITE_BLOCK 80),
 * as Hadoop's DataStreamer does:
 *
 * - the op (a delimited OpWriteBlockProto: block, token, client, the other targets, stage
 *   PIPELINE_SETUP_CREATE, CRC32C per `bytesPerChecksum`), answered by a BlockOpResponseProto;
 * - packets: a 4-byte payload length, a 2-byte header length, a PacketHeaderProto (offset in block,
 *   seqno, last packet, data length), the chunks' checksums, the data; at most `packetSize` each,
 *   sent without waiting;
 * - the DataNode answers every packet with a PipelineAckProto once each node of the pipeline has it;
 *   a packet acked is in every DataNode's memory, not yet written: `flush` waiting for the last ack is
 *   Hadoop's hflush; a packet with syncBlock is acked only after every DataNode wrote and fsynced the
 *   block (hsync);
 * - a write ending inside a checksum chunk is sent again from the chunk's start by the next write (the
 *   DataNode rewrites that chunk's checksum), as Hadoop's client does after an hflush;
 * - `end` sends the empty last packet, whose ack means the block is finalized on every DataNode;
 * - idle, a heartbeat packet (seqno -1) keeps the DataNodes from timing the pipeline out.
 *
 * Any failure (a connection error, an ack that is not SUCCESS, no ack within `timeoutMs`) breaks the
 * writer for good: what it was waiting for rejects, and so does every later call.
 */
import net from 'node:net';
import { WebHdfsError } from '../webHdfsError.js';
import { crc32c } from './crc32c.js';
import { encodeBlock, type LocatedBlock } from './nameNodeClient.js';
import { delimited, Fields, message, pb } from './protobuf.js';
import { SocketReader } from './socketReader.js';

export const DATA_TRANSFER_VERSION = 28;
export const OP_WRITE_BLOCK = 80;
export const OP_READ_BLOCK = 81;
export const CHECKSUM_CRC32C = 2;
const STAGE_PIPELINE_SETUP_CREATE = 6;
const HEARTBEAT_SEQNO = -1;
/** PacketHeader.PKT_MAX_HEADER_LEN, as Hadoop sizes its packets. */
const PACKET_MAX_HEADER = 33;
const STATUS_NAMES = ['SUCCESS', 'ERROR', 'ERROR_CHECKSUM', 'ERROR_INVALID', 'ERROR_EXISTS', 'ERROR_ACCESS_TOKEN', 'CHECKSUM_OK', 'ERROR_UNSUPPORTED', 'OOB_RESTART'];

export interface BlockWriterOptions {
  path: string;
  clientName: string;
  bytesPerChecksum: number;
  /** The cluster's dfs.client-write-packet-size (64 KiB by default). */
  packetSize: number;
  timeoutMs: number;
  /** How long the pipeline may sit idle before a heartbeat (default 20 s; the DataNodes time out at 60 s). */
  heartbeatMs?: number;
  component?: string | undefined;
}

/** Opens a TCP connection to a DataNode within `timeoutMs`. */
export function connectDataNode(host: string, port: number, timeoutMs: number, what: () => WebHdfsError): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(what());
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (cause) => {
      clearTimeout(timer);
      reject(Object.assign(what(), { cause }));
    });
  });
}

/** The op header every DataTransferProtocol request starts with. */
export function opHeader(op: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.of(DATA_TRANSFER_VERSION >> 8, DATA_TRANSFER_VERSION & 0xff, op), delimited(body)]);
}

export function clientHeader(located: LocatedBlock, clientName: string): Buffer {
  return message(pb.bytes(1, message(pb.bytes(1, encodeBlock(located.block)), pb.bytes(2, located.token))), pb.string(2, clientName));
}

export class BlockWriter {
  /** Bytes sent into the block. */
  bytesInBlock = 0;
  private partial: Buffer = Buffer.alloc(0);
  private seqno = 0;
  private readonly waiting: Array<{ seqno: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private failure: WebHdfsError | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastSent = Date.now();
  private readonly chunksPerPacket: number;
  /** One chunk, for the checksum of a chunk sent in two pieces. */
  private scratch: Buffer | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: SocketReader,
    readonly located: LocatedBlock,
    private readonly o: BlockWriterOptions,
  ) {
    this.chunksPerPacket = Math.max(1, Math.floor((o.packetSize - PACKET_MAX_HEADER) / (o.bytesPerChecksum + 4)));
    socket.on('error', (cause) => this.fail('FLUME_HDFS_IO', `${cause.message} (DataNode ${this.target})`, cause));
    socket.on('close', () => this.fail('FLUME_HDFS_IO', `the DataNode ${this.target} closed the pipeline`));
    const heartbeatMs = o.heartbeatMs ?? 20_000;
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSent >= heartbeatMs && !this.failure) this.sendPacket(HEARTBEAT_SEQNO, 0, Buffer.alloc(0), false);
    }, Math.max(100, heartbeatMs / 2));
    this.heartbeat.unref();
    void this.readAcks();
  }

  private get target(): string {
    const first = this.located.locations[0];
    return first ? `${first.ipAddr}:${first.xferPort}` : '?';
  }

  /** Connects to the block's first DataNode and sets the pipeline up. */
  static async open(located: LocatedBlock, o: BlockWriterOptions): Promise<BlockWriter> {
    const first = located.locations[0];
    const error = (what: string) => new WebHdfsError('FLUME_HDFS_IO', `HDFS write ${o.path} failed: ${what}`, { op: 'writeBlock', path: o.path, component: o.component });
    if (!first) throw error(`the NameNode gave block ${located.block.blockId} no DataNode`);
    const target = `${first.ipAddr}:${first.xferPort}`;
    const socket = await connectDataNode(first.ipAddr, first.xferPort, o.timeoutMs, () => error(`cannot connect to the DataNode ${target}`));
    const reader = new SocketReader(socket, () => `the DataNode ${target}`);
    const op = message(
      pb.bytes(1, clientHeader(located, o.clientName)),
      located.locations.slice(1).map((d) => pb.bytes(2, d.raw)),
      pb.uint(4, STAGE_PIPELINE_SETUP_CREATE),
      pb.uint(5, located.locations.length),
      pb.uint(6, 0),
      pb.uint(7, 0),
      pb.uint(8, located.block.generationStamp),
      pb.bytes(9, message(pb.uint(1, CHECKSUM_CRC32C), pb.uint(2, o.bytesPerChecksum))),
      pb.bytes(10, message()),
      pb.uint(11, located.storageTypes[0] ?? 1),
      located.storageTypes.slice(1).map((t) => pb.uint(12, t)),
    );
    socket.write(opHeader(OP_WRITE_BLOCK, op));
    const timer = setTimeout(() => socket.destroy(), o.timeoutMs);
    let answer: Fields;
    try {
      answer = Fields.decode(await reader.readDelimited());
    } catch (cause) {
      socket.destroy();
      throw Object.assign(error(`the DataNode ${target} did not set the pipeline up (${(cause as Error).message})`), { cause });
    } finally {
      clearTimeout(timer);
    }
    const status = answer.num(1) ?? 1;
    if (status !== 0) {
      socket.destroy();
      const bad = answer.string(2);
      throw error(`the DataNode ${target} refused the pipeline: ${STATUS_NAMES[status] ?? status}${answer.string(5) ? ` ${answer.string(5)}` : ''}${bad ? ` (first bad link ${bad})` : ''}`);
    }
    return new BlockWriter(socket, reader, located, o);
  }

  /**
   * Sends `data` (which must fit in the block) as packets, without waiting for their acks. With `sync`
   * the last one asks the DataNodes to fsync the block before acking it (hsync): an hflush ack means only
   * that the DataNode has the packet in memory, and a DataNode killed then loses it (measured: up to
   * 13 acked rounds gone after a SIGKILL of the cluster).
   */
  write(data: Buffer, sync = false): void {
    if (this.failure) throw this.failure;
    if (data.length === 0) return;
    const bpc = this.o.bytesPerChecksum;
    const partial = this.partial;
    const total = partial.length + data.length;
    const perPacket = this.chunksPerPacket * bpc;
    let offset = this.bytesInBlock - partial.length;
    // Packets are views of `data`, the first one preceded by the unfinished chunk sent again: no copy of
    // the write (a copy of every batch was a third of the sink's garbage), nor of its first packet.
    for (let at = 0; at < total; ) {
      const end = Math.min(total, at + perPacket);
      const resent = at < partial.length ? partial : undefined;
      const piece = data.subarray(Math.max(0, at - partial.length), end - partial.length);
      this.sendPacket(this.seqno++, offset, piece, false, sync && end >= total, resent);
      offset += end - at;
      at = end;
    }
    this.bytesInBlock += data.length;
    // The unfinished chunk, copied: a view would keep the whole write's buffer alive until the next one.
    const tail = total % bpc;
    this.partial =
      tail === 0 ? Buffer.alloc(0) : tail <= data.length ? Buffer.from(data.subarray(data.length - tail)) : Buffer.concat([partial.subarray(partial.length - (tail - data.length)), data]);
  }

  /** Resolves when every packet sent so far is acked by the whole pipeline (hflush, or hsync for a packet sent with `sync`). */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // Whether anything is unacked, not whether anyone waits: a write must not resolve before its packets' acks.
    if (this.unacked === 0) return Promise.resolve();
    const last = this.seqno - 1;
    return new Promise((resolve, reject) => this.waiting.push({ seqno: last, resolve, reject }));
  }

  /** Flushes, then sends the last (empty) packet of the block and waits for its ack: the block is finalized. */
  async end(): Promise<void> {
    await this.flush();
    const seqno = this.seqno++;
    const acked = new Promise<void>((resolve, reject) => this.waiting.push({ seqno, resolve, reject }));
    this.sendPacket(seqno, this.bytesInBlock, Buffer.alloc(0), true);
    await acked;
    this.ended = true;
    this.stop();
    this.socket.end();
  }

  /** Breaks the pipeline now (the stream is abandoned). */
  abort(reason = 'the stream was abandoned'): void {
    this.fail('FLUME_HDFS_IO', reason);
  }

  private stop(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.ackTimer);
  }

  /** Sends `resent` (the block's unfinished chunk, shorter than a chunk) then `data` as one packet. */
  private sendPacket(seqno: number, offset: number, data: Buffer, last: boolean, sync = false, resent?: Buffer): void {
    const bpc = this.o.bytesPerChecksum;
    const before = resent?.length ?? 0;
    const length = before + data.length;
    const sums = Buffer.allocUnsafe(Math.ceil(length / bpc) * 4);
    let c = 0;
    let at = 0;
    if (resent && before > 0) {
      // The chunk that straddles both: checksummed in a scratch chunk, sent as the two pieces.
      at = Math.min(bpc - before, data.length);
      this.scratch ??= Buffer.allocUnsafe(bpc);
      resent.copy(this.scratch, 0);
      data.copy(this.scratch, before, 0, at);
      sums.writeUInt32BE(crc32c(this.scratch, 0, before + at), 0);
      c = 1;
    }
    for (; at < data.length; c++, at += bpc) sums.writeUInt32BE(crc32c(data, at, Math.min(data.length, at + bpc)), c * 4);
    // PacketHeaderProto: sfixed64 offsetInBlock = 1, sfixed64 seqno = 2, bool lastPacketInBlock = 3, sfixed32 dataLen = 4, bool syncBlock = 5.
    const headerLength = sync ? 27 : 25;
    const head = Buffer.allocUnsafe(4 + 2 + headerLength);
    head.writeUInt32BE(4 + sums.length + length, 0);
    head.writeUInt16BE(headerLength, 4);
    head[6] = 0x09;
    head.writeBigInt64LE(BigInt(offset), 7);
    head[15] = 0x11;
    head.writeBigInt64LE(BigInt(seqno), 16);
    head[24] = 0x18;
    head[25] = last ? 1 : 0;
    head[26] = 0x25;
    head.writeInt32LE(length, 27);
    if (sync) {
      head[31] = 0x28;
      head[32] = 1;
    }
    this.socket.cork();
    this.socket.write(head);
    if (sums.length > 0) this.socket.write(sums);
    if (before > 0) this.socket.write(resent!);
    if (data.length > 0) this.socket.write(data);
    this.socket.uncork();
    this.lastSent = Date.now();
    if (seqno !== HEARTBEAT_SEQNO) {
      this.unacked++;
      this.ackTimer ??= this.ackDeadline();
    }
  }

  /** Packets sent and not yet acked (heartbeats aside): while there are any, an ack must come within timeoutMs. */
  private unacked = 0;
  private ended = false;

  private ackDeadline(): NodeJS.Timeout {
    return setTimeout(() => this.fail('FLUME_HDFS_TIMEOUT', `no ack from the DataNode ${this.target} within ${this.o.timeoutMs} ms`), this.o.timeoutMs);
  }

  private async readAcks(): Promise<void> {
    try {
      for (;;) {
        const ack = Fields.decode(await this.reader.readDelimited());
        const seqno = ack.sint(1) ?? -2;
        const replies = ack.nums(2);
        const statuses = replies.length > 0 ? replies : ack.nums(4).map((flag) => flag & 0x0f);
        const bad = statuses.findIndex((s) => s !== 0);
        if (bad >= 0) {
          const node = this.located.locations[bad];
          this.fail('FLUME_HDFS_IO', `DataNode ${node ? `${node.ipAddr}:${node.xferPort}` : bad} answered ${STATUS_NAMES[statuses[bad]!] ?? statuses[bad]} for packet ${seqno}`);
          return;
        }
        if (seqno === HEARTBEAT_SEQNO) continue;
        this.unacked = Math.max(0, this.unacked - 1);
        clearTimeout(this.ackTimer);
        this.ackTimer = this.unacked > 0 ? this.ackDeadline() : undefined;
        while (this.waiting.length > 0 && this.waiting[0]!.seqno <= seqno) this.waiting.shift()!.resolve();
      }
    } catch (cause) {
      this.fail('FLUME_HDFS_IO', `the pipeline through ${this.target} broke: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, cause);
    }
  }

  private fail(code: 'FLUME_HDFS_IO' | 'FLUME_HDFS_TIMEOUT', what: string, cause?: unknown): void {
    if (this.failure || this.ended) return;
    this.failure = new WebHdfsError(code, `HDFS write ${this.o.path} failed: ${what}`, { op: 'writeBlock', path: this.o.path, component: this.o.component, cause });
    this.stop();
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  /** Whether the writer broke. */
  get broken(): boolean {
    return this.failure !== undefined;
  }
}
