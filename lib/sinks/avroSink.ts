import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { constants as zlibConstants, createDeflate, createInflate } from 'node:zlib';
import avro from 'avsc';
import { asyncScheduler, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { AVRO_FLUME_EVENT_SCHEMA } from '../core/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';

/**
 * Flume's `AvroSourceProtocol` as Java prints it (flume-ng-sdk 1.11.0); its MD5 (`86aadae2…`) is the
 * hash Flume's AvroSource knows, so the handshake matches at once. Kept in step with avroSource.ts
 * (sources and sinks do not import each other).
 */
const PROTOCOL_TEXT = JSON.stringify({
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
const PROTOCOL_HASH = createHash('md5').update(PROTOCOL_TEXT, 'utf8').digest();

const PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const TRUSTSTORE_HINT = 'a PEM CA file in sslCaFile, or trustAllCerts (Java truststores are not supported; export them with keytool/openssl)';
/** Largest answer accepted from a server; Status answers are a few bytes. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export const avroSinkOptions = z
  .strictObject({
    name: z.string().min(1).default('avroSink').describe('Component name in metrics.'),
    hostname: z.string().min(1).describe('Host of the Avro source (a Flume agent or rxflume avroSource).'),
    port: z.number().int().min(1).max(65535).describe('Port of the Avro source.'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Events per appendBatch call; a larger channel batch is sent as several calls, acked after the last (Flume batch-size).'),
    connectTimeoutMs: z.number().int().min(1).default(20_000).describe('Longest wait for the TCP/TLS connection and the Avro handshake (Flume connect-timeout).'),
    requestTimeoutMs: z.number().int().min(1).default(20_000).describe('Longest wait for the answer of one call (Flume request-timeout).'),
    resetConnectionIntervalS: z
      .number()
      .min(0)
      .default(0)
      .describe('Reconnect after this many seconds, e.g. to rebalance behind a load balancer; 0 never (Flume reset-connection-interval).'),
    compressionType: z.enum(['none', 'deflate']).default('none').describe("'deflate': the connection is a zlib stream (Netty ZlibEncoder/Decoder); must match the source."),
    compressionLevel: z.number().int().min(0).max(9).default(6).describe('zlib level with deflate (Flume compression-level).'),
    ssl: z.boolean().default(false).describe('Connect with TLS.'),
    trustAllCerts: z.boolean().default(false).describe("Accept any server certificate (Flume trust-all-certs): testing only."),
    sslCaFile: z.string().min(1).optional().describe("PEM CA certificate(s) to trust instead of Node's default CAs (with ssl)."),
    excludeProtocols: z.array(z.enum(PROTOCOLS)).default(['SSLv3']).describe('TLS protocol versions refused (Flume exclude-protocols).'),
    truststore: z.string().optional().describe(`Flume's Java truststore: not supported, use ${TRUSTSTORE_HINT}.`),
    truststorePassword: z.string().optional().describe('Not supported (see truststore).'),
    truststoreType: z.string().optional().describe('Not supported (see truststore).'),
    maxIoWorkers: z.number().int().min(1).optional().describe("Flume's Netty I/O thread count: accepted and ignored."),
    reconnectBackoffMs: z.number().int().min(0).default(500).describe('After a failed connection, no new attempt for this long, doubling per failure.'),
    maxReconnectBackoffMs: z.number().int().min(0).default(10_000).describe('Longest wait between connection attempts.'),
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const key of ['truststore', 'truststorePassword', 'truststoreType'] as const) {
      if (v[key] !== undefined) ctx.issues.push({ code: 'custom', path: [key], message: TRUSTSTORE_HINT, input: v[key] });
    }
    if (v.ssl && protocolRange(v.excludeProtocols) === undefined) {
      ctx.issues.push({ code: 'custom', path: ['excludeProtocols'], message: 'exclusions leaving a contiguous, non-empty range of TLSv1…TLSv1.3', input: v.excludeProtocols });
    }
  });

export type AvroSinkOptions = z.input<typeof avroSinkOptions>;

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

export const avroSinkSpec = defineComponent({
  name: 'avroSink',
  kind: 'sink',
  summary: "Sends batches to a Flume Avro source with Avro RPC appendBatch; acked once the server answered OK (Flume avro sink).",
  flumeTypes: ['avro', 'org.apache.flume.sink.AvroSink'],
  schema: avroSinkOptions,
  flumeKeys: {
    'batch-size': { option: 'batchSize', convert: Number },
    'connect-timeout': { option: 'connectTimeoutMs', convert: Number },
    'request-timeout': { option: 'requestTimeoutMs', convert: Number },
    'reset-connection-interval': { option: 'resetConnectionIntervalS', convert: Number },
    'compression-type': { option: 'compressionType', convert: (v) => v.trim().toLowerCase() },
    'compression-level': { option: 'compressionLevel', convert: Number },
    ssl: bool('ssl'),
    'trust-all-certs': bool('trustAllCerts'),
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    'truststore-password': 'truststorePassword',
    'truststore-type': 'truststoreType',
    maxIoWorkers: { option: 'maxIoWorkers', convert: Number },
  },
});

const eventsType = avro.Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as avro.Schema);
// Empty call metadata, then the message name.
const APPEND_BATCH = Buffer.concat([Buffer.from([0x00]), avro.Type.forSchema('string').toBuffer('appendBatch')]);
const PING = Buffer.from([0x00, 0x00]);

/**
 * Flume's Avro sink: sends every batch to an Avro source (a Flume agent's `avro` source, or
 * rxflume's `avroSource`) at `hostname:port` as `appendBatch` calls of Flume's `AvroSourceProtocol`
 * over Avro's Netty framing, `batchSize` events per call, one call at a time. A batch is **acked only
 * after the server answered `OK` to every call**; `FAILED` (the remote channel is full), a timeout
 * (`requestTimeoutMs`) or a lost connection **nacks** it with a retriable `FLUME_SINK_FAILED`, so the
 * channel redelivers it later.
 *
 * The connection is opened on the first batch: TCP (or TLS with `ssl`), then a handshake ping with
 * Flume's protocol hash (a second one carrying the protocol text when the server does not know it),
 * all within `connectTimeoutMs`. A timeout or a lost connection closes it and the next batch
 * reconnects; after a failed attempt no new one is made for `reconnectBackoffMs`, doubling up to
 * `maxReconnectBackoffMs` (batches meanwhile are nacked at once). With `resetConnectionIntervalS` the
 * connection is replaced once it is that old (checked before each batch). Unlike Flume, an answer
 * `FAILED` keeps the connection: it came over a healthy one.
 *
 * Options: `compressionType: 'deflate'` (zlib stream both ways, `compressionLevel`); `ssl` with
 * `sslCaFile` (PEM) or `trustAllCerts` — Flume's truststore keys are refused with a ConfigError
 * (with both, TLS runs inside the zlib stream, as in Flume's Netty pipeline);
 * `maxIoWorkers` is accepted and ignored.
 *
 * Counters: Flume's sink counters, with `ConnectionCreatedCount`, `ConnectionClosedCount`,
 * `ConnectionFailedCount`.
 *
 * Delivery: at-least-once. A batch split into several calls is nacked whole if a later call fails,
 * so the earlier events are sent again (as Flume's client does): the next hop may see duplicates.
 *
 * @example
 * pipe(netcatSource({ bind: '0.0.0.0', port: 44444 }), memoryChannel(), avroSink({ hostname: 'collector', port: 41414 }));
 */
export const avroSink = component(avroSinkSpec, function avroSink(options: AvroSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(avroSinkSpec, options);
  const metrics = new ComponentCounters('SINK', opts.name);
  const range = protocolRange(opts.excludeProtocols);
  let ca: Buffer | undefined;
  let connection: Connection | undefined;
  let connecting: Promise<Connection> | undefined;
  let failures = 0;
  let nextAttemptAt = 0;
  let chain: Promise<void> = Promise.resolve();

  const failure = (message: string, cause?: unknown): ComponentError =>
    new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: true, cause });

  const drop = (conn: Connection): void => {
    if (connection === conn) connection = undefined;
    if (conn.close()) metrics.inc('ConnectionClosedCount');
  };

  const open = async (): Promise<Connection> => {
    const now = asyncScheduler.now();
    if (now < nextAttemptAt) throw failure(`not connected to ${opts.hostname}:${opts.port}; next attempt in ${nextAttemptAt - now} ms`);
    try {
      if (opts.ssl && opts.sslCaFile && ca === undefined) ca = readFileSync(opts.sslCaFile);
      const conn = await Connection.open(opts, ca, range);
      failures = 0;
      metrics.inc('ConnectionCreatedCount');
      conn.onClose = () => {
        if (connection === conn) connection = undefined;
      };
      return conn;
    } catch (error) {
      failures++;
      metrics.inc('ConnectionFailedCount');
      nextAttemptAt = asyncScheduler.now() + Math.min(opts.reconnectBackoffMs * 2 ** (failures - 1), opts.maxReconnectBackoffMs);
      throw failure(`cannot connect to ${opts.hostname}:${opts.port}: ${(error as Error).message}`, error);
    }
  };

  const current = async (): Promise<Connection> => {
    if (connection && opts.resetConnectionIntervalS > 0 && asyncScheduler.now() - connection.openedAt >= opts.resetConnectionIntervalS * 1000) {
      drop(connection);
    }
    if (connection && !connection.closed) return connection;
    connecting ??= open().finally(() => (connecting = undefined));
    connection = await connecting;
    return connection;
  };

  const send = async (events: readonly FlumeEvent[]): Promise<void> => {
    for (let from = 0; from < events.length; from += opts.batchSize) {
      const conn = await current();
      const chunk = events.length <= opts.batchSize ? events : events.slice(from, from + opts.batchSize);
      let status: string;
      try {
        status = await conn.appendBatch(eventsType.toBuffer(chunk), opts.requestTimeoutMs);
      } catch (error) {
        // A timeout or a broken connection: its state is unknown, start afresh (as Flume).
        drop(conn);
        throw failure(`appendBatch of ${chunk.length} events to ${opts.hostname}:${opts.port} failed: ${(error as Error).message}`, error);
      }
      if (status !== 'OK') throw failure(`${opts.hostname}:${opts.port} answered ${status} to appendBatch of ${chunk.length} events`);
    }
  };

  const sink = createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      write(batch: Batch): Promise<void> {
        const result = chain.then(() => send(batch.events));
        chain = result.catch(() => undefined);
        return result;
      },
      async close() {
        await chain;
        if (connection) drop(connection);
      },
    },
    metrics,
  );
  return withMetrics(sink, metrics);
});

