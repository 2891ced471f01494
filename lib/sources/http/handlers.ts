/**
 * HTTP handlers: what turns one POST into events (Flume's `HTTPSourceHandler`). Flume's two — JSONHandler
 * (its body read by EventArrayScan as it arrives, as Gson reads it) and BLOBHandler — are made with
 * `defineHttpHandler`, as a module's handler is (`a1.sources.r1.handler = ./plugins/csv.js`, its
 * options `handler.*`).
 *
 * A handler's `read(request)` is called when a POST's headers arrived and returns a reader of its
 * body, or a refusal answered at once without reading the body (a refusal's status and text are what
 * the client gets; nothing of that request is put):
 *
 * - 400 is answered `Bad request from client. <message>` (Flume's HTTPBadRequestException);
 * - 500 `Deserializer threw unexpected exception. <message>`, as is anything the handler throws;
 * - 503 is the channel's answer (retry later); 413 the message alone.
 *
 * A reader with `feed` sees each chunk as it arrives (and may refuse early); without it the source
 * holds the body, up to the source's `maxBodyBytes`, and hands it to `end`.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { FlumeEvent } from '../../core/event.js';
import { EventArrayScan, type Charset, type Refusal } from './eventArrayScan.js';

export type { Charset, Refusal };

/** One POST's body, read by a handler. */
export interface HttpBodyReader {
  /** The next chunk of the body: a refusal answers the request at once (the rest is not read). */
  feed?(chunk: Buffer): Refusal | undefined;
  /** The body ended: the request's events (put as one transaction), or a refusal. `body` is the whole body without `feed`, else empty. */
  end(body: Buffer): FlumeEvent[] | Refusal;
}

export interface HttpHandler {
  /** A reader for one POST, given its method, URL and headers; or a refusal, answered before its body is read. */
  read(request: IncomingMessage): HttpBodyReader | Refusal;
}

export interface HttpHandlerSpec<S extends z.ZodType = z.ZodType> {
  /** Its name in messages and in `rxflume validate`. */
  name: string;
  /** Flume's names for it (short names, class names), matched case-insensitively; a module's needs none. */
  flumeTypes?: readonly string[];
  /** Its options: Flume's `handler.*` properties, validated (and coerced from text) by this schema. */
  schema: S;
  /** The handler of one source, from validated options. */
  create: (options: z.output<S>) => HttpHandler;
}

/** An HTTP handler definition, as `defineHttpHandler` returns it. */
export interface HttpHandlerDefinition<S extends z.ZodType = z.ZodType> extends HttpHandlerSpec<S> {
  readonly kind: 'httpHandler';
  readonly flumeTypes: readonly string[];
}

/** Declares an HTTP handler: what the http source accepts as its `handler`. */
export function defineHttpHandler<S extends z.ZodType>(spec: HttpHandlerSpec<S>): HttpHandlerDefinition<S> {
  return Object.freeze({ ...spec, kind: 'httpHandler' as const, flumeTypes: spec.flumeTypes ?? [] });
}

/** Whether `value` has the shape `defineHttpHandler` gives (a module's export is checked by shape, not origin). */
export function isHttpHandlerDefinition(value: unknown): value is HttpHandlerDefinition {
  const v = value as Partial<HttpHandlerDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'httpHandler' &&
    typeof v.name === 'string' &&
    typeof v.create === 'function' &&
    typeof (v.schema as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}

export function charsetOf(contentType: string | undefined): Charset {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '');
  if (!m) return 'UTF-8';
  const c = m[1]!.toUpperCase();
  if (c === 'UTF-8' || c === 'UTF-16' || c === 'UTF-32') return c;
  throw new Error(`JSON handler supports UTF-8, UTF-16 and UTF-32 only (the request's charset is ${m[1]}).`);
}

/** Flume's BlobHandler: the whole body is one event, the query parameters its headers. */
export function blobEvent(req: IncomingMessage, body: Buffer): FlumeEvent {
  const headers: Record<string, string> = {};
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  for (const [key, value] of query) if (!(key in headers)) headers[key] = value;
  return { headers, body };
}

/** The first of `names` the request's query does not carry, or undefined. */
export function missingParameter(req: IncomingMessage, names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  return names.find((name) => !query.has(name));
}

/** The JSON handler's options, which the http source also takes as its own. */
export const jsonHandlerOptions = {
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
};

