import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineScanner, type LongLinePolicy } from '../../../../lib/sources/taildir/lineScanner.js';

interface Line {
  body: string; // hex, so byte-exact comparisons print readably
  offset: number;
  end: number;
}

/** The reference: the whole content split at once, with the rules the scanner documents. */
function oneShot(content: Uint8Array, max: number, mode: LongLinePolicy): { lines: Line[]; offset: number; flushed: Line[] } {
  const hex = (from: number, to: number) => Buffer.from(content.subarray(from, to)).toString('hex');
  const lines: Line[] = [];
  let s = 0;
  for (let at = content.indexOf(10, s); at !== -1; at = content.indexOf(10, s)) {
    const end = at > s && content[at - 1] === 13 ? at - 1 : at;
    if (end - s <= max) lines.push({ body: hex(s, end), offset: s, end: at + 1 });
    else if (mode === 'truncate') lines.push({ body: hex(s, s + max), offset: s, end: at + 1 });
    else {
      let k = s;
      for (; end - k > max; k += max) lines.push({ body: hex(k, k + max), offset: k, end: k + max });
      lines.push({ body: hex(k, end), offset: k, end: at + 1 });
    }
    s = at + 1;
  }
  // The partial tail: split mode emits the pieces it can already be sure of; truncate keeps the head.
  let offset = s;
  const flushed: Line[] = [];
  if (mode === 'split') {
    while (content.length - offset >= max + 2) {
      lines.push({ body: hex(offset, offset + max), offset, end: offset + max });
      offset += max;
    }
    let k = offset;
    for (; content.length - k > max; k += max) flushed.push({ body: hex(k, k + max), offset: k, end: k + max });
    if (k < content.length) flushed.push({ body: hex(k, content.length), offset: k, end: content.length });
  } else if (content.length > offset) {
    flushed.push({ body: hex(offset, offset + Math.min(max, content.length - offset)), offset, end: content.length });
  }
  return { lines, offset, flushed };
}

const bytes = fc.array(fc.oneof(fc.constantFrom(10, 13, 10, 13, 0, 0xff, 0xc3), fc.integer({ min: 0, max: 255 })), { maxLength: 300 });

/** Content cut at arbitrary points. */
const chunked = bytes.chain((content) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: content.length }), { maxLength: 12 })
    .map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), content.length];
      const chunks: Uint8Array[] = [];
      for (let i = 1; i < points.length; i++) chunks.push(Uint8Array.from(content.slice(points[i - 1], points[i])));
      return { content: Uint8Array.from(content), chunks };
    }),
);

function scanAll(
  chunks: readonly Uint8Array[],
  max: number,
  mode: LongLinePolicy,
  limits: readonly number[],
  asView: boolean,
): { scanner: LineScanner; lines: Line[] } {
  const scanner = new LineScanner(0, { maxLineLength: max, longLines: mode });
  const lines: Line[] = [];
  const sink = { line: (body: Buffer, offset: number, end: number) => void lines.push({ body: body.toString('hex'), offset, end }) };
  let li = 0;
  for (const chunk of chunks) {
    if (asView) {
      // A view into a larger buffer, as a read that returned less than it was given room for.
      const room = Buffer.alloc(chunk.length + 7, 10);
      room.set(chunk, 3);
      scanner.push(room.subarray(3, 3 + chunk.length));
    } else {
      scanner.push(Buffer.from(chunk));
    }
    for (;;) {
      const limit = limits[li++ % limits.length]!;
      if (scanner.take(limit, sink) < limit) break;
    }
  }
  return { scanner, lines };
}

