import { describe, expect, it } from 'vitest';
import { event } from '../../../../lib/core/event.js';
import { encodePut } from '../../../../operators/channels/durableLog/format.js';
import { decodePiece, pointer, splitAround, type Piece } from '../../../../operators/channels/durableLog/pieces.js';
import type { Segment } from '../../../../operators/channels/durableLog/segmentLog.js';

const seg = { id: 3, path: '/data/log-3' } as Segment;
const events = ['a', 'bb', 'ccc', 'dddd'].map((b, i) => event(b, { i: String(i) }));

/** A frame of the four events at offset 16 of a buffer, and the piece pointing at it. */
function frame(firstSeq = 40): { buf: Buffer; piece: Piece } {
  const put = encodePut(events, firstSeq);
  const buf = Buffer.concat([Buffer.alloc(16), put]);
  return { buf, piece: { seg, off: 1016, len: put.length, firstSeq, count: 4, from: 0, to: 4, bytes: 10, events: undefined } };
}

describe('decodePiece', () => {
  it('decodes every entry of a sound frame, headers and bodies', () => {
    const { buf, piece } = frame();
    const warnings: string[] = [];
    const d = decodePiece(piece, buf, 16, (m) => warnings.push(m));
    expect(d.damaged).toEqual([]);
    expect(d.events).toEqual(events);
    expect(d.bytes).toBe(10);
    expect(warnings).toEqual([]);
  });

  it('decodes only [from, to) of a piece a take cut', () => {
    const { buf, piece } = frame();
    const d = decodePiece({ ...piece, from: 1, to: 3 }, buf, 16, () => undefined);
    expect(d.events.map((e) => e.body.toString())).toEqual(['bb', 'ccc']);
    expect(d.bytes).toBe(5);
  });

  it('leaves out an entry whose checksum fails and reports where it lies', () => {
    const { buf, piece } = frame();
    const at = buf.indexOf('ccc');
    buf[at] = 0x78; // 'xcc': same length, wrong checksum
    const warnings: string[] = [];
    const d = decodePiece(piece, buf, 16, (m) => warnings.push(m));
    expect(d.damaged).toEqual([2]);
    expect(d.events.map((e) => e.body.toString())).toEqual(['a', 'bb', 'dddd']);
    expect(d.bytes).toBe(7);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^skipped a damaged event \(sequence 42\) at \/data\/log-3@\d+$/);
  });

  it('leaves out every entry when the frame no longer matches the pointer', () => {
    const { buf, piece } = frame();
    const warnings: string[] = [];
    const d = decodePiece({ ...piece, firstSeq: 99 }, buf, 16, (m) => warnings.push(m));
    expect(d.damaged).toEqual([0, 1, 2, 3]);
    expect(d.events).toEqual([]);
    expect(warnings[0]).toMatch(/\(its record header is damaged\)$/);
  });
});

describe('splitAround', () => {
  it('keeps the sound runs around damaged entries, each with its events and bytes', () => {
    const { piece } = frame();
    const sound = [events[0]!, events[1]!, events[3]!];
    const parts = splitAround(piece, sound, [2]);
    expect(parts.map((p) => [p.from, p.to, p.bytes, p.events!.map((e) => e.body.toString())])).toEqual([
      [0, 2, 3, ['a', 'bb']],
      [3, 4, 4, ['dddd']],
    ]);
    expect(parts.every((p) => p.seg === seg && p.firstSeq === 40 && p.off === piece.off)).toBe(true);
  });

  it('is empty when every entry is damaged', () => {
    expect(splitAround(frame().piece, [], [0, 1, 2, 3])).toEqual([]);
  });
});

describe('pointer', () => {
  it('records the segment by id', () => {
    expect(pointer(frame().piece)).toEqual({ seg: 3, off: 1016, len: frame().piece.len, firstSeq: 40, count: 4, from: 0, to: 4, bytes: 10 });
  });
});
