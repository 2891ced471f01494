/** lib/hdfs/bzip2.ts decoded by the bzip2 tool (Hadoop reads its output in hadoopReaders.test.ts). */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bzip2Compress, codeLengths } from '../../../lib/hdfs/bzip2.js';
import { bunzip2 } from '../../support/hdfsSequenceFile.js';

const roundTrips = (data: Uint8Array) => expect(bunzip2(bzip2Compress(data)).equals(Buffer.from(data))).toBe(true);

describe('bzip2Compress', () => {
  it('writes a BZh9 stream the bzip2 tool decodes, for edge inputs', () => {
    const cases = [
      Buffer.alloc(0),
      Buffer.from('a'),
      Buffer.from('ab'),
      Buffer.alloc(3, 1),
      Buffer.alloc(4, 1), // the shortest run the first step encodes
      Buffer.alloc(5, 1),
      Buffer.alloc(255, 2),
      Buffer.alloc(256, 2), // a run one longer than a run-length record holds
      Buffer.alloc(259, 2),
      Buffer.alloc(100_000, 0),
      Buffer.from('abababababababababab'), // equal rotations
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)), // every byte value
      Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251)),
    ];
    for (const data of cases) {
      const out = bzip2Compress(data);
      expect(out.subarray(0, 4).toString('latin1')).toBe('BZh9');
      roundTrips(data);
    }
  });

  it('splits input over 900 kB blocks, including a run cut at a block boundary', () => {
    roundTrips(Buffer.concat([randomBytes(899_000), Buffer.alloc(5000, 9), randomBytes(1000)]));
    roundTrips(Buffer.alloc(2_500_000, 0x41)); // runs: 2.5 MB becomes 49 kB of run records, one block
    roundTrips(Buffer.concat([Buffer.alloc(100, 1), randomBytes(1_900_000)]));
  }, 120_000);

  it('round-trips any bytes (property, decoded by the bzip2 tool)', () => {
    const runs = fc
      .array(fc.record({ byte: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 600 }) }), { maxLength: 30 })
      .map((rs) => Buffer.concat(rs.map((r) => Buffer.alloc(r.count, r.byte))));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 5000 }), runs, fc.string({ maxLength: 3000 }).map((s) => Buffer.from(s))), (data) => {
        roundTrips(data);
      }),
      { numRuns: 150 },
    );
  });

  it('limits Huffman code lengths (bzip2 decoders take at most 20 bits): skewed frequencies are flattened', () => {
    const fibonacci = [1, 1];
    while (fibonacci.length < 40) fibonacci.push(fibonacci.at(-1)! + fibonacci.at(-2)!);
    const lengths = codeLengths(fibonacci, 17);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(17);
    // Still a complete prefix code (Kraft sum exactly 1).
    expect(lengths.reduce((sum, l) => sum + 2 ** -l, 0)).toBe(1);
  });
});
