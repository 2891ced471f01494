import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { smallBufferPool } from '../../support/bufferPool.js';
import fc from 'fast-check';
import { FrameDecoder, FrameError, PART_COST, backingBytes, encodeFrame, type Frame } from '../../../lib/avro/frames.js';
import { MB, usedAfterGc } from './heap.js';

/** A frame header: serial, buffer count. */
function header(serial: number, count: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(serial, 0);
  b.writeInt32BE(count, 4);
  return b;
}

/**
 * Writes `chunks` and takes frames one at a time, so frames before a bad one are kept; the decoder's error,
 * if any, is returned. Only the decoder's calls are in the `try`: what `onChunk` asserts is never caught.
 */
function decodeAll(decoder: FrameDecoder, chunks: readonly Buffer[], onChunk?: (got: readonly Frame[], written: number) => void): { frames: Frame[]; error: unknown } {
  const frames: Frame[] = [];
  let written = 0;
  for (const chunk of chunks) {
    try {
      decoder.write(chunk);
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
    } catch (error) {
      return { frames, error };
    }
    written += chunk.length;
    onChunk?.(frames, written);
  }
  return { frames, error: undefined };
}

function split(wire: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < wire.length; i++) {
    const n = cuts[i % cuts.length]!;
    out.push(wire.subarray(at, at + n));
    at += n;
  }
  return out;
}


// Sizes below tell copies (Node's small-Buffer pool) from views of 64 KiB chunks: see bufferPool.ts.
let restorePool: () => void;
beforeAll(() => {
  restorePool = smallBufferPool();
});
afterAll(() => restorePool());

