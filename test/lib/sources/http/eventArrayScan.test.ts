import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventArrayScan } from '../../../../lib/sources/http/eventArrayScan.js';
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
    for (const text of ['{"body":"x"}', '[1]', '[{"body":"x"}] []', '[{"body" "x"}', '[{"a":' + '['.repeat(300)]) {
      expect(scan(utf8(text)), text).toMatchObject({ status: 400 });
    }
    // Brackets and quotes inside strings are text, escaped quotes too.
    expect(scan(utf8('[{"body":"] } [ \\" ,"}]'))).toBeUndefined();
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
});
