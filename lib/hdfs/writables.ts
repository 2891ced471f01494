/**
 * Hadoop's Writable encodings that a SequenceFile writer needs (all big-endian):
 * `WritableUtils.writeVLong` (a sign-and-length byte, then the magnitude), Text (VInt length + UTF-8
 * bytes), BytesWritable (int32 length + bytes) and LongWritable (int64).
 */

export const WRITABLE_CLASSES = {
  LongWritable: 'org.apache.hadoop.io.LongWritable',
  BytesWritable: 'org.apache.hadoop.io.BytesWritable',
  Text: 'org.apache.hadoop.io.Text',
} as const;

/** `WritableUtils.writeVLong`: −112…127 in one byte; otherwise a length byte and 1–8 magnitude bytes (negatives as ~v). */
export function vlong(value: bigint | number): Buffer {
  let v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 63n) throw new RangeError(`${value} does not fit a Java long`);
  if (v >= -112n && v <= 127n) return Buffer.from([Number(BigInt.asUintN(8, v))]);
  let lead = -112;
  if (v < 0n) {
    v = ~v;
    lead = -120;
  }
  const bytes: number[] = [];
  for (let t = v; t !== 0n; t >>= 8n) bytes.unshift(Number(t & 0xffn));
  return Buffer.from([(lead - bytes.length) & 0xff, ...bytes]);
}

/** Text: VInt byte length, then the bytes as given (Hadoop does not validate UTF-8 on write). */
export function text(bytes: Uint8Array | string): Buffer {
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return Buffer.concat([vlong(body.length), body]);
}

/** BytesWritable: int32 length, then the bytes. */
export function bytesWritable(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return out;
}

/** LongWritable: int64. */
export function longWritable(value: bigint | number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeBigInt64BE(BigInt(value), 0);
  return out;
}