/** The BLOB handler's option, which the http source also takes as its own. */
export const blobHandlerOptions = {
  mandatoryParameters: z
    .array(z.string())
    .default([])
    .describe(
      "BLOB only: query parameters every request must carry; one without them is answered 500 and nothing is put (Flume BLOBHandler's `mandatoryParameters`, comma-separated there).",
    ),
};

const BAD_JSON = 'Request has invalid JSON Syntax';

/** The JSON reader's 400s in Flume's words (JSONHandler's HTTPBadRequestException). */
function jsonRefusal(refusal: Refusal): Refusal {
  if (refusal.status !== 400) return refusal;
  return { status: 400, message: `${BAD_JSON}: ${refusal.message.startsWith(`${BAD_JSON}: `) ? refusal.message.slice(BAD_JSON.length + 2) : refusal.message}` };
}

/**
 * Flume's JSONHandler: a JSON array of `{"headers": {…}, "body": "…"}` in the request's charset
 * (an unsupported one throws, answered 500), scanned as it arrives within the request bounds.
 */
export const jsonHandler = defineHttpHandler({
  name: 'JSON',
  flumeTypes: ['JSON', 'JSONHandler', 'org.apache.flume.source.http.JSONHandler'],
  schema: z.strictObject(jsonHandlerOptions),
  create: (options) => ({
    read(request) {
      const scan = new EventArrayScan(charsetOf(request.headers['content-type']), options.maxEventsPerRequest, options.maxFieldsPerRequest);
      return {
        feed: (chunk) => {
          const refusal = scan.feed(chunk);
          return refusal && jsonRefusal(refusal);
        },
        end: () => {
          const result = scan.end();
          return Array.isArray(result) ? result : jsonRefusal(result);
        },
      };
    },
  }),
});

/** Flume's BLOBHandler: the whole body is one event, the query parameters its headers (the first value of a repeated one). */
export const blobHandler = defineHttpHandler({
  name: 'BLOB',
  flumeTypes: ['BLOB', 'BlobHandler', 'org.apache.flume.source.http.BLOBHandler', 'org.apache.flume.sink.solr.morphline.BlobHandler'],
  schema: z.strictObject(blobHandlerOptions),
  create: (options) => ({
    read(request) {
      const missing = missingParameter(request, options.mandatoryParameters);
      if (missing !== undefined) {
        const why = missing === '' ? " (a parameter with an empty name: Flume BLOBHandler's default mandatoryParameters)" : '';
        return { status: 500, message: `Please specify ${missing} parameter in the request.${why}` };
      }
      return { end: (body) => [blobEvent(request, body)] };
    },
  }),
});

export const HTTP_HANDLER_NAMES = ['JSON', 'BLOB'] as const;

export type HttpHandlerName = (typeof HTTP_HANDLER_NAMES)[number];

/** The built-in handlers by name. */
export const HTTP_HANDLERS: Readonly<Record<HttpHandlerName, HttpHandlerDefinition>> = {
  JSON: jsonHandler as HttpHandlerDefinition,
  BLOB: blobHandler as HttpHandlerDefinition,
};

const BY_FLUME_NAME = new Map<string, HttpHandlerName>();
for (const name of HTTP_HANDLER_NAMES) for (const n of HTTP_HANDLERS[name].flumeTypes) BY_FLUME_NAME.set(n.toLowerCase(), name);

/** Flume's handler names are case-insensitive and may be class names; anything else is returned as it is, for the schema to name. */
export const flumeHandlerName = (value: string): string => BY_FLUME_NAME.get(value.trim().toLowerCase()) ?? value;

/**
 * The http source's option naming its handler: a built-in's name or a definition (a module's, which the
 * agent loads where the property names one). Its options go in `handlerOptions`.
 */
export const handlerOption = (description: string) => ({
  handler: z
    .custom<HttpHandlerName | HttpHandlerDefinition>((v) => HTTP_HANDLER_NAMES.includes(v as HttpHandlerName) || isHttpHandlerDefinition(v), {
      // Where a module was meant, the agent names the module's problem; here the built-ins are what is expected.
      message: `one of ${HTTP_HANDLER_NAMES.map((n) => JSON.stringify(n)).join(' | ')}`,
    })
    .default('JSON')
    // The agent's plugin loader reads this: the property may name a module, its sub-keys go to handlerOptions.
    .meta({ plugin: 'httpHandler', optionsIn: 'handlerOptions' })
    .describe(description),
  handlerOptions: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("A custom handler's options (Flume handler.* for it), validated by its schema; the built-ins take the source's own options."),
});
