/**
 * Line splitting for spooldirSource's LINE deserializer, on bytes: bodies keep the file's exact bytes
 * and offsets stay byte offsets, so progress can be checkpointed anywhere.
 *
 * Lines end at `\n` (not part of the body; a `\r` before it is kept, as Flume's LineDeserializer
 * does). A line longer than `maxChars` characters is cut into pieces of `maxChars` characters, each
 * its own event, as Flume does. Characters are counted as Java counts them (UTF-16 code units), so a
 * 4-byte UTF-8 character counts 2; a piece never ends inside a character's bytes (Flume splits a
 * surrogate pair there, each half becoming `?`). As in Flume, a line of exactly k × `maxChars`
 * characters followed by `\n` gives k events and an empty one (the `\n` after a full piece ends an
 * empty line); at the end of the file without `\n` it gives k.
 *
 * Only ASCII-compatible charsets (UTF-8, ISO-8859-1, US-ASCII) are supported: their `\n` is byte
 * 0x0A and never occurs inside another character.
 */

/** One event's bytes: `[start, end)` of the buffer; `next` is where the following piece starts (past the `\n`). */
export interface LinePiece {
  start: number;
  end: number;
  next: number;
}

const NL = 0x0a;

/**
 * Splits `buf` into pieces, appending them to `out`, and returns how many bytes were consumed. The
 * unconsumed rest is an unfinished line: call again with more bytes appended, or with `final` at
 * the end of the file, which turns the rest into a last line. The result does not depend on how the
 * bytes were chunked.
 */
export function splitLines(buf: Buffer, maxChars: number, utf8: boolean, final: boolean, out: LinePiece[]): number {
  let pos = 0;
  const len = buf.length;
  while (pos < len) {
    const nl = buf.indexOf(NL, pos);
    const lineEnd = nl === -1 ? len : nl;
    // Whether more bytes of this line may still come (then a cut needs a byte after it to be sure).
    const open = nl === -1 && !final;
    // Characters ≤ bytes, so only a line with at least maxChars bytes can reach the limit.
    while (lineEnd - pos >= maxChars) {
      const cut = utf8 ? cutUtf8(buf, pos, lineEnd, maxChars, open) : pos + maxChars;
      if (cut < 0) break; // fewer than maxChars characters, or not known yet
      if (cut >= lineEnd) {
        // Exactly maxChars characters: Flume stops reading there, and the `\n` after them makes an
        // empty event of its own. At the end of the file, or with more bytes to come, nothing is cut.
        if (nl === -1) break;
      }
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
 * The offset after the first `maxUnits` UTF-16 units of `buf[from, to)` (`to` when it holds exactly
 * that many), or before a surrogate pair that would pass the limit, or -2 when it holds fewer, or -1
 * when that cannot be known yet because the bytes stop inside a character (`open`).
 * Bytes that are not valid UTF-8 count one unit each, as a decoder's replacement characters would.
 */
function cutUtf8(buf: Buffer, from: number, to: number, maxUnits: number, open: boolean): number {
  let p = from;
  let units = 0;
  while (p < to) {
    if (units === maxUnits) return p;
    const b = buf[p]!;
    let need = 0;
    let u = 1;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) need = 2;
    else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      u = 2;
    }
    let size = 1;
    if (need > 0) {
      let ok = true;
      for (let i = 1; i <= need; i++) {
        if (p + i >= to) {
          if (open) return -1;
          ok = false;
          break;
        }
        if ((buf[p + i]! & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
      }
      if (ok) size = need + 1;
      else u = 1;
    }
    // A character wider than the limit itself (a pair with maxUnits 1) is kept whole.
    if (units + u > maxUnits && p > from) return p;
    units += u;
    p += size;
  }
  return units === maxUnits ? to : -2;
}
