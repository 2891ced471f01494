/**
 * Parses dates with a Joda-Time pattern (`DateTimeFormat.forPattern(p).parseMillis(s)`, what Flume's
 * `RegexExtractorInterceptorMillisSerializer` does) into epoch milliseconds. The subset supported:
 *
 * - `yyyy` year (any count but 2; up to 9 digits, or exactly the count when a number follows, may be signed),
 * - `MM` month, `dd` day, `HH` hour 0–23, `mm` minute, `ss` second (1 or 2 digits each, as Joda reads them),
 * - `SSS` fraction of a second (`5` with `S` or `SSS` is 500 ms, as in Joda; digits past the third truncated),
 * - `Z`/`ZZ` offset: `Z`, `+01`, `+0100` or `+01:00` (Joda reads all of them for both),
 * - literal text: any non-letter, and `'quoted'` text (`''` is a quote); matched case-insensitively.
 *
 * Other letters (`yy`, `MMM`, `a`, `hh`, `E`, `z`, `ZZZ`, …) are rejected when the pattern is compiled.
 * Fields not in the pattern default to 1970-01-01 00:00:00.000; without an offset the time is local,
 * as Joda uses the JVM's default zone. The whole text must be consumed, and out-of-range fields
 * (month 13, 30 February) are errors, as in Joda; so are years past ±275,760, a JavaScript Date's range.
 */
export type DateParser = (text: string) => number;

export const SUPPORTED_PATTERN_LETTERS = 'yyyy, MM, dd, HH, mm, ss, SSS, Z, ZZ';

type Field = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';
type Token =
  | { kind: 'literal'; text: string }
  | { kind: 'number'; field: Field; max: number; signed: boolean }
  | { kind: 'fraction'; max: number }
  | { kind: 'zone' };

const FIELDS: Record<string, Field> = { y: 'year', M: 'month', d: 'day', H: 'hour', m: 'minute', s: 'second' };
const RANGES: Record<Exclude<Field, 'year' | 'day'>, [number, number]> = {
  month: [1, 12],
  hour: [0, 23],
  minute: [0, 59],
  second: [0, 59],
};

/** Compiles `pattern`; throws `SyntaxError` naming an unsupported letter. The parser throws `Error` on bad text. */
export function jodaDateParser(pattern: string): DateParser {
  const tokens = compile(pattern);
  return (text) => parse(tokens, text, pattern);
}

interface RawToken {
  letter?: string;
  count: number;
  text: string;
}

