/**
 * The file store's queue of live pieces, oldest first, with a window at the head of pieces whose
 * events are in memory: takes come from the window, reads fill it (one contiguous stretch of one
 * segment at a time), a rolled-back take goes back in front of it.
 */
import type { FlumeEvent } from '../../../lib/core/event.js';
import type { Piece } from './pieces.js';

export interface TakenPieces {
  pieces: Piece[];
  events: FlumeEvent[];
  bytes: number;
}

export class PieceQueue {
  private readonly pieces: Piece[] = [];
  private head = 0;
  /** pieces[head, cursor) are in memory. */
  private cursor = 0;
  /** Events in pieces[head, cursor): takeable without a read. */
  ahead = 0;

  push(p: Piece): void {
    this.pieces.push(p);
    this.advance();
  }

  /** Widens the window over pieces decoded since. */
  advance(): void {
    const pieces = this.pieces;
    while (this.cursor < pieces.length && pieces[this.cursor]!.events) {
      const p = pieces[this.cursor++]!;
      this.ahead += p.to - p.from;
    }
  }

  /** Every piece in the queue, head first (a copy). */
  all(): Piece[] {
    return this.pieces.slice(this.head);
  }

  /** The next pieces to read: after the window, of one segment, spanning at most `maxBytes`, about `maxEvents` events. */
  nextRun(maxEvents: number, maxBytes: number): Piece[] | undefined {
    if (this.cursor >= this.pieces.length) return undefined;
    const first = this.pieces[this.cursor]!;
    const run = [first];
    let start = first.off;
    let end = first.off + first.len;
    let events = first.to - first.from;
    for (let i = this.cursor + 1; i < this.pieces.length && events < maxEvents; i++) {
      const p = this.pieces[i]!;
      if (p.events || p.seg !== first.seg) break;
      const s = Math.min(start, p.off);
      const e = Math.max(end, p.off + p.len);
      if (e - s > maxBytes) break;
      start = s;
      end = e;
      run.push(p);
      events += p.to - p.from;
    }
    return run;
  }

  /** Puts `parts` where `p` was (a piece split around damaged entries). */
  replace(p: Piece, parts: readonly Piece[]): void {
    const index = this.pieces.indexOf(p, this.head);
    if (index >= 0) this.pieces.splice(index, 1, ...parts);
  }

  /** Up to `max` events from the window, cutting the last piece when it holds more. */
  take(max: number): TakenPieces {
    const taken: Piece[] = [];
    let events: FlumeEvent[] | undefined;
    let merged = false;
    let n = 0;
    let bytes = 0;
    while (n < max && this.head < this.cursor) {
      const p = this.pieces[this.head]!;
      let piece: Piece;
      if (p.to - p.from <= max - n) {
        piece = p;
        this.pieces[this.head++] = undefined as unknown as Piece;
      } else {
        const k = max - n;
        const part = p.events!.slice(0, k);
        let b = 0;
        for (const e of part) b += e.body.length;
        piece = { ...p, to: p.from + k, bytes: b, events: part };
        p.from += k;
        p.bytes -= b;
        p.events = p.events!.slice(k);
      }
      if (events === undefined) events = piece.events!;
      else {
        // Copy once into a fresh array, then append: never concat per piece (quadratic for small puts).
        if (!merged) {
          events = events.slice();
          merged = true;
        }
        for (const e of piece.events!) events.push(e);
      }
      taken.push(piece);
      n += piece.to - piece.from;
      bytes += piece.bytes;
    }
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.pieces.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
    this.ahead -= n;
    return { pieces: taken, events: events ?? [], bytes };
  }

  /** Puts taken pieces back at the head, in order. */
  unshift(pieces: readonly Piece[]): void {
    for (let i = pieces.length - 1; i >= 0; i--) {
      const p = pieces[i]!;
      if (this.head > 0) this.pieces[--this.head] = p;
      else {
        this.pieces.unshift(p);
        this.cursor++;
      }
      this.ahead += p.to - p.from;
    }
  }
}
