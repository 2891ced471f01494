/**
 * The checkpoint: a snapshot of the channel's live events (as pointers into the segments) and of how
 * far the log was written when it was taken, so a restart replays only what came after. It is written
 * to `checkpoint.tmp`, synced, then renamed over `checkpoint`: a crash at any moment leaves either the
 * old or the new checkpoint whole.
 *
 * Layout (little-endian): `RXFCKPT1`, version u32, CRC-32 u32 of the rest; next sequence f64, next
 * segment id u32, covered count u32, piece count u32; covered (segment id u32, bytes f64) × n;
 * pieces (segment u32, frame offset f64, frame length u32, frame first sequence f64, frame count u32,
 * live from u32, live to u32, body bytes f64) × n.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { crashPoint } from './crashPoints.js';
import { syncDir } from '../../../lib/fs/syncDir.js';

export const CHECKPOINT_FILE = 'checkpoint';
export const CHECKPOINT_TMP = 'checkpoint.tmp';
const MAGIC = Buffer.from('RXFCKPT1', 'latin1');
const VERSION = 1;
const HEAD = 36;
const COVERED_BYTES = 12;
const PIECE_BYTES = 44;

/** Live events [from, to) of the put frame at `off` in segment `seg`. `bytes` is their body bytes, -1 if unknown. */
export interface PiecePointer {
  seg: number;
  off: number;
  len: number;
  firstSeq: number;
  count: number;
  from: number;
  to: number;
  bytes: number;
}

export interface Checkpoint {
  nextSeq: number;
  nextSegmentId: number;
  /** Every segment that existed, and how many of its bytes the snapshot accounts for. */
  covered: Array<{ id: number; size: number }>;
  pieces: PiecePointer[];
}

export function encodeCheckpoint(
  head: Omit<Checkpoint, 'pieces'>,
  pieceCount: number,
  eachPiece: (visit: (p: PiecePointer) => void) => void,
): Buffer {
  const buf = Buffer.alloc(HEAD + COVERED_BYTES * head.covered.length + PIECE_BYTES * pieceCount);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(VERSION, 8);
  buf.writeDoubleLE(head.nextSeq, 16);
  buf.writeUInt32LE(head.nextSegmentId, 24);
  buf.writeUInt32LE(head.covered.length, 28);
  buf.writeUInt32LE(pieceCount, 32);
  let pos = HEAD;
  for (const c of head.covered) {
    buf.writeUInt32LE(c.id, pos);
    buf.writeDoubleLE(c.size, pos + 4);
    pos += COVERED_BYTES;
  }
  let written = 0;
  eachPiece((p) => {
    if (written++ >= pieceCount) throw new RangeError('more checkpoint pieces than announced');
    buf.writeUInt32LE(p.seg, pos);
    buf.writeDoubleLE(p.off, pos + 4);
    buf.writeUInt32LE(p.len, pos + 12);
    buf.writeDoubleLE(p.firstSeq, pos + 16);
    buf.writeUInt32LE(p.count, pos + 24);
    buf.writeUInt32LE(p.from, pos + 28);
    buf.writeUInt32LE(p.to, pos + 32);
    buf.writeDoubleLE(p.bytes, pos + 36);
    pos += PIECE_BYTES;
  });
  if (written !== pieceCount) throw new RangeError(`checkpoint announced ${pieceCount} pieces, got ${written}`);
  buf.writeUInt32LE(crc32(buf.subarray(16)), 12);
  return buf;
}

/** Decodes a checkpoint; a string says why it cannot be used. */
export function decodeCheckpoint(buf: Buffer): Checkpoint | string {
  if (buf.length < HEAD || !buf.subarray(0, 8).equals(MAGIC)) return 'not a checkpoint file';
  if (buf.readUInt32LE(8) !== VERSION) return `unknown checkpoint version ${buf.readUInt32LE(8)}`;
  if (crc32(buf.subarray(16)) !== buf.readUInt32LE(12)) return 'checksum mismatch';
  const coveredCount = buf.readUInt32LE(28);
  const pieceCount = buf.readUInt32LE(32);
  if (buf.length !== HEAD + COVERED_BYTES * coveredCount + PIECE_BYTES * pieceCount) return 'length mismatch';
  const covered: Checkpoint['covered'] = [];
  let pos = HEAD;
  for (let i = 0; i < coveredCount; i++, pos += COVERED_BYTES) covered.push({ id: buf.readUInt32LE(pos), size: buf.readDoubleLE(pos + 4) });
  const pieces: PiecePointer[] = new Array(pieceCount);
  for (let i = 0; i < pieceCount; i++, pos += PIECE_BYTES) {
    pieces[i] = {
      seg: buf.readUInt32LE(pos),
      off: buf.readDoubleLE(pos + 4),
      len: buf.readUInt32LE(pos + 12),
      firstSeq: buf.readDoubleLE(pos + 16),
      count: buf.readUInt32LE(pos + 24),
      from: buf.readUInt32LE(pos + 28),
      to: buf.readUInt32LE(pos + 32),
      bytes: buf.readDoubleLE(pos + 36),
    };
  }
  return { nextSeq: buf.readDoubleLE(16), nextSegmentId: buf.readUInt32LE(24), covered, pieces };
}

/** The checkpoint in `dir`: undefined when there is none, a string when it is unusable (and why). */
export async function readCheckpoint(dir: string): Promise<Checkpoint | string | undefined> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(path.join(dir, CHECKPOINT_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return decodeCheckpoint(buf);
}

/** Replaces the checkpoint atomically: temporary file, data sync, rename, directory sync. */
export async function writeCheckpoint(dir: string, buf: Buffer): Promise<void> {
  const tmp = path.join(dir, CHECKPOINT_TMP);
  const file = await fs.open(tmp, 'w');
  try {
    const half = buf.length >> 1;
    await writeFully(file, buf.subarray(0, half), 0);
    crashPoint('checkpoint-half-written');
    await writeFully(file, buf.subarray(half), half);
    await file.datasync();
  } catch (error) {
    // A part written on a full disk would hold space the channel needs.
    await file.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await file.close();
  crashPoint('checkpoint-tmp-written');
  await fs.rename(tmp, path.join(dir, CHECKPOINT_FILE));
  await syncDir(dir);
  crashPoint('checkpoint-renamed');
}

async function writeFully(file: fs.FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await file.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

