/**
 * Java's character classes, anchors and case folding (`java.util.regex.Pattern` on Java 17) written as
 * JavaScript `v`-flag regex source: the vocabulary javaRegex.ts translates with.
 */
export interface Flags {
  i: boolean; // CASE_INSENSITIVE
  u: boolean; // UNICODE_CASE
  m: boolean; // MULTILINE
  s: boolean; // DOTALL
  d: boolean; // UNIX_LINES
  x: boolean; // COMMENTS
  U: boolean; // UNICODE_CHARACTER_CLASS (implies u)
}

// Without JavaScript's `m` flag (never used) `^` and `$` are the ends of the input.
export const START = '^';
export const END = '$';
export const NOT_UNIX_LINE = '[^\\n]';
export const NOT_LINE = '[^\\n\\r\\u0085\\u2028\\u2029]';
export const H_CLASS = '[ \\t\\u00A0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000]';
export const V_CLASS = '[\\n\\u000B\\f\\r\\u0085\\u2028\\u2029]';
export const LINE_BREAK = `(?:\\r\\n|${V_CLASS})`;
export const ASCII_WORD = '[a-zA-Z0-9_]';
export const ASCII_SPACE = '[ \\t\\n\\u000B\\f\\r]';
export const U_WORD = '[\\p{Alphabetic}\\p{Mn}\\p{Me}\\p{Mc}\\p{Nd}\\p{Pc}\\p{Join_Control}]';
/** Java ≤ 18 `\b`: `Character.isLetterOrDigit` or `_`, and a non-spacing mark after a letter or digit. */
const BOUND_WORD = '[\\p{L}\\p{Nd}_]';
const BOUND_BASE = '[\\p{L}\\p{Nd}]';

/** Java's `$` (and `\Z`): end of input, or before a line terminator that ends it (never inside \r\n). */
export function dollar(f: Flags, multiline: boolean): string {
  if (f.d) return multiline ? '(?=\\n|$)' : '(?=\\n?$)';
  if (multiline) return '(?:$|(?<!\\r)(?=\\n)|(?=[\\r\\u0085\\u2028\\u2029]))';
  return '(?:$|(?=\\r\\n$)|(?<!\\r)(?=\\n$)|(?=[\\r\\u0085\\u2028\\u2029]$))';
}

/** Java's `^`: start of input, or (MULTILINE) after a line terminator that does not end the input. */
export function caret(f: Flags): string {
  if (!f.m) return START;
  // never at the end of the input, even an empty one
  if (f.d) return '(?=[\\s\\S])(?:^|(?<=\\n))';
  return '(?=[\\s\\S])(?:^|(?<=[\\n\\u0085\\u2028\\u2029])|(?<=\\r)(?!\\n))';
}

export function boundary(f: Flags, negated: boolean): string {
  const left = f.U ? `(?<=${U_WORD})` : `(?<=${BOUND_WORD}|${BOUND_BASE}\\p{Mn}+)`;
  const notLeft = f.U ? `(?<!${U_WORD})` : `(?<!${BOUND_WORD}|${BOUND_BASE}\\p{Mn}+)`;
  const right = f.U ? `(?=${U_WORD})` : `(?=${BOUND_WORD}|(?<=${BOUND_BASE}\\p{Mn}*)\\p{Mn})`;
  const notRight = f.U ? `(?!${U_WORD})` : `(?!${BOUND_WORD}|(?<=${BOUND_BASE}\\p{Mn}*)\\p{Mn})`;
  return negated ? `(?:${left}${right}|${notLeft}${notRight})` : `(?:${left}${notRight}|${notLeft}${right})`;
}

