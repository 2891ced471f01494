/**
 * Line splitting for spooldirSource's LINE deserializer, on bytes: offsets stay byte offsets, so
 * progress can be checkpointed anywhere, and each piece is then made a body by `lineBody`.
 *
 * Lines end at `\n` (not part of the body; a `\r` before it is kept, as Flume's LineDeserializer
 * does). A line longer than `maxChars` characters is cut into pieces of `maxChars` characters, each
 * its own event, as Flume does. Characters are counted as Java counts them (UTF-16 code units), so a
 * 4-byte UTF-8 character counts 2; a piece never ends inside a character's bytes (Flume splits a
 * surrogate pair there, each half becoming `?`). As in Flume, a line of exactly k × `maxChars`
 * characters followed by `\n` gives k events and an empty one (the `\n` after a full piece ends an
 * empty line); at the end of the file without `\n` it gives k.
 *
 * Bytes that are not valid in the input charset (`decodeErrorPolicy`): REPLACE counts each malformed
 * sequence as one character (U+FFFD in the body), IGNORE as none (left out of the body), FAIL marks
 * the piece `bad` (the source fails before sending it). Malformed UTF-8 sequences are delimited as
 * Java's decoder (and the WHATWG one) do: the longest valid prefix of a sequence, or one byte.
 *
 * Only ASCII-compatible charsets (UTF-8, ISO-8859-1, US-ASCII) are supported: their `\n` is byte
 * 0x0A and never occurs inside another character.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { utf8Lead } from '../../text/utf8.js';

export type InputCharset = 'UTF-8' | 'ISO-8859-1' | 'US-ASCII';
export type OutputCharset = 'UTF-8' | 'ISO-8859-1' | 'US-ASCII';
export type DecodeErrorPolicy = 'FAIL' | 'REPLACE' | 'IGNORE';

export interface LineCodec {
  input: InputCharset;
  output: OutputCharset;
  policy: DecodeErrorPolicy;
}

/** One event's bytes: `[start, end)` of the buffer; `next` is where the following piece starts (past the `\n`). */
export interface LinePiece {
  start: number;
  end: number;
  next: number;
}

const NL = 0x0a;
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/**
 * Splits `buf` into pieces, appending them to `out`, and returns how many bytes were consumed. The
 * unconsumed rest is an unfinished line: call again with more bytes appended, or with `final` at
 * the end of the file, which turns the rest into a last line. The result does not depend on how the
 * bytes were chunked.
 */
export function splitLines(buf: Buffer, maxChars: number, codec: LineCodec, final: boolean, out: LinePiece[]): number {
  let pos = 0;
  const len = buf.length;
  while (pos < len) {
    const nl = buf.indexOf(NL, pos);
    const lineEnd = nl === -1 ? len : nl;
    // Whether more bytes of this line may still come (then a cut needs a byte after it to be sure).
    const open = nl === -1 && !final;
    // Characters ≤ bytes, so only a line with at least maxChars bytes can reach the limit.
    while (lineEnd - pos >= maxChars) {
      const cut = cutAt(buf, pos, lineEnd, maxChars, open, codec);
      if (cut < 0) break; // fewer than maxChars characters, or not known yet
      // Exactly maxChars characters: Flume stops reading there, and the `\n` after them makes an
      // empty event of its own. At the end of the file, or with more bytes to come, nothing is cut.
      if (cut >= lineEnd && nl === -1) break;
      out.push({ start: pos, end: cut, next: cut });
      pos = cut;
    }
    if (nl === -1) {
      if (final && pos < len) {
        out.push({ start: pos, end: len, next: len });
        pos = len;
      }
      break;
    }
    out.push({ start: pos, end: nl, next: nl + 1 });
    pos = nl + 1;
  }
  return pos;
}

/**
 * The size of the character at `p` (before `to`) and the UTF-16 units it decodes to, `units` -1
 * for a malformed sequence of `size` bytes; `size` 0 when the bytes stop inside a character and
 * more may come (`open`).
 */
