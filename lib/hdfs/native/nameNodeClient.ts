/**
 * The NameNode calls a writer needs, over HadoopRpcClient: ClientNamenodeProtocol's messages with the
 * field numbers of hadoop-hdfs-client's ClientNamenodeProtocol.proto and hdfs.proto, decoded into
 * plain objects. A block's ExtendedBlockProto and a DataNode's DatanodeInfoProto are kept as read, so
 * they go back to the NameNode and the DataNodes unchanged.
 */
import type { FileStatus } from '../webHdfsClient.js';
import { HadoopRpcClient, type HadoopRpcOptions } from './hadoopRpc.js';
import { Fields, message, pb } from './protobuf.js';

export const CLIENT_PROTOCOL = 'org.apache.hadoop.hdfs.protocol.ClientProtocol';

/** CreateFlagProto bits. */
export const CREATE_FLAG = { CREATE: 0x01, OVERWRITE: 0x02, APPEND: 0x04, NEW_BLOCK: 0x20 } as const;

export interface ServerDefaults {
  blockSize: number;
  bytesPerChecksum: number;
  writePacketSize: number;
  replication: number;
  /** ChecksumTypeProto: 0 none, 1 CRC32, 2 CRC32C. */
  checksumType: number;
}

export interface ExtendedBlock {
  poolId: string;
  blockId: bigint;
  generationStamp: bigint;
  numBytes: bigint;
}

export interface DatanodeInfo {
  /** The DatanodeInfoProto as the NameNode sent it. */
  raw: Buffer;
  ipAddr: string;
  hostName: string;
  xferPort: number;
}

export interface LocatedBlock {
  block: ExtendedBlock;
  /** Offset of the block's first byte in the file. */
  offset: number;
  locations: DatanodeInfo[];
  /** The TokenProto as sent (empty fields without security). */
  token: Buffer;
  storageTypes: number[];
}

export interface LocatedBlocks {
  fileLength: number;
  blocks: LocatedBlock[];
  underConstruction: boolean;
  lastBlock: LocatedBlock | undefined;
  lastBlockComplete: boolean;
}

export interface HdfsFileStatus extends FileStatus {
  fileId: number;
}

export function encodeBlock(b: ExtendedBlock): Buffer {
  return message(pb.string(1, b.poolId), pb.uint(2, b.blockId), pb.uint(3, b.generationStamp), pb.uint(4, b.numBytes));
}

function decodeBlock(f: Fields): ExtendedBlock {
  return { poolId: f.string(1) ?? '', blockId: f.big(2) ?? 0n, generationStamp: f.big(3) ?? 0n, numBytes: f.big(4) ?? 0n };
}

function decodeDatanode(raw: Buffer): DatanodeInfo {
  const id = Fields.decode(raw).message(1);
  if (!id) throw new Error('a DatanodeInfoProto without its id');
  return { raw, ipAddr: id.string(1) ?? '', hostName: id.string(2) ?? '', xferPort: id.num(4) ?? 0 };
}

function decodeLocatedBlock(f: Fields): LocatedBlock {
  const b = f.message(1);
  if (!b) throw new Error('a LocatedBlockProto without its block');
  return {
    block: decodeBlock(b),
    offset: f.num(2) ?? 0,
    locations: f.allBytes(3).map(decodeDatanode),
    token: f.bytes(5) ?? message(pb.bytes(1, Buffer.alloc(0)), pb.bytes(2, Buffer.alloc(0)), pb.string(3, ''), pb.string(4, '')),
    storageTypes: f.nums(7),
  };
}

function decodeLocatedBlocks(f: Fields): LocatedBlocks {
  const last = f.message(4);
  return {
    fileLength: f.num(1) ?? 0,
    blocks: f.messages(2).map(decodeLocatedBlock),
    underConstruction: f.bool(3) ?? false,
    lastBlock: last ? decodeLocatedBlock(last) : undefined,
    lastBlockComplete: f.bool(5) ?? true,
  };
}

const FILE_TYPES = { 1: 'DIRECTORY', 2: 'FILE', 3: 'SYMLINK' } as const;

function decodeStatus(f: Fields): HdfsFileStatus {
  return {
    pathSuffix: f.string(2) ?? '',
    type: FILE_TYPES[(f.num(1) ?? 2) as 1 | 2 | 3] ?? 'FILE',
    length: f.num(3) ?? 0,
    owner: f.string(5) ?? '',
    group: f.string(6) ?? '',
    permission: ((f.message(4)?.num(1) ?? 0) & 0o1777).toString(8),
    replication: f.num(10) ?? 0,
    blockSize: f.num(11) ?? 0,
    modificationTime: f.num(7) ?? 0,
    accessTime: f.num(8) ?? 0,
    fileId: f.num(13) ?? 0,
  };
}

const permission = (mode: number): Buffer => message(pb.uint(1, mode));

export class NameNodeClient {
  readonly rpc: HadoopRpcClient;

  constructor(options: Omit<HadoopRpcOptions, 'protocol'>) {
    this.rpc = new HadoopRpcClient({ ...options, protocol: CLIENT_PROTOCOL });
  }

