/**
 * What avroSource (server) and avroSink (client) share about Avro RPC as Flume speaks it: the
 * `AvroSourceProtocol` text and MD5, the Avro binary reader, the handshake records, and call and
 * response encoding (the framing is in ./frames.ts, Netty's zlib layer in ./zlibStream.ts). Not a
 * component: components never import each other, so their common mechanism lives here; it imports
 * only node built-ins.
 */
import { createHash } from 'node:crypto';

// ---- the protocol ------------------------------------------------------------------------------

/**
 * Flume's `AvroSourceProtocol` exactly as Java prints it (flume-ng-sdk 1.11.0 `AvroSourceProtocol.PROTOCOL`,
 * the licence comment of flume.avdl becoming `doc`). Its MD5 is what Flume's clients send as the server
 * hash, so using this text makes them match on the first handshake (BOTH).
 */
export const AVRO_SOURCE_PROTOCOL = JSON.stringify({
  protocol: 'AvroSourceProtocol',
  namespace: 'org.apache.flume.source.avro',
  doc: [
    '* Licensed to the Apache Software Foundation (ASF) under one',
    ' * or more contributor license agreements.  See the NOTICE file',
    ' * distributed with this work for additional information',
    ' * regarding copyright ownership.  The ASF licenses this file',
    ' * to you under the Apache License, Version 2.0 (the',
    ' * "License"); you may not use this file except in compliance',
    ' * with the License.  You may obtain a copy of the License at',
    ' *',
    ' * http://www.apache.org/licenses/LICENSE-2.0',
    ' *',
    ' * Unless required by applicable law or agreed to in writing,',
    ' * software distributed under the License is distributed on an',
    ' * "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY',
    ' * KIND, either express or implied.  See the License for the',
    ' * specific language governing permissions and limitations',
    ' * under the License.',
  ].join('\n'),
  types: [
    { type: 'enum', name: 'Status', symbols: ['OK', 'FAILED', 'UNKNOWN'] },
    {
      type: 'record',
      name: 'AvroFlumeEvent',
      fields: [
        { name: 'headers', type: { type: 'map', values: 'string' } },
        { name: 'body', type: 'bytes' },
      ],
    },
  ],
  messages: {
    append: { request: [{ name: 'event', type: 'AvroFlumeEvent' }], response: 'Status' },
    appendBatch: { request: [{ name: 'events', type: { type: 'array', items: 'AvroFlumeEvent' } }], response: 'Status' },
  },
});

/** MD5 of `AVRO_SOURCE_PROTOCOL` (`86aadae2…`): the hash Flume's clients and servers know. */
export const AVRO_SOURCE_PROTOCOL_HASH = createHash('md5').update(AVRO_SOURCE_PROTOCOL, 'utf8').digest();

// ---- Avro binary -------------------------------------------------------------------------------

type Utf8Slicing = Buffer & { utf8Slice(start: number, end: number): string };

/**
 * UTF-8 text of `buf[start, end)`. Node's own `utf8Slice` (what `toString` ends in; avsc calls it too)
 * skips `toString`'s argument checks and encoding dispatch, which showed in profiles as much as the
 * decoding itself for short header strings.
 */
const utf8: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Utf8Slicing>).utf8Slice === 'function'
    ? (buf, start, end) => (buf as Utf8Slicing).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

const NO_BYTES = Buffer.alloc(0);

const fromCodes = String.fromCharCode;

/**
 * The text of `n` ≤ 16 bytes at `v[a]` when they are all ASCII (what UTF-8 and Latin-1 agree on), else
 * undefined. String.fromCharCode with a fixed argument count is compiled inline, about twice as fast
 * as a call into `utf8Slice` for such short strings (measured 40-50 ns against 95-110 on Node 20 and
 * 24); a batch's changing header values (timestamps, ids) are this short, and one per event was the
 * largest cost of decoding a call.
 */
function shortAscii(v: Buffer, a: number, n: number): string | undefined {
  let or = 0;
  for (let i = a; i < a + n; i++) or |= v[i]!;
  if (or > 0x7f) return undefined;
  // prettier-ignore
  switch (n) {
    case 1: return fromCodes(v[a]!);
    case 2: return fromCodes(v[a]!, v[a + 1]!);
    case 3: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!);
    case 4: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!);
    case 5: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!);
    case 6: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!);
    case 7: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!);
    case 8: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!);
    case 9: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!);
    case 10: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!);
    case 11: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!);
    case 12: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!, v[a + 11]!);
    case 13: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!, v[a + 11]!, v[a + 12]!);
    case 14: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!, v[a + 11]!, v[a + 12]!, v[a + 13]!);
    case 15: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!, v[a + 11]!, v[a + 12]!, v[a + 13]!, v[a + 14]!);
    case 16: return fromCodes(v[a]!, v[a + 1]!, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, v[a + 8]!, v[a + 9]!, v[a + 10]!, v[a + 11]!, v[a + 12]!, v[a + 13]!, v[a + 14]!, v[a + 15]!);
  }
  return undefined;
}