/** Java's POSIX classes: ASCII by default, Unicode under `(?U)`. */
export const POSIX_ASCII: Record<string, string> = {
  Lower: '[a-z]',
  Upper: '[A-Z]',
  ASCII: '[\\u0000-\\u007F]',
  Alpha: '[a-zA-Z]',
  Digit: '[0-9]',
  Alnum: '[a-zA-Z0-9]',
  Punct: '[!-\\/:-@\\[-`\\{-~]',
  Graph: '[!-~]',
  Print: '[ -~]',
  Blank: '[ \\t]',
  Cntrl: '[\\u0000-\\u001F\\u007F]',
  XDigit: '[0-9a-fA-F]',
  Space: ASCII_SPACE,
};
export const POSIX_UNICODE: Record<string, string> = {
  Lower: '\\p{Lowercase}',
  Upper: '\\p{Uppercase}',
  ASCII: '[\\u0000-\\u007F]',
  Alpha: '\\p{Alphabetic}',
  Digit: '\\p{Nd}',
  Alnum: '[\\p{Alphabetic}\\p{Nd}]',
  Punct: '\\p{P}',
  Graph: '[^\\p{White_Space}\\p{Cc}\\p{Cs}\\p{Cn}]',
  Print: '[[[^\\p{White_Space}\\p{Cc}\\p{Cs}\\p{Cn}][\\p{Zs}\\t]]--\\p{Cc}]',
  Blank: '[\\p{Zs}\\t]',
  Cntrl: '\\p{Cc}',
  XDigit: '[\\p{Nd}\\p{Hex_Digit}]',
  Space: '\\p{White_Space}',
};
const CASED = '[\\p{Lu}\\p{Ll}\\p{Lt}]';
export const CASED_BINARY = '[\\p{Lowercase}\\p{Uppercase}\\p{Lt}]';
/** `java.lang.Character` predicates (`\p{javaLowerCase}`, …). */
export const JAVA_CHARACTER: Record<string, string> = {
  javaLowerCase: '\\p{Lowercase}',
  javaUpperCase: '\\p{Uppercase}',
  javaTitleCase: '\\p{Lt}',
  javaAlphabetic: '\\p{Alphabetic}',
  javaIdeographic: '\\p{Ideographic}',
  javaDigit: '\\p{Nd}',
  javaLetter: '\\p{L}',
  javaLetterOrDigit: '[\\p{L}\\p{Nd}]',
  javaDefined: '\\P{Cn}',
  javaISOControl: '[\\u0000-\\u001F\\u007F-\\u009F]',
  javaMirrored: '\\p{Bidi_Mirrored}',
  javaSpaceChar: '\\p{Z}',
  javaWhitespace: '[[\\p{Z}--[\\u00A0\\u2007\\u202F]]\\t\\n\\u000B\\f\\r\\u001C-\\u001F]',
};
/** Under CASE_INSENSITIVE Java 17 makes these match every cased letter. */
export const CASELESS: Record<string, string> = {
  Lu: CASED,
  Ll: CASED,
  Lt: CASED,
  javaLowerCase: CASED_BINARY,
  javaUpperCase: CASED_BINARY,
  javaTitleCase: CASED_BINARY,
  Lowercase: CASED_BINARY,
  Uppercase: CASED_BINARY,
  Titlecase: CASED_BINARY,
};
export const CATEGORIES = new Set(
  'L Lu Ll Lt Lm Lo LC M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn'.split(' '),
);
/** Java's binary properties (`\p{IsAlphabetic}`; names compared without case, `_` and spaces). */
export const BINARY: Record<string, string> = {
  ALPHABETIC: '\\p{Alphabetic}',
  LETTER: '\\p{L}',
  IDEOGRAPHIC: '\\p{Ideographic}',
  LOWERCASE: '\\p{Lowercase}',
  UPPERCASE: '\\p{Uppercase}',
  TITLECASE: '\\p{Lt}',
  WHITESPACE: '\\p{White_Space}',
  CONTROL: '\\p{Cc}',
  PUNCTUATION: '\\p{P}',
  HEXDIGIT: '\\p{Hex_Digit}',
  JOINCONTROL: '\\p{Join_Control}',
  NONCHARACTERCODEPOINT: '\\p{Noncharacter_Code_Point}',
  ASSIGNED: '\\P{Cn}',
  DIGIT: '\\p{Nd}',
  EMOJI: '\\p{Emoji}',
  EMOJIPRESENTATION: '\\p{Emoji_Presentation}',
  EMOJIMODIFIER: '\\p{Emoji_Modifier}',
  EMOJIMODIFIERBASE: '\\p{Emoji_Modifier_Base}',
  EMOJICOMPONENT: '\\p{Emoji_Component}',
  EXTENDEDPICTOGRAPHIC: '\\p{Extended_Pictographic}',
};
export const BINARY_CASELESS: Record<string, string> = { LOWERCASE: 'Lowercase', UPPERCASE: 'Uppercase', TITLECASE: 'Titlecase' };