// ---- one connection ----------------------------------------------------------------------------

interface Pending {
  resolve(message: Buffer): void;
  reject(error: Error): void;
  timer: Subscription;
}

type ParsedOptions = z.output<typeof avroSinkOptions>;

class Connection {
  readonly openedAt = asyncScheduler.now();
  closed = false;
  onClose: (() => void) | undefined;
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_BYTES);
  private statuses: readonly string[] = ['OK', 'FAILED', 'UNKNOWN'];

  /** `io` carries the frames (the socket, or TLS and/or zlib layered on it); `socket` is the TCP connection. */
  private constructor(
    private readonly io: Duplex,
    private readonly socket: Socket,
  ) {
    io.on('data', (c: Buffer) => this.onBytes(c));
    io.on('error', (e: Error) => this.fail(e));
    io.on('close', () => this.fail(new Error('connection closed by the server')));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  /** Connects and completes the handshake within connectTimeoutMs. */
  static open(opts: ParsedOptions, ca: Buffer | undefined, range: [SecureVersion, SecureVersion] | undefined): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      let conn: Connection | undefined;
      let io: Duplex | undefined;
      const socket = netConnect({ host: opts.hostname, port: opts.port });
      socket.setNoDelay(true);
      const timer = asyncScheduler.schedule(() => abort(new Error(`no connection and handshake within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
      const abort = (error: Error): void => {
        timer.unsubscribe();
        if (conn) conn.close();
        else {
          io?.destroy();
          socket.destroy();
        }
        reject(error);
      };
      const onError = (e: Error): void => abort(e);
      const ready = (stream: Duplex): void => {
        stream.off('error', onError);
        socket.off('error', onError);
        conn = new Connection(stream, socket);
        conn.handshake().then(
          () => {
            timer.unsubscribe();
            resolve(conn!);
          },
          (e: Error) => abort(e),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        // Flume's Netty pipeline: zlib next to the socket, TLS inside it, then the frames.
        const stream = opts.compressionType === 'deflate' ? zlibStream(socket, opts.compressionLevel) : socket;
        if (!opts.ssl) return ready(stream);
        const secure = tlsConnect({
          socket: stream as Socket,
          ...(/^[\d.:]+$/.test(opts.hostname) ? {} : { servername: opts.hostname }),
          rejectUnauthorized: !opts.trustAllCerts,
          ...(ca ? { ca } : {}),
          ...(range ? { minVersion: range[0], maxVersion: range[1] } : {}),
        });
        io = secure;
        secure.once('error', onError);
        secure.once('secureConnect', () => ready(secure));
      });
    });
  }

  /** Java's Requestor sends the handshake with the first call; a ping first keeps calls handshake-free. */
  private async handshake(): Promise<void> {
    for (const withProtocol of [false, true]) {
      const reply = new Reader(await this.call([handshakeRequest(withProtocol), PING], undefined));
      const match = reply.long();
      const serverProtocol = unionIndex(reply) === 1 ? reply.string() : null;
      if (unionIndex(reply) === 1) reply.fixed(16);
      if (unionIndex(reply) === 1) readMap(reply);
      if (match === NONE) continue;
      if (match !== BOTH && match !== CLIENT) throw new Error(`bad handshake match ${match}`);
      if (serverProtocol !== null) this.statuses = statusSymbols(serverProtocol);
      return;
    }
    throw new Error('the server does not accept our protocol (handshake NONE twice)');
  }

  /** One appendBatch call: resolves with the Status symbol, rejects on a system error, timeout or lost connection. */
  async appendBatch(events: Buffer, timeoutMs: number): Promise<string> {
    const reply = new Reader(await this.call([APPEND_BATCH, events], timeoutMs));
    readMap(reply);
    if (reply.boolean()) {
      const i = reply.long();
      throw new Error(`server error: ${i === 0 ? reply.string() : `error union branch ${i}`}`);
    }
    const index = reply.long();
    return this.statuses[index] ?? `status #${index}`;
  }

  private call(parts: readonly Buffer[], timeoutMs: number | undefined): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const serial = this.serial++ | 0;
    return new Promise<Buffer>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? (undefined as unknown as Subscription)
          : asyncScheduler.schedule(() => {
              this.pending.delete(serial);
              reject(new Error(`no answer within ${timeoutMs} ms`));
            }, timeoutMs);
      this.pending.set(serial, { resolve, reject, timer });
      this.io.write(encodeFrame(serial, parts));
    });
  }

  private onBytes(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (const frame of frames) {
      const pending = this.pending.get(frame.serial);
      if (!pending) continue; // answered after its timeout
      this.pending.delete(frame.serial);
      pending.timer?.unsubscribe();
      pending.resolve(frame.message);
    }
  }

  private fail(error: Error): void {
    if (!this.closed) this.close();
    for (const [serial, pending] of this.pending) {
      this.pending.delete(serial);
      pending.timer?.unsubscribe();
      pending.reject(error);
    }
  }

  /** Closes the socket; true the first time. */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.io.destroy();
    this.socket.destroy();
    this.fail(new Error('connection closed'));
    this.onClose?.();
    return true;
  }
}