/**
 * Avro binary decoding of what this protocol needs, from one buffer or from the views a message
 * arrived in (`FrameDecoder.nextViews`), in place: a value inside one view is read there (bytes as a
 * view of it), one spanning views is copied out. Every length and block count is checked against the
 * bytes left, so a hostile count cannot make it loop or allocate. `what` names the buffer in errors
 * ("truncated message").
 */
export class Reader {
  /** Bytes in all. */
  readonly length: number;
  private readonly views: readonly Buffer[];
  /** The view being read, its index, where in it, and the absolute offset of its first byte. */
  private view: Buffer;
  private index = 0;
  private at = 0;
  private base = 0;

  constructor(
    source: Buffer | readonly Buffer[],
    private readonly what = 'message',
  ) {
    const views = Buffer.isBuffer(source) ? [source] : source.filter((v) => v.length > 0);
    this.views = views.length > 0 ? views : [NO_BYTES];
    let length = 0;
    for (const v of this.views) length += v.length;
    this.length = length;
    this.view = this.views[0]!;
  }

  /** Bytes read so far; setting it moves there (0 ≤ pos ≤ length). */
  get pos(): number {
    return this.base + this.at;
  }

  set pos(to: number) {
    if (to < 0 || to > this.length) throw new RangeError(`position ${to} outside 0..${this.length}`);
    this.index = 0;
    this.base = 0;
    this.view = this.views[0]!;
    while (to - this.base > this.view.length || (to - this.base === this.view.length && this.index < this.views.length - 1)) {
      this.base += this.view.length;
      this.view = this.views[++this.index]!;
    }
    this.at = to - this.base;
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.length - this.base - this.at;
  }

  /** Moves to the next view once this one is read (the last view stays, at its end). */
  private step(): void {
    if (this.at === this.view.length && this.index < this.views.length - 1) {
      this.base += this.view.length;
      this.view = this.views[++this.index]!;
      this.at = 0;
    }
  }

  private byte(): number {
    if (this.at >= this.view.length) throw new Error(`truncated ${this.what}`);
    const b = this.view[this.at++]!;
    this.step();
    return b;
  }