function isLetter(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/** Joda's `parseToken`: runs of one letter, or literal text (quotes stripped, `''` a quote). */
function tokenize(pattern: string): RawToken[] {
  const out: RawToken[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (isLetter(c)) {
      let j = i;
      while (pattern[j] === c) j++;
      out.push({ letter: c, count: j - i, text: '' });
      i = j;
      continue;
    }
    let text = '';
    let quoted = false;
    for (; i < pattern.length; i++) {
      const ch = pattern[i]!;
      if (ch === "'") {
        if (pattern[i + 1] === "'") {
          text += "'";
          i++;
        } else quoted = !quoted;
      } else if (!quoted && isLetter(ch)) break;
      else text += ch;
    }
    out.push({ count: 0, text });
  }
  return out;
}

function isNumeric(t: RawToken | undefined): boolean {
  return t?.letter !== undefined && ('ydHmsS'.includes(t.letter) || (t.letter === 'M' && t.count <= 2));
}

function compile(pattern: string): Token[] {
  const raw = tokenize(pattern);
  return raw.map((t, i): Token => {
    const { letter, count } = t;
    if (letter === undefined) return { kind: 'literal', text: t.text };
    const unsupported = (what: string): never => {
      throw new SyntaxError(`unsupported pattern letters '${letter.repeat(count)}' (${what}); supported: ${SUPPORTED_PATTERN_LETTERS}`);
    };
    switch (letter) {
      case 'y':
        if (count === 2) unsupported('two-digit years');
        return { kind: 'number', field: 'year', max: isNumeric(raw[i + 1]) ? count : 9, signed: true };
      case 'M':
        if (count > 2) unsupported('month names');
        return { kind: 'number', field: 'month', max: Math.max(2, count), signed: false };
      case 'd':
      case 'H':
      case 'm':
      case 's':
        return { kind: 'number', field: FIELDS[letter]!, max: Math.max(2, count), signed: false };
      case 'S':
        return { kind: 'fraction', max: count };
      case 'Z':
        if (count > 2) unsupported('zone ids');
        return { kind: 'zone' };
      default:
        return unsupported('not supported');
    }
  });
}

function parse(tokens: readonly Token[], text: string, pattern: string): number {
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`cannot parse ${JSON.stringify(text)} with pattern ${JSON.stringify(pattern)}: ${why}`);
  };
  const digits = (max: number): string => {
    let end = pos;
    while (end - pos < max && text[end]! >= '0' && text[end]! <= '9') end++;
    return text.slice(pos, end);
  };
  const v = { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0 };
  let offsetMs: number | undefined;

  for (const t of tokens) {
    if (t.kind === 'literal') {
      if (text.slice(pos, pos + t.text.length).toLowerCase() !== t.text.toLowerCase()) fail(`expected ${JSON.stringify(t.text)} at ${pos}`);
      pos += t.text.length;
    } else if (t.kind === 'number') {
      let sign = 1;
      if (t.signed && (text[pos] === '-' || text[pos] === '+') && /[0-9]/.test(text[pos + 1] ?? '')) {
        sign = text[pos] === '-' ? -1 : 1;
        pos++;
      }
      const d = digits(t.max);
      if (d.length === 0) fail(`expected the ${t.field} at ${pos}`);
      pos += d.length;
      v[t.field] = sign * Number(d);
    } else if (t.kind === 'fraction') {
      const d = digits(t.max);
      if (d.length === 0) fail(`expected a fraction of a second at ${pos}`);
      pos += d.length;
      v.millis = Number(d.slice(0, 3).padEnd(3, '0'));
    } else {
      offsetMs = parseOffset();
    }
  }
  if (pos < text.length) fail(`unexpected text at ${pos}`);

  function parseOffset(): number {
    if (text[pos] === 'Z' || text[pos] === 'z') {
      pos++;
      return 0;
    }
    const sign = text[pos] === '-' ? -1 : text[pos] === '+' ? 1 : fail(`expected an offset at ${pos}`);
    pos++;
    const hh = digits(2);
    if (hh.length < 2 || Number(hh) > 23) fail(`expected offset hours at ${pos}`);
    pos += 2;
    let minutes = 0;
    const colon = text[pos] === ':';
    if (colon || /[0-9]/.test(text[pos] ?? '')) {
      if (colon) pos++;
      const mm = digits(2);
      if (mm.length < 2 || Number(mm) > 59) fail(`expected offset minutes at ${pos}`);
      pos += 2;
      minutes = Number(mm);
    }
    return sign * (Number(hh) * 60 + minutes) * 60_000;
  }

  for (const [field, [lo, hi]] of Object.entries(RANGES)) {
    const value = v[field as keyof typeof RANGES];
    if (value < lo || value > hi) fail(`${field} ${value} is not in ${lo}–${hi}`);
  }
  const d = new Date(0);
  const days = offsetMs === undefined ? (d.setFullYear(v.year, v.month, 0), d.getDate()) : (d.setUTCFullYear(v.year, v.month, 0), d.getUTCDate());
  if (v.day < 1 || v.day > days) fail(`day ${v.day} is not in 1–${days}`);
  let ms: number;
  if (offsetMs === undefined) {
    d.setFullYear(v.year, v.month - 1, v.day);
    ms = d.setHours(v.hour, v.minute, v.second, v.millis);
  } else {
    d.setUTCFullYear(v.year, v.month - 1, v.day);
    ms = d.setUTCHours(v.hour, v.minute, v.second, v.millis) - offsetMs;
  }
  if (!Number.isFinite(ms)) fail(`year ${v.year} is out of range`);
  return ms;
}
