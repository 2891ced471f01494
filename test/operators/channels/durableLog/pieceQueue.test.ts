import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { event } from '../../../../lib/core/event.js';
import { PieceQueue } from '../../../../operators/channels/durableLog/pieceQueue.js';
import type { Piece } from '../../../../operators/channels/durableLog/pieces.js';
import type { Segment } from '../../../../operators/channels/durableLog/segmentLog.js';

const segA = { id: 1, path: 'log-1' } as Segment;
const segB = { id: 2, path: 'log-2' } as Segment;

/** A piece of `count` one-byte events numbered from `firstSeq`, at `off` (100 bytes a frame), decoded or not. */
function piece(firstSeq: number, count: number, decoded: boolean, seg = segA, off = firstSeq * 100): Piece {
  const events = Array.from({ length: count }, (_, i) => event(String((firstSeq + i) % 10)));
  return { seg, off, len: 100, firstSeq, count, from: 0, to: count, bytes: count, events: decoded ? events : undefined };
}

const seqs = (pieces: readonly Piece[]) => pieces.flatMap((p) => Array.from({ length: p.to - p.from }, (_, i) => p.firstSeq + p.from + i));

describe('PieceQueue', () => {
  it('takes only from the window of decoded pieces at the head, cutting the last piece when it holds more', () => {
    const q = new PieceQueue();
    q.push(piece(0, 3, true));
    q.push(piece(3, 3, true));
    q.push(piece(6, 3, false));
    expect(q.ahead).toBe(6);
    const t = q.take(4);
    expect(seqs(t.pieces)).toEqual([0, 1, 2, 3]);
    expect(t.events.map((e) => e.body.toString())).toEqual(['0', '1', '2', '3']);
    expect(t.bytes).toBe(4);
    expect(q.ahead).toBe(2);
    expect(seqs(q.take(10).pieces)).toEqual([4, 5]); // the undecoded piece is not taken
    expect(q.ahead).toBe(0);
    expect(seqs(q.all())).toEqual([6, 7, 8]);
  });

  it('a rolled-back take goes back in front, in order, and counts in the window again', () => {
    const q = new PieceQueue();
    for (let i = 0; i < 4; i++) q.push(piece(i * 2, 2, true));
    const t = q.take(5);
    q.unshift(t.pieces);
    expect(q.ahead).toBe(8);
    expect(seqs(q.take(8).pieces)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('the next read is a contiguous run of one segment after the window, bounded in bytes and about in events', () => {
    const q = new PieceQueue();
    q.push(piece(0, 2, true));
    q.push(piece(2, 2, false));
    q.push(piece(4, 2, false));
    q.push(piece(6, 2, false, segB, 0));
    expect(seqs(q.nextRun(100, 1 << 20)!)).toEqual([2, 3, 4, 5]); // stops at the other segment
    expect(seqs(q.nextRun(2, 1 << 20)!)).toEqual([2, 3]); // enough events
    expect(seqs(q.nextRun(100, 150)!)).toEqual([2, 3]); // two frames span 200 bytes
    const run = q.nextRun(100, 1 << 20)!;
    for (const p of run) p.events = [event('x'), event('y')];
    q.advance();
    expect(q.ahead).toBe(6);
    expect(seqs(q.nextRun(100, 1 << 20)!)).toEqual([6, 7]);
  });

  it('replaces a piece by its sound parts where it stands', () => {
    const q = new PieceQueue();
    const a = piece(0, 2, false);
    const b = piece(2, 4, false);
    q.push(a);
    q.push(b);
    q.replace(b, [{ ...b, to: 1 }, { ...b, from: 2 }]);
    expect(seqs(q.all())).toEqual([0, 1, 2, 4, 5]);
  });

  it('keeps every event in order through any mix of puts, takes and rollbacks (compaction included)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 7 }), fc.boolean()), { minLength: 1200, maxLength: 3000 }), (ops) => {
        const q = new PieceQueue();
        let next = 0;
        const delivered: number[] = [];
        for (const [size, max, rollBack] of ops) {
          q.push(piece(next, size, true));
          next += size;
          const t = q.take(max);
          // The events handed out are those of the pieces taken (bodies are sequence numbers mod 10).
          expect(t.events.map((e) => e.body.toString())).toEqual(seqs(t.pieces).map((n) => String(n % 10)));
          if (rollBack) q.unshift(t.pieces);
          else delivered.push(...seqs(t.pieces));
        }
        for (let i = 0; i < 1000 && q.ahead > 0; i++) delivered.push(...seqs(q.take(100).pieces));
        expect(delivered).toEqual(Array.from({ length: next }, (_, i) => i));
      }),
      { numRuns: 20 },
    );
  });
});
