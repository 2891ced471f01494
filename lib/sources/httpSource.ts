import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { serverCredentials, serverTlsIssues, serverTlsOptions } from '../core/serverTls.js';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, FlumeError, isRetriable } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';

const PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type Protocol = (typeof PROTOCOLS)[number];


export const httpSourceOptions = z
  .strictObject({
    name: z.string().min(1).default('httpSource').describe('Component name in metrics.'),
    bind: z.string().min(1).default('0.0.0.0').describe('Address to listen on.'),
    port: z.number().int().min(0).max(65535).describe('TCP port; 0 picks a free one (see onListening).'),
    handler: z
      .enum(['JSON', 'BLOB'])
      .default('JSON')
      .describe("'JSON': Flume's JSONHandler body `[{\"headers\": {…}, \"body\": \"…\"}]`; 'BLOB': the whole body is one event, query parameters its headers."),
    maxBodyBytes: z
      .number()
      .int()
      .min(1)
      .default(16 * 1024 * 1024)
      .describe('Largest request body; a larger one is answered 413 (16 MiB by default).'),
    maxEventsPerRequest: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe(
        "Most events one JSON request may carry; give the channel's transactionCapacity. A request with more is answered 503 as soon as the count is passed while reading, as Flume answers a batch its channel cannot take.",
      ),
    maxFieldsPerRequest: z
      .number()
      .int()
      .min(1)
      .default(200_000)
      .describe(
        'Most JSON values inside the events of one request (one per header, per body, per value nested in a field Flume ignores); past it the request is answered 413 while reading. Bounds memory: a header costs far more in memory than on the wire.',
      ),
    maxBufferedBytes: z
      .number()
      .int()
      .min(1)
      .default(32 * 1024 * 1024)
      .describe(
        'Request bytes held at once over all connections (read, parsed or waiting for the channel); a request that would pass it is answered 503 (retry later). One request alone is always taken up to maxBodyBytes. 32 MiB by default.',
      ),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('Open connections at most; further ones are closed at once (and counted in GenericProcessingFail) until some close.'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(30_000)
      .describe('A connection with no bytes in either direction for this long is closed (Flume ServerConnector.idleTimeout, 30 s as Jetty).'),
    headersTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(30_000)
      .describe("A request's headers must arrive within this many ms of its first byte; slower ones are answered 408 and closed."),
    requestTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(300_000)
      .describe('A whole request (headers and body) must arrive within this many ms; slower ones are answered 408 and closed (at least headersTimeoutMs).'),
    ssl: z.boolean().default(false).describe('Serve HTTPS with sslKeyFile and sslCertFile, or keystore.'),
    ...serverTlsOptions,
    excludeProtocols: z
      .array(z.enum(PROTOCOLS))
      .default(['SSLv3'])
      .describe('TLS protocol versions refused (Flume exclude-protocols); the rest must be a contiguous range.'),
    onListening: z
      .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
      .optional()
      .describe('Called with the bound address once the server listens (useful with port 0).'),
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const issue of serverTlsIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
    if (v.requestTimeoutMs < v.headersTimeoutMs) {
      ctx.issues.push({ code: 'custom', path: ['requestTimeoutMs'], message: `at least headersTimeoutMs (${v.headersTimeoutMs})`, input: v.requestTimeoutMs });
    }
    if (v.ssl) {
      if (protocolRange(v.excludeProtocols) === undefined) {
        ctx.issues.push({
          code: 'custom',
          path: ['excludeProtocols'],
          message: 'exclusions leaving a contiguous, non-empty range of TLSv1…TLSv1.3',
          input: v.excludeProtocols,
        });
      }
    }
  });

export type HttpSourceOptions = z.input<typeof httpSourceOptions>;

const HANDLERS: Record<string, string> = {
  'org.apache.flume.source.http.jsonhandler': 'JSON',
  jsonhandler: 'JSON',
  json: 'JSON',
  'org.apache.flume.sink.solr.morphline.blobhandler': 'BLOB',
  blobhandler: 'BLOB',
  blob: 'BLOB',
};

export const httpSourceSpec = defineComponent({
  name: 'httpSource',
  kind: 'source',
  summary: 'HTTP(S) server: one POST is one transaction, answered 200 once stored, 503 when the channel is full (Flume http).',
  flumeTypes: ['http', 'org.apache.flume.source.http.HTTPSource'],
  schema: httpSourceOptions,
  flumeKeys: {
    handler: { option: 'handler', convert: (v) => HANDLERS[v.trim().toLowerCase()] ?? v },
    'handler.maxBlobLength': { option: 'maxBodyBytes', convert: Number },
    ssl: { option: 'ssl', convert: (v) => v.trim().toLowerCase() === 'true' },
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    'keystore-password': 'keystorePassword',
    'keystore-type': 'keystoreType',
    'ServerConnector.idleTimeout': 'idleTimeoutMs',
  },
  // Jetty's own settings and a custom handler's properties have nothing to act on here: named, not fatal.
  fromFlume: (props) => {
    const ignored = [...props.keys()].filter(
      (k) =>
        (/^(HttpConfiguration|ServerConnector|SslContextFactory|QueuedThreadPool)\./.test(k) && k !== 'ServerConnector.idleTimeout') ||
        (k.startsWith('handler.') && k !== 'handler.maxBlobLength'),
    );
    return {
      options: {},
      consumed: ignored,
      problems: ignored.map((key) => ({
        key,
        severity: 'warning' as const,
        message: key.startsWith('handler.') ? 'ignored: only a custom handler class reads it, and rxflume has the JSON and BLOB handlers' : "ignored: a Jetty setting, and rxflume's HTTP server is Node's",
      })),
    };
  },
});

/** Thrown for a body the handler cannot read: answered 400, nothing of the request is put. */
class BadRequest extends Error {}

/** Channel failures Flume's HTTPSource answers 503 (a ChannelException), whether or not a retry can help. */
const CHANNEL_CODES = new Set(['FLUME_CHANNEL_FULL', 'FLUME_CHANNEL_CLOSED', 'FLUME_CHANNEL_IO', 'FLUME_BATCH_TOO_LARGE']);

const CHANNEL_FAILED = 'Error appending event to channel. Channel might be full. Consider increasing the channel capacity or make sure the sinks perform faster.';

/**
 * Flume's HTTP source: an HTTP (or, with `ssl`, HTTPS) server on `bind:port`. Every POST, whatever
 * its path, is turned into events by the `handler` and put as **one batch** (one transaction):
 *
 * - `JSON` (Flume's JSONHandler): a JSON array of `{"headers": {…}, "body": "…"}`. The charset comes
 *   from `Content-Type` (`charset=UTF-8|UTF-16|UTF-32`, UTF-8 when absent; any other is answered
 *   500, as Flume does) and each body string is encoded back to bytes in it (Java's encodings: UTF-16
 *   with a big-endian BOM, UTF-32 big-endian). Header values that are numbers or booleans become
 *   strings, a missing or null body is empty, other members are ignored (as Gson does).
 * - `BLOB` (Flume's BlobHandler): the whole body is one event; query parameters are its headers.
 *
 * A JSON body is scanned as it arrives, before anything is built: past `maxEventsPerRequest` events
 * it is answered 503 at once (the channel could not take it in one transaction), past
 * `maxFieldsPerRequest` values 413, and a body that cannot be an array of event objects 400 — all
 * without reading the rest (the connection is then closed). Only a body within those bounds is
 * parsed, so one request costs at most a bounded, short synchronous parse and other clients keep
 * being served.
 *
 * Answers: **200** once the channel stored every event; **503** when the channel refused the batch
 * (full, closed, or more events than its `transactionCapacity`: Flume's ChannelException), when the
 * request has more than `maxEventsPerRequest` events, or when `maxBufferedBytes` are held for other
 * requests — the client should retry later; **500** for another failure or an unsupported charset;
 * **400** for a malformed body (nothing of that request is put); **413** for a body over
 * `maxBodyBytes` or with more than `maxFieldsPerRequest` values; **405** for other methods than
 * POST; **408** for headers slower than `headersTimeoutMs` or a request slower than
 * `requestTimeoutMs`. The client is answered only after the channel settled, so a full channel
 * pushes back on every client. Connections past `maxConnections` are closed at once; one silent for
 * `idleTimeoutMs` is closed.
 *
 * Counters: `AppendBatchReceivedCount` / `AppendBatchAcceptedCount` per request, `EventReceivedCount`
 * / `EventAcceptedCount` per event, `EventReadFail` (400/413), `ChannelWriteFail` (503),
 * `GenericProcessingFail` (500, refused connections, TLS failures), `OpenConnectionCount`.
 *
 * TLS: `sslKeyFile`/`sslCertFile` (PEM) or Flume's `keystore` as a PKCS#12 file (a JKS one is
 * refused with the keytool command converting it; keystore keys are ignored without ssl, as Flume); `excludeProtocols` (default SSLv3) narrows Node's TLS versions. Unreadable files or
 * a port that cannot be bound fail the source with `FLUME_SOURCE_FAILED`. Unsubscribing closes the
 * server and every connection.
 *
 * Delivery: a 200 means stored in the channel; anything else means nothing of the request was.
 *
 * @example
 * pipe(httpSource({ bind: '127.0.0.1', port: 8080 }), memoryChannel({ capacity: 10_000 }), loggerSink());
 * // curl -X POST -H 'Content-Type: application/json' -d '[{"headers":{"a":"1"},"body":"hi"}]' http://127.0.0.1:8080/
 */
export const httpSource = component(httpSourceSpec, function httpSource(options: HttpSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(httpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['AppendReceivedCount', 'AppendAcceptedCount', 'OpenConnectionCount']) metrics.set(key, 0);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    const sockets = new Set<Socket>();
    /** Body bytes held by requests not answered yet, over all connections. */
    let buffered = 0;

    const fail = (message: string, cause?: unknown): void => {
      if (closed) return;
      subscriber.error(new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: false, cause }));
    };

    const answer = (res: ServerResponse, status: number, text = ''): void => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };

    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        answer(res, 405, 'POST events to this source.\n');
        req.resume();
        return;
      }
      const declared = Number(req.headers['content-length']);
      if (declared > opts.maxBodyBytes) {
        metrics.inc('EventReadFail');
        res.setHeader('connection', 'close');
        answer(res, 413, `Request body over ${opts.maxBodyBytes} bytes.\n`);
        req.resume();
        return;
      }
      let charset: Charset = 'UTF-8';
      if (opts.handler === 'JSON') {
        try {
          charset = charsetOf(req.headers['content-type']);
        } catch (error) {
          metrics.inc('GenericProcessingFail');
          res.setHeader('connection', 'close');
          answer(res, 500, `${(error as Error).message}\n`);
          req.resume();
          return;
        }
      }
      const scan = opts.handler === 'JSON' ? new EventArrayScan(charset, opts.maxEventsPerRequest, opts.maxFieldsPerRequest) : undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      let held = 0;
      let refused = false;
      const release = (): void => {
        buffered -= held;
        held = 0;
      };
      res.once('close', release);
      // Answered before the body ended. The rest is read and dropped, so that a keep-alive client
      // writing its whole body before reading still gets the answer (Node closes other connections
      // once answered), but never past maxBodyBytes.
      const refuse = (status: number, text: string, counter: string, close = false): void => {
        refused = true;
        chunks.length = 0;
        release();
        metrics.inc(counter);
        if (close) res.setHeader('connection', 'close');
        answer(res, status, `${text}\n`);
      };
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (refused) {
          if (size > opts.maxBodyBytes && res.writableFinished) req.socket.destroy();
          return;
        }
        if (closed) return;
        if (size > opts.maxBodyBytes) return refuse(413, `Request body over ${opts.maxBodyBytes} bytes.`, 'EventReadFail', true);
        // One request alone is always taken: the bound is on what others hold besides it.
        if (buffered > held && buffered + chunk.length > opts.maxBufferedBytes) {
          return refuse(503, `Source busy: ${buffered} request bytes held (maxBufferedBytes ${opts.maxBufferedBytes}); retry later.`, 'ChannelWriteFail');
        }
        const refusal = scan?.feed(chunk);
        if (refusal) return refuse(refusal.status, refusal.status === 503 ? `${CHANNEL_FAILED} ${refusal.message}` : refusal.message, refusal.status === 503 ? 'ChannelWriteFail' : 'EventReadFail');
        buffered += chunk.length;
        held += chunk.length;
        chunks.push(chunk);
      });
      req.on('error', () => undefined);
      req.on('end', () => {
        if (refused || closed) return;
        let events: FlumeEvent[];
        try {
          const body = Buffer.concat(chunks, size);
          chunks.length = 0;
          events = opts.handler === 'JSON' ? jsonEvents(body, charset) : [blobEvent(req, body)];
        } catch (error) {
          if (error instanceof BadRequest) {
            metrics.inc('EventReadFail');
            answer(res, 400, `${error.message}\n`);
          } else {
            metrics.inc('GenericProcessingFail');
            answer(res, 500, `${(error as Error).message}\n`);
          }
          return;
        }
        metrics.inc('AppendBatchReceivedCount');
        metrics.inc('EventReceivedCount', events.length);
        subscriber.next(
          createBatch(events, {
            onAck: () => {
              metrics.inc('AppendBatchAcceptedCount');
              metrics.inc('EventAcceptedCount', events.length);
              answer(res, 200);
            },
            onNack: (error) => {
              if (isRetriable(error) || (error instanceof FlumeError && CHANNEL_CODES.has(error.code))) {
                metrics.inc('ChannelWriteFail');
                answer(res, 503, `${CHANNEL_FAILED} ${error.message}\n`);
              } else {
                metrics.inc('GenericProcessingFail');
                answer(res, 500, `${error.message}\n`);
              }
            },
          }),
        );
      });
    };

    const limits = {
      headersTimeout: opts.headersTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      // Node checks both timeouts on this period (30 s by default): often enough for them to mean what they say.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(opts.headersTimeoutMs / 2))),
    };
    let server: Server;
    if (opts.ssl) {
      const range = protocolRange(opts.excludeProtocols)!;
      let identity: ReturnType<typeof serverCredentials>;
      try {
        identity = serverCredentials(opts);
      } catch (error) {
        fail((error as Error).message, error);
        return;
      }
      try {
        server = createTlsServer({ ...identity, ...limits, minVersion: range[0], maxVersion: range[1] }, handle);
      } catch (error) {
        fail(`bad TLS key, certificate or keystore password: ${(error as Error).message}`, error);
        return;
      }
      server.on('tlsClientError', () => metrics.inc('GenericProcessingFail'));
    } else {
      server = createServer(limits, handle);
    }
    server.maxConnections = opts.maxConnections;
    server.timeout = opts.idleTimeoutMs;
    server.on('drop', () => metrics.inc('GenericProcessingFail'));
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      metrics.set('OpenConnectionCount', sockets.size);
      socket.once('close', () => {
        sockets.delete(socket);
        metrics.set('OpenConnectionCount', sockets.size);
      });
    });
    server.on('clientError', (_error, socket) => {
      metrics.inc('EventReadFail');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    server.on('error', (error: Error) => fail(`cannot listen on ${opts.bind}:${opts.port}: ${error.message}`, error));
    server.listen(opts.port, opts.bind, () => {
      if (!closed) opts.onListening?.(server.address() as AddressInfo);
    });

    return () => {
      closed = true;
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    };
  });
  return withMetrics(source, metrics);
});

