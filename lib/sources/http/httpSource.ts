import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentError, describeError, FlumeError, isRetriable } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { bindOption, nameOption, portOption } from '../../core/options.js';
import { serverSecureContext, serverTlsIssues, serverTlsOptions } from '../../tls/serverTls.js';
import { listenTcp, maxConnectionsOption, onListeningOption } from '../../net/listen.js';
import { blobHandlerOptions, flumeHandlerName, handlerOption, HTTP_HANDLERS, jsonHandlerOptions, type HttpBodyReader, type Refusal } from './handlers.js';

export const httpSourceOptions = z
  .strictObject({
    ...nameOption('httpSource'),
    ...bindOption('0.0.0.0'),
    ...portOption,
    ...handlerOption(
      "'JSON': Flume's JSONHandler body `[{\"headers\": {…}, \"body\": \"…\"}]`; 'BLOB': the whole body is one event, query parameters its headers; or a handler made with defineHttpHandler (in a configuration, a module: `handler = ./lines.js`).",
    ),
    ...blobHandlerOptions,
    maxBodyBytes: z
      .number()
      .int()
      .min(1)
      .default(16 * 1024 * 1024)
      .describe('Largest request body; a larger one is answered 413 (16 MiB by default).'),
    ...jsonHandlerOptions,
    maxBufferedBytes: z
      .number()
      .int()
      .min(1)
      .default(32 * 1024 * 1024)
      .describe(
        'Request bytes held at once over all connections (read, parsed or waiting for the channel); a request that would pass it is answered 503 (retry later). One request alone is always taken up to maxBodyBytes. 32 MiB by default.',
      ),
    ...maxConnectionsOption(),
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
    ...onListeningOption,
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const issue of serverTlsIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
    if (v.requestTimeoutMs < v.headersTimeoutMs) {
      ctx.issues.push({ code: 'custom', path: ['requestTimeoutMs'], message: `at least headersTimeoutMs (${v.headersTimeoutMs})`, input: v.requestTimeoutMs });
    }
  });

export type HttpSourceOptions = z.input<typeof httpSourceOptions>;

export const httpSourceSpec = defineComponent({
  name: 'httpSource',
  kind: 'source',
  summary: 'HTTP(S) server: one POST is one transaction, answered 200 once stored, 503 when the channel is full (Flume http).',
  flumeTypes: ['http', 'org.apache.flume.source.http.HTTPSource'],
  schema: httpSourceOptions,
  flumeKeys: {
    handler: { option: 'handler', convert: flumeHandlerName },
    'handler.maxBlobLength': { option: 'maxBodyBytes', convert: Number },
    ssl: { option: 'ssl', convert: (v) => v.trim().toLowerCase() === 'true' },
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    'keystore-password': 'keystorePassword',
    'keystore-type': 'keystoreType',
    'ServerConnector.idleTimeout': 'idleTimeoutMs',
  },
  // Jetty's own settings and a custom handler's properties have nothing to act on here: named, not fatal.
  fromFlume: (props) => {
    // Flume's core BLOBHandler splits mandatoryParameters (default "") with String.split(","): the
    // default is one parameter with an empty name, so that every request without one is refused.
    const coreBlob = props.get('handler')?.trim().toLowerCase() === 'org.apache.flume.source.http.blobhandler';
    const ignored = [...props.keys()].filter(
      (k) =>
        (/^(HttpConfiguration|ServerConnector|SslContextFactory|QueuedThreadPool)\./.test(k) && k !== 'ServerConnector.idleTimeout') ||
        (k.startsWith('handler.') && k !== 'handler.maxBlobLength' && !(coreBlob && k === 'handler.mandatoryParameters')),
    );
    return {
      options: coreBlob ? { mandatoryParameters: javaSplit(props.get('handler.mandatoryParameters') ?? '', ',') } : {},
      consumed: coreBlob ? [...ignored, 'handler.mandatoryParameters'] : ignored,
      problems: ignored.map((key) => ({
        key,
        severity: 'warning' as const,
        message: key.startsWith('handler.') ? 'ignored: the JSON and BLOB handlers read no such property (a handler module named by `handler` reads its own)' : "ignored: a Jetty setting, and rxflume's HTTP server is Node's",
      })),
    };
  },
});