export const isSpaceX = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
export const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
export const isAsciiLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const hex = (c: number): string => `\\u{${c.toString(16).toUpperCase()}}`;

/** A code point as a JavaScript atom outside a class (`v` mode). */
export function literal(c: number): string {
  if (c < 0x80) {
    const ch = String.fromCharCode(c);
    if ('^$\\.*+?()[]{}|/'.includes(ch)) return `\\${ch}`;
    if (c < 0x20 || c === 0x7f) return hex(c);
    return ch;
  }
  if ((c >= 0xd800 && c <= 0xdfff) || c === 0x85 || c === 0x2028 || c === 0x2029) return hex(c);
  return String.fromCodePoint(c);
}

/** A code point inside a `v`-mode class: anything but a letter or digit is written as `\u{…}`. */
export function classChar(c: number): string {
  if ((c >= 0x30 && c <= 0x39) || isAsciiLetter(c)) return String.fromCharCode(c);
  if (c < 0x80 || (c >= 0xd800 && c <= 0xdfff)) return hex(c);
  return String.fromCodePoint(c);
}

export function classOf(ranges: Array<[number, number]>): string {
  return `[${ranges.map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`)).join('')}]`;
}

// Case folding, Java's way: `Character.toUpperCase` / `toLowerCase` (single code point mappings).
interface FoldTables {
  upper: Map<number, number>;
  lower: Map<number, number>;
  /** key lower(upper(c)) → every code point with that key. */
  byKey: Map<number, number[]>;
  /** Code points that are some other code point's upper(c) or lower(upper(c)), sorted, and who maps to them. */
  targets: number[];
  inverse: Map<number, number[]>;
}
let folds: FoldTables | undefined;
function foldTables(): FoldTables {
  if (folds) return folds;
  const upper = new Map<number, number>();
  const lower = new Map<number, number>();
  const single = (s: string): number | undefined => {
    const c = s.codePointAt(0)!;
    return s.length === String.fromCodePoint(c).length ? c : undefined;
  };
  for (let c = 0; c < 0x20000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const s = String.fromCodePoint(c);
    const u = single(s.toUpperCase());
    const l = single(s.toLowerCase());
    if (u !== undefined && u !== c) upper.set(c, u);
    if (l !== undefined && l !== c) lower.set(c, l);
  }
  const up = (c: number): number => upper.get(c) ?? c;
  const low = (c: number): number => lower.get(c) ?? c;
  const byKey = new Map<number, number[]>();
  const inverse = new Map<number, number[]>();
  for (const c of new Set([...upper.keys(), ...lower.keys(), ...upper.values(), ...lower.values()])) {
    const key = low(up(c));
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  // Java's CIRangeU: c is in a range when c, upper(c) or lower(upper(c)) is.
  for (const c of new Set([...upper.keys(), ...lower.keys()])) {
    for (const t of new Set([up(c), low(up(c))])) if (t !== c) inverse.set(t, [...(inverse.get(t) ?? []), c]);
  }
  folds = { upper, lower, byKey, targets: [...inverse.keys()].sort((a, b) => a - b), inverse };
  return folds;
}

/** Every code point a literal `c` matches under CASE_INSENSITIVE (ASCII-only unless UNICODE_CASE). */
export function foldsOf(c: number, unicode: boolean): number[] {
  if (!unicode) return isAsciiLetter(c) ? [c | 0x20, c & ~0x20] : [c];
  const t = foldTables();
  const key = t.lower.get(t.upper.get(c) ?? c) ?? t.upper.get(c) ?? c;
  return [...new Set([c, ...(t.byKey.get(key) ?? [])])];
}

/** The code points outside [a, b] that Java's case-insensitive range matches (by their upper case, or its lower case). */
export function rangeFolds(a: number, b: number, unicode: boolean): number[] {
  const extra: number[] = [];
  if (!unicode) {
    for (let c = Math.max(a, 0x41); c <= Math.min(b, 0x7a); c++) {
      if (!isAsciiLetter(c)) continue;
      const o = c ^ 0x20;
      if (o < a || o > b) extra.push(o);
    }
    return extra;
  }
  const t = foldTables();
  let lo = 0;
  let hi = t.targets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.targets[mid]! < a) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < t.targets.length && t.targets[k]! <= b; k++) {
    for (const o of t.inverse.get(t.targets[k]!)!) if (o < a || o > b) extra.push(o);
  }
  return extra;
}