/** [min, max] TLS versions left after the exclusions, or undefined when not a contiguous range. */
function protocolRange(excluded: readonly Protocol[]): [SecureVersion, SecureVersion] | undefined {
  const allowed = (['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const).map((p) => !excluded.includes(p));
  const first = allowed.indexOf(true);
  const last = allowed.lastIndexOf(true);
  if (first < 0 || allowed.slice(first, last + 1).includes(false)) return undefined;
  const names: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  return [names[first]!, names[last]!];
}

type Charset = 'UTF-8' | 'UTF-16' | 'UTF-32';

function charsetOf(contentType: string | undefined): Charset {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '');
  if (!m) return 'UTF-8';
  const c = m[1]!.toUpperCase();
  if (c === 'UTF-8' || c === 'UTF-16' || c === 'UTF-32') return c;
  throw new Error(`Unsupported charset ${m[1]}: JSON handler supports UTF-8, UTF-16 and UTF-32 only.`);
}

/** Flume's JSONHandler: a JSON array of `{headers, body}` in the request's charset. */
function jsonEvents(raw: Buffer, charset: Charset): FlumeEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decode(raw, charset));
  } catch (error) {
    if (error instanceof BadRequest) throw error;
    throw new BadRequest(`Request has invalid JSON Syntax: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new BadRequest('Request has invalid JSON Syntax: expected an array of events.');
  const events: FlumeEvent[] = new Array(parsed.length);
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new BadRequest(`Event ${i} is not an object.`);
    const { headers: rawHeaders, body } = item as { headers?: unknown; body?: unknown };
    let headers: Record<string, string> = {};
    if (rawHeaders !== undefined && rawHeaders !== null) {
      if (typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) throw new BadRequest(`Event ${i}: headers is not an object.`);
      // JSON.parse made a plain object of own data properties (a `__proto__` key included): kept as
      // it is, only non-string values are rewritten (defineProperty keeps `__proto__` an ordinary key).
      headers = rawHeaders as Record<string, string>;
      for (const key of Object.keys(headers)) {
        const value: unknown = headers[key];
        if (typeof value === 'string') continue;
        if (typeof value !== 'number' && typeof value !== 'boolean') throw new BadRequest(`Event ${i}: header ${JSON.stringify(key)} is not a string.`);
        Object.defineProperty(headers, key, { value: String(value), enumerable: true, writable: true, configurable: true });
      }
    }
    if (body !== undefined && body !== null && typeof body !== 'string') throw new BadRequest(`Event ${i}: body is not a string.`);
    events[i] = { headers, body: encode(body ?? '', charset) };
  }
  return events;
}

/** Deeper nesting is refused (Gson's default limit). */
const MAX_DEPTH = 255;

interface Refusal {
  status: 400 | 413 | 503;
  message: string;
}

/**
 * Reads a JSONHandler body as it arrives and builds nothing: counts the events (values of the
 * top-level array) and the fields inside them (every value nested in an event), and spots what can
 * certainly not be an array of event objects. Everything else about the syntax is left to JSON.parse
 * once the body is complete and known to be within bounds. Works on code units, so UTF-16/32 bodies
 * are scanned as they are (all JSON structure is ASCII; other units only matter inside strings).
 */
class EventArrayScan {
  private events = 0;
  private fields = 0;
  private depth = 0;
  /** 1 where the container at that depth is an object. */
  private readonly objects = new Uint8Array(MAX_DEPTH + 1);
  private expect: 'value' | 'key' | 'none' = 'value';
  private inString = false;
  private escaped = false;
  private ended = false;
  private readonly width: number;
  private littleEndian = false;
  private first = true;
  private readonly pending: number[] = [];

  constructor(
    charset: Charset,
    private readonly maxEvents: number,
    private readonly maxFields: number,
  ) {
    this.width = charset === 'UTF-8' ? 1 : charset === 'UTF-16' ? 2 : 4;
  }

  feed(chunk: Buffer): Refusal | undefined {
    if (this.width === 1) {
      for (let i = 0; i < chunk.length; i++) {
        const refusal = this.unit(chunk[i]!);
        if (refusal) return refusal;
      }
      return undefined;
    }
    const p = this.pending;
    for (let i = 0; i < chunk.length; i++) {
      p.push(chunk[i]!);
      if (p.length < this.width) continue;
      if (this.first) {
        this.first = false;
        // A byte-order mark says the order and is no character; without one, big-endian (Java's default).
        const bom = this.width === 2 ? (p[0]! << 8) | p[1]! : ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
        if (bom === 0xfeff || (this.width === 2 ? bom === 0xfffe : bom === 0xfffe0000)) {
          this.littleEndian = bom !== 0xfeff;
          p.length = 0;
          continue;
        }
      }
      let unit = 0;
      if (this.littleEndian) for (let j = this.width - 1; j >= 0; j--) unit = unit * 256 + p[j]!;
      else for (let j = 0; j < this.width; j++) unit = unit * 256 + p[j]!;
      p.length = 0;
      const refusal = this.unit(unit);
      if (refusal) return refusal;
    }
    return undefined;
  }

  private unit(c: number): Refusal | undefined {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === 0x5c) this.escaped = true;
      else if (c === 0x22) this.inString = false;
      return undefined;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return undefined;
    if (this.ended) return bad('content after the array of events.');
    switch (c) {
      case 0x2c: // ,
        if (this.depth === 0) return bad('unexpected ",".');
        this.expect = this.objects[this.depth] ? 'key' : 'value';
        return undefined;
      case 0x3a: // :
        if (!this.objects[this.depth]) return bad('unexpected ":".');
        this.expect = 'value';
        return undefined;
      case 0x5d: // ]
      case 0x7d: // }
        if (this.depth === 0 || this.objects[this.depth] !== (c === 0x7d ? 1 : 0)) return bad(`unexpected "${String.fromCharCode(c)}".`);
        this.depth--;
        this.expect = 'none';
        if (this.depth === 0) this.ended = true;
        return undefined;
    }
    if (this.expect === 'key') {
      if (c !== 0x22) return bad('expected a member name.');
      this.expect = 'none';
      this.inString = true;
      return undefined;
    }
    if (this.expect === 'value') {
      this.expect = 'none';
      if (this.depth === 0) {
        if (c !== 0x5b) return bad('expected an array of events.');
      } else if (this.depth === 1) {
        if (++this.events > this.maxEvents) return { status: 503, message: `The request has more than ${this.maxEvents} events (maxEventsPerRequest).` };
        if (c !== 0x7b) return { status: 400, message: `Event ${this.events - 1} is not an object.` };
      } else if (++this.fields > this.maxFields) {
        return { status: 413, message: `The request's events have more than ${this.maxFields} fields (maxFieldsPerRequest).` };
      }
    } else if (c === 0x22 || c === 0x5b || c === 0x7b) {
      return bad(`unexpected "${String.fromCharCode(c)}".`);
    }
    if (c === 0x22) this.inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (this.depth === MAX_DEPTH) return bad(`nested deeper than ${MAX_DEPTH} levels.`);
      this.objects[++this.depth] = c === 0x7b ? 1 : 0;
      this.expect = c === 0x7b ? 'key' : 'value';
    }
    // Anything else continues a number or literal; JSON.parse judges it.
    return undefined;
  }
}

