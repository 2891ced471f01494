/**
 * The on-disk format of the file channel's write-ahead log. All integers little-endian.
 *
 * Segment file `log-<id>`: a 16-byte header (`RXFLUMEL`, version u32, id u32), then frames.
 *
 * Frame (one put transaction, or one batch of take commits):
 *
 *     0  u32  magic 0x31465852 ("RXF1")
 *     4  u32  frame length in bytes, header included
 *     8  u32  CRC-32 of bytes 4..8 then 12..end of header
 *    12  u8   type: 1 put, 2 take
 *    13  3 bytes reserved (0)
 *    16  f64  put: sequence number of the first event; take: 0
 *    24  u32  put: event count; take: range count
 *    28  put: u32 × count offsets of each entry from the frame start, then the entries;
 *        take: (f64 first sequence, u32 count) × count — the events whose take was committed.
 *
 * Put entry (one event): u32 CRC-32 of the rest of the entry, u16 header count, per header
 * (u16 key bytes, u32 value bytes, key, value) in UTF-8, then the body up to the next entry.
 *
 * The header checksum makes a frame's length and offsets trustworthy, so a damaged event costs only
 * itself; the magic lets recovery find the next frame after a damaged one.
 */
import type { FlumeEvent } from '../../../lib/core/event.js';
import { crc32 } from './crc32.js';

export const SEGMENT_MAGIC = Buffer.from('RXFLUMEL', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
export const FRAME_MAGIC = 0x31465852;
export const FRAME_MAGIC_BYTES = Buffer.from([0x52, 0x58, 0x46, 0x31]);
export const FRAME_HEADER_BYTES = 28;
export const FRAME_PUT = 1;
export const FRAME_TAKE = 2;
/** Smallest put entry: its checksum and header count. */
const MIN_ENTRY_BYTES = 6;
const TAKE_RANGE_BYTES = 12;
/** Frames are addressed with u32 offsets and read into one Buffer. */
export const MAX_FRAME_BYTES = 0x7fff_ffff;

export function segmentHeader(id: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(SEGMENT_VERSION, 8);
  buf.writeUInt32LE(id, 12);
  return buf;
}

/** The segment id a header names, or undefined when it is not a valid header. */
export function readSegmentHeader(buf: Buffer): number | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES || !buf.subarray(0, 8).equals(SEGMENT_MAGIC)) return undefined;
  if (buf.readUInt32LE(8) !== SEGMENT_VERSION) return undefined;
  return buf.readUInt32LE(12);
}

/** Bytes a put frame of these events takes; throws when a header or the frame exceeds the format's limits. */
export function putFrameSize(events: readonly FlumeEvent[]): number {
  let size = FRAME_HEADER_BYTES + 4 * events.length;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    size += MIN_ENTRY_BYTES + e.body.length;
    const headers = e.headers;
    let n = 0;
    for (const key in headers) {
      const kl = Buffer.byteLength(key, 'utf8');
      if (kl > 0xffff) throw new RangeError(`header key of ${kl} bytes exceeds the file channel's limit of 65535`);
      size += 6 + kl + Buffer.byteLength(headers[key]!, 'utf8');
      n++;
    }
    if (n > 0xffff) throw new RangeError(`${n} headers exceed the file channel's limit of 65535 per event`);
  }
  if (size > MAX_FRAME_BYTES) throw new RangeError(`a put of ${size} bytes exceeds the file channel's frame limit of ${MAX_FRAME_BYTES}`);
  return size;
}

/** Encodes one put transaction as a frame; events get sequence numbers firstSeq, firstSeq+1, … */
export function encodePut(events: readonly FlumeEvent[], firstSeq: number, size = putFrameSize(events)): Buffer {
  const buf = Buffer.allocUnsafe(size);
  const count = events.length;
  writeFrameHeader(buf, size, FRAME_PUT, firstSeq, count);
  let pos = FRAME_HEADER_BYTES + 4 * count;
  for (let i = 0; i < count; i++) {
    const e = events[i]!;
    buf.writeUInt32LE(pos, FRAME_HEADER_BYTES + 4 * i);
    const start = pos;
    pos += 4;
    const countAt = pos;
    pos += 2;
    let n = 0;
    const headers = e.headers;
    for (const key in headers) {
      const value = headers[key]!;
      const kl = buf.write(key, pos + 6, 'utf8');
      const vl = buf.write(value, pos + 6 + kl, 'utf8');
      buf.writeUInt16LE(kl, pos);
      buf.writeUInt32LE(vl, pos + 2);
      pos += 6 + kl + vl;
      n++;
    }
    buf.writeUInt16LE(n, countAt);
    buf.set(e.body, pos);
    pos += e.body.length;
    buf.writeUInt32LE(crc32(buf.subarray(start + 4, pos)), start);
  }
  sealHeader(buf, 0, FRAME_HEADER_BYTES + 4 * count);
  return buf;
}

/** Encodes committed takes: `ranges` holds pairs (first sequence, count). */
export function encodeTake(ranges: readonly number[]): Buffer {
  const count = ranges.length / 2;
  const size = FRAME_HEADER_BYTES + TAKE_RANGE_BYTES * count;
  const buf = Buffer.allocUnsafe(size);
  writeFrameHeader(buf, size, FRAME_TAKE, 0, count);
  for (let i = 0; i < count; i++) {
    buf.writeDoubleLE(ranges[2 * i]!, FRAME_HEADER_BYTES + TAKE_RANGE_BYTES * i);
    buf.writeUInt32LE(ranges[2 * i + 1]!, FRAME_HEADER_BYTES + TAKE_RANGE_BYTES * i + 8);
  }
  sealHeader(buf, 0, size);
  return buf;
}

