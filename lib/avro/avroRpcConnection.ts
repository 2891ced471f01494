/**
 * The client side of Flume's Avro RPC, once: one connection (TCP, optional zlib and TLS, the
 * handshake, `append`/`appendBatch` calls with timeouts) and an endpoint that keeps one such
 * connection to a host — reconnecting with back-off, replacing it after a reset interval, splitting
 * a list into `batchSize` calls sent one at a time (that lifecycle is lib/core/rpcEndpoint.ts, shared
 * with the Thrift sink). avroSink and the RPC client (lib/client) both send through it. It imports
 * only lib/core and this folder.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import type * as Avsc from 'avsc';
import { asyncScheduler, type Subscription } from 'rxjs';
import type { FlumeEvent } from '../core/event.js';
import { RpcEndpoint, type RpcEndpointTarget, type RpcOwner } from '../core/rpcEndpoint.js';
import { avsc } from './avsc.js';
import { AVRO_FLUME_EVENT_SCHEMA, encodeFlumeEvent } from './flumeEventAvro.js';
import { FrameDecoder, encodeFrame, type Frame } from './frames.js';
import { BOTH, CLIENT, NONE, Reader, readEnumResponse, readHandshakeResponse, writeCallHeader, writeHandshakeRequest } from './rpc.js';
import { zlibStream } from './zlibStream.js';

/** Largest answer accepted from a server; Status answers are a few bytes. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Where and how to connect: avroSink's options, or one host of the RPC client. */
export interface AvroRpcTarget extends RpcEndpointTarget {
  batchSize: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  compressionType: 'none' | 'deflate';
  compressionLevel: number;
  ssl: boolean;
  trustAllCerts: boolean;
  sslCaFile?: string | undefined;
  /** TLS versions allowed (from excludeProtocols), or any. */
  tlsRange?: [SecureVersion, SecureVersion] | undefined;
}

/** How the owner names a failure (its error class and code), and where it counts connections. */
export type AvroRpcOwner = RpcOwner;

// Built on first use: importing this module (as the agent's registry does) does not load avsc.
let eventsTypeBuilt: Avsc.Type | undefined;
const eventsType = (): Avsc.Type => (eventsTypeBuilt ??= avsc().Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as Avsc.Schema));
const APPEND_BATCH = writeCallHeader('appendBatch');
const APPEND = writeCallHeader('append');
const PING = writeCallHeader('');

/**
 * One host's connection as Flume's NettyAvroRpcClient keeps it, on the shared RpcEndpoint lifecycle
 * (lib/core/rpcEndpoint.ts). An answer other than OK fails the call but keeps the connection (it came
 * over a healthy one).
 */
export class AvroRpcEndpoint extends RpcEndpoint<AvroRpcConnection> {
  private ca: Buffer | undefined;

  constructor(
    override readonly target: AvroRpcTarget,
    owner: AvroRpcOwner,
  ) {
    super(target, owner);
  }

  /** Sends the events as appendBatch calls of at most batchSize, after every earlier send; resolves when all were answered OK. */
  appendBatch(events: readonly FlumeEvent[]): Promise<void> {
    return this.serialized(() => this.send(events));
  }

  /** One event with Flume's `append` call. */
  append(event: FlumeEvent): Promise<void> {
    return this.serialized(() => this.ok('append', 1, (conn) => conn.append(encodeFlumeEvent(event), this.target.requestTimeoutMs)));
  }

  protected openConnection(): Promise<AvroRpcConnection> {
    const t = this.target;
    if (t.ssl && t.sslCaFile && this.ca === undefined) this.ca = readFileSync(t.sslCaFile);
    return AvroRpcConnection.open(t, this.ca);
  }

  private async send(events: readonly FlumeEvent[]): Promise<void> {
    const size = this.target.batchSize;
    for (let from = 0; from < events.length; from += size) {
      const chunk = events.length <= size ? events : events.slice(from, from + size);
      await this.ok('appendBatch', chunk.length, (conn) => conn.appendBatch(eventsType().toBuffer(chunk), this.target.requestTimeoutMs));
    }
  }

  private async ok(what: string, count: number, run: (conn: AvroRpcConnection) => Promise<string>): Promise<void> {
    const status = await this.call(what, count, run);
    if (status !== 'OK') throw this.owner.failure(`${this.address} answered ${status} to ${what} of ${count} events`);
  }
}

// ---- one connection ----------------------------------------------------------------------------

interface Pending {
  resolve(message: Buffer): void;
  reject(error: Error): void;
  timer: Subscription | undefined;
}

export class AvroRpcConnection {
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
  static open(t: AvroRpcTarget, ca: Buffer | undefined): Promise<AvroRpcConnection> {
    return new Promise<AvroRpcConnection>((resolve, reject) => {
      let conn: AvroRpcConnection | undefined;
      let io: Duplex | undefined;
      const socket = netConnect({ host: t.hostname, port: t.port });
      socket.setNoDelay(true);
      const timer = asyncScheduler.schedule(() => abort(new Error(`no connection and handshake within ${t.connectTimeoutMs} ms`)), t.connectTimeoutMs);
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
        conn = new AvroRpcConnection(stream, socket);
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
        const stream = t.compressionType === 'deflate' ? zlibStream(socket, t.compressionLevel) : socket;
        if (!t.ssl) return ready(stream);
        const secure = tlsConnect({
          socket: stream as Socket,
          ...(/^[\d.:]+$/.test(t.hostname) ? {} : { servername: t.hostname }),
          rejectUnauthorized: !t.trustAllCerts,
          ...(ca ? { ca } : {}),
          ...(t.tlsRange ? { minVersion: t.tlsRange[0], maxVersion: t.tlsRange[1] } : {}),
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
      const reply = new Reader(await this.call([writeHandshakeRequest(withProtocol), PING], undefined), 'answer');
      const { match, serverProtocol } = readHandshakeResponse(reply);
      if (match === NONE) continue;
      if (match !== BOTH && match !== CLIENT) throw new Error(`bad handshake match ${match}`);
      if (serverProtocol !== null) this.statuses = statusSymbols(serverProtocol);
      return;
    }
    throw new Error('the server does not accept our protocol (handshake NONE twice)');
  }

  /** One appendBatch call: resolves with the Status symbol, rejects on a system error, timeout or lost connection. */
  appendBatch(events: Buffer, timeoutMs: number): Promise<string> {
    return this.status(APPEND_BATCH, events, timeoutMs);
  }

  /** One append call (one encoded AvroFlumeEvent). */
  append(event: Buffer, timeoutMs: number): Promise<string> {
    return this.status(APPEND, event, timeoutMs);
  }

  private async status(header: Buffer, request: Buffer, timeoutMs: number): Promise<string> {
    const index = readEnumResponse(new Reader(await this.call([header, request], timeoutMs), 'answer'));
    return this.statuses[index] ?? `status #${index}`;
  }

  private call(parts: readonly Buffer[], timeoutMs: number | undefined): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const serial = this.serial++ | 0;
    return new Promise<Buffer>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
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

/** The Status symbols of a server protocol, in its order (a CLIENT match tells us the server's). */
function statusSymbols(text: string): readonly string[] {
  const service = avsc().Service.forProtocol(JSON.parse(text));
  const type = service.message('appendBatch')?.responseType as { symbols?: string[] } | undefined;
  if (!type?.symbols) throw new Error('the server protocol has no appendBatch returning an enum');
  return type.symbols;
}