function bad(what: string): Refusal {
  return { status: 400, message: `Request has invalid JSON Syntax: ${what}` };
}

function blobEvent(req: IncomingMessage, body: Buffer): FlumeEvent {
  const headers: Record<string, string> = {};
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  for (const [key, value] of query) if (!(key in headers)) headers[key] = value;
  return { headers, body };
}

// Java's decoders: UTF-16/32 honour a BOM and default to big-endian.
function decode(raw: Buffer, charset: Charset): string {
  if (charset === 'UTF-8') return raw.toString('utf8');
  if (charset === 'UTF-16') {
    if (raw.length % 2) throw new BadRequest('Request body is not valid UTF-16.');
    if (raw[0] === 0xff && raw[1] === 0xfe) return raw.subarray(2).toString('utf16le');
    const start = raw[0] === 0xfe && raw[1] === 0xff ? 2 : 0;
    const le = Buffer.from(raw.subarray(start));
    le.swap16();
    return le.toString('utf16le');
  }
  if (raw.length % 4) throw new BadRequest('Request body is not valid UTF-32.');
  let littleEndian = false;
  let start = 0;
  if (raw.length >= 4 && raw.readUInt32BE(0) === 0xfeff) start = 4;
  else if (raw.length >= 4 && raw.readUInt32LE(0) === 0xfeff) {
    start = 4;
    littleEndian = true;
  }
  const points: number[] = [];
  for (let i = start; i < raw.length; i += 4) {
    const cp = littleEndian ? raw.readUInt32LE(i) : raw.readUInt32BE(i);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new BadRequest('Request body is not valid UTF-32.');
    points.push(cp);
  }
  let out = '';
  for (let i = 0; i < points.length; i += 8192) out += String.fromCodePoint(...points.slice(i, i + 8192));
  return out;
}

// Java's String.getBytes: UTF-16 writes a big-endian BOM then big-endian units; UTF-32 is big-endian.
function encode(text: string, charset: Charset): Buffer {
  if (charset === 'UTF-8') return Buffer.from(text, 'utf8');
  if (charset === 'UTF-16') {
    if (text === '') return Buffer.alloc(0);
    const units = Buffer.from(text, 'utf16le');
    units.swap16();
    return Buffer.concat([Buffer.from([0xfe, 0xff]), units]);
  }
  const points = Array.from(text, (ch) => ch.codePointAt(0)!);
  const out = Buffer.alloc(points.length * 4);
  points.forEach((cp, i) => out.writeUInt32BE(cp, i * 4));
  return out;
}
