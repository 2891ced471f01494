/**
 * The protobuf wire format, as much of it as Hadoop's RPC and DataTransferProtocol need: varints
 * (64-bit, negative int64 as ten bytes), zigzag sint, fixed 32/64, length-delimited fields, and
 * `delimited` messages (a varint length, then the message: protobuf's writeDelimitedTo). Messages are
 * built by concatenating fields (`message(pb.uint(1, x), pb.string(2, s))`) and read into `Fields`, a
 * field-number index that leaves unknown fields alone, as protobuf does. No generated code, no
 * dependency: the few dozen messages used are spelled out beside their calls with Hadoop's field numbers.
 */

export type Varint = number | bigint;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** A protobuf message that does not parse. */
export class ProtobufError extends Error {}

export function encodeVarint(value: Varint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  if (v < 0x80n) return Buffer.of(Number(v));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function key(field: number, wire: number): Buffer {
  return encodeVarint((field << 3) | wire);
}

/** One field each; `undefined` writes nothing (an absent optional field). */
export const pb = {
  uint: (field: number, value: Varint | boolean | undefined): Buffer | undefined =>
    value === undefined ? undefined : Buffer.concat([key(field, WIRE_VARINT), encodeVarint(typeof value === 'boolean' ? (value ? 1 : 0) : value)]),
  /** sint32/sint64 (zigzag). */
  sint: (field: number, value: Varint | undefined): Buffer | undefined => {
    if (value === undefined) return undefined;
    const v = BigInt(value);
    return Buffer.concat([key(field, WIRE_VARINT), encodeVarint(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)))]);
  },
  bytes: (field: number, value: Uint8Array | undefined): Buffer | undefined =>
    value === undefined ? undefined : Buffer.concat([key(field, WIRE_BYTES), encodeVarint(value.length), value]),
  string: (field: number, value: string | undefined): Buffer | undefined => (value === undefined ? undefined : pb.bytes(field, Buffer.from(value, 'utf8'))),
};

export function message(...fields: ReadonlyArray<Buffer | undefined | ReadonlyArray<Buffer | undefined>>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (f === undefined) continue;
    if (Buffer.isBuffer(f)) parts.push(f);
    else for (const g of f as ReadonlyArray<Buffer | undefined>) if (g !== undefined) parts.push(g);
  }
  return Buffer.concat(parts);
}

/** A message preceded by its length as a varint. */
export function delimited(body: Buffer): Buffer {
  return Buffer.concat([encodeVarint(body.length), body]);
}

/** The varint at `offset`: its value and the offset after it; undefined when `buf` ends first. */
export function readVarint(buf: Uint8Array, offset: number): [bigint, number] | undefined {
  let result = 0n;
  let shift = 0n;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const b = buf[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  if (buf.length >= offset + 10) throw new ProtobufError('a varint longer than 10 bytes');
  return undefined;
}

type Raw = { wire: 0 | 1 | 5; value: bigint } | { wire: 2; value: Buffer };

/** A parsed message: every value of each field number, in order. */
export class Fields {
  private constructor(private readonly map: Map<number, Raw[]>) {}

  static decode(buf: Buffer): Fields {
    const map = new Map<number, Raw[]>();
    let at = 0;
    while (at < buf.length) {
      const k = readVarint(buf, at);
      if (!k) throw new ProtobufError('a truncated field key');
      const field = Number(k[0] >> 3n);
      const wire = Number(k[0] & 7n);
      at = k[1];
      let raw: Raw;
      if (wire === WIRE_VARINT) {
        const v = readVarint(buf, at);
        if (!v) throw new ProtobufError(`field ${field}: a truncated varint`);
        raw = { wire, value: v[0] };
        at = v[1];
      } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
        const size = wire === WIRE_FIXED64 ? 8 : 4;
        if (at + size > buf.length) throw new ProtobufError(`field ${field}: a truncated fixed value`);
        raw = { wire, value: size === 8 ? buf.readBigUInt64LE(at) : BigInt(buf.readUInt32LE(at)) };
        at += size;
      } else if (wire === WIRE_BYTES) {
        const len = readVarint(buf, at);
        if (!len) throw new ProtobufError(`field ${field}: a truncated length`);
        const end = len[1] + Number(len[0]);
        if (end > buf.length) throw new ProtobufError(`field ${field}: ${len[0]} bytes announced, ${buf.length - len[1]} left`);
        raw = { wire, value: buf.subarray(len[1], end) };
        at = end;
      } else {
        throw new ProtobufError(`field ${field}: wire type ${wire} is not supported`);
      }
      const list = map.get(field);
      if (list) list.push(raw);
      else map.set(field, [raw]);
    }
    return new Fields(map);
  }

  has(field: number): boolean {
    return this.map.has(field);
  }

  private last(field: number): Raw | undefined {
    const list = this.map.get(field);
    return list?.[list.length - 1];
  }

  /** An unsigned varint or fixed value. */
  big(field: number): bigint | undefined {
    const raw = this.last(field);
    return raw === undefined || raw.wire === 2 ? undefined : raw.value;
  }

  /** A varint read as a JS number (int32/int64 values sign-extended). */
  num(field: number): number | undefined {
    const v = this.big(field);
    return v === undefined ? undefined : Number(BigInt.asIntN(64, v));
  }

  /** A zigzag (sint32/sint64) value. */
  sint(field: number): number | undefined {
    const v = this.big(field);
    return v === undefined ? undefined : Number((v >> 1n) ^ -(v & 1n));
  }

  bool(field: number): boolean | undefined {
    const v = this.big(field);
    return v === undefined ? undefined : v !== 0n;
  }

  bytes(field: number): Buffer | undefined {
    const raw = this.last(field);
    return raw?.wire === 2 ? raw.value : undefined;
  }

  string(field: number): string | undefined {
    return this.bytes(field)?.toString('utf8');
  }

  message(field: number): Fields | undefined {
    const b = this.bytes(field);
    return b === undefined ? undefined : Fields.decode(b);
  }

  /** Every length-delimited value of a repeated field. */
  allBytes(field: number): Buffer[] {
    return (this.map.get(field) ?? []).flatMap((r) => (r.wire === 2 ? [r.value] : []));
  }

  messages(field: number): Fields[] {
    return this.allBytes(field).map((b) => Fields.decode(b));
  }

  /** Every value of a repeated varint field, packed or not. */
  nums(field: number): number[] {
    const out: number[] = [];
    for (const r of this.map.get(field) ?? []) {
      if (r.wire !== 2) {
        out.push(Number(BigInt.asIntN(64, r.value)));
        continue;
      }
      for (let at = 0; at < r.value.length; ) {
        const v = readVarint(r.value, at);
        if (!v) throw new ProtobufError(`field ${field}: a truncated packed varint`);
        out.push(Number(BigInt.asIntN(64, v[0])));
        at = v[1];
      }
    }
    return out;
  }
}