describe('LineScanner', () => {
  const policy = fc.constantFrom<LongLinePolicy>('split', 'truncate');
  const limits = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 });

  it('any chunking and any take sizes give the lines and offsets of a one-shot split', () => {
    fc.assert(
      fc.property(chunked, fc.integer({ min: 1, max: 40 }), policy, limits, fc.boolean(), ({ content, chunks }, max, mode, lim, asView) => {
        const expected = oneShot(content, max, mode);
        const { scanner, lines } = scanAll(chunks, max, mode, lim, asView);
        expect(lines).toEqual(expected.lines);
        expect(scanner.offset).toBe(expected.offset);
        expect(scanner.readOffset).toBe(content.length);
        const flushed: Line[] = [];
        scanner.flush({ line: (body, offset, end) => void flushed.push({ body: body.toString('hex'), offset, end }) });
        expect(flushed).toEqual(expected.flushed);
        expect(scanner.offset).toBe(content.length);
        expect(scanner.held).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts each long line once, however it is chunked', () => {
    fc.assert(
      fc.property(chunked, fc.integer({ min: 1, max: 20 }), ({ content, chunks }, max) => {
        const complete = Buffer.from(content).toString('latin1').split('\n').slice(0, -1);
        const long = complete.filter((r) => (r.endsWith('\r') ? r.length - 1 : r.length) > max).length;
        for (const mode of ['split', 'truncate'] as const) {
          const { scanner } = scanAll(chunks, max, mode, [3], false);
          // A partial tail of max + 2 bytes or more is already known to be long.
          const tail = content.length - (content.lastIndexOf(10) + 1);
          expect(scanner.longLines).toBe(long + (tail >= max + 2 ? 1 : 0));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('bodies are views of the pushed buffers; only a line across two reads is joined', () => {
    const scanner = new LineScanner(100, { maxLineLength: 1000, longLines: 'split' });
    const first = Buffer.from('ab\r\ncd\nef', 'latin1');
    scanner.push(first);
    const got: Array<[string, number, number, string]> = [];
    const sink = (chunk: Buffer) => ({
      line: (body: Buffer, offset: number, end: number) => void got.push([body.toString(), offset, end, within(body, chunk) ? 'view' : 'joined']),
    });
    const within = (body: Buffer, chunk: Buffer) =>
      body.buffer === chunk.buffer && body.byteOffset >= chunk.byteOffset && body.byteOffset + body.length <= chunk.byteOffset + chunk.length;
    scanner.take(10, sink(first));
    expect(got).toEqual([
      ['ab', 100, 104, 'view'],
      ['cd', 104, 107, 'view'],
    ]);
    expect(scanner.offset).toBe(107);
    expect(scanner.held).toBe(2);
    const second = Buffer.from('g\nhi\nj', 'latin1');
    scanner.push(second);
    expect(scanner.readOffset).toBe(115);
    scanner.take(10, sink(second));
    expect(got.slice(2)).toEqual([
      ['efg', 107, 111, 'joined'],
      ['hi', 111, 114, 'view'],
    ]);
    expect(scanner.held).toBe(1);
  });

  it('truncate keeps a long line out of the checkpoint until its newline', () => {
    const scanner = new LineScanner(0, { maxLineLength: 4, longLines: 'truncate' });
    const lines: string[] = [];
    const ends: number[] = [];
    const sink = { line: (b: Buffer, _o: number, end: number) => void (lines.push(b.toString()), ends.push(end)) };
    scanner.push(Buffer.from('ok\nabcdefgh'));
    scanner.take(10, sink);
    expect(lines).toEqual(['ok']);
    expect(scanner.offset).toBe(3); // the long line is not past yet
    scanner.push(Buffer.from('ijk\nz\n'));
    scanner.take(10, sink);
    expect(lines).toEqual(['ok', 'abcd', 'z']);
    expect(ends).toEqual([3, 15, 17]);
    expect(scanner.longLines).toBe(1);
  });

  it('reset forgets what was held', () => {
    const scanner = new LineScanner(0, { maxLineLength: 10, longLines: 'split' });
    scanner.push(Buffer.from('partial'));
    scanner.reset(0);
    scanner.push(Buffer.from('new\n'));
    const lines: string[] = [];
    scanner.take(10, { line: (b) => void lines.push(b.toString()) });
    expect(lines).toEqual(['new']);
  });
});
