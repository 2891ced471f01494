/**
 * What avroSource (server) and avroSink (client) share about Avro RPC as Flume speaks it: the
 * `AvroSourceProtocol` text and MD5, Avro's Netty framing, the handshake records, call and response
 * encoding, Netty's zlib layer and the TLS version range. Not a component: components never import
 * each other, so their common mechanism lives here; it imports only node built-ins.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { constants as zlibConstants, createDeflate, createInflate } from 'node:zlib';

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

// ---- compression -------------------------------------------------------------------------------

/**
 * The socket as a zlib stream both ways, as Netty's JZlibDecoder/JZlibEncoder: what is written is
 * deflated and sync-flushed at once (one flush per write, so each message or TLS record leaves
 * whole); what arrives is inflated. A corrupt inbound stream calls `onCorrupt` when given (the
 * caller reports it, and zlib failures then close the stream without an error); without it the
 * stream is destroyed with the zlib error.
 */
export function zlibStream(socket: Socket, level: number, onCorrupt?: () => void): Duplex {
  const inflate = createInflate();
  const deflate = createDeflate({ level });
  const stream = new Duplex({
    read() {
      inflate.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      deflate.write(chunk);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => callback());
    },
    final(callback) {
      deflate.end(() => callback());
    },
    destroy(error, callback) {
      inflate.destroy();
      deflate.destroy();
      socket.destroy();
      callback(error);
    },
  });
  stream.on('error', () => undefined); // reported through onCorrupt, 'close' or the socket
  socket.on('data', (c: Buffer) => {
    if (!inflate.write(c)) socket.pause();
  });
  inflate.on('drain', () => socket.resume());
  // The peer's zlib stream never gets a final block (sync flushes only): its end is just EOF.
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  inflate.on('data', (c: Buffer) => {
    if (!stream.push(c)) inflate.pause();
  });
  inflate.on('end', () => stream.push(null));
  inflate.on('error', (e) => (onCorrupt ? onCorrupt() : stream.destroy(e)));
  deflate.on('data', (c: Buffer) => {
    if (socket.writable) socket.write(c);
  });
  deflate.on('error', (e) => stream.destroy(onCorrupt ? undefined : e));
  return stream;
}

// ---- framing -----------------------------------------------------------------------------------

export interface Frame {
  serial: number;
  message: Buffer;
}

/** Estimated heap bytes of one kept buffer view and its array slot, beyond its bytes (measured ~110 on Node 20). */
export const PART_COST = 128;
/** Buffers per frame allowed when a decoder is given no limit (Java's 64 MiB message is ~8,200 buffers of 8 KiB). */
export const DEFAULT_MAX_BUFFERS = 65_536;
/** A single-buffer message sharing a chunk that is larger by more than this is copied out, so it does not keep the chunk alive. */
const SHARED_CHUNK_SLACK = 8192;
const EMPTY = Buffer.alloc(0);

