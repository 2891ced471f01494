/**
 * Flume's `BucketPath` escapes, which name an HDFS sink's directories and files per event:
 *
 * | escape | becomes |
 * |---|---|
 * | `%{name}` | the header's value; "" when the event has none |
 * | `%[localhost]` `%[IP]` `%[FQDN]` | this host's name, address, canonical name (the key case-insensitive) |
 * | `%t` | the `timestamp` header as written (not rounded), or the clock with useLocalTimeStamp |
 * | `%s` | the (rounded) timestamp in seconds |
 * | `%a %A %b %B %c %d %e %D %H %I %j %k %l %m %n %M %p %S %y %Y %z` | Java's `EEE EEEE MMM MMMM`, `EEE MMM d HH:mm:ss yyyy`, `dd d MM/dd/yy HH hh DDD H h MM M mm a ss yy yyyy ZZZ` of the (rounded) timestamp in the sink's zone |
 * | `%%` | `%` |
 * | `%` + any other letter, digit or `_` | "" |
 *
 * Anything else after `%` stays as written. As in Flume, every one-character escape — `%%` and the
 * unknown ones too — needs the event's `timestamp` header (a Java long) unless `useLocalTimeStamp`:
 * without it the event cannot be placed, which fails its batch (`EscapeError`). With useLocalTimeStamp
 * the clock is read once per escaped string.
 */
import { hostname } from 'node:os';
import { formatJava, localTime, roundDown, type JavaPattern, type RoundUnit, type Zone } from './javaTime.js';

// Flume's TAG_REGEX; JavaScript's \w is Java's (ASCII letters, digits, _).
const TAG = /%(\w|%)|%\{([\w.-]+)\}|%\[(\w+)\]/g;

export type HostEscape = 'localhost' | 'ip' | 'fqdn';

export type Token =
  | { kind: 'text'; text: string }
  | { kind: 'header'; name: string }
  | { kind: 'host'; which: HostEscape }
  | { kind: 'time'; char: string };

/** The names `%[localhost]`, `%[IP]` and `%[FQDN]` stand for. */
export interface HostNames {
  localhost: string;
  ip: string;
  fqdn: string;
}

const PATTERNS: Readonly<Record<string, JavaPattern>> = {
  a: 'EEE',
  A: 'EEEE',
  b: 'MMM',
  B: 'MMMM',
  c: 'EEE MMM d HH:mm:ss yyyy',
  d: 'dd',
  e: 'd',
  D: 'MM/dd/yy',
  H: 'HH',
  I: 'hh',
  j: 'DDD',
  k: 'H',
  l: 'h',
  m: 'MM',
  M: 'mm',
  n: 'M',
  p: 'a',
  S: 'ss',
  y: 'yy',
  Y: 'yyyy',
  z: 'ZZZ',
};

/** The template split into literal text and escapes. Throws a RangeError for a `%[…]` that is not localhost, IP or FQDN (Flume fails on it at the first event). */
export function parseEscapes(template: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (const m of template.matchAll(TAG)) {
    if (m.index > at) tokens.push({ kind: 'text', text: template.slice(at, m.index) });
    at = m.index + m[0].length;
    if (m[2] !== undefined) tokens.push({ kind: 'header', name: m[2] });
    else if (m[3] !== undefined) {
      const which = m[3].toLowerCase();
      if (which !== 'localhost' && which !== 'ip' && which !== 'fqdn') throw new RangeError(`the static escape ${m[0]} is none of %[localhost], %[IP], %[FQDN]`);
      tokens.push({ kind: 'host', which });
    } else tokens.push({ kind: 'time', char: m[1]! });
  }
  if (at < template.length) tokens.push({ kind: 'text', text: template.slice(at) });
  return tokens;
}

export const usesTime = (tokens: readonly Token[]): boolean => tokens.some((t) => t.kind === 'time');
export const usesHost = (tokens: readonly Token[]): boolean => tokens.some((t) => t.kind === 'host');