/** Java's `String.split(sep)`: an empty string is one empty part, trailing empty parts are dropped. */
function javaSplit(text: string, sep: string): string[] {
  if (text === '') return [''];
  const parts = text.split(sep);
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Channel failures Flume's HTTPSource answers 503 (a ChannelException), whether or not a retry can help. */
const CHANNEL_CODES = new Set(['FLUME_CHANNEL_FULL', 'FLUME_CHANNEL_CLOSED', 'FLUME_CHANNEL_IO', 'FLUME_BATCH_TOO_LARGE']);

/** Flume's words for a handler failure (answered 500). */
const HANDLER_FAILED = 'Deserializer threw unexpected exception. ';

/** Flume's words for what a handler refused: a bad request (HTTPBadRequestException), a failure, the channel's refusal. */
function refusalText(refusal: Refusal): string {
  if (refusal.status === 503) return `${CHANNEL_FAILED} ${refusal.message}`;
  if (refusal.status === 400) return `Bad request from client. ${refusal.message}`;
  if (refusal.status === 500) return `${HANDLER_FAILED}${refusal.message}`;
  return refusal.message;
}

const EMPTY = Buffer.alloc(0);

/** What a custom handler returned is an event: built-in handlers make them so, a module's is checked. */
function isEvent(e: unknown): boolean {
  const { headers, body } = (e ?? {}) as Partial<FlumeEvent>;
  return Buffer.isBuffer(body) && typeof headers === 'object' && headers !== null && Object.values(headers).every((v) => typeof v === 'string');
}

const isRefusal = (r: HttpBodyReader | Refusal): r is Refusal => typeof (r as Partial<Refusal>).status === 'number';

const CHANNEL_FAILED = 'Error appending event to channel. Channel might be full. Consider increasing the channel capacity or make sure the sinks perform faster.';

/**
 * Flume's HTTP source: an HTTP (or, with `ssl`, HTTPS) server on `bind:port`. Every POST, whatever
 * its path, is turned into events by the `handler` and put as **one batch** (one transaction):
 *
 * - `JSON` (Flume's JSONHandler): a JSON array of `{"headers": {…}, "body": "…"}`. The charset comes
 *   from `Content-Type` (`charset=UTF-8|UTF-16|UTF-32`, UTF-8 when absent; any other is answered
 *   500, as Flume does) and each body string is encoded back to bytes in it (Java's encodings: UTF-16
 *   with a big-endian BOM, UTF-32 big-endian). The body is read as Flume's Gson reads it, in lenient
 *   mode: `'` or `"` strings, unquoted names and values, `=`/`=>` for `:`, `;` for `,`, `//`, `/* *\/`
 *   and `#` comments, the `)]}'` prefix, an empty array slot as null; whitespace only after the array.
 *   A body or header value that is a number, boolean or unquoted literal becomes its text (booleans
 *   lower-case); headers may be an object or an array of `[name, value]` pairs; a header repeated
 *   after a non-null value is a 400 (Gson's map); a null header value is dropped (Flume takes it); a
 *   missing or null body is empty; other members are ignored.
 * - `BLOB` (Flume's BLOBHandler): the whole body is one event; query parameters are its headers (the
 *   first value of a repeated one); a request missing one of `mandatoryParameters` is answered 500.
 * - a handler made with `defineHttpHandler` (in a configuration, a module named by `handler`, its
 *   options `handler.*`), with `handlerOptions`, validated when the source is built. It reads each
 *   request's headers, then its body (as it arrives, or whole within `maxBodyBytes`), and returns
 *   the events or a refusal (400, 413, 500, 503) answered as Flume answers it; what it throws is a
 *   500, and so is an event that is not `{ headers: { [name]: string }, body: Buffer }`.
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
 * requests — the client should retry later; **500** for another failure, an unsupported charset,
 * or a JSON body with no value, `null`, a null event or header name, or a `\u` escape that is not
 * hexadecimal (where Flume's JSONHandler fails with other than a syntax error);
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
 * refused with the keytool command converting it; keystore keys are ignored without ssl, as Flume); `excludeProtocols` (default SSLv3) narrows Node's TLS versions. The files are read
 * when the source is built (a bad one throws `ConfigError` naming the option); a port that cannot be
 * bound fails the source with `FLUME_SOURCE_FAILED`. Unsubscribing closes the
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
  // A built-in handler takes the source's own options; a custom one its handlerOptions (validated now).
  const custom = typeof opts.handler !== 'string';
  const handlerDef = typeof opts.handler === 'string' ? HTTP_HANDLERS[opts.handler] : opts.handler;
  const handler = handlerDef.create(
    parseOptions(
      handlerDef,
      opts.handler === 'JSON'
        ? { maxEventsPerRequest: opts.maxEventsPerRequest, maxFieldsPerRequest: opts.maxFieldsPerRequest }
        : opts.handler === 'BLOB'
          ? { mandatoryParameters: opts.mandatoryParameters }
          : (opts.handlerOptions ?? {}),
    ),
  );
  // Key store and certificate files are read now: a bad one is a configuration error naming its option.
  const tls = opts.ssl ? serverSecureContext(opts, opts.name).options : undefined;
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['AppendReceivedCount', 'AppendAcceptedCount', 'OpenConnectionCount']) metrics.set(key, 0);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
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
      // The handler sees the headers first: it may refuse before any of the body is read.
      let reader: HttpBodyReader | Refusal;
      try {
        reader = handler.read(req);
      } catch (error) {
        metrics.inc('GenericProcessingFail');
        res.setHeader('connection', 'close');
        answer(res, 500, `${HANDLER_FAILED}${describeError(error)}\n`);
        req.resume();
        return;
      }
      if (isRefusal(reader)) {
        metrics.inc('EventReadFail');
        res.setHeader('connection', 'close');
        answer(res, reader.status, `${refusalText(reader)}\n`);
        req.resume();
        return;
      }
      const body = reader;
      const feed = body.feed?.bind(body);
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
        const refusal = feed?.(chunk);
        if (refusal) return refuse(refusal.status, refusalText(refusal), refusal.status === 503 ? 'ChannelWriteFail' : 'EventReadFail');
        // A reader fed as the body arrives (JSON's) builds the events as it goes: only others keep the bytes.
        buffered += chunk.length;
        held += chunk.length;
        if (!feed) chunks.push(chunk);
      });
      req.on('error', () => undefined);
      req.on('end', () => {
        if (refused || closed) return;
        let result: FlumeEvent[] | Refusal;
        try {
          result = body.end(feed ? EMPTY : Buffer.concat(chunks, size));
        } catch (error) {
          result = { status: 500, message: describeError(error) };
        }
        chunks.length = 0;
        if (!Array.isArray(result)) {
          // Flume counts a handler's failure (500) as a read failure too.
          metrics.inc('EventReadFail');
          answer(res, result.status, `${refusalText(result)}\n`);
          return;
        }
        const events = result;
        const bad = custom ? events.findIndex((e) => !isEvent(e)) : -1;
        if (bad >= 0) {
          metrics.inc('GenericProcessingFail');
          answer(res, 500, `${HANDLER_FAILED}handler ${handlerDef.name} returned event ${bad}, which is not { headers: { [name]: string }, body: Buffer }\n`);
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
    if (tls) {
      // Looked up, not imported (an ES import of node:http(s) loads undici through its lazy exports: start time).
      server = process.getBuiltinModule('node:https').createServer({ ...tls, ...limits }, handle);
      server.on('tlsClientError', () => metrics.inc('GenericProcessingFail'));
    } else {
      server = process.getBuiltinModule('node:http').createServer(limits, handle);
    }
    server.timeout = opts.idleTimeoutMs;
    server.on('clientError', (_error, socket) => {
      metrics.inc('EventReadFail');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    const listener = listenTcp(server, opts, metrics, (error) => subscriber.error(error));
    return () => {
      closed = true;
      listener.close();
    };
  });
  return withMetrics(source, metrics);
});
