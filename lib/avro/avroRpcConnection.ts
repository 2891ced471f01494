/**
 * The client side of Flume's Avro RPC, once: one connection (TCP, optional zlib and TLS, the
 * handshake, `append`/`appendBatch` calls with timeouts) and an endpoint that keeps one such
 * connection to a host — reconnecting with back-off, replacing it after a reset interval, splitting
 * a list into `batchSize` calls sent one at a time. avroSink and the RPC client (lib/client) both
 * send through it. It imports only lib/core and this folder.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import type * as Avsc from 'avsc';
import { asyncScheduler, type Subscription } from 'rxjs';
import { Backoff, exponential } from '../core/backoff.js';
import type { FlumeEvent } from '../core/event.js';
import type { ComponentCounters } from '../core/metrics.js';
import { avsc } from './avsc.js';
import { AVRO_FLUME_EVENT_SCHEMA, encodeFlumeEvent } from './flumeEventAvro.js';
import { FrameDecoder, encodeFrame, type Frame } from './frames.js';
import { BOTH, CLIENT, NONE, Reader, readEnumResponse, readHandshakeResponse, writeCallHeader, writeHandshakeRequest } from './rpc.js';
import { zlibStream } from './zlibStream.js';

/** Largest answer accepted from a server; Status answers are a few bytes. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Where and how to connect: avroSink's options, or one host of the RPC client. */
export interface AvroRpcTarget {
  hostname: string;
  port: number;
  batchSize: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  resetConnectionIntervalS: number;
  compressionType: 'none' | 'deflate';
  compressionLevel: number;
  ssl: boolean;
  trustAllCerts: boolean;
  sslCaFile?: string | undefined;
  /** TLS versions allowed (from excludeProtocols), or any. */
  tlsRange?: [SecureVersion, SecureVersion] | undefined;
  reconnectBackoffMs: number;
  maxReconnectBackoffMs: number;
}

/** How the owner names a failure (its error class and code), and where it counts connections. */
export interface AvroRpcOwner {
  failure(message: string, cause?: unknown): Error;
  /** Gets ConnectionCreatedCount, ConnectionClosedCount, ConnectionFailedCount. */
  counters?: ComponentCounters | undefined;
}

// Built on first use: importing this module (as the agent's registry does) does not load avsc.
let eventsTypeBuilt: Avsc.Type | undefined;
const eventsType = (): Avsc.Type => (eventsTypeBuilt ??= avsc().Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as Avsc.Schema));
const APPEND_BATCH = writeCallHeader('appendBatch');
const APPEND = writeCallHeader('append');
const PING = writeCallHeader('');

/**
 * One host's connection as Flume's NettyAvroRpcClient keeps it: opened on first use, closed and
 * reopened after a timeout or a lost connection (no new attempt for a doubling back-off after a
 * failed one: calls meanwhile fail at once), calls one at a time. An answer other than OK fails the
 * call but keeps the connection (it came over a healthy one).
 */
export class AvroRpcEndpoint {
  private connection: AvroRpcConnection | undefined;
  private connecting: Promise<AvroRpcConnection> | undefined;
  private readonly reconnect: Backoff;
  private nextAttemptAt = 0;
  private chain: Promise<void> = Promise.resolve();
  private ca: Buffer | undefined;

  constructor(
    readonly target: AvroRpcTarget,
    private readonly owner: AvroRpcOwner,
  ) {
    this.reconnect = new Backoff(exponential(target.reconnectBackoffMs, target.maxReconnectBackoffMs));
  }

  get address(): string {
    return `${this.target.hostname}:${this.target.port}`;
  }

  /** False after a failed connection attempt, until its back-off is over (Flume's isActive is false then). */
  get active(): boolean {
    return (this.connection !== undefined && !this.connection.closed) || asyncScheduler.now() >= this.nextAttemptAt;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /** Opens the connection now, as Flume's clients do when built; rejects as a call would. */
  async connect(): Promise<void> {
    await this.current();
  }

  /** Sends the events as appendBatch calls of at most batchSize, after every earlier send; resolves when all were answered OK. */
  appendBatch(events: readonly FlumeEvent[]): Promise<void> {
    return this.serialized(() => this.send(events));
  }

  /** One event with Flume's `append` call. */
  append(event: FlumeEvent): Promise<void> {
    return this.serialized(() => this.call('append', 1, (conn) => conn.append(encodeFlumeEvent(event), this.target.requestTimeoutMs)));
  }

  /** Waits for the calls under way, then closes the connection. */
  async close(): Promise<void> {
    await this.chain;
    if (this.connection) this.drop(this.connection);
  }

  /** Closes at once: calls under way fail. */
  destroy(): void {
    if (this.connection) this.drop(this.connection);
  }

  private serialized(run: () => Promise<void>): Promise<void> {
    const result = this.chain.then(run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async send(events: readonly FlumeEvent[]): Promise<void> {
    const size = this.target.batchSize;
    for (let from = 0; from < events.length; from += size) {
      const chunk = events.length <= size ? events : events.slice(from, from + size);
      await this.call('appendBatch', chunk.length, (conn) => conn.appendBatch(eventsType().toBuffer(chunk), this.target.requestTimeoutMs));
    }
  }

  private async call(what: string, count: number, run: (conn: AvroRpcConnection) => Promise<string>): Promise<void> {
    const conn = await this.current();
    let status: string;
    try {
      status = await run(conn);
    } catch (error) {
      // A timeout or a broken connection: its state is unknown, start afresh (as Flume).
      this.drop(conn);
      throw this.owner.failure(`${what} of ${count} events to ${this.address} failed: ${(error as Error).message}`, error);
    }
    if (status !== 'OK') throw this.owner.failure(`${this.address} answered ${status} to ${what} of ${count} events`);
  }

  private drop(conn: AvroRpcConnection): void {
    if (this.connection === conn) this.connection = undefined;
    if (conn.close()) this.owner.counters?.inc('ConnectionClosedCount');
  }

  private async open(): Promise<AvroRpcConnection> {
    const now = asyncScheduler.now();
    if (now < this.nextAttemptAt) throw this.owner.failure(`not connected to ${this.address}; next attempt in ${this.nextAttemptAt - now} ms`);
    try {
      const t = this.target;
      if (t.ssl && t.sslCaFile && this.ca === undefined) this.ca = readFileSync(t.sslCaFile);
      const conn = await AvroRpcConnection.open(t, this.ca);
      this.reconnect.reset();
      this.owner.counters?.inc('ConnectionCreatedCount');
      conn.onClose = () => {
        if (this.connection === conn) this.connection = undefined;
      };
      return conn;
    } catch (error) {
      this.owner.counters?.inc('ConnectionFailedCount');
      this.nextAttemptAt = asyncScheduler.now() + this.reconnect.next();
      throw this.owner.failure(`cannot connect to ${this.address}: ${(error as Error).message}`, error);
    }
  }

  private async current(): Promise<AvroRpcConnection> {
    const reset = this.target.resetConnectionIntervalS;
    if (this.connection && reset > 0 && asyncScheduler.now() - this.connection.openedAt >= reset * 1000) this.drop(this.connection);
    if (this.connection && !this.connection.closed) return this.connection;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    this.connection = await this.connecting;
    return this.connection;
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
