import fc from 'fast-check';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { CODECS, resolveCodec, SNAPPY_CHUNK, snappyFramed } from '../../../lib/hdfs/codecs.js';
import { Reader, unframeSnappy } from '../../support/hdfsSequenceFile.js';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };

describe('Hadoop codecs', () => {
  it("resolves hdfs.codeC as Flume does: class name, simple name, name without 'Codec', any case; None is no codec", () => {
    expect(resolveCodec('gzip')).toBe(CODECS.gzip);
    expect(resolveCodec('GzipCodec')).toBe(CODECS.gzip);
    expect(resolveCodec('org.apache.hadoop.io.compress.GzipCodec')).toBe(CODECS.gzip);
    expect(resolveCodec('BZip2')).toBe(CODECS.bzip2);
    expect(resolveCodec('bzip2codec')).toBe(CODECS.bzip2);
    expect(resolveCodec('snappy')).toBe(CODECS.snappy);
    expect(resolveCodec('DEFAULT')).toBe(CODECS.default);
    expect(resolveCodec('deflate')).toBe(CODECS.deflate);
    expect(resolveCodec('None')).toBeUndefined();
    expect(resolveCodec(' ')).toBeUndefined();
    expect([CODECS.gzip, CODECS.default, CODECS.deflate, CODECS.bzip2, CODECS.snappy].map((c) => [c.className, c.extension])).toEqual([
      ['org.apache.hadoop.io.compress.GzipCodec', '.gz'],
      ['org.apache.hadoop.io.compress.DefaultCodec', '.deflate'],
      ['org.apache.hadoop.io.compress.DeflateCodec', '.deflate'],
      ['org.apache.hadoop.io.compress.BZip2Codec', '.bz2'],
      ['org.apache.hadoop.io.compress.SnappyCodec', '.snappy'],
    ]);
  });

  it('names lzo, lzop, lz4 and zstandard as unsupported, and any other name as unknown, at the key', () => {
    for (const name of ['lzo', 'LzopCodec', 'com.hadoop.compression.lzo.LzoCodec', 'lz4', 'zstandard']) {
      expect(() => resolveCodec(name)).toThrow(ConfigError);
      expect(() => resolveCodec(name)).toThrow(/^hdfs\.codeC: expected one of gzip, default, deflate, bzip2, snappy or None, received .*(GPL|not supported)/);
    }
    expect(() => resolveCodec('brotli', 'codec')).toThrow('codec: expected one of gzip, default, deflate, bzip2, snappy or None, received "brotli"');
  });

  it('gzip is a gzip member, default and deflate a zlib stream (with its header, not raw deflate)', async () => {
    const data = Buffer.from('hello hadoop '.repeat(100));
    const gz = CODECS.gzip.compressSync(data);
    expect(gz.subarray(0, 2).toString('hex')).toBe('1f8b');
    expect(zlib.gunzipSync(gz).equals(data)).toBe(true);
    for (const c of [CODECS.default, CODECS.deflate]) {
      const z = c.compressSync(data);
      expect(z[0]).toBe(0x78);
      expect(zlib.inflateSync(z).equals(data)).toBe(true);
      expect((await c.compress(data)).equals(z)).toBe(true);
    }
    expect(zlib.gunzipSync(await CODECS.gzip.compress(data)).equals(data)).toBe(true);
  });

  it('compressing nothing gives nothing for every codec (an empty snappy block would end the file for Hadoop)', async () => {
    for (const c of Object.values(CODECS)) {
      expect(c.compressSync(Buffer.alloc(0))).toHaveLength(0);
      expect(await c.compress(Buffer.alloc(0))).toHaveLength(0);
    }
  });

  it('snappy: one [rawLen][compLen][raw snappy] block per ≤ 64 KiB chunk, never a zero rawLen, and the chunks give the input back', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 300_000 }).map((n) => Buffer.alloc(n, n & 0xff))), (data) => {
        const framed = snappyFramed(data);
        const r = new Reader(framed);
        const rawLengths: number[] = [];
        while (!r.done) {
          const rawLen = r.int32();
          const chunk = snappy.uncompress(r.take(r.int32()));
          expect(chunk.length).toBe(rawLen);
          rawLengths.push(rawLen);
        }
        expect(rawLengths.every((n) => n > 0 && n <= SNAPPY_CHUNK)).toBe(true);
        expect(rawLengths.length).toBe(Math.ceil(data.length / SNAPPY_CHUNK));
        expect(unframeSnappy(framed).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
