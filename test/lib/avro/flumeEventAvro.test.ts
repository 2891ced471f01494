import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { AVRO_FLUME_EVENT_SCHEMA, decodeFlumeEvent, encodeFlumeEvent } from '../../../lib/avro/flumeEventAvro.js';

// Produced by Flume 1.11.0's own code path (KafkaSink.serializeEvent: flume-ng-sdk AvroFlumeEvent,
// avro 1.11.0 SpecificDatumWriter, EncoderFactory.directBinaryEncoder) run on JDK 17. The header
// order of MANY is Java's HashMap order: [__proto__, topic, "héllo ☃ 😀", key, timestamp].
const EMPTY = '0000';
const ONE = '020261026200046869';
const MANY_BODY = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
const MANY =
  '0a125f5f70726f746f5f5f02780a746f7069630c6f72646572731e68c3a96c6c6f20e2988320f09f98800876c3a46c066b6579066b2d31' +
  '1274696d657374616d701a3137303030303030303030303000d804' +
  MANY_BODY.toString('hex');
const manyHeaders = (): Record<string, string> => ({
  ['__proto__']: 'x',
  topic: 'orders',
  'héllo ☃ 😀': 'väl',
  key: 'k-1',
  timestamp: '1700000000000',
});

const hex = (b: Buffer) => b.toString('hex');

describe('flumeEventAvro', () => {
  it('declares the AvroFlumeEvent record of flume.avdl', () => {
    expect(JSON.stringify(AVRO_FLUME_EVENT_SCHEMA)).toBe(
      '{"type":"record","name":"AvroFlumeEvent","namespace":"org.apache.flume.source.avro","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]}',
    );
  });

  it('encodes byte for byte what Flume 1.11 writes (golden bytes from its Java code)', () => {
    expect(hex(encodeFlumeEvent(event(Buffer.alloc(0))))).toBe(EMPTY);
    expect(hex(encodeFlumeEvent(event('hi', { a: 'b' })))).toBe(ONE);
    // Same key order as Java's HashMap produced: then the bytes are identical too.
    expect(hex(encodeFlumeEvent(event(MANY_BODY, manyHeaders())))).toBe(MANY);
  });

  it('decodes what Flume 1.11 writes, including a __proto__ header and non-ASCII text', () => {
    expect(decodeFlumeEvent(Buffer.from(EMPTY, 'hex'))).toEqual({ headers: {}, body: Buffer.alloc(0) });
    expect(decodeFlumeEvent(Buffer.from(ONE, 'hex'))).toEqual({ headers: { a: 'b' }, body: Buffer.from('hi') });
    const many = decodeFlumeEvent(Buffer.from(MANY, 'hex'));
    expect(Object.keys(many.headers)).toEqual(['__proto__', 'topic', 'héllo ☃ 😀', 'key', 'timestamp']);
    expect(Object.getPrototypeOf(many.headers)).toBe(Object.prototype);
    expect(many.headers['__proto__']).toBe('x');
    expect(many.headers).toEqual(manyHeaders());
    expect(many.body.equals(MANY_BODY)).toBe(true);
  });

  it('accepts a Uint8Array view; the body is a copy, independent of the input', () => {
    const bytes = Buffer.from(ONE, 'hex');
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const decoded = decodeFlumeEvent(view);
    bytes.fill(0);
    expect(decoded.body.toString()).toBe('hi');
  });

  it('rejects bytes that are not exactly one datum, with a clear message', () => {
    expect(() => decodeFlumeEvent(Buffer.from('02', 'hex'))).toThrow(/not an AvroFlumeEvent datum \(1 bytes\)/);
    expect(() => decodeFlumeEvent(Buffer.from(ONE + 'ff', 'hex'))).toThrow(/not an AvroFlumeEvent datum/);
    expect(() => decodeFlumeEvent(Buffer.from('plain text body'))).toThrow(/not an AvroFlumeEvent datum/);
  });

  it('round-trips arbitrary headers and bodies (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 20 });
    const headers = fc
      .array(fc.tuple(fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'key', 'topic')), text), { maxLength: 8 })
      .map((pairs) => {
        const out: Record<string, string> = {};
        for (const [k, v] of pairs) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        return out;
      });
    const flumeEvent = fc.record({ headers, body: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) });
    fc.assert(
      fc.property(flumeEvent, (e: FlumeEvent) => {
        const encoded = encodeFlumeEvent(e);
        const decoded = decodeFlumeEvent(encoded);
        expect(Object.entries(decoded.headers)).toEqual(Object.entries(e.headers));
        expect(decoded.body.equals(e.body)).toBe(true);
        // Decoding is canonical: re-encoding gives the same bytes.
        expect(encodeFlumeEvent(decoded).equals(encoded)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