function writeFrameHeader(buf: Buffer, size: number, type: number, firstSeq: number, count: number): void {
  buf.writeUInt32LE(FRAME_MAGIC, 0);
  buf.writeUInt32LE(size, 4);
  buf.writeUInt32LE(0, 8);
  buf.writeUInt32LE(type, 12); // type and three zero bytes
  buf.writeDoubleLE(firstSeq, 16);
  buf.writeUInt32LE(count, 24);
}

function sealHeader(buf: Buffer, at: number, headerEnd: number): void {
  buf.writeUInt32LE(headerChecksum(buf, at, headerEnd), at + 8);
}

function headerChecksum(buf: Buffer, at: number, headerEnd: number): number {
  return crc32(buf.subarray(at + 12, at + headerEnd), crc32(buf.subarray(at + 4, at + 8)));
}

export interface FrameHeader {
  type: typeof FRAME_PUT | typeof FRAME_TAKE;
  length: number;
  firstSeq: number;
  count: number;
  /** Bytes of the checksummed header (for a take frame, the whole frame). */
  headerBytes: number;
}

/**
 * Reads and verifies the frame header at `at` in `buf` (which must hold `buf.length - at` bytes of
 * the file from there, at most `remaining` of which belong to the file). Returns the number of bytes
 * needed when `buf` holds too few, `undefined` when this is not a valid frame.
 */
export function readFrameHeader(buf: Buffer, at: number, remaining: number): FrameHeader | number | undefined {
  const have = buf.length - at;
  if (remaining < FRAME_HEADER_BYTES) return undefined;
  if (have < FRAME_HEADER_BYTES) return FRAME_HEADER_BYTES;
  if (buf.readUInt32LE(at) !== FRAME_MAGIC) return undefined;
  const length = buf.readUInt32LE(at + 4);
  const type = buf[at + 12];
  if (buf[at + 13] !== 0 || buf[at + 14] !== 0 || buf[at + 15] !== 0) return undefined;
  if (length < FRAME_HEADER_BYTES || length > remaining || length > MAX_FRAME_BYTES) return undefined;
  const firstSeq = buf.readDoubleLE(at + 16);
  const count = buf.readUInt32LE(at + 24);
  let headerBytes: number;
  if (type === FRAME_PUT) {
    if (count === 0 || FRAME_HEADER_BYTES + count * (4 + MIN_ENTRY_BYTES) > length) return undefined;
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 0) return undefined;
    headerBytes = FRAME_HEADER_BYTES + 4 * count;
  } else if (type === FRAME_TAKE) {
    if (length !== FRAME_HEADER_BYTES + TAKE_RANGE_BYTES * count) return undefined;
    headerBytes = length;
  } else {
    return undefined;
  }
  if (have < headerBytes) return headerBytes;
  if (headerChecksum(buf, at, headerBytes) !== buf.readUInt32LE(at + 8)) return undefined;
  return { type, length, firstSeq, count, headerBytes };
}

/**
 * The (first sequence, count) pairs of a verified take frame at `at`; returns how many pairs were
 * impossible (not sequence numbers: skipped).
 */
export function readTakeRanges(buf: Buffer, at: number, header: FrameHeader, into: number[]): number {
  let bad = 0;
  for (let i = 0; i < header.count; i++) {
    const p = at + FRAME_HEADER_BYTES + TAKE_RANGE_BYTES * i;
    const first = buf.readDoubleLE(p);
    const count = buf.readUInt32LE(p + 8);
    if (Number.isSafeInteger(first) && first >= 0 && count > 0 && first + count <= Number.MAX_SAFE_INTEGER) into.push(first, count);
    else bad++;
  }
  return bad;
}

/**
 * Start and end of put entry `i` of the verified frame at `at` (whole frame in `buf`), or
 * undefined when its offsets are impossible.
 */
export function entryBounds(buf: Buffer, at: number, header: FrameHeader, i: number): [number, number] | undefined {
  const start = buf.readUInt32LE(at + FRAME_HEADER_BYTES + 4 * i);
  const end = i + 1 < header.count ? buf.readUInt32LE(at + FRAME_HEADER_BYTES + 4 * (i + 1)) : header.length;
  if (start < header.headerBytes || end > header.length || end - start < MIN_ENTRY_BYTES) return undefined;
  return [at + start, at + end];
}

/** Body length of the entry in [start, end) when its checksum and layout are sound; -1 when damaged. */
export function checkEntry(buf: Buffer, start: number, end: number): number {
  if (crc32(buf.subarray(start + 4, end)) !== buf.readUInt32LE(start)) return -1;
  const n = buf.readUInt16LE(start + 4);
  let pos = start + 6;
  for (let h = 0; h < n; h++) {
    if (pos + 6 > end) return -1;
    pos += 6 + buf.readUInt16LE(pos) + buf.readUInt32LE(pos + 2);
  }
  return pos > end ? -1 : end - pos;
}

/** Decodes a checked entry; the body is a view of `buf`, not a copy. */
export function decodeEntry(buf: Buffer, start: number, end: number): FlumeEvent {
  const n = buf.readUInt16LE(start + 4);
  let pos = start + 6;
  const headers: Record<string, string> = {};
  for (let h = 0; h < n; h++) {
    const kl = buf.readUInt16LE(pos);
    const vl = buf.readUInt32LE(pos + 2);
    const k = buf.toString('utf8', pos + 6, pos + 6 + kl);
    const v = buf.toString('utf8', pos + 6 + kl, pos + 6 + kl + vl);
    // A plain assignment to `__proto__` would set the prototype and lose the header.
    if (k === '__proto__') Object.defineProperty(headers, k, { value: v, enumerable: true, writable: true, configurable: true });
    else headers[k] = v;
    pos += 6 + kl + vl;
  }
  return { headers, body: buf.subarray(pos, end) };
}
