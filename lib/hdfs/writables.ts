/**
 * Hadoop's Writable encodings that a SequenceFile writer needs (all big-endian): VLongWritable
 * (`WritableUtils.writeVLong`: a sign-and-length byte, then the magnitude), Text (VInt length + the bytes),
 * BytesWritable (int32 length + bytes) and LongWritable (int64).
 *
 * Each is one encoder that writes into a caller's buffer at an offset, so a writer sizes a whole flush or
 * block section once and encodes every record straight into it; `encode()` gives a value its own buffer.
 */

export interface ByteEncoder<T> {
  /** Bytes `write` takes for the value. */
  size(value: T): number;
  /** Encodes the value at `at` (the caller made room for `size(value)` bytes); returns the offset after it. */
  write(into: Buffer, at: number, value: T): number;
}

export interface WritableEncoder<T> extends ByteEncoder<T> {
  readonly className: string;
}

const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

/** The value as a Java long; throws a RangeError when it is not an integer or does not fit. */
export function javaLong(value: bigint | number): bigint {
  const v = BigInt(value);
  if (v < LONG_MIN || v > LONG_MAX) throw new RangeError(`${value} does not fit a Java long`);
  return v;
}

// A number path beside the bigint one: VInt lengths are encoded once per Text record, where BigInt costs.
function magnitudeBytes(m: number): number {
  let n = 1;
  for (; m > 0xff; n++) m = Math.floor(m / 256);
  return n;
}

function magnitudeBytesBig(m: bigint): number {
  let n = 1;
  for (; m > 0xffn; n++) m >>= 8n;
  return n;
}

/** `WritableUtils.writeVLong`: −112…127 in one byte; otherwise a length byte and 1–8 magnitude bytes (negatives as ~v). */
export const VLong: WritableEncoder<bigint | number> = {
  className: 'org.apache.hadoop.io.VLongWritable',
  size(value) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (value >= -112 && value <= 127) return 1;
      return 1 + magnitudeBytes(value < 0 ? -value - 1 : value);
    }
    const v = javaLong(value);
    if (v >= -112n && v <= 127n) return 1;
    return 1 + magnitudeBytesBig(v < 0n ? ~v : v);
  },
  write(into, at, value) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      if (value >= -112 && value <= 127) {
        into[at] = value & 0xff;
        return at + 1;
      }
      let m = value < 0 ? -value - 1 : value;
      const n = magnitudeBytes(m);
      into[at] = ((value < 0 ? -120 : -112) - n) & 0xff;
      for (let i = n; i >= 1; i--) {
        into[at + i] = m % 256;
        m = Math.floor(m / 256);
      }
      return at + 1 + n;
    }
    const v = javaLong(value);
    if (v >= -112n && v <= 127n) {
      into[at] = Number(BigInt.asUintN(8, v));
      return at + 1;
    }
    let m = v < 0n ? ~v : v;
    const n = magnitudeBytesBig(m);
    into[at] = ((v < 0n ? -120 : -112) - n) & 0xff;
    for (let i = n; i >= 1; i--) {
      into[at + i] = Number(m & 0xffn);
      m >>= 8n;
    }
    return at + 1 + n;
  },
};

/** LongWritable: int64. */
export const LongWritable: WritableEncoder<bigint | number> = {
  className: 'org.apache.hadoop.io.LongWritable',
  size: () => 8,
  write: (into, at, value) => into.writeBigInt64BE(typeof value === 'bigint' ? value : BigInt(value), at),
};

/** Text: VInt byte length, then the bytes as given (Hadoop does not validate UTF-8 on write). */
export const Text: WritableEncoder<Uint8Array> = {
  className: 'org.apache.hadoop.io.Text',
  size: (bytes) => VLong.size(bytes.length) + bytes.length,
  write(into, at, bytes) {
    at = VLong.write(into, at, bytes.length);
    into.set(bytes, at);
    return at + bytes.length;
  },
};

/** BytesWritable: int32 length, then the bytes. */
export const BytesWritable: WritableEncoder<Uint8Array> = {
  className: 'org.apache.hadoop.io.BytesWritable',
  size: (bytes) => 4 + bytes.length,
  write(into, at, bytes) {
    at = into.writeInt32BE(bytes.length, at);
    into.set(bytes, at);
    return at + bytes.length;
  },
};

/** Bytes already encoded (a RECORD-compressed value): written as they are. */
export const RawBytes: ByteEncoder<Uint8Array> = {
  size: (bytes) => bytes.length,
  write(into, at, bytes) {
    into.set(bytes, at);
    return at + bytes.length;
  },
};

/** The value in a buffer of its own. */
export function encode<T>(encoder: ByteEncoder<T>, value: T): Buffer {
  const out = Buffer.allocUnsafe(encoder.size(value));
  encoder.write(out, 0, value);
  return out;
}

/** Text of a string's UTF-8 bytes (class names, metadata). */
export function text(value: string): Buffer {
  return encode(Text, Buffer.from(value, 'utf8'));
}
