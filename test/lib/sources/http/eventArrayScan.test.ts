import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventArrayScan } from '../../../../lib/sources/http/eventArrayScan.js';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import type { Charset } from '../../../../lib/sources/http/handlers.js';

/** Feeds `body` in chunks of `size` bytes; the first refusal, or undefined. */
function scan(body: Buffer, options: { charset?: Charset; maxEvents?: number; maxFields?: number; size?: number } = {}) {
  const s = new EventArrayScan(options.charset ?? 'UTF-8', options.maxEvents ?? 100, options.maxFields ?? 1000);
  const size = options.size ?? body.length;
  for (let i = 0; i < body.length; i += Math.max(1, size)) {
    const refusal = s.feed(body.subarray(i, i + Math.max(1, size)));
    if (refusal) return refusal;
  }
  return undefined;
}

/** The whole body at once, as the source reads it: the refusal, or the events. */
function read(body: Buffer, charset: Charset) {
  const s = new EventArrayScan(charset, 100, 1000);
  return s.feed(body) ?? s.end();
}

/** The events of a body the reader takes (failing the test otherwise). */
function events(body: Buffer, charset: Charset): FlumeEvent[] {
  const result = read(body, charset);
  if (!Array.isArray(result)) expect.unreachable(`refused: ${result.status} ${result.message}`);
  return result;
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const utf16be = (text: string, bom = false) => {
  const b = Buffer.from(text, 'utf16le');
  b.swap16();
  return bom ? Buffer.concat([Buffer.from([0xfe, 0xff]), b]) : b;
};

describe('EventArrayScan', () => {
  it('refuses more events than maxEvents with 503, at the event that passes it', () => {
    const body = utf8(JSON.stringify([{ body: 'a' }, { body: 'b' }, { body: 'c' }]));
    expect(scan(body, { maxEvents: 3 })).toBeUndefined();
    expect(scan(body, { maxEvents: 2 })).toMatchObject({ status: 503, message: expect.stringContaining('more than 2 events') });
  });

  it('refuses more values inside the events than maxFields with 413', () => {
    const body = utf8(JSON.stringify([{ headers: { a: '1', b: '2' }, body: 'x', other: [1, 2] }]));
    // headers, a, b, body, other, 1, 2: seven values inside the event.
    expect(scan(body, { maxFields: 7 })).toBeUndefined();
    expect(scan(body, { maxFields: 6 })).toMatchObject({ status: 413 });
  });

  it('refuses with 400 what cannot be an array of event objects', () => {
    for (const text of ['{"body":"x"}', '[1]', '[{"body":"x"}] []', '[{"body" "x"}', '[{"body":"x"}] //', "[{'body':'x'}]]"]) {
      expect(scan(utf8(text)), text).toMatchObject({ status: 400 });
    }
  });

  // The lexical rules themselves (quotes, escapes, comments, the prefix) are tested in lenientJsonLexer.test.ts.
  it("reads Gson's lenient syntax without refusing, and answers Flume's 500s while reading", () => {
    const lenient = `\ufeff# c\n)]}'\n[{headers={'a'=>1;b:TRUE}; body:bare/* c */},,{"x":${'['.repeat(300)}${']'.repeat(300)}}]`;
    for (const size of [1, 2, 7]) expect(scan(utf8(lenient), { size }), String(size)).toBeUndefined();
    expect(scan(utf8('[{"headers":[[null,"v"]'))).toMatchObject({ status: 500, message: expect.stringContaining('key == null') });
    expect(scan(utf8('null '))).toMatchObject({ status: 500 });
  });

  it('scans UTF-16 and UTF-32 by code units, with or without a byte-order mark, in any chunking', () => {
    const text = JSON.stringify([{ body: 'é ✓ 😀' }, { body: 'b' }]);
    for (const size of [1, 2, 3, 5]) {
      expect(scan(utf16be(text), { charset: 'UTF-16', maxEvents: 1, size })).toMatchObject({ status: 503 });
      expect(scan(utf16be(text, true), { charset: 'UTF-16', maxEvents: 1, size })).toMatchObject({ status: 503 });
      const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      expect(scan(le, { charset: 'UTF-16', maxEvents: 1, size })).toMatchObject({ status: 503 });
      expect(scan(le, { charset: 'UTF-16', maxEvents: 2, size })).toBeUndefined();
      const be32 = Buffer.alloc(Array.from(text).length * 4);
      Array.from(text).forEach((ch, i) => be32.writeUInt32BE(ch.codePointAt(0)!, i * 4));
      expect(scan(be32, { charset: 'UTF-32', maxEvents: 1, size })).toMatchObject({ status: 503 });
    }
  });

  it('never refuses an array of event objects within the bounds, however it is chunked (property)', () => {
    const events = fc.array(
      fc.record({ headers: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), body: fc.string() }, { requiredKeys: [] }),
      { maxLength: 10 },
    );
    fc.assert(
      fc.property(events, fc.integer({ min: 1, max: 40 }), (list, size) => {
        expect(scan(utf8(JSON.stringify(list, null, 1)), { size, maxEvents: 10, maxFields: 100 })).toBeUndefined();
      }),
    );
  });

  it('makes events as Gson does: numbers and booleans as header strings, a null body empty, a __proto__ header kept', () => {
    const [a, b] = events(Buffer.from('[{"headers":{"n":1,"t":true,"__proto__":"p"},"body":"x","extra":{}},{"body":null}]'), 'UTF-8');
    expect(a!.headers).toEqual(JSON.parse('{"n":"1","t":"true","__proto__":"p"}'));
    expect(Object.getPrototypeOf(a!.headers)).toBe(Object.prototype);
    expect(a!.body.toString()).toBe('x');
    expect(b).toEqual({ headers: {}, body: Buffer.alloc(0) });
  });

  it('refuses with 400 what is not an array of events with string-like bodies and headers, or repeats a header', () => {
    for (const text of ['{"body":"x"}', '[1]', '[{"headers":["a"]}]', '[{"headers":{"a":{}}}]', '[{"body":[1]}]', '[{', '[{"headers":{"a":"1","a":"2"}}]']) {
      expect(read(Buffer.from(text), 'UTF-8'), text).toMatchObject({ status: 400 });
    }
  });

  it("decodes UTF-16/32 as Java does (a BOM, else big-endian) and encodes bodies back as Java's getBytes", () => {
    const text = JSON.stringify([{ body: 'é😀' }]);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const [e16] = events(le, 'UTF-16');
    // Java's UTF-16 getBytes: a big-endian BOM, then big-endian units.
    expect(e16!.body).toEqual(Buffer.from([0xfe, 0xff, 0x00, 0xe9, 0xd8, 0x3d, 0xde, 0x00]));
    const be32 = Buffer.alloc(Array.from(text).length * 4);
    Array.from(text).forEach((ch, i) => be32.writeUInt32BE(ch.codePointAt(0)!, i * 4));
    const [e32] = events(be32, 'UTF-32');
    expect(e32!.body).toEqual(Buffer.from([0, 0, 0, 0xe9, 0, 1, 0xf6, 0]));
    expect(read(Buffer.from([0, 0, 0x00, 0x5b, 0]), 'UTF-32')).toMatchObject({ status: 400, message: expect.stringMatching(/not valid UTF-32/) });
    expect(read(Buffer.from([0, 0x5b, 0]), 'UTF-16')).toMatchObject({ status: 400, message: expect.stringMatching(/not valid UTF-16/) });
  });

  it("encodes an unpaired surrogate as Java's getBytes does: '?' in UTF-8, U+FFFD in UTF-16 and UTF-32", () => {
    const text = '[{"body":"\\ud800x\\udc00"}]';
    expect(events(Buffer.from(text), 'UTF-8')[0]!.body).toEqual(Buffer.from('?x?'));
    expect(events(Buffer.from(text, 'utf16le').swap16(), 'UTF-16')[0]!.body).toEqual(Buffer.from([0xfe, 0xff, 0xff, 0xfd, 0, 0x78, 0xff, 0xfd]));
    const be32 = Buffer.alloc(text.length * 4);
    Array.from(text).forEach((ch, i) => be32.writeUInt32BE(ch.codePointAt(0)!, i * 4));
    expect(events(be32, 'UTF-32')[0]!.body).toEqual(Buffer.from([0, 0, 0xff, 0xfd, 0, 0, 0, 0x78, 0, 0, 0xff, 0xfd]));
  });
});