function handshakeRequest(withProtocol: boolean): Buffer {
  if (!withProtocol) return Buffer.concat([PROTOCOL_HASH, Buffer.from([0x00]), PROTOCOL_HASH, Buffer.from([0x00])]);
  const text = Buffer.from(PROTOCOL_TEXT, 'utf8');
  return Buffer.concat([PROTOCOL_HASH, Buffer.from([0x02]), zigzag(text.length), text, PROTOCOL_HASH, Buffer.from([0x00])]);
}

/** The Status symbols of a server protocol, in its order (a CLIENT match tells us the server's). */
function statusSymbols(text: string): readonly string[] {
  const service = avro.Service.forProtocol(JSON.parse(text));
  const type = service.message('appendBatch')?.responseType as { symbols?: string[] } | undefined;
  if (!type?.symbols) throw new Error('the server protocol has no appendBatch returning an enum');
  return type.symbols;
}

// ---- wire format (as in avroSource.ts) ---------------------------------------------------------

/** The socket as a zlib stream both ways, sync-flushed per write (Netty's JZlibEncoder/Decoder). */
function zlibStream(socket: Socket, level: number): Duplex {
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
  stream.on('error', () => undefined); // the connection learns of it from 'close'
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
  inflate.on('error', (e) => stream.destroy(e));
  deflate.on('data', (c: Buffer) => {
    if (socket.writable) socket.write(c);
  });
  deflate.on('error', (e) => stream.destroy(e));
  return stream;
}

