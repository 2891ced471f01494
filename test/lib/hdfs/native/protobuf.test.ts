/** lib/hdfs/native/protobuf.ts and crc32c.ts: the wire codec Hadoop's RPC and DataTransferProtocol are spoken with. */
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../../lib/hdfs/native/crc32c.js';
import { delimited, encodeVarint, Fields, message, pb, ProtobufError, readVarint } from '../../../../lib/hdfs/native/protobuf.js';

describe('protobuf wire codec', () => {
  it('varints: small, multi-byte, 64-bit and negative int64 as ten bytes', () => {
    expect(encodeVarint(0).toString('hex')).toBe('00');
    expect(encodeVarint(300).toString('hex')).toBe('ac02');
    expect(encodeVarint(2n ** 63n).toString('hex')).toBe('80808080808080808001');
    expect(encodeVarint(-1).toString('hex')).toBe('ffffffffffffffffff01');
    expect(readVarint(Buffer.from('ac02', 'hex'), 0)).toEqual([300n, 2]);
    expect(readVarint(Buffer.from('ac', 'hex'), 0)).toBeUndefined();
  });

  it('sint is zigzag: -3 (the IPC connection-context call id, an sint32) is 5', () => {
    expect(pb.sint(3, -3)!.toString('hex')).toBe('1805');
    expect(pb.sint(5, -1)!.toString('hex')).toBe('2801');
    expect(Fields.decode(pb.sint(1, -123456789)!).sint(1)).toBe(-123456789);
  });

  it('round-trips strings, nested messages, repeated and packed fields, and skips absent ones', () => {
    const inner = message(pb.string(1, 'pool'), pb.uint(2, 1073741825n), pb.uint(3, 1001));
    const m = message(pb.bytes(1, inner), pb.uint(2, undefined), [pb.uint(7, 1), pb.uint(7, 2)], pb.bytes(8, Buffer.concat([encodeVarint(3), encodeVarint(300)])), pb.uint(9, true));
    const f = Fields.decode(m);
    expect(f.message(1)!.string(1)).toBe('pool');
    expect(f.message(1)!.big(2)).toBe(1073741825n);
    expect(f.has(2)).toBe(false);
    expect(f.nums(7)).toEqual([1, 2]);
    expect(f.nums(8)).toEqual([3, 300]);
    expect(f.bool(9)).toBe(true);
    expect(delimited(m).subarray(0, 1)[0]).toBe(m.length);
  });

  it('rejects a truncated message instead of reading past it', () => {
    expect(() => Fields.decode(Buffer.from('0a05616263', 'hex'))).toThrow(ProtobufError);
    expect(() => Fields.decode(Buffer.from('08', 'hex'))).toThrow(ProtobufError);
    expect(() => Fields.decode(Buffer.from('0b', 'hex'))).toThrow(/wire type 3/);
  });
});

describe('crc32c', () => {
  it('matches the standard check value and Hadoop-sized chunks computed byte by byte', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const data = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 131 + 7) & 0xff));
    // A plain bitwise CRC32C, as the reference.
    const slow = (b: Buffer) => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    for (const [s, e] of [[0, 512], [512, 1024], [1024, 1500], [3, 10], [0, 1500]] as const) expect(crc32c(data, s, e)).toBe(slow(data.subarray(s, e)));
  });
});
