import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesWritable, longWritable, text, vlong } from '../../../lib/hdfs/writables.js';
import { Reader } from '../../support/hdfsSequenceFile.js';

describe('Writable encodings', () => {
  it("writes WritableUtils.writeVLong's examples", () => {
    const hex = (v: bigint | number) => vlong(v).toString('hex');
    expect([0, 127, -112, 128, 1000, -1, -113, -121, 255, 256].map(hex)).toEqual(['00', '7f', '90', '8f80', '8e03e8', 'ff', '8770', '8778', '8fff', '8e0100']);
    expect(hex((1n << 63n) - 1n)).toBe('887fffffffffffffff');
    expect(hex(-(1n << 63n))).toBe('807fffffffffffffff');
    expect(() => vlong(1n << 63n)).toThrow(RangeError);
  });

  it('VLong, Text, BytesWritable and LongWritable read back (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.uint8Array({ maxLength: 400 }), (n, bytes) => {
        const r = new Reader(Buffer.concat([vlong(n), text(bytes), bytesWritable(bytes), longWritable(n)]));
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
