import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { AVRO_EVENT_SCHEMA } from '../../../lib/serializers/avroEventSerializer.js';
import { createSerializer, flumeSerializerName } from '../../../lib/serializers/eventSerializer.js';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };

/** avsc's container decoder, with Avro's snappy codec (raw snappy + CRC-32 of the uncompressed bytes) checked. */
function decode(bytes: Buffer): Promise<{ records: FlumeEvent[]; codec: string; schema: unknown; blocks: number }> {
  return new Promise((resolve, reject) => {
    const records: FlumeEvent[] = [];
    let codec = '';
    let schema: unknown;
    let blocks = 0;
    Readable.from([bytes])
      .pipe(
        new avro.streams.BlockDecoder({
          codecs: {
            null: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, buf),
            deflate: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => zlib.inflateRaw(buf, cb),
            snappy: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => {
              const data = Buffer.from(snappy.uncompress(buf.subarray(0, buf.length - 4)));
              if (zlib.crc32(data) !== buf.readUInt32BE(buf.length - 4)) cb(new Error('snappy block CRC mismatch'));
              else cb(null, data);
            },
          },
        }),
      )
      .on('metadata', (type: avro.Type, c: string) => {
        schema = type.schema();
        codec = c;
      })
      .on('block', () => blocks++)
      .on('data', (r: FlumeEvent) => records.push({ headers: { ...r.headers }, body: r.body }))
      .on('end', () => resolve({ records, codec, schema, blocks }))
      .on('error', reject);
  });
}

const arbEvent = fc.record({
  headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
  body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
});

describe('event serializers (shared by file_roll and hdfs)', () => {
  it('TEXT: the bodies, each followed by a newline unless appendNewline is off', () => {
    const events = [event('a'), event(''), event(Buffer.from([0, 0xff]))];
    expect(createSerializer('TEXT').serialize(events)).toEqual(Buffer.from([0x61, 0x0a, 0x0a, 0, 0xff, 0x0a]));
    expect(createSerializer('TEXT', { appendNewline: false }).serialize(events)).toEqual(Buffer.from([0x61, 0, 0xff]));
    expect(createSerializer('TEXT').header.length).toBe(0);
  });

  it("HEADER_AND_TEXT: Java's Map.toString of the headers, a space, the body, a newline", () => {
    const out = createSerializer('HEADER_AND_TEXT').serialize([event('x', { a: '1', b: '2' }), event('y')]);
    expect(out.toString()).toBe('{a=1, b=2} x\n{} y\n');
  });

  for (const codec of ['null', 'deflate', 'snappy'] as const) {
    it(`avro_event (${codec}): header plus any split into batches decodes to the same records`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(arbEvent, { maxLength: 30 }), { maxLength: 5 }), fc.integer({ min: 32, max: 4096 }), async (batches, syncIntervalBytes) => {
          const s = createSerializer('avro_event', { compressionCodec: codec, syncIntervalBytes });
          const file = Buffer.concat([s.header, ...batches.map((b) => s.serialize(b))]);
          const { records, codec: named, schema } = await decode(file);
          expect(named).toBe(codec);
          expect(schema).toEqual(AVRO_EVENT_SCHEMA);
          expect(records).toEqual(batches.flat());
        }),
        { numRuns: 40 },
      );
    });
  }

  it('avro_event: a batch past syncIntervalBytes is several blocks; each batch ends a block', async () => {
    const s = createSerializer('avro_event', { syncIntervalBytes: 256 });
    const events = Array.from({ length: 40 }, (_, k) => event(`x${k}`.padEnd(40, '.')));
    const first = s.serialize(events);
    expect((await decode(Buffer.concat([s.header, first]))).blocks).toBeGreaterThan(1);
    // The file cut after the first batch is complete: it ends with the sync marker.
    expect(first.subarray(-16)).toEqual(s.header.subarray(-16));
    expect((await decode(Buffer.concat([s.header, s.serialize([event('one')])]))).blocks).toBe(1);
  });

  it('avro_event: a header that is not a string throws (the sink nacks the batch)', () => {
    expect(() => createSerializer('avro_event').serialize([{ headers: { a: 5 as unknown as string }, body: Buffer.from('x') }])).toThrow(/string/);
  });

  it("maps Flume's names, case-insensitively, and the builder class names", () => {
    expect(flumeSerializerName('text')).toBe('TEXT');
    expect(flumeSerializerName(' Header_And_Text ')).toBe('HEADER_AND_TEXT');
    expect(flumeSerializerName('AVRO_EVENT')).toBe('avro_event');
    expect(flumeSerializerName('org.apache.flume.serialization.BodyTextEventSerializer$Builder')).toBe('TEXT');
    expect(flumeSerializerName('org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder')).toBe('avro_event');
    expect(flumeSerializerName('org.example.Mine$Builder')).toBe('org.example.Mine$Builder');
  });
});

describe('avro_event check', () => {
  it('names what is wrong before serialize would throw', () => {
    const s = createSerializer('avro_event');
    expect(() => s.check!({ headers: { a: 5 as unknown as string }, body: Buffer.from('x') })).toThrow(/headers\.a is not what an Avro Event holds/);
    expect(() => s.check!(event('fine', { a: 'b' }))).not.toThrow();
  });
});
