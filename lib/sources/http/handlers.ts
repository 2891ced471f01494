/**
 * Flume's two HTTP handlers: JSONHandler (an array of events in the request's charset, with Java's
 * decoding and encoding of UTF-16 and UTF-32) and BlobHandler.
 */
import type { IncomingMessage } from 'node:http';
import type { FlumeEvent } from '../../core/event.js';

/** Thrown for a body the handler cannot read: answered 400, nothing of the request is put. */
export class BadRequest extends Error {}

/**
 * Thrown where Flume's JSONHandler fails on a null (an empty body, a body holding only `null`, a null
 * event): Flume answers 500 (a NullPointerException), and so does rxflume, with a clear message.
 */
export class HandlerFailure extends Error {}

export type Charset = 'UTF-8' | 'UTF-16' | 'UTF-32';

export function charsetOf(contentType: string | undefined): Charset {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '');
  if (!m) return 'UTF-8';
  const c = m[1]!.toUpperCase();
  if (c === 'UTF-8' || c === 'UTF-16' || c === 'UTF-32') return c;
  throw new Error(`JSON handler supports UTF-8, UTF-16 and UTF-32 only (the request's charset is ${m[1]}).`);
}

/** Flume's JSONHandler: a JSON array of `{headers, body}` in the request's charset. */
export function jsonEvents(raw: Buffer, charset: Charset): FlumeEvent[] {
  let parsed: unknown;
  try {
    const text = decode(raw, charset);
    // Gson reads an empty document as a null list (its whitespace is these four characters).
    if (/^[ \t\n\r]*$/.test(text)) throw new HandlerFailure('The request body holds no JSON value (Flume: a null event list).');
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof HandlerFailure) throw error;
    if (error instanceof BadRequest) throw error;
    throw new BadRequest(`Request has invalid JSON Syntax: ${(error as Error).message}`);
  }
  if (parsed === null) throw new HandlerFailure('The request body is null (Flume: a null event list).');
  if (!Array.isArray(parsed)) throw new BadRequest('Request has invalid JSON Syntax: expected an array of events.');
  const events: FlumeEvent[] = new Array(parsed.length);
  let nullAt: number | undefined;
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i];
    // Gson reads the whole list before Flume trips on a null event: a malformed later event is a 400.
    if (item === null) {
      nullAt ??= i;
      continue;
    }
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
        // Flume takes a null header value (Gson's map keeps it); an rxflume header is a string: dropped.
        if (value === null) {
          delete headers[key];
          continue;
        }
        if (typeof value !== 'number' && typeof value !== 'boolean') throw new BadRequest(`Event ${i}: header ${JSON.stringify(key)} is not a string.`);
        Object.defineProperty(headers, key, { value: String(value), enumerable: true, writable: true, configurable: true });
      }
    }
    if (body !== undefined && body !== null && typeof body !== 'string') throw new BadRequest(`Event ${i}: body is not a string.`);
    events[i] = { headers, body: encode(body ?? '', charset) };
  }
  if (nullAt !== undefined) throw new HandlerFailure(`Event ${nullAt} is null.`);
  return events;
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