const BOTH = 0;
const CLIENT = 1;
const NONE = 2;

interface Frame {
  serial: number;
  message: Buffer;
}

class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

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

/** Avro's NettyTransportCodec framing (see avroSource.ts). */
class FrameDecoder {
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
        if (this.count < 0 || this.count > this.maxBytes / 4) throw new Error(`bad frame: ${this.count} buffers`);
        this.parts = [];
        this.size = 0;
      }
      while (this.parts.length < this.count) {
        if (this.partLength < 0) {
          if (this.queue.length < 4) return out;
          this.partLength = this.queue.take(4).readInt32BE(0);
          if (this.partLength < 0 || this.size + this.partLength > this.maxBytes) throw new Error(`bad frame: a buffer of ${this.partLength} bytes`);
        }
        if (this.queue.length < this.partLength) return out;
        this.parts.push(this.queue.take(this.partLength));
        this.size += this.partLength;
        this.partLength = -1;
      }
      out.push({ serial: this.serial, message: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size) });
      this.count = -1;
      this.parts = [];
    }
  }
}

function encodeFrame(serial: number, parts: readonly Buffer[]): Buffer {
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

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  long(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) throw new Error('truncated answer');
      if (i === 10) throw new Error('bad varint');
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  fixed(size: number): Buffer {
    if (this.pos + size > this.buf.length) throw new Error('truncated answer');
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

  block(): number {
    let n = this.long();
    if (n < 0) {
      n = -n;
      this.long();
    }
    if (n > this.buf.length - this.pos) throw new Error(`block of ${n} items in ${this.buf.length - this.pos} bytes`);
    return n;
  }
}

/** Skips a map<bytes> (call or handshake metadata). */
function readMap(r: Reader): void {
  for (let n = r.block(); n > 0; n = r.block()) {
    for (let i = 0; i < n; i++) {
      r.bytes();
      r.bytes();
    }
  }
}

function unionIndex(r: Reader): 0 | 1 {
  const i = r.long();
  if (i !== 0 && i !== 1) throw new Error(`bad union index ${i}`);
  return i;
}

function zigzag(n: number): Buffer {
  const bytes: number[] = [];
  let v = n * 2;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function protocolRange(excluded: readonly Protocol[]): [SecureVersion, SecureVersion] | undefined {
  const names: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  const allowed = names.map((p) => !excluded.includes(p));
  const first = allowed.indexOf(true);
  const last = allowed.lastIndexOf(true);
  if (first < 0 || allowed.slice(first, last + 1).includes(false)) return undefined;
  return [names[first]!, names[last]!];
}

