import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AVRO_SOURCE_PROTOCOL,
  AVRO_SOURCE_PROTOCOL_HASH,
  BOTH,
  CLIENT,
  NONE,
  Reader,
  STATUS_FAILED,
  STATUS_OK,
  readCallHeader,
  readEnumResponse,
  readHandshakeRequest,
  readHandshakeResponse,
  systemError,
  writeCallHeader,
  writeHandshakeRequest,
  writeHandshakeResponse,
  zigzag,
} from '../../../lib/avro/rpc.js';


describe('Reader', () => {
  it('checks every length against the bytes left', () => {
    expect(() => new Reader(Buffer.from([0x10, 0x61])).string()).toThrow(/truncated/);
    expect(() => new Reader(Buffer.from([0x10, 0x61])).skipBytes()).toThrow(/truncated/);
    expect(() => new Reader(Buffer.from([0x01])).skipBytes()).toThrow(/negative/);
    const r = new Reader(Buffer.from([0x04, 0x61, 0x62, 0x02, 0x63]));
    r.skipBytes();
    expect(r.string()).toBe('c');
    // A block count over the bytes left is refused before any item is read.
    expect(() => new Reader(Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f])).block()).toThrow(/block of/);
  });

  /** An Avro long (zigzag varint), negative ones too. */
  const long = (n: number): Buffer => varint(n < 0 ? -n * 2 - 1 : n * 2);
  const varint = (v: number): Buffer => {
    const out: number[] = [];
    for (; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
    out.push(v);
    return Buffer.from(out);
  };
  type Value = { kind: 'long'; n: number } | { kind: 'string'; s: string; like: 'same' | 'other' | 'none' } | { kind: 'bytes'; b: Uint8Array } | { kind: 'skip'; b: Uint8Array } | { kind: 'boolean'; v: boolean };
  const value: fc.Arbitrary<Value> = fc.oneof(
    fc.record({ kind: fc.constant('long' as const), n: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) }),
    fc.record({ kind: fc.constant('string' as const), s: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 8 })), like: fc.constantFrom('same' as const, 'other' as const, 'none' as const) }),
    fc.record({ kind: fc.constant('bytes' as const), b: fc.uint8Array({ maxLength: 30 }) }),
    fc.record({ kind: fc.constant('skip' as const), b: fc.uint8Array({ maxLength: 30 }) }),
    fc.record({ kind: fc.constant('boolean' as const), v: fc.boolean() }),
  );
  const encode = (v: Value): Buffer => {
    switch (v.kind) {
      case 'long':
        return long(v.n);
      case 'string': {
        const text = Buffer.from(v.s, 'utf8');
        return Buffer.concat([zigzag(text.length), text]);
      }
      case 'bytes':
      case 'skip':
        return Buffer.concat([zigzag(v.b.length), v.b]);
      case 'boolean':
        return Buffer.from([v.v ? 1 : 0]);
    }
  };
  const read = (r: Reader, v: Value): unknown => {
    switch (v.kind) {
      case 'long':
        return r.long();
      case 'string':
        return v.like === 'none' ? r.string() : r.stringLike(v.like === 'same' ? v.s : `${v.s}x`);
      case 'bytes':
        return [...r.bytes()];
      case 'skip':
        return r.skipBytes();
      case 'boolean':
        return r.boolean();
    }
  };
  const expected = (v: Value): unknown => (v.kind === 'long' ? v.n : v.kind === 'string' ? v.s : v.kind === 'bytes' ? [...v.b] : v.kind === 'skip' ? v.b.length : v.v);

  it('reads the same values at the same positions from any split of the bytes into views, and refuses any truncation of them (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 10 }).filter((cs) => cs.some((c) => c > 0)), fc.nat(), (values, cuts, cutAt) => {
        const encoded = values.map(encode);
        const whole = Buffer.concat(encoded);
        // Views of every size, empty ones included, as a frame's parts and the chunks they came in give.
        const views: Buffer[] = [];
        for (let at = 0, i = 0; at < whole.length; i++) {
          const n = cuts[i % cuts.length]!;
          views.push(whole.subarray(at, Math.min(whole.length, at + n)));
          at += n;
        }
        const r = new Reader(views);
        expect(r.length).toBe(whole.length);
        let pos = 0;
        for (const [i, v] of values.entries()) {
          expect(read(r, v)).toEqual(expected(v));
          pos += encoded[i]!.length;
          expect(r.pos).toBe(pos);
        }
        expect(r.left).toBe(0);
        // Moving back to any value's start reads it again.
        const back = Math.min(cutAt % values.length, values.length - 1);
        r.pos = encoded.slice(0, back).reduce((a, b) => a + b.length, 0);
        expect(read(r, values[back]!)).toEqual(expected(values[back]!));
        // The bytes of the last value cut short: an error, never a value.
        const short = whole.length - 1 - (cutAt % encoded.at(-1)!.length);
        const t = new Reader(views.map((v) => v.subarray(0, Math.max(0, Math.min(v.length, short - (v.byteOffset - whole.byteOffset))))));
        for (const v of values.slice(0, -1)) read(t, v);
        expect(() => read(t, values.at(-1)!)).toThrow(/truncated|block of/);
      }),
      { numRuns: 500 },
    );
  });

  it('gives bytes inside one view as a view of it, and copies bytes spanning views', () => {
    // Buffers of their own (Buffer.from(array) would share Node's pool).
    const own = (bytes: number[]) => Buffer.from(new Uint8Array(bytes).buffer);
    const a = own([0x06, 1, 2, 3, 0x04, 4]);
    const b = own([5]);
    const r = new Reader([a, b]);
    expect(r.bytes().buffer).toBe(a.buffer);
    const spanning = r.bytes();
    expect([...spanning]).toEqual([4, 5]);
    expect(spanning.buffer).not.toBe(a.buffer);
    expect(spanning.buffer).not.toBe(b.buffer);
  });

  it('reads short strings of every length exactly, ASCII or not, and stringLike tells strings differing only at either end', () => {
    for (let n = 0; n <= 18; n++) {
      const ascii = 'abcdefghijklmnopqr'.slice(0, n);
      // A non-ASCII character at the end, then at the start: the string falls back to UTF-8 decoding.
      for (const s of [ascii, `${ascii.slice(1)}é`, `é${ascii.slice(2)}`]) {
        const text = Buffer.from(s, 'utf8');
        expect(new Reader([Buffer.concat([zigzag(text.length), text]), Buffer.from([0x02])]).string()).toBe(s);
        expect(new Reader(Buffer.concat([zigzag(text.length), text, Buffer.from([0x02])])).stringLike(`${s}x`.slice(0, s.length))).toBe(s);
      }
      if (n === 0) continue;
      const bytes = Buffer.concat([zigzag(n), Buffer.from(ascii), Buffer.from([0x02])]);
      expect(new Reader(bytes).stringLike(ascii)).toBe(ascii);
      expect(new Reader(bytes).stringLike(`${ascii.slice(0, -1)}!`)).toBe(ascii);
      expect(new Reader(bytes).stringLike(`!${ascii.slice(1)}`)).toBe(ascii);
    }
  });

  it('stringLike returns the likely string only for the same ASCII bytes: a UTF-8 "é" is not the Latin-1 pair "Ã©"', () => {
    const e = Buffer.concat([zigzag(2), Buffer.from('é', 'utf8')]);
    expect(new Reader(e).stringLike('\u00c3\u00a9')).toBe('é');
    const host = Buffer.concat([zigzag(4), Buffer.from('web1')]);
    const like = 'web1';
    expect(new Reader(host).stringLike(like)).toBe(like);
    expect(new Reader(host).stringLike('web2')).toBe('web1');
    expect(new Reader(host).stringLike('web')).toBe('web1');
  });
});

