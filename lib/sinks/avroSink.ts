import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import type * as Avsc from 'avsc';
import { asyncScheduler, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { AVRO_FLUME_EVENT_SCHEMA } from '../avro/flumeEventAvro.js';
import { avsc } from '../avro/avsc.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import {
  BOTH,
  CLIENT,
  NONE,
  Reader,
  readEnumResponse,
  readHandshakeResponse,
  writeCallHeader,
  writeHandshakeRequest,
} from '../avro/rpc.js';
import { FrameDecoder, encodeFrame, type Frame } from '../avro/frames.js';
import { zlibStream } from '../avro/zlibStream.js';
import { excludeProtocolsOption, protocolRange, protocolRangeIssues } from '../tls/protocols.js';
import { nameOption } from '../core/options.js';
import { Backoff, exponential } from '../core/backoff.js';

const TRUSTSTORE_HINT = 'a PEM CA file in sslCaFile, or trustAllCerts (Java truststores are not supported; export them with keytool/openssl)';
/** Largest answer accepted from a server; Status answers are a few bytes. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export const avroSinkOptions = z
  .strictObject({
    ...nameOption('avroSink'),
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
    ...excludeProtocolsOption,
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
    for (const issue of protocolRangeIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
  });

export type AvroSinkOptions = z.input<typeof avroSinkOptions>;

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

export const avroSinkSpec = defineComponent({
  name: 'avroSink',
  kind: 'sink',
  summary: "Sends batches to a Flume Avro source with Avro RPC appendBatch; acked once the server answered OK (Flume avro sink).",
  flumeTypes: ['avro', 'org.apache.flume.sink.AvroSink'],
  flumeChecksBatchSize: true, // Flume's AvroSink (AbstractRpcSink) implements BatchSizeSupported
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

// Built on first use: importing this module (as the agent's registry does) does not load avsc.
let eventsTypeBuilt: Avsc.Type | undefined;
const eventsType = (): Avsc.Type => (eventsTypeBuilt ??= avsc().Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as Avsc.Schema));
const APPEND_BATCH = writeCallHeader('appendBatch');
const PING = writeCallHeader('');

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
  const reconnect = new Backoff(exponential(opts.reconnectBackoffMs, opts.maxReconnectBackoffMs));
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
      reconnect.reset();
      metrics.inc('ConnectionCreatedCount');
      conn.onClose = () => {
        if (connection === conn) connection = undefined;
      };
      return conn;
    } catch (error) {
      metrics.inc('ConnectionFailedCount');
      nextAttemptAt = asyncScheduler.now() + reconnect.next();
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
        status = await conn.appendBatch(eventsType().toBuffer(chunk), opts.requestTimeoutMs);
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
  async appendBatch(events: Buffer, timeoutMs: number): Promise<string> {
    const index = readEnumResponse(new Reader(await this.call([APPEND_BATCH, events], timeoutMs), 'answer'));
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

/** The Status symbols of a server protocol, in its order (a CLIENT match tells us the server's). */
function statusSymbols(text: string): readonly string[] {
  const service = avsc().Service.forProtocol(JSON.parse(text));
  const type = service.message('appendBatch')?.responseType as { symbols?: string[] } | undefined;
  if (!type?.symbols) throw new Error('the server protocol has no appendBatch returning an enum');
  return type.symbols;
}
