import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { serverCredentials, serverTlsIssues, serverTlsOptions } from '../core/serverTls.js';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable } from '../core/errors.js';
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
  },
  // Jetty's own settings and a custom handler's properties have nothing to act on here: named, not fatal.
  fromFlume: (props) => {
    const ignored = [...props.keys()].filter((k) => /^(HttpConfiguration|ServerConnector|SslContextFactory|QueuedThreadPool)\./.test(k) || (k.startsWith('handler.') && k !== 'handler.maxBlobLength'));
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

/**
 * Flume's HTTP source: an HTTP (or, with `ssl`, HTTPS) server on `bind:port`. Every POST, whatever
 * its path, is turned into events by the `handler` and put as **one batch** (one transaction):
 *
 * - `JSON` (Flume's JSONHandler): a JSON array of `{"headers": {…}, "body": "…"}`. The charset comes
 *   from `Content-Type` (`charset=UTF-8|UTF-16|UTF-32`, UTF-8 when absent; any other is answered
 *   500, as Flume does) and each body string is encoded back to bytes in it (Java's encodings: UTF-16
 *   with a big-endian BOM, UTF-32 big-endian). Header values that are numbers or booleans become
 *   strings, a missing or null body is empty.
 * - `BLOB` (Flume's BlobHandler): the whole body is one event; query parameters are its headers.
 *
 * Answers: **200** once the channel stored every event; **503** when the batch was nacked with a
 * retriable error (`ChannelFullError`: the client should retry later); **500** for a non-retriable
 * nack (e.g. more events than the channel's `transactionCapacity`) or an unsupported charset;
 * **400** for a malformed body (nothing of that request is put); **413** for a body over
 * `maxBodyBytes`; **405** for other methods than POST. The client is answered only after the
 * channel settled, so a full channel pushes back on every client.
 *
 * Counters: `AppendBatchReceivedCount` / `AppendBatchAcceptedCount` per request, `EventReceivedCount`
 * / `EventAcceptedCount` per event, `EventReadFail` (400/413), `ChannelWriteFail` (503),
 * `GenericProcessingFail` (500), `OpenConnectionCount`.
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
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk: Buffer) => {
        if (over) return;
        size += chunk.length;
        if (size > opts.maxBodyBytes) {
          over = true;
          chunks.length = 0;
          metrics.inc('EventReadFail');
          res.setHeader('connection', 'close');
          answer(res, 413, `Request body over ${opts.maxBodyBytes} bytes.\n`);
          return;
        }
        chunks.push(chunk);
      });
      req.on('error', () => undefined);
      req.on('end', () => {
        if (over || closed) return;
        let events: FlumeEvent[];
        try {
          events = opts.handler === 'JSON' ? jsonEvents(Buffer.concat(chunks, size), req.headers['content-type']) : [blobEvent(req, Buffer.concat(chunks, size))];
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
              if (isRetriable(error)) {
                metrics.inc('ChannelWriteFail');
                answer(res, 503, `Error appending event to channel. Channel might be full. ${error.message}\n`);
              } else {
                metrics.inc('GenericProcessingFail');
                answer(res, 500, `${error.message}\n`);
              }
            },
          }),
        );
      });
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
        server = createTlsServer({ ...identity, minVersion: range[0], maxVersion: range[1] }, handle);
      } catch (error) {
        fail(`bad TLS key, certificate or keystore password: ${(error as Error).message}`, error);
        return;
      }
      server.on('tlsClientError', () => metrics.inc('GenericProcessingFail'));
    } else {
      server = createServer(handle);
    }
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
function jsonEvents(raw: Buffer, contentType: string | undefined): FlumeEvent[] {
  const charset = charsetOf(contentType);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decode(raw, charset));
  } catch (error) {
    throw new BadRequest(`Request has invalid JSON Syntax: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new BadRequest('Request has invalid JSON Syntax: expected an array of events.');
  const events: FlumeEvent[] = new Array(parsed.length);
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new BadRequest(`Event ${i} is not an object.`);
    const { headers: rawHeaders, body } = item as { headers?: unknown; body?: unknown };
    const headers: Record<string, string> = {};
    if (rawHeaders !== undefined && rawHeaders !== null) {
      if (typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) throw new BadRequest(`Event ${i}: headers is not an object.`);
      for (const [key, value] of Object.entries(rawHeaders)) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw new BadRequest(`Event ${i}: header ${JSON.stringify(key)} is not a string.`);
        }
        // defineProperty: a `__proto__` header must stay an ordinary key.
        Object.defineProperty(headers, key, { value: String(value), enumerable: true, writable: true, configurable: true });
      }
    }
    if (body !== undefined && body !== null && typeof body !== 'string') throw new BadRequest(`Event ${i}: body is not a string.`);
    events[i] = { headers, body: encode(body ?? '', charset) };
  }
  return events;
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