describe('zigzag', () => {
  it('encodes non-negative lengths as Avro longs the Reader reads back', () => {
    for (const n of [0, 1, 63, 64, 127, 128, 300, 2 ** 31, 2 ** 40]) expect(new Reader(zigzag(n)).long()).toBe(n);
    expect([...zigzag(1)]).toEqual([0x02]);
    expect([...zigzag(64)]).toEqual([0x80, 0x01]);
  });
});

describe('handshake', () => {
  it('writes requests our own reader reads back, with the protocol text only when asked for', () => {
    const short = readHandshakeRequest(new Reader(writeHandshakeRequest(false)));
    expect(short.clientHash.equals(AVRO_SOURCE_PROTOCOL_HASH)).toBe(true);
    expect(short.serverHash.equals(AVRO_SOURCE_PROTOCOL_HASH)).toBe(true);
    expect(short.clientProtocol).toBeNull();
    const long = readHandshakeRequest(new Reader(writeHandshakeRequest(true)));
    expect(long.clientProtocol?.toString('utf8')).toBe(AVRO_SOURCE_PROTOCOL);
  });

  it('writes responses our own reader reads back: BOTH without the protocol, CLIENT and NONE with it', () => {
    expect(readHandshakeResponse(new Reader(writeHandshakeResponse(BOTH)))).toEqual({ match: BOTH, serverProtocol: null });
    for (const match of [CLIENT, NONE]) {
      const r = new Reader(writeHandshakeResponse(match));
      expect(readHandshakeResponse(r)).toEqual({ match, serverProtocol: AVRO_SOURCE_PROTOCOL });
      expect(r.pos).toBe(r.length);
    }
  });

  it("hashes the protocol text to Flume's AvroSourceProtocol MD5", () => {
    expect(AVRO_SOURCE_PROTOCOL_HASH.toString('hex')).toMatch(/^86aadae2/);
  });
});

describe('calls and responses', () => {
  it('a call header gives back its message name', () => {
    for (const name of ['', 'append', 'appendBatch', 'é']) expect(readCallHeader(new Reader(writeCallHeader(name)))).toBe(name);
  });

  it('refuses a message name longer than the bound it is given, unread', () => {
    const header = writeCallHeader('x'.repeat(257));
    expect(() => readCallHeader(new Reader(header), 256)).toThrow('a message name of 257 bytes');
    expect(readCallHeader(new Reader(writeCallHeader('x'.repeat(256))), 256)).toHaveLength(256);
  });

  it('reads Status responses, and throws with the message of a system error', () => {
    expect(readEnumResponse(new Reader(STATUS_OK))).toBe(0);
    expect(readEnumResponse(new Reader(STATUS_FAILED))).toBe(1);
    expect(() => readEnumResponse(new Reader(systemError('no room')))).toThrow('server error: no room');
  });
});