export interface EscapeContext {
  zone: Zone;
  /** Round the timestamp down before formatting (hdfs.round). */
  round?: { unit: RoundUnit; value: number } | undefined;
  /** Use `now()` instead of the timestamp header (hdfs.useLocalTimeStamp). */
  useLocalTimeStamp: boolean;
  now: () => number;
  /** Needed only by templates with `%[…]`. */
  host?: HostNames | undefined;
}

/** An event cannot be placed: no or a bad timestamp header, a timestamp rounding cannot take. */
export class EscapeError extends Error {}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** Java's `Long.valueOf` of a header: an optional sign and decimal digits within a long; undefined otherwise. */
export function parseJavaLongExact(text: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v < LONG_MIN || v > LONG_MAX ? undefined : v;
}

/** `parseJavaLongExact` as a number of milliseconds (exact within ±2^53, far past any date). */
export function parseJavaLong(text: string): number | undefined {
  const v = parseJavaLongExact(text);
  return v === undefined ? undefined : Number(v);
}

/** The template with each escape replaced for an event with these headers. */
export function escapeTokens(tokens: readonly Token[], headers: Readonly<Record<string, string>>, ctx: EscapeContext): string {
  let out = '';
  let clock: number | undefined;
  let time: { raw: string; ms: number } | undefined;
  for (const t of tokens) {
    switch (t.kind) {
      case 'text':
        out += t.text;
        break;
      case 'header':
        out += Object.prototype.hasOwnProperty.call(headers, t.name) ? (headers[t.name] ?? '') : '';
        break;
      case 'host':
        if (!ctx.host) throw new Error('host names were not resolved');
        out += ctx.host[t.which];
        break;
      case 'time':
        time ??= timestampOf(headers, ctx, (clock ??= ctx.now()));
        out += timeEscape(t.char, time, ctx);
        break;
    }
  }
  return out;
}

function timestampOf(headers: Readonly<Record<string, string>>, ctx: EscapeContext, now: number): { raw: string; ms: number } {
  if (ctx.useLocalTimeStamp) return { raw: String(now), ms: now };
  const raw = Object.prototype.hasOwnProperty.call(headers, 'timestamp') ? headers['timestamp'] : undefined;
  if (raw === undefined) throw new EscapeError('the event has no timestamp header, which the time escapes need (add a timestamp interceptor or set hdfs.useLocalTimeStamp)');
  const ms = parseJavaLong(raw);
  if (ms === undefined) throw new EscapeError(`the event's timestamp header ${JSON.stringify(raw.slice(0, 40))} is not a number of milliseconds (a Java long)`);
  return { raw, ms };
}

function timeEscape(char: string, time: { raw: string; ms: number }, ctx: EscapeContext): string {
  let ms = time.ms;
  if (ctx.round) {
    try {
      ms = roundDown(ms, ctx.round.unit, ctx.round.value, ctx.zone);
    } catch (error) {
      throw new EscapeError(`the event's timestamp cannot be rounded: ${(error as Error).message}`);
    }
  }
  if (char === '%') return '%';
  if (char === 't') return time.raw;
  // Java's long division truncates towards zero.
  if (char === 's') return String(Math.trunc(ms / 1000));
  const pattern = PATTERNS[char];
  return pattern === undefined ? '' : formatJava(pattern, localTime(ms, ctx.zone));
}

/**
 * This host as Java's `InetAddress.getLocalHost()` names it: the host name, the address it resolves to,
 * and the canonical name of that address. A name that does not resolve falls back to 127.0.0.1 and the
 * host name.
 */
export async function resolveHostNames(): Promise<HostNames> {
  const localhost = hostname();
  let ip = '127.0.0.1';
  let fqdn = localhost;
  try {
    // Looked up here, not imported: only a path with %[IP] or %[FQDN] needs the resolver.
    const { lookup, lookupService } = process.getBuiltinModule('node:dns/promises');
    ip = (await lookup(localhost)).address;
    fqdn = (await lookupService(ip, 0)).hostname || localhost;
  } catch {
    // Keep the fallbacks: Java would fail with UnknownHostException; a name is more useful than no file.
  }
  return { localhost, ip, fqdn };
}
