import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceFileWriter } from '../../../lib/hdfs/sequenceFile.js';
import { BytesWritable, encode, LongWritable, Text, text, VLong } from '../../../lib/hdfs/writables.js';
import { Reader } from '../../support/hdfsSequenceFile.js';

describe('Writable encodings', () => {
  it("writes WritableUtils.writeVLong's examples", () => {
    const hex = (v: bigint | number) => encode(VLong, v).toString('hex');
    expect([0, 127, -112, 128, 1000, -1, -113, -121, 255, 256].map(hex)).toEqual(['00', '7f', '90', '8f80', '8e03e8', 'ff', '8770', '8778', '8fff', '8e0100']);
    expect(hex((1n << 63n) - 1n)).toBe('887fffffffffffffff');
    expect(hex(-(1n << 63n))).toBe('807fffffffffffffff');
    expect(() => encode(VLong, 1n << 63n)).toThrow(RangeError);
  });

  it('VLong, Text, BytesWritable and LongWritable read back (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.uint8Array({ maxLength: 400 }), (n, bytes) => {
        const r = new Reader(Buffer.concat([encode(VLong, n), encode(Text, bytes), encode(BytesWritable, bytes), encode(LongWritable, n)]));
        expect(r.vlong()).toBe(n);
        expect(r.text().equals(Buffer.from(bytes))).toBe(true);
        expect(r.take(r.int32()).equals(Buffer.from(bytes))).toBe(true);
        expect(r.take(8).readBigInt64BE(0)).toBe(n);
        expect(r.done).toBe(true);
      }),
    );
    expect(text('é').toString('hex')).toBe('02c3a9');
  });
});

/**
 * Hadoop's layout, transcribed from its Java as an oracle independent of lib/hdfs/writables.ts:
 * WritableUtils.writeVLong (mask and shift per byte), Text.write (writeVInt + bytes),
 * BytesWritable.write (writeInt + bytes), LongWritable.write (writeLong), and SequenceFile.Writer.append's
 * record (int32 key+value length, int32 key length, key, value).
 */
const hadoop = {
  vlong(i: bigint): number[] {
    if (i >= -112n && i <= 127n) return [Number(BigInt.asUintN(8, i))];
    let len = -112;
    if (i < 0n) {
      i ^= -1n;
      len = -120;
    }
    for (let tmp = i; tmp !== 0n; tmp >>= 8n) len--;
    const out = [len & 0xff];
    len = len < -120 ? -(len + 120) : -(len + 112);
    for (let idx = len; idx !== 0; idx--) {
      const shift = BigInt((idx - 1) * 8);
      out.push(Number((i & (0xffn << shift)) >> shift));
    }
    return out;
  },
  int(v: number): number[] {
    return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  },
  long(v: bigint): number[] {
    return Array.from({ length: 8 }, (_, k) => Number(BigInt.asUintN(8, v >> BigInt(56 - 8 * k))));
  },
  text: (b: Uint8Array) => [...hadoop.vlong(BigInt(b.length)), ...b],
  bytes: (b: Uint8Array) => [...hadoop.int(b.length), ...b],
  record(key: bigint, value: number[]) {
    return [...hadoop.int(8 + value.length), ...hadoop.int(8), ...hadoop.long(key), ...value];
  },
};

const javaLongs = fc.oneof(
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  fc.integer({ min: -200, max: 200 }).map(BigInt),
  fc.constantFrom(-(1n << 63n), (1n << 63n) - 1n, -113n, -112n, 127n, 128n, 255n, 256n, -1n, 0n),
);
// The writers take numbers too (a separate path in VLong): safe integers, as keys and lengths come.
const asGiven = (n: bigint) => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? fc.constantFrom(n, Number(n)) : fc.constant(n));

describe("the shared Writable writers lay bytes out as Hadoop's Java does", () => {
  it('VLong, LongWritable, Text, BytesWritable at any offset of a larger buffer, bigint or number (property)', () => {
    fc.assert(
      fc.property(javaLongs.chain((n) => asGiven(n).map((given) => ({ n, given }))), fc.uint8Array({ maxLength: 300 }), fc.nat(40), ({ n, given }, bytes, at) => {
        const cases: Array<[number[], (into: Buffer, at: number) => number, number]> = [
          [hadoop.vlong(n), (into, o) => VLong.write(into, o, given), VLong.size(given)],
          [hadoop.long(n), (into, o) => LongWritable.write(into, o, given), LongWritable.size(given)],
          [hadoop.text(bytes), (into, o) => Text.write(into, o, bytes), Text.size(bytes)],
          [hadoop.bytes(bytes), (into, o) => BytesWritable.write(into, o, bytes), BytesWritable.size(bytes)],
        ];
        for (const [expected, write, size] of cases) {
          expect(size).toBe(expected.length);
          const into = Buffer.alloc(at + size + 8, 0xee);
          expect(write(into, at)).toBe(at + size);
          expect([...into.subarray(at, at + size)]).toEqual(expected);
          expect(into.subarray(0, at).every((b) => b === 0xee) && into.subarray(at + size).every((b) => b === 0xee)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  for (const valueClass of ['BytesWritable', 'Text'] as const) {
    it(`SequenceFile NONE × ${valueClass}: each record is SequenceFile.Writer.append's layout (property)`, () => {
      const records = fc.array(fc.record({ key: javaLongs, value: fc.uint8Array({ maxLength: 300 }) }), { minLength: 1, maxLength: 30 });
      fc.assert(
        fc.property(records, (input) => {
          const writer = new SequenceFileWriter({ valueClass, syncIntervalBytes: 1 << 30 });
          for (const r of input) writer.append(r.key, r.value);
          const chunk = writer.flush();
          const expected = input.flatMap((r) => hadoop.record(r.key, valueClass === 'Text' ? hadoop.text(r.value) : hadoop.bytes(r.value)));
          // The flush ends with the sync escape that ends a batch.
          expect([...chunk.subarray(0, -20)]).toEqual(expected);
          expect(chunk.subarray(-20).equals(Buffer.concat([Buffer.from(hadoop.int(-1)), writer.sync]))).toBe(true);
        }),
        { numRuns: 200 },
      );
    });
  }
});