function step(buf: Buffer, p: number, to: number, open: boolean, input: InputCharset): { size: number; units: number } {
  const b = buf[p]!;
  if (b < 0x80) return { size: 1, units: 1 };
  if (input === 'ISO-8859-1') return { size: 1, units: 1 };
  if (input === 'US-ASCII') return { size: 1, units: -1 };
  const lead = utf8Lead(b);
  if (lead === undefined) return { size: 1, units: -1 };
  const need = lead.need;
  let lo = lead.lo;
  let hi = lead.hi;
  for (let i = 1; i <= need; i++) {
    if (p + i >= to) return open ? { size: 0, units: 0 } : { size: i, units: -1 };
    const c = buf[p + i]!;
    if (c < lo || c > hi) return { size: i, units: -1 };
    lo = 0x80;
    hi = 0xbf;
  }
  return { size: need + 1, units: need === 3 ? 2 : 1 };
}

/**
 * The offset after the first `maxUnits` UTF-16 units of `buf[from, to)` (`to` when it holds exactly
 * that many), or before a surrogate pair that would pass the limit, or -2 when it holds fewer, or -1
 * when that cannot be known yet because the bytes stop inside a character (`open`).
 */
function cutAt(buf: Buffer, from: number, to: number, maxUnits: number, open: boolean, codec: LineCodec): number {
  if (codec.input === 'ISO-8859-1') return from + maxUnits <= to ? from + maxUnits : -2;
  const badUnits = codec.policy === 'IGNORE' ? 0 : 1;
  let p = from;
  let units = 0;
  while (p < to) {
    if (units === maxUnits) return p;
    const s = step(buf, p, to, open, codec.input);
    if (s.size === 0) return -1;
    const u = s.units < 0 ? badUnits : s.units;
    // A character wider than the limit itself (a pair with maxUnits 1) is kept whole.
    if (units + u > maxUnits && p > from) return p;
    units += u;
    p += s.size;
  }
  return units === maxUnits ? to : -2;
}

/** The offset in `bytes` of the first malformed sequence in `input`, or -1. */
export function malformedAt(bytes: Buffer, input: InputCharset): number {
  if (input === 'ISO-8859-1') return -1;
  for (let p = 0; p < bytes.length; ) {
    const s = step(bytes, p, bytes.length, false, input);
    if (s.units < 0) return p;
    p += s.size;
  }
  return -1;
}

/**
 * The body of the piece `buf[start, end)`: its text in the output charset (the bytes themselves when
 * they are valid and both charsets agree), or `undefined` when it holds malformed bytes under FAIL.
 */
export function lineBody(buf: Buffer, start: number, end: number, codec: LineCodec): Buffer | undefined {
  const bytes = buf.subarray(start, end);
  if (isAscii(bytes)) return Buffer.from(bytes);
  if (codec.input === 'UTF-8' && codec.output === 'UTF-8' && isUtf8(bytes)) return Buffer.from(bytes);
  // Decode to UTF-8 bytes, then to the output charset when that is not UTF-8.
  let utf8: Buffer;
  if (codec.input === 'ISO-8859-1') utf8 = Buffer.from(bytes.toString('latin1'), 'utf8');
  else {
    const parts: Buffer[] = [];
    let p = 0;
    let run = 0;
    while (p < bytes.length) {
      const s = step(bytes, p, bytes.length, false, codec.input);
      if (s.units >= 0) {
        p += s.size;
        continue;
      }
      if (codec.policy === 'FAIL') return undefined;
      parts.push(bytes.subarray(run, p));
      if (codec.policy === 'REPLACE') parts.push(REPLACEMENT);
      p += s.size;
      run = p;
    }
    parts.push(bytes.subarray(run));
    utf8 = Buffer.concat(parts);
  }
  if (codec.output === 'UTF-8') return utf8;
  // Java's String.getBytes: a character the charset cannot hold becomes '?'.
  const limit = codec.output === 'ISO-8859-1' ? 0xff : 0x7f;
  const text = utf8.toString('utf8');
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (const ch of text) out[n++] = ch.codePointAt(0)! <= limit ? ch.codePointAt(0)! : 0x3f;
  return out.subarray(0, n);
}
