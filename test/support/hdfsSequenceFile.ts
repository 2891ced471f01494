/**
 * A small SequenceFile v6 decoder for property tests of lib/hdfs/sequenceFile.ts: it reads what the
 * format says (header, records, sync escapes, blocks and their four sections) and reports the layout
 * too (where escapes are), so tests check framing rules Hadoop's reader would only fail on later.
 * Decompression: zlib for gzip/deflate, snappyjs for Hadoop's snappy block framing, the bzip2 tool for bzip2.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };

export class Reader {
  at = 0;
  constructor(readonly bytes: Buffer) {}
  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  int32(): number {
    const v = this.bytes.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  take(n: number): Buffer {
    if (n < 0 || this.at + n > this.bytes.length) throw new Error(`read of ${n} bytes at ${this.at} runs past ${this.bytes.length}`);
    const b = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  vlong(): bigint {
    const first = this.bytes.readInt8(this.at++);
    if (first >= -112) return BigInt(first);
    const negative = first < -120;
    const size = negative ? -119 - first : -111 - first;
    let v = 0n;
    for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(this.bytes[this.at++]!);
    return negative ? ~v : v;
  }
  vint(): number {
    return Number(this.vlong());
  }
  text(): Buffer {
    return this.take(this.vint());
  }
}

/** Hadoop's snappy block framing: [rawLen][compLen][chunk]… per block. Throws on a zero rawLen or a chunk over `maxChunk`. */
export function unframeSnappy(bytes: Buffer, maxChunk = 256 * 1024): Buffer {
  const r = new Reader(bytes);
  const out: Buffer[] = [];
  while (!r.done) {
    const rawLen = r.int32();
    if (rawLen <= 0) throw new Error(`snappy block of raw length ${rawLen} at ${r.at - 4}`);
    let got = 0;
    while (got < rawLen) {
      const chunk = Buffer.from(snappy.uncompress(r.take(r.int32())));
      if (chunk.length > maxChunk) throw new Error(`snappy chunk of ${chunk.length} bytes`);
      got += chunk.length;
      out.push(chunk);
    }
    if (got !== rawLen) throw new Error(`snappy block says ${rawLen} bytes, chunks hold ${got}`);
  }
  return Buffer.concat(out);
}

export function bunzip2(bytes: Buffer): Buffer {
  const result = spawnSync('bzip2', ['-dc'], { input: bytes, maxBuffer: 1 << 30 });
  if (result.error) throw new Error(`the bzip2 tool is needed to check bzip2 output: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`bzip2 -dc failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/** One complete stream of the codec named by its Hadoop class, decompressed; `strict` rejects trailing bytes. */
export function decompress(className: string, bytes: Buffer): Buffer {
  const simple = className.slice(className.lastIndexOf('.') + 1);
  switch (simple) {
    case 'GzipCodec':
      return zlib.gunzipSync(bytes);
    case 'DefaultCodec':
    case 'DeflateCodec':
      return zlib.inflateSync(bytes);
    case 'SnappyCodec':
      return unframeSnappy(bytes);
    case 'BZip2Codec':
      return bunzip2(bytes);
    default:
      throw new Error(`no decoder for ${className}`);
  }
}

export interface DecodedSequenceFile {
  keyClass: string;
  valueClass: string;
  compressed: boolean;
  blockCompressed: boolean;
  codec: string | undefined;
  metadata: Array<[string, string]>;
  sync: Buffer;
  headerLength: number;
  /** Keys and values as serialized Writables (a LongWritable's 8 bytes; BytesWritable and Text with their lengths); where each starts in the file (for BLOCK, where its block starts). */
  records: Array<{ key: Buffer; value: Buffer; offset: number }>;
  /** File offsets of the sync escapes. */
  escapes: number[];
  /** Records per block (BLOCK files). */
  blocks: number[];
}

export function decodeSequenceFile(bytes: Buffer): DecodedSequenceFile {
  const r = new Reader(bytes);
  const magic = r.take(4).toString('latin1');
  if (magic !== 'SEQ\x06') throw new Error(`not a v6 SequenceFile: ${JSON.stringify(magic)}`);
  const keyClass = r.text().toString();
  const valueClass = r.text().toString();
  const compressed = r.take(1)[0] === 1;
  const blockCompressed = r.take(1)[0] === 1;
  const codec = compressed ? r.text().toString() : undefined;
  const metadata: Array<[string, string]> = [];
  for (let n = r.int32(); n > 0; n--) metadata.push([r.text().toString(), r.text().toString()]);
  const sync = Buffer.from(r.take(16));
  const headerLength = r.at;
  const file: DecodedSequenceFile = { keyClass, valueClass, compressed, blockCompressed, codec, metadata, sync, headerLength, records: [], escapes: [], blocks: [] };
  const escape = () => {
    const at = r.at - 4;
    if (!r.take(16).equals(sync)) throw new Error(`sync escape at ${at} with the wrong sync bytes`);
    if (file.escapes.at(-1) === at - 20) throw new Error(`two sync escapes in a row at ${at - 20} and ${at}`);
    file.escapes.push(at);
  };
  while (!r.done) {
    const offset = r.at;
    const length = r.int32();
    if (blockCompressed) {
      if (length !== -1) throw new Error(`a block at ${r.at - 4} does not start with a sync escape`);
      escape();
      const count = r.vint();
      const section = () => new Reader(decompress(codec!, Buffer.from(r.take(r.vint()))));
      const keyLengths = section();
      const keys = section();
      const valueLengths = section();
      const values = section();
      for (let i = 0; i < count; i++) file.records.push({ key: Buffer.from(keys.take(keyLengths.vint())), value: Buffer.from(values.take(valueLengths.vint())), offset });
      for (const s of [keyLengths, keys, valueLengths, values]) if (!s.done) throw new Error('a block section holds more than its records');
      file.blocks.push(count);
      continue;
    }
    if (length === -1) {
      escape();
      continue;
    }
    const keyLength = r.int32();
    const key = Buffer.from(r.take(keyLength));
    const stored = Buffer.from(r.take(length - keyLength));
    file.records.push({ key, value: compressed ? decompress(codec!, stored) : stored, offset });
  }
  return file;
}
