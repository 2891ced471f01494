/**
 * What avroSource (server) and avroSink (client) share about Avro RPC as Flume speaks it: the
 * `AvroSourceProtocol` text and MD5, Avro's Netty framing, the handshake records, call and response
 * encoding, Netty's zlib layer and the TLS version range. Not a component: components never import
 * each other, so their common mechanism lives here; it imports only node built-ins.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { SecureVersion } from 'node:tls';
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

// ---- TLS ---------------------------------------------------------------------------------------

/** Flume's `exclude-protocols` values. */
export const TLS_PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsProtocol = (typeof TLS_PROTOCOLS)[number];

/** [min, max] TLS versions left after the exclusions, or undefined when not a contiguous range. */
export function protocolRange(excluded: readonly TlsProtocol[]): [SecureVersion, SecureVersion] | undefined {
  const names: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  const allowed = names.map((p) => !excluded.includes(p));
  const first = allowed.indexOf(true);
  const last = allowed.lastIndexOf(true);
  if (first < 0 || allowed.slice(first, last + 1).includes(false)) return undefined;
  return [names[first]!, names[last]!];
}

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

/** Bytes received and not yet consumed, as a list of chunks (no quadratic concatenation). */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next `n` bytes (callers check `length` first). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.length -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const k = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, k);
      at += k;
      if (k === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(k);
    }
    return out;
  }
}

/**
 * Avro's `NettyTransportCodec` framing: int32 serial, int32 buffer count, then count × (int32 length,
 * bytes); one frame is one message. Throws on a negative count or length, or a message over `maxBytes`.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private serial = 0;
  private count = -1;
  private partLength = -1;
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): Frame[] {
    this.queue.push(chunk);
    const out: Frame[] = [];
    for (;;) {
      if (this.count < 0) {
        if (this.queue.length < 8) return out;
        const header = this.queue.take(8);
        this.serial = header.readInt32BE(0);
        this.count = header.readInt32BE(4);
        // Every buffer costs at least its 4-byte length, so a count this large cannot fit in maxBytes.
        if (this.count < 0 || this.count > this.maxBytes / 4) throw new Error(`bad frame: ${this.count} buffers`);
        this.parts = [];
        this.size = 0;
      }
      while (this.parts.length < this.count) {
        if (this.partLength < 0) {
          if (this.queue.length < 4) return out;
          this.partLength = this.queue.take(4).readInt32BE(0);
          if (this.partLength < 0 || this.size + this.partLength > this.maxBytes) {
            throw new Error(`bad frame: a buffer of ${this.partLength} bytes (limit ${this.maxBytes} per message)`);
          }
        }
        if (this.queue.length < this.partLength) return out;
        this.parts.push(this.queue.take(this.partLength));
        this.size += this.partLength;
        this.partLength = -1;
      }
      const message = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
      out.push({ serial: this.serial, message });
      this.count = -1;
      this.parts = [];
    }
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

  string(): string {
    return this.bytes().toString('utf8');
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
      r.bytes();
      r.bytes();
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
  clientProtocol: string | null;
  serverHash: Buffer;
}

/** HandshakeRequest{clientHash, clientProtocol, serverHash, meta}; meta is skipped. */
export function readHandshakeRequest(r: Reader): HandshakeRequest {
  const clientHash = r.fixed(16);
  const clientProtocol = unionIndex(r) === 1 ? r.string() : null;
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