  close(): void {
    this.rpc.close();
  }

  async getServerDefaults(): Promise<ServerDefaults> {
    const d = (await this.rpc.call('getServerDefaults', Buffer.alloc(0))).message(1);
    if (!d) throw new Error('getServerDefaults: no serverDefaults in the answer');
    return { blockSize: d.num(1)!, bytesPerChecksum: d.num(2)!, writePacketSize: d.num(3)!, replication: d.num(4)!, checksumType: d.num(8) ?? 1 };
  }

  async getFileInfo(src: string): Promise<HdfsFileStatus | undefined> {
    const fs = (await this.rpc.call('getFileInfo', message(pb.string(1, src)), src)).message(1);
    return fs ? decodeStatus(fs) : undefined;
  }

  /** The whole listing (paged by the NameNode's dfs.ls.limit). Undefined when `src` does not exist. */
  async getListing(src: string): Promise<HdfsFileStatus[] | undefined> {
    const out: HdfsFileStatus[] = [];
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const list = (await this.rpc.call('getListing', message(pb.string(1, src), pb.bytes(2, after), pb.uint(3, false)), src)).message(1);
      if (!list) return undefined;
      const page = list.messages(1);
      out.push(...page.map(decodeStatus));
      if ((list.num(2) ?? 0) === 0 || page.length === 0) return out;
      after = page[page.length - 1]!.bytes(2) ?? Buffer.alloc(0);
    }
  }

  async mkdirs(src: string, mode: number): Promise<boolean> {
    return (await this.rpc.call('mkdirs', message(pb.string(1, src), pb.bytes(2, permission(mode)), pb.uint(3, true)), src)).bool(1) ?? false;
  }

  async create(src: string, o: { mode: number; clientName: string; flags: number; createParent: boolean; replication: number; blockSize: number }): Promise<HdfsFileStatus> {
    const fs = (
      await this.rpc.call(
        'create',
        message(pb.string(1, src), pb.bytes(2, permission(o.mode)), pb.string(3, o.clientName), pb.uint(4, o.flags), pb.uint(5, o.createParent), pb.uint(6, o.replication), pb.uint(7, o.blockSize)),
        src,
      )
    ).message(1);
    if (!fs) throw new Error(`create ${src}: the NameNode sent no file status`);
    return decodeStatus(fs);
  }

  async append(src: string, clientName: string, flags: number): Promise<{ block: LocatedBlock | undefined; stat: HdfsFileStatus | undefined }> {
    const r = await this.rpc.call('append', message(pb.string(1, src), pb.string(2, clientName), pb.uint(3, flags)), src);
    const block = r.message(1);
    const stat = r.message(2);
    return { block: block ? decodeLocatedBlock(block) : undefined, stat: stat ? decodeStatus(stat) : undefined };
  }

  async addBlock(src: string, clientName: string, previous: ExtendedBlock | undefined, fileId: number): Promise<LocatedBlock> {
    const r = await this.rpc.call('addBlock', message(pb.string(1, src), pb.string(2, clientName), previous && pb.bytes(3, encodeBlock(previous)), pb.uint(5, fileId)), src);
    const b = r.message(1);
    if (!b) throw new Error(`addBlock ${src}: no block in the answer`);
    return decodeLocatedBlock(b);
  }

  async complete(src: string, clientName: string, last: ExtendedBlock | undefined, fileId: number): Promise<boolean> {
    return (await this.rpc.call('complete', message(pb.string(1, src), pb.string(2, clientName), last && pb.bytes(3, encodeBlock(last)), pb.uint(4, fileId)), src)).bool(1) ?? false;
  }

  async rename(src: string, dst: string): Promise<boolean> {
    return (await this.rpc.call('rename', message(pb.string(1, src), pb.string(2, dst)), src)).bool(1) ?? false;
  }

  async delete(src: string, recursive: boolean): Promise<boolean> {
    return (await this.rpc.call('delete', message(pb.string(1, src), pb.uint(2, recursive)), src)).bool(1) ?? false;
  }

  async truncate(src: string, newLength: number, clientName: string): Promise<boolean> {
    return (await this.rpc.call('truncate', message(pb.string(1, src), pb.uint(2, newLength), pb.string(3, clientName)), src)).bool(1) ?? false;
  }

  async renewLease(clientName: string): Promise<void> {
    await this.rpc.call('renewLease', message(pb.string(1, clientName)));
  }

  /** True once the file is closed; false while its last block is being recovered. */
  async recoverLease(src: string, clientName: string): Promise<boolean> {
    return (await this.rpc.call('recoverLease', message(pb.string(1, src), pb.string(2, clientName)), src)).bool(1) ?? false;
  }

  async getBlockLocations(src: string, offset: number, length: number): Promise<LocatedBlocks | undefined> {
    const l = (await this.rpc.call('getBlockLocations', message(pb.string(1, src), pb.uint(2, offset), pb.uint(3, length)), src)).message(1);
    return l ? decodeLocatedBlocks(l) : undefined;
  }
}