describe('FrameDecoder', () => {
  it('refuses a frame announcing more buffers than maxBuffers at its header, with its serial, before reading any', () => {
    const decoder = new FrameDecoder(64 * MB); // default maxBuffers (65,536)
    // Within 64 MiB / 4 (what the count was once checked against), far over any real client's count.
    expect(() => decoder.push(header(7, 1_000_000))).toThrow(FrameError);
    const custom = new FrameDecoder(1024, 3);
    expect(() => custom.push(header(9, 4))).toThrow(/4 buffers \(limit 3/);
    expect(new FrameDecoder(1024, 3).push(Buffer.concat([header(1, 3), Buffer.alloc(12)]))).toEqual([{ serial: 1, message: Buffer.alloc(0) }]);
    const e = thrown(() => new FrameDecoder(1024, 3).push(header(42, -1)));
    expect(e).toBeInstanceOf(FrameError);
    expect((e as FrameError).serial).toBe(42);
  });

  it('keeps nothing for zero-length buffers: a frame of 60,000 of them holds no memory while it arrives', () => {
    const decoder = new FrameDecoder(64 * MB);
    const before = usedAfterGc();
    decoder.write(header(1, 60_001));
    // 60,000 empty buffers in 64 KiB chunks, the last buffer still to come, so the frame stays open.
    const zeros = Buffer.alloc(64 * 1024);
    for (let left = 60_000 * 4; left > 0; left -= zeros.length) {
      decoder.write(Buffer.from(zeros.subarray(0, Math.min(left, zeros.length))));
      expect(decoder.next()).toBeUndefined();
    }
    const grown = usedAfterGc() - before;
    expect(grown).toBeLessThan(2 * MB); // once one Buffer object each: ~12 MB
    expect(decoder.held).toBe(8 + 60_000 * 4);
    decoder.write(Buffer.from([0, 0, 0, 1, 0x61]));
    expect(decoder.next()).toEqual({ serial: 1, message: Buffer.from('a') });
    expect(decoder.held).toBe(0);
  });

  it('refuses a buffer taking the message past maxBytes at its length, before its bytes arrive', () => {
    const decoder = new FrameDecoder(1000);
    decoder.write(Buffer.concat([header(3, 2), Buffer.from([0, 0, 0x03, 0xe8]), Buffer.alloc(1000)]));
    decoder.write(Buffer.from([0, 0, 0, 1]));
    expect(() => decoder.next()).toThrow(/a buffer of 1 bytes after 1000 \(limit 1000/);
  });

  it('copies a small single-buffer message out of a large chunk, so the chunk can be freed', () => {
    const decoder = new FrameDecoder(1 * MB);
    const chunk = Buffer.concat([encodeFrame(5, [Buffer.from('hello')]), Buffer.alloc(100_000)]);
    const [frame] = decoder.push(chunk);
    expect(frame!.message.toString()).toBe('hello');
    expect(frame!.message.buffer.byteLength).toBeLessThan(10_000);
    // A frame filling most of its chunk stays a view (no copy on the hot path).
    const big = encodeFrame(6, [Buffer.alloc(50_000, 1)]);
    const [view] = new FrameDecoder(1 * MB).push(big);
    expect(view!.message.buffer).toBe(big.buffer);
  });

  it('nextViews leaves a message in the chunks it arrived in: a part spanning large chunks is views of them, one spanning small chunks one copy', () => {
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const wire = encodeFrame(3, [Buffer.from('head'), body]);
    // Socket-sized chunks, each a buffer of its own as a socket gives them (not from Node's pool).
    const chunks = split(wire, [65_536]).map((c) => Buffer.from(new Uint8Array(c).buffer));
    const decoder = new FrameDecoder(1 * MB);
    for (const c of chunks) decoder.write(c);
    const frame = decoder.nextViews()!;
    expect(frame.serial).toBe(3);
    expect(frame.size).toBe(4 + body.length);
    expect(Buffer.concat(frame.views)).toEqual(Buffer.concat([Buffer.from('head'), body]));
    // Every view is of a received chunk: nothing was copied.
    for (const v of frame.views) expect(chunks.some((c) => c.buffer === v.buffer)).toBe(true);
    expect(frame.views.length).toBe(1 + chunks.length);
    expect(backingBytes(frame.views)).toBe(wire.length);
    expect(decoder.held).toBe(0);

    // 100-byte chunks: the 200 KB part would be 2,000 views (~256 KB of Buffer objects), so it is copied once.
    const trickled = new FrameDecoder(1 * MB);
    for (const c of split(wire, [100])) {
      trickled.write(Buffer.from(c));
      // While it arrives, held is what arrived plus a view's cost per part (none kept per chunk).
      expect(trickled.held).toBeLessThanOrEqual(wire.length + 2 * PART_COST);
    }
    const copied = trickled.nextViews()!;
    expect(copied.views.map((v) => v.length)).toEqual([4, body.length]);
    expect(copied.views[1]).toEqual(body);
    // next() joins the views into one message (one copy), as before.
    const again = new FrameDecoder(1 * MB);
    for (const c of chunks) again.write(c);
    expect(again.next()).toEqual({ serial: 3, message: Buffer.concat([Buffer.from('head'), body]) });
  });

  it('any split of encoded frames decodes to the same messages, and nothing is held after the last (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 })), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map(([serial, parts]) => encodeFrame(serial, parts.map((p) => Buffer.from(p)))));
          const decoder = new FrameDecoder(1 << 20);
          const out: Frame[] = [];
          for (const chunk of split(wire, cuts)) out.push(...decoder.push(chunk));
          expect(out.map((f) => f.serial)).toEqual(frames.map(([s]) => s));
          expect(out.map((f) => f.message.toString('hex'))).toEqual(frames.map(([, parts]) => Buffer.concat(parts.map((p) => Buffer.from(p))).toString('hex')));
          expect(decoder.held).toBe(0);
        },
      ),
    );
  });

  // Issue #19: this property once caught any error around its assertion and, fed random bytes, never
  // decoded a frame. Its inputs are now frames (some over a limit), so the assertions always run.
  it('frames within the limits decode exactly; the first over one throws a FrameError with its serial; held stays bounded (property)', () => {
    const maxBytes = 200;
    const maxBuffers = 6;
    let decodedSome = 0;
    let refused = 0;
    const serial = fc.integer({ min: 0, max: 1000 });
    const frame = fc.oneof(
      fc.record({ serial, parts: fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 8 }) }),
      // On the limits: maxBytes ± 1 in one or two buffers, maxBuffers or one more.
      fc.record({ serial, parts: fc.constantFrom([maxBytes], [maxBytes + 1], [maxBytes - 1, 1], [maxBytes, 1], Array(maxBuffers).fill(1), Array(maxBuffers + 1).fill(0)) }),
    );
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }), (frames, cuts) => {
        const firstBad = frames.findIndex((f) => f.parts.length > maxBuffers || f.parts.reduce((a, b) => a + b, 0) > maxBytes);
        const encoded = frames.map((f) => encodeFrame(f.serial, f.parts.map((n) => Buffer.alloc(n, f.serial & 0xff))));
        const wire = Buffer.concat(encoded);
        const decoder = new FrameDecoder(maxBytes, maxBuffers);
        const { frames: got, error } = decodeAll(decoder, split(wire, cuts), (sofar, written) => {
          // What was sent and not returned as frames, plus the estimated cost of the views kept.
          const returned = encoded.slice(0, sofar.length).reduce((a, b) => a + b.length, 0);
          expect(decoder.held).toBeLessThanOrEqual(written - returned + maxBuffers * PART_COST);
        });
        const expected = firstBad < 0 ? frames : frames.slice(0, firstBad);
        expect(got.map((f) => f.serial)).toEqual(expected.map((f) => f.serial));
        expect(got.map((f) => f.message.length)).toEqual(expected.map((f) => f.parts.reduce((a, b) => a + b, 0)));
        for (const f of got) expect(f.message.every((b) => b === (f.serial & 0xff))).toBe(true);
        if (got.length > 0) decodedSome++;
        if (firstBad < 0) {
          expect(error).toBeUndefined();
          expect(decoder.held).toBe(0);
        } else {
          refused++;
          expect(error).toBeInstanceOf(FrameError);
          expect((error as FrameError).serial).toBe(frames[firstBad]!.serial);
        }
      }),
      { numRuns: 300 },
    );
    // The generator reaches both outcomes.
    expect(decodedSome).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(30);
  });

  it('bytes that are not framing give frames within the limits or a FrameError, never another error, and hold at most what was sent (property)', () => {
    const maxBytes = 1024;
    const maxBuffers = 16;
    let framesSeen = 0;
    // A plausible header (small or hostile counts and lengths) followed by arbitrary bytes.
    const int32 = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, 1, maxBuffers, maxBuffers + 1, maxBytes, maxBytes + 1, -1));
    // Half the inputs start with well-formed frames, so the decoder's frame path is reached by construction, not by chance.
    const good = fc.array(fc.record({ serial: fc.nat(), parts: fc.array(fc.nat({ max: 40 }), { maxLength: 4 }) }), { maxLength: 3 });
    const input = fc.tuple(fc.oneof(fc.constant([]), good), fc.array(int32, { maxLength: 6 }), fc.uint8Array({ maxLength: 200 }));
    fc.assert(
      fc.property(input, fc.integer({ min: 1, max: 64 }), ([lead, ints, tail], cut) => {
        const head = Buffer.alloc(ints.length * 4);
        ints.forEach((v, i) => head.writeInt32BE(v, i * 4));
        const prefix = lead.map((f) => encodeFrame(f.serial, f.parts.map((n) => Buffer.alloc(n, 7))));
        const wire = Buffer.concat([...prefix, head, Buffer.from(tail)]);
        const decoder = new FrameDecoder(maxBytes, maxBuffers);
        const { frames, error } = decodeAll(decoder, split(wire, [cut]));
        if (error !== undefined) expect(error).toBeInstanceOf(FrameError);
        for (const f of frames) expect(f.message.length).toBeLessThanOrEqual(maxBytes);
        // The well-formed lead frames always come out, whatever follows them.
        expect(frames.length).toBeGreaterThanOrEqual(lead.length);
        framesSeen += frames.length;
        expect(decoder.held).toBeLessThanOrEqual(wire.length + maxBuffers * PART_COST);
      }),
      { numRuns: 500 },
    );
    expect(framesSeen).toBeGreaterThan(100);
  });
});