/** Bytes that are not Netty framing or exceed a limit; `serial` is set once the frame's header arrived. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly serial: number | undefined,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Bytes received and not yet consumed, as a list of chunks (no quadratic concatenation). */
class ByteQueue {
  private chunks: Buffer[] = [];
  /** Consumed bytes of chunks[0]. */
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next big-endian int32 (callers check `length` first); no allocation. */
  int32(): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= 4) {
      const v = first.readInt32BE(this.offset);
      this.advance(first, 4);
      return v;
    }
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const chunk = this.chunks[0]!;
      v = (v << 8) | chunk[this.offset]!;
      this.advance(chunk, 1);
    }
    return v | 0;
  }

  /** The next `n` bytes, n > 0 (callers check `length` first): a view when they lie in one chunk, else a copy. */
  take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const k = Math.min(chunk.length - this.offset, n - at);
      chunk.copy(out, at, this.offset, this.offset + k);
      at += k;
      this.advance(chunk, k);
    }
    return out;
  }

  private advance(chunk: Buffer, n: number): void {
    this.length -= n;
    this.offset += n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/**
 * Avro's `NettyTransportCodec` framing: int32 serial, int32 buffer count, then count × (int32 length,
 * bytes); one frame is one message. Limits are checked as each header arrives, before anything is
 * kept: a buffer count over `maxBuffers`, or a length taking the message over `maxBytes`, throws a
 * `FrameError` (so does a negative count or length). Zero-length buffers cost nothing (not kept).
 *
 * `write` + `next` decode one frame at a time (what is not asked for stays raw bytes); `push` does both.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private serial = 0;
  /** Buffers still to read in the current frame; -1 while waiting for a header. */
  private remaining = -1;
  private partLength = -1;
  private parts: Buffer[] = [];
  private size = 0;
  /** What the current frame's consumed bytes may keep alive: header and lengths (views share their chunks), parts and their views. */
  private current = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxBuffers: number = DEFAULT_MAX_BUFFERS,
  ) {}

  /** Bytes held: received and not yet returned as frames, with the estimated cost of kept views. */
  get held(): number {
    return this.queue.length + this.current;
  }

  /** The serial of the frame being received, once its header arrived. */
  get pendingSerial(): number | undefined {
    return this.remaining < 0 ? undefined : this.serial;
  }

  write(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws a FrameError on bad framing or a limit. */
  next(): Frame | undefined {
    if (this.remaining < 0) {
      if (this.queue.length < 8) return undefined;
      this.serial = this.queue.int32();
      const count = this.queue.int32();
      if (count < 0 || count > this.maxBuffers) {
        throw new FrameError(`a frame of ${count} buffers (limit ${this.maxBuffers} per message)`, this.serial);
      }
      this.remaining = count;
      this.size = 0;
      this.current = 8;
    }
    while (this.remaining > 0) {
      if (this.partLength < 0) {
        if (this.queue.length < 4) return undefined;
        this.partLength = this.queue.int32();
        this.current += 4;
        if (this.partLength < 0 || this.size + this.partLength > this.maxBytes) {
          throw new FrameError(`a buffer of ${this.partLength} bytes after ${this.size} (limit ${this.maxBytes} per message)`, this.serial);
        }
      }
      if (this.queue.length < this.partLength) return undefined;
      if (this.partLength > 0) {
        this.parts.push(this.queue.take(this.partLength));
        this.size += this.partLength;
        this.current += this.partLength + PART_COST;
      }
      this.partLength = -1;
      this.remaining--;
    }
    const parts = this.parts;
    let message: Buffer;
    if (parts.length === 0) message = EMPTY;
    else if (parts.length > 1) message = Buffer.concat(parts, this.size);
    else message = parts[0]!.buffer.byteLength - parts[0]!.length > SHARED_CHUNK_SLACK ? Buffer.from(parts[0]!) : parts[0]!;
    this.parts = [];
    this.remaining = -1;
    this.current = 0;
    return { serial: this.serial, message };
  }

  /** Every whole frame the bytes so far complete. */
  push(chunk: Buffer): Frame[] {
    this.write(chunk);
    const out: Frame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) out.push(frame);
    return out;
  }
}

/** One message as a Netty frame (see FrameDecoder). */
export function encodeFrame(serial: number, parts: readonly Buffer[]): Buffer {
  let size = 8;
  for (const p of parts) size += 4 + p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(serial, 0);
  out.writeInt32BE(parts.length, 4);
  let at = 8;
  for (const p of parts) {
    out.writeInt32BE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}

// ---- Avro binary -------------------------------------------------------------------------------

/**
 * Avro binary decoding of what this protocol needs. Every length and block count is checked against
 * the bytes left, so a hostile count cannot make it loop or allocate. `what` names the buffer in
 * errors ("truncated message").
 */
export class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    private readonly what = 'message',
  ) {}

  long(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) throw new Error(`truncated ${this.what}`);
      if (i === 10) throw new Error('bad varint');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  fixed(size: number): Buffer {
    if (this.pos + size > this.buf.length) throw new Error(`truncated ${this.what}`);
    const out = this.buf.subarray(this.pos, this.pos + size);
    this.pos += size;
    return out;
  }

  bytes(): Buffer {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    return this.fixed(n);
  }

  /** Skips a bytes or string value without making a view of it. */
  skipBytes(): void {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    if (this.pos + n > this.buf.length) throw new Error(`truncated ${this.what}`);
    this.pos += n;
  }

  string(): string {
    const n = this.long();
    if (n < 0) throw new Error(`negative length ${n}`);
    if (this.pos + n > this.buf.length) throw new Error(`truncated ${this.what}`);
    const out = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  boolean(): boolean {
    return this.fixed(1)[0] !== 0;
  }

  /** The next block's item count (0 ends), bounded by the bytes left (each item takes at least one). */
  block(): number {
    let n = this.long();
    if (n < 0) {
      n = -n;
      this.long(); // block size in bytes
    }
    if (n > this.buf.length - this.pos) throw new Error(`block of ${n} items in ${this.buf.length - this.pos} bytes`);
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

/** The message name of a call (its metadata skipped). */
export function readCallHeader(r: Reader): string {
  skipMap(r);
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
