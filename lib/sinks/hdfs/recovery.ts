/**
 * What a crash leaves: in-use files (`.tmp`) that no writer will close. Flume leaves them as they are;
 * rxflume recovers them when it writes to the same bucket again: the file is cut back to its last
 * complete unit (a crash in the middle of a CREATE or APPEND leaves the bytes the DataNode received),
 * then renamed to its final name. How the end of a valid file is recognised, per format:
 *
 * - SequenceFile without compression: every unit ends with a sync escape (int32 −1 + the header's sync);
 * - SequenceFile with a codec: every unit is one block starting with the sync escape, whose four
 *   sections must reach the end of the file;
 * - avro_event: every unit ends with the file's sync marker (from the container header);
 * - TEXT / HEADER_AND_TEXT with appendNewline: every unit ends with a newline;
 * - CompressedStream, and text without newlines: no marker to find; kept as they are.
 */
import type { HdfsClient } from '../../hdfs/hdfsClient.js';
import type { FileType } from './fileWriters.js';

export interface TailFormat {
  fileType: FileType;
  serializer: string;
  appendNewline: boolean;
}

const WINDOW = 1024 * 1024;

/** Reads VInts and Texts from a buffer; throws RangeError past its end. */
class Cursor {
  at = 0;
  constructor(readonly bytes: Buffer) {}
  need(n: number): void {
    if (n < 0 || this.at + n > this.bytes.length) throw new RangeError('past the end');
  }
  byte(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  int32(): number {
    this.need(4);
    const v = this.bytes.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  vlong(): number {
    this.need(1);
    const first = this.bytes.readInt8(this.at++);
    if (first >= -112) return first;
    const negative = first < -120;
    const size = negative ? -119 - first : -111 - first;
    this.need(size - 1);
    let v = 0n;
    for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(this.bytes[this.at++]!);
    return Number(negative ? ~v : v);
  }
  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
  take(n: number): Buffer {
    this.need(n);
    const b = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  /** Avro's zig-zag long. */
  zigzag(): number {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) throw new RangeError('varint too long');
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }
}

/** The SequenceFile header's length, its sync marker and whether it is block-compressed. */
export function parseSequenceFileHeader(bytes: Buffer): { length: number; sync: Buffer; block: boolean } {
  const c = new Cursor(bytes);
  if (c.take(3).toString('latin1') !== 'SEQ') throw new RangeError('not a SequenceFile');
  c.byte();
  c.skip(c.vlong());
  c.skip(c.vlong());
  const compressed = c.byte() !== 0;
  const block = c.byte() !== 0;
  if (compressed) c.skip(c.vlong());
  const pairs = c.int32();
  for (let i = 0; i < pairs; i++) {
    c.skip(c.vlong());
    c.skip(c.vlong());
  }
  const sync = Buffer.from(c.take(16));
  return { length: c.at, sync, block };
}

/** The Avro container header's length and sync marker. */
export function parseAvroHeader(bytes: Buffer): { length: number; sync: Buffer } {
  const c = new Cursor(bytes);
  if (c.take(4).toString('latin1') !== 'Obj\x01') throw new RangeError('not an Avro container');
  for (let count = c.zigzag(); count !== 0; count = c.zigzag()) {
    if (count < 0) {
      count = -count;
      c.zigzag();
    }
    for (let i = 0; i < count; i++) {
      c.skip(c.zigzag());
      c.skip(c.zigzag());
    }
  }
  return { length: c.at + 16, sync: Buffer.from(c.take(16)) };
}

/** Where the last `needle` starts in [from, to) of the file, reading backwards a window at a time; −1 if nowhere. */
async function findLast(client: HdfsClient, path: string, needle: Buffer, from: number, to: number): Promise<number> {
  let end = to;
  while (end - from >= needle.length) {
    const start = Math.max(from, end - WINDOW);
    const chunk = await client.open(path, { offset: start, length: end - start });
    const at = chunk.lastIndexOf(needle);
    if (at >= 0) return start + at;
    if (start === from) return -1;
    // Overlap so a needle across the window edge is found.
    end = start + needle.length - 1;
  }
  return -1;
}

/**
 * The length of the file's valid part: up to the end of its last complete unit (`length` when it ends
 * cleanly or the format has no marker; 0 when nothing in it is complete).
 */
export async function validLength(client: HdfsClient, path: string, length: number, format: TailFormat): Promise<number> {
  if (length === 0) return 0;
  const head = await client.open(path, { offset: 0, length: Math.min(length, 64 * 1024) });
  if (format.fileType === 'SequenceFile') {
    let header: ReturnType<typeof parseSequenceFileHeader>;
    try {
      header = parseSequenceFileHeader(head);
    } catch {
      return 0;
    }
    if (length <= header.length) return length === header.length ? length : 0;
    const escape = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), header.sync]);
    const last = await findLast(client, path, escape, header.length, length);
    if (!header.block) {
      if (last < 0) return header.length;
      return last + escape.length;
    }
    if (last < 0) return header.length;
    const tail = await client.open(path, { offset: last + escape.length, length: length - last - escape.length });
    try {
      const c = new Cursor(tail);
      c.vlong();
      for (let section = 0; section < 4; section++) c.skip(c.vlong());
      return c.at === tail.length ? length : last;
    } catch {
      return last;
    }
  }
  if (format.fileType === 'DataStream' && format.serializer === 'avro_event') {
    let header: ReturnType<typeof parseAvroHeader>;
    try {
      header = parseAvroHeader(head);
    } catch {
      return 0;
    }
    const last = await findLast(client, path, header.sync, header.length, length);
    return last < 0 ? header.length : last + header.sync.length;
  }
  if (format.fileType === 'DataStream' && format.appendNewline) {
    const last = await findLast(client, path, Buffer.from('\n'), 0, length);
    return last + 1;
  }
  return length;
}
