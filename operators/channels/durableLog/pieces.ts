/**
 * The file store's pointers to live events: a piece is a run [from, to) of one put frame's entries
 * (~100 bytes per put transaction, whatever its size), with the decoded events while they are in
 * memory. Decoding checks every entry: a damaged one is reported and left out, splitting the piece.
 */
import type { FlumeEvent } from '../../../lib/core/event.js';
import type { PiecePointer } from './checkpoint.js';
import { checkEntry, decodeEntry, entryBounds, readFrameHeader } from './format.js';
import type { Segment } from './segmentLog.js';

/** A checkpoint's pointer (`bytes` -1 until read when recovery could not tell), with its segment and, when in memory, its decoded events. */
export interface Piece extends Omit<PiecePointer, 'seg'> {
  seg: Segment;
  events: FlumeEvent[] | undefined;
}

/** What a checkpoint records of a piece. */
export function pointer(p: Piece): PiecePointer {
  return { seg: p.seg.id, off: p.off, len: p.len, firstSeq: p.firstSeq, count: p.count, from: p.from, to: p.to, bytes: p.bytes };
}

export interface Decoded {
  /** The sound events of [from, to), in order. */
  events: FlumeEvent[];
  /** Their body bytes. */
  bytes: number;
  /** Entry indexes (within the frame) that failed their checks. */
  damaged: number[];
}

/**
 * Decodes the entries [from, to) of a piece whose frame starts at `at` in `buf`. An entry whose
 * bounds or checksum fail — or every entry, when the frame header no longer matches the piece — is
 * reported through `warn` with its location and left out.
 */
export function decodePiece(p: Piece, buf: Buffer, at: number, warn: (message: string) => void): Decoded {
  const header = at + p.len <= buf.length ? readFrameHeader(buf, at, p.len) : undefined;
  const sound = typeof header === 'object' && header.length === p.len && header.firstSeq === p.firstSeq && header.count === p.count;
  const events: FlumeEvent[] = [];
  const damaged: number[] = [];
  let bytes = 0;
  for (let i = p.from; i < p.to; i++) {
    const bounds = sound ? entryBounds(buf, at, header, i) : undefined;
    const body = bounds ? checkEntry(buf, bounds[0], bounds[1]) : -1;
    if (body < 0) {
      damaged.push(i);
      warn(
        `skipped a damaged event (sequence ${p.firstSeq + i}) at ${p.seg.path}@${bounds ? p.off + (bounds[0] - at) : p.off}` +
          (sound ? '' : ' (its record header is damaged)'),
      );
      continue;
    }
    events.push(decodeEntry(buf, bounds![0], bounds![1]));
    bytes += body;
  }
  return { events, bytes, damaged };
}

/** The sound runs of a piece around its damaged entries, each with its share of `events`. */
export function splitAround(p: Piece, events: readonly FlumeEvent[], damaged: readonly number[]): Piece[] {
  const parts: Piece[] = [];
  let k = 0;
  let runFrom = -1;
  for (let i = p.from; i <= p.to; i++) {
    const bad = i === p.to || damaged.includes(i);
    if (!bad && runFrom < 0) runFrom = i;
    if (bad && runFrom >= 0) {
      const evs = events.slice(k, k + (i - runFrom));
      k += i - runFrom;
      let b = 0;
      for (const e of evs) b += e.body.length;
      parts.push({ ...p, from: runFrom, to: i, bytes: b, events: evs });
      runFrom = -1;
    }
  }
  return parts;
}