  long(): number {
    let n = 0;
    let scale = 1;
    const view = this.view;
    let at = this.at;
    if (view.length - at > 10) {
      // Within this view: no bounds or view checks per byte.
      for (let i = 0; ; i++) {
        if (i === 10) throw new Error('bad varint');
        const b = view[at++]!;
        n += (b & 0x7f) * scale;
        scale *= 128;
        if ((b & 0x80) === 0) break;
      }
      this.at = at;
    } else {
      for (let i = 0; ; i++) {
        if (this.left === 0) throw new Error(`truncated ${this.what}`);
        if (i === 10) throw new Error('bad varint');
        const b = this.byte();
        n += (b & 0x7f) * scale;
        scale *= 128;
        if ((b & 0x80) === 0) break;
      }
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /** The next `size` bytes: a view when they lie in one view, else a copy. */
  fixed(size: number): Buffer {
    if (size > this.left) throw new Error(`truncated ${this.what}`);
    const at = this.at;
    const view = this.view;
    if (view.length - at >= size) {
      this.at = at + size;
      this.step();
      return view.subarray(at, at + size);
    }
    const out = Buffer.allocUnsafe(size);
    for (let done = 0; done < size; ) {
      const k = Math.min(this.view.length - this.at, size - done);
      this.view.copy(out, done, this.at, this.at + k);
      done += k;
      this.at += k;
      this.step();
    }
    return out;
  }

  bytes(): Buffer {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    return this.fixed(n);
  }

  /** Skips a bytes or string value without making a view of it; returns its length. */
  skipBytes(): number {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    if (n > this.left) throw new Error(`truncated ${this.what}`);
    for (let left = n; left > 0; ) {
      const k = Math.min(this.view.length - this.at, left);
      this.at += k;
      left -= k;
      this.step();
    }
    return n;
  }

  string(): string {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    if (n > this.left) throw new Error(`truncated ${this.what}`);
    const at = this.at;
    const view = this.view;
    if (view.length - at >= n) {
      this.at = at + n;
      this.step();
      return (n <= 16 ? shortAscii(view, at, n) : undefined) ?? utf8(view, at, at + n);
    }
    return this.fixed(n).toString('utf8');
  }

  /**
   * A string value that is likely `like` (the same header key or value as the previous event's): when
   * its bytes are exactly that ASCII text, `like` itself is returned and no string is made.
   */
  stringLike(like: string | undefined): string {
    if (like === undefined) return this.string();
    const at = this.at;
    const view = this.view;
    const n = like.length;
    // The length varint of a short string is one byte (2n); compare in place, else read as usual.
    // The last byte first: a value that changes from event to event (a timestamp, a counter) mostly differs there.
    if (n < 64 && view.length - at > n && view[at] === n * 2 && (n === 0 || view[at + n] === like.charCodeAt(n - 1))) {
      let i = 0;
      for (; i < n; i++) {
        const c = like.charCodeAt(i);
        if (c > 0x7f || view[at + 1 + i] !== c) break;
      }
      if (i === n) {
        this.at = at + 1 + n;
        this.step();
        return like;
      }
    }
    return this.string();
  }

  boolean(): boolean {
    if (this.left === 0) throw new Error(`truncated ${this.what}`);
    return this.byte() !== 0;
  }

  /** The next block's item count (0 ends), bounded by the bytes left (each item takes at least one). */
  block(): number {
    let n = this.long();
    if (n < 0) {
      n = -n;
      this.long(); // block size in bytes
    }
    if (n > this.left) throw new Error(`block of ${n} items in ${this.left} bytes`);
    return n;
  }
}

/** Skips a map<bytes> (call or handshake metadata). */
export function skipMap(r: Reader): void {
  for (let n = r.block(); n > 0; n = r.block()) {
    for (let i = 0; i < n; i++) {
      r.skipBytes();
      r.skipBytes();
    }
  }
}

/** The branch of a `[null, T]` union. */
export function unionIndex(r: Reader): 0 | 1 {
  const i = r.long();
  if (i !== 0 && i !== 1) throw new Error(`bad union index ${i}`);
  return i;
}

/** A non-negative Avro long (lengths). */
export function zigzag(n: number): Buffer {
  const bytes: number[] = [];
  let v = n * 2; // non-negative only
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

// ---- handshake ---------------------------------------------------------------------------------

/** HandshakeMatch symbols. */
export const BOTH = 0;
export const CLIENT = 1;
export const NONE = 2;

export interface HandshakeRequest {
  clientHash: Buffer;
  /** The protocol text's UTF-8 bytes, undecoded: the caller bounds what it parses. */
  clientProtocol: Buffer | null;
  serverHash: Buffer;
}

/** HandshakeRequest{clientHash, clientProtocol, serverHash, meta}; meta is skipped. */
export function readHandshakeRequest(r: Reader): HandshakeRequest {
  const clientHash = r.fixed(16);
  const clientProtocol = unionIndex(r) === 1 ? r.bytes() : null;
  const serverHash = r.fixed(16);
  if (unionIndex(r) === 1) skipMap(r);
  return { clientHash, clientProtocol, serverHash };
}

/** Our HandshakeRequest, Flume's hash both ways and no meta; the protocol text only when asked for. */
export function writeHandshakeRequest(withProtocol: boolean): Buffer {
  const hash = AVRO_SOURCE_PROTOCOL_HASH;
  if (!withProtocol) return Buffer.concat([hash, Buffer.from([0x00]), hash, Buffer.from([0x00])]);
  const text = Buffer.from(AVRO_SOURCE_PROTOCOL, 'utf8');
  return Buffer.concat([hash, Buffer.from([0x02]), zigzag(text.length), text, hash, Buffer.from([0x00])]);
}

/** HandshakeResponse{match, serverProtocol, serverHash, meta: null}; our protocol and hash unless BOTH. */
export function writeHandshakeResponse(match: number): Buffer {
  if (match === BOTH) return Buffer.from([0x00, 0x00, 0x00, 0x00]);
  const text = Buffer.from(AVRO_SOURCE_PROTOCOL, 'utf8');
  return Buffer.concat([Buffer.from([match * 2, 0x02]), zigzag(text.length), text, Buffer.from([0x02]), AVRO_SOURCE_PROTOCOL_HASH, Buffer.from([0x00])]);
}

/** The match and server protocol of a HandshakeResponse (hash and meta skipped). */
export function readHandshakeResponse(r: Reader): { match: number; serverProtocol: string | null } {
  const match = r.long();
  const serverProtocol = unionIndex(r) === 1 ? r.string() : null;
  if (unionIndex(r) === 1) r.fixed(16);
  if (unionIndex(r) === 1) skipMap(r);
  return { match, serverProtocol };
}

// ---- calls and responses -----------------------------------------------------------------------

/** A call's start: empty metadata, then the message name ('' is a handshake ping). */
export function writeCallHeader(name: string): Buffer {
  const text = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([0x00]), zigzag(text.length), text]);
}

/** The message name of a call (its metadata skipped); a name longer than `maxNameBytes` is refused unread. */
export function readCallHeader(r: Reader, maxNameBytes = Infinity): string {
  skipMap(r);
  const at = r.pos;
  const n = r.long();
  if (n > maxNameBytes) throw new Error(`a message name of ${n} bytes`);
  r.pos = at;
  return r.string();
}

// Response: empty meta map, error flag, then Status (OK = 0, FAILED = 1) or the system error union ["string"].
export const STATUS_OK = Buffer.from([0x00, 0x00, 0x00]);
export const STATUS_FAILED = Buffer.from([0x00, 0x00, 0x02]);

/** A response carrying an Avro system error (a string). */
export function systemError(message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from([0x00, 0x01, 0x00]), zigzag(text.length), text]);
}

/** The index of the enum a response carries; throws with the server's message on an error response. */
export function readEnumResponse(r: Reader): number {
  skipMap(r);
  if (r.boolean()) {
    const i = r.long();
    throw new Error(`server error: ${i === 0 ? r.string() : `error union branch ${i}`}`);
  }
  return r.long();
}
