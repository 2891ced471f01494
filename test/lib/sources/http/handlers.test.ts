import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { BadRequest, blobEvent, charsetOf, jsonEvents } from '../../../../lib/sources/http/handlers.js';

describe("Flume's HTTP handlers", () => {
  it("reads the JSON handler's charset from Content-Type, UTF-8 when absent; refuses others", () => {
    expect(charsetOf(undefined)).toBe('UTF-8');
    expect(charsetOf('application/json; charset="utf-16"')).toBe('UTF-16');
    expect(charsetOf('application/json;charset=UTF-32')).toBe('UTF-32');
    expect(() => charsetOf('application/json; charset=ISO-8859-1')).toThrow(/JSON handler supports UTF-8, UTF-16 and UTF-32 only \(the request's charset is ISO-8859-1\)/);
  });

  it('makes events as Gson does: numbers and booleans as header strings, a null body empty, a __proto__ header kept', () => {
    const [a, b] = jsonEvents(Buffer.from('[{"headers":{"n":1,"t":true,"__proto__":"p"},"body":"x","extra":{}},{"body":null}]'), 'UTF-8');
    expect(a!.headers).toEqual(JSON.parse('{"n":"1","t":"true","__proto__":"p"}'));
    expect(Object.getPrototypeOf(a!.headers)).toBe(Object.prototype);
    expect(a!.body.toString()).toBe('x');
    expect(b).toEqual({ headers: {}, body: Buffer.alloc(0) });
  });

  it('refuses with BadRequest what is not an array of events with string bodies and string-like headers', () => {
    for (const text of ['{"body":"x"}', '[1]', '[{"headers":[]}]', '[{"headers":{"a":{}}}]', '[{"body":1}]', '[{']) {
      expect(() => jsonEvents(Buffer.from(text), 'UTF-8'), text).toThrow(BadRequest);
    }
  });

  it("decodes UTF-16/32 as Java does (a BOM, else big-endian) and encodes bodies back as Java's getBytes", () => {
    const text = JSON.stringify([{ body: 'é😀' }]);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const [e16] = jsonEvents(le, 'UTF-16');
    // Java's UTF-16 getBytes: a big-endian BOM, then big-endian units.
    expect(e16!.body).toEqual(Buffer.from([0xfe, 0xff, 0x00, 0xe9, 0xd8, 0x3d, 0xde, 0x00]));
    const be32 = Buffer.alloc(Array.from(text).length * 4);
    Array.from(text).forEach((ch, i) => be32.writeUInt32BE(ch.codePointAt(0)!, i * 4));
    const [e32] = jsonEvents(be32, 'UTF-32');
    expect(e32!.body).toEqual(Buffer.from([0, 0, 0, 0xe9, 0, 1, 0xf6, 0]));
    expect(() => jsonEvents(Buffer.from([0, 0, 0x00, 0x5b, 0]), 'UTF-32')).toThrow(/not valid UTF-32/);
    expect(() => jsonEvents(Buffer.from([0, 0x5b, 0]), 'UTF-16')).toThrow(/not valid UTF-16/);
  });

  it("makes the blob handler's one event of the whole body, the first value of each query parameter a header", () => {
    const e = blobEvent({ url: '/x?a=1&b=two&a=3' } as IncomingMessage, Buffer.from('raw'));
    expect(e).toEqual({ headers: { a: '1', b: 'two' }, body: Buffer.from('raw') });
  });
});
