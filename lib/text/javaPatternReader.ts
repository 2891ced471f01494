import {
  type Flags,
  H_CLASS,
  V_CLASS,
  ASCII_WORD,
  ASCII_SPACE,
  U_WORD,
  POSIX_ASCII,
  POSIX_UNICODE,
  CASED_BINARY,
  JAVA_CHARACTER,
  CASELESS,
  CATEGORIES,
  BINARY,
  BINARY_CASELESS,
  isSpaceX,
  isDigit,
  isAsciiLetter,
  classChar,
  classOf,
  foldsOf,
  rangeFolds,
} from './javaCharacterClasses.js';

/** Deepest group nesting accepted (Java's own recursive parser overflows its stack not far beyond). */
export const MAX_DEPTH = 500;

/** A pattern Java rejects or JavaScript cannot run with Java's meaning. */
export class JavaRegexError extends SyntaxError {
  constructor(
    readonly reason: string,
    readonly index: number,
  ) {
    super(`${reason} at index ${index}`);
    this.name = 'JavaRegexError';
  }
}

/**
 * Java's first step (`Pattern.RemoveQEQuoting`): `\Q…\E` becomes its characters, each escaped unless
 * an ASCII letter or digit or not ASCII — so a quantifier after `\E` takes only the last one.
 */
export function removeQuoting(cps: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < cps.length; ) {
    const c = cps[i]!;
    if (c === 0x5c && cps[i + 1] === 0x51 /* \Q */) {
      i += 2;
      while (i < cps.length && !(cps[i] === 0x5c && cps[i + 1] === 0x45)) {
        const q = cps[i++]!;
        if (q >= 0x80 || isAsciiLetter(q) || isDigit(q)) out.push(q);
        else out.push(0x5c, q);
      }
      i += 2; // \E (or past the end)
    } else if (c === 0x5c && i + 1 < cps.length) {
      out.push(c, cps[i + 1]!);
      i += 2;
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}

/** One operand of a class: a JavaScript class-set operand (char, range, nested class or property). */
type ClassItem = string;

/** What an escape or a class member stands for: one code point, or a class operand. */
export type ClassAtom = { kind: 'char'; cp: number } | { kind: 'set'; src: string };

/**
 * Reads the characters of a Java pattern (the translator in javaRegex.ts extends it with groups,
 * quantifiers, atomic emulation and back-references): the `\Q…\E` pre-pass, `(?x)` comments, the
 * escapes that stand for characters, properties and character classes, each emitted as `v`-flag
 * RegExp text. `pos` is the cursor into the code points; a {@link JavaRegexError} names what is refused.
 */
export class JavaPatternReader {
  protected readonly cps: number[];
  protected pos = 0;
  protected depth = 0;

  constructor(pattern: string) {
    this.cps = removeQuoting(Array.from(pattern, (s) => s.codePointAt(0)!));
  }

  protected fail(reason: string, at = this.pos): never {
    throw new JavaRegexError(reason, at);
  }

  /** The code point at the cursor, past whitespace and comments under `(?x)`. */
  protected peek(f: Flags): number | undefined {
    if (f.x) this.skipComments(f);
    return this.cps[this.pos];
  }

  private skipComments(f: Flags): void {
    for (;;) {
      const c = this.cps[this.pos];
      if (c === undefined) return;
      if (isSpaceX(c)) this.pos++;
      else if (c === 0x23 /* # */) {
        while (this.pos < this.cps.length && !this.isLineTerminator(this.cps[this.pos]!, f)) this.pos++;
      } else return;
    }
  }

  private isLineTerminator(c: number, f: Flags): boolean {
    return f.d ? c === 0x0a : c === 0x0a || c === 0x0d || c === 0x85 || c === 0x2028 || c === 0x2029;
  }

  /**
   * An escape that stands for characters (outside or inside a class): a single code point, or a class
   * operand. `this.pos` is on the letter after the backslash.
   */
  protected classEscape(f: Flags, start: number): ClassAtom {
    const d = this.cps[this.pos]!;
    const letter = String.fromCodePoint(d);
    const char = (cp: number, len: number): { kind: 'char'; cp: number } => {
      this.pos += len;
      return { kind: 'char', cp };
    };
    const set = (src: string): { kind: 'set'; src: string } => {
      this.pos++;
      return { kind: 'set', src };
    };
    const ahead = (n: number): string => String.fromCodePoint(...this.cps.slice(this.pos, this.pos + n));
    switch (letter) {
      case 't':
        return char(0x09, 1);
      case 'n':
        return char(0x0a, 1);
      case 'r':
        return char(0x0d, 1);
      case 'f':
        return char(0x0c, 1);
      case 'a':
        return char(0x07, 1);
      case 'e':
        return char(0x1b, 1);
      case 'c': {
        const x = this.cps[this.pos + 1];
        if (x === undefined) this.fail('illegal control escape sequence', start);
        return char(x ^ 64, 2);
      }
      case '0': {
        const m = /^0([0-3][0-7]{2}|[0-7]{1,2})/.exec(ahead(4));
        if (!m) this.fail('illegal octal escape sequence', start);
        return char(parseInt(m[1]!, 8), m[0].length);
      }
      case 'x': {
        const braced = /^x\{([0-9a-fA-F]+)\}/.exec(ahead(20));
        if (braced) {
          const cp = parseInt(braced[1]!, 16);
          if (cp > 0x10ffff) this.fail('hexadecimal code point is too big', start);
          return char(cp, braced[0].length);
        }
        const m = /^x([0-9a-fA-F]{2})/.exec(ahead(3));
        if (!m) this.fail('illegal hexadecimal escape sequence', start);
        return char(parseInt(m[1]!, 16), 3);
      }
      case 'u': {
        const m = /^u([0-9a-fA-F]{4})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?/.exec(ahead(12));
        if (!m) this.fail('illegal Unicode escape sequence', start);
        const hi = parseInt(m[1]!, 16);
        if (m[2] !== undefined && hi >= 0xd800 && hi <= 0xdbff) {
          return char(0x10000 + ((hi - 0xd800) << 10) + (parseInt(m[2], 16) - 0xdc00), 11);
        }
        return char(hi, 5);
      }
      case 'd':
        return set(f.U ? '\\p{Nd}' : '[0-9]');
      case 'D':
        return set(f.U ? '\\P{Nd}' : '[^0-9]');
      case 'w':
        return set(f.U ? U_WORD : ASCII_WORD);
      case 'W':
        return set(f.U ? `[^${U_WORD.slice(1)}` : `[^${ASCII_WORD.slice(1)}`);
      case 's':
        return set(f.U ? '\\p{White_Space}' : ASCII_SPACE);
      case 'S':
        return set(f.U ? '\\P{White_Space}' : `[^${ASCII_SPACE.slice(1)}`);
      case 'h':
        return set(H_CLASS);
      case 'H':
        return set(`[^${H_CLASS.slice(1)}`);
      case 'v':
        return set(V_CLASS);
      case 'V':
        return set(`[^${V_CLASS.slice(1)}`);
      case 'p':
      case 'P':
        return { kind: 'set', src: this.property(f, start) };
      default:
        if (/[a-zA-Z]/.test(letter)) this.fail(`illegal/unsupported escape sequence \\${letter}`, start);
        return char(d, 1); // any other escaped character is itself
    }
  }

  /** `\p{…}` / `\P{…}` / `\pL`; `this.pos` is on the p. */
  private property(f: Flags, start: number): string {
    const negated = this.cps[this.pos] === 0x50;
    this.pos++;
    let name: string;
    if (this.cps[this.pos] === 0x7b) {
      const end = this.cps.indexOf(0x7d, this.pos);
      if (end < 0) this.fail('unclosed character family', start);
      name = String.fromCodePoint(...this.cps.slice(this.pos + 1, end));
      this.pos = end + 1;
    } else {
      const c = this.cps[this.pos];
      if (c === undefined) this.fail('illegal character family', start);
      name = String.fromCodePoint(c);
      this.pos++;
    }
    const positive = this.positiveProperty(name, f, start);
    return negated ? `[^${positive}]` : positive;
  }

  private positiveProperty(name: string, f: Flags, start: number): string {
    const ci = f.i;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      const key = name.slice(0, eq).toLowerCase();
      const value = name.slice(eq + 1);
      if (key === 'script' || key === 'sc') return this.script(value, start);
      if (key === 'general_category' || key === 'gc') return this.category(value, ci, start);
      if (key === 'block' || key === 'blk') this.fail(`Unicode blocks (\\p{${name}}) cannot be expressed in JavaScript`, start);
      this.fail(`unknown Unicode property {name=${key}, value=${value}}`, start);
    }
    if (name.startsWith('In')) this.fail(`Unicode blocks (\\p{${name}}) cannot be expressed in JavaScript`, start);
    if (name.startsWith('Is')) {
      const rest = name.slice(2);
      const binary = rest.toUpperCase().replace(/[_\s-]/g, '');
      if (Object.hasOwn(BINARY, binary)) {
        if (ci && Object.hasOwn(BINARY_CASELESS, binary)) return CASED_BINARY;
        return BINARY[binary]!;
      }
      if (CATEGORIES.has(rest) || rest === 'LD' || rest === 'L1') return this.category(rest, ci, start);
      return this.script(rest, start);
    }
    if (Object.hasOwn(POSIX_ASCII, name)) {
      if (ci && (name === 'Lower' || name === 'Upper')) return f.U ? CASED_BINARY : '[a-zA-Z]';
      return (f.U ? POSIX_UNICODE : POSIX_ASCII)[name]!;
    }
    if (name.startsWith('java')) {
      if (ci && Object.hasOwn(CASELESS, name)) return CASELESS[name]!;
      if (Object.hasOwn(JAVA_CHARACTER, name)) return JAVA_CHARACTER[name]!;
      if (/^java(Java|Unicode)Identifier(Start|Part)$|^javaIdentifierIgnorable$/.test(name)) {
        this.fail(`\\p{${name}} (Java identifier rules) cannot be expressed in JavaScript`, start);
      }
      this.fail(`unknown Java character class \\p{${name}}`, start);
    }
    if (name === 'all') return '[\\s\\S]';
    return this.category(name, ci, start);
  }

  private category(name: string, ci: boolean, start: number): string {
    if (name === 'LD') return '[\\p{L}\\p{Nd}]';
    if (name === 'L1') return '[\\u0000-\\u00FF]';
    if (!CATEGORIES.has(name)) this.fail(`unknown character property \\p{${name}}`, start);
    if (ci && Object.hasOwn(CASELESS, name)) return CASELESS[name]!;
    return `\\p{${name}}`;
  }

  private script(value: string, start: number): string {
    const candidates = [value, value.toLowerCase().replace(/(^|_)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase())];
    for (const v of candidates) {
      try {
        new RegExp(`\\p{Script=${v}}`, 'v');
        return `\\p{Script=${v}}`;
      } catch {
        // try the next spelling
      }
    }
    return this.fail(`unknown Unicode script or property \\p{${value}}`, start);
  }

  /**
   * A Java character class, after its `[`, through its `]`: unions of items (nested classes
   * included) joined by `&&` intersections, negated as a whole by a leading `^`.
   */
  protected charClass(f: Flags): string {
    const open = this.pos - 1;
    if (++this.depth > MAX_DEPTH) this.fail(`classes nested deeper than ${MAX_DEPTH}`, open);
    let negated = false;
    if (this.cps[this.pos] === 0x5e) {
      negated = true;
      this.pos++;
    }
    const operands: ClassItem[][] = [[]];
    let current = operands[0]!;
    let first = true;
    for (;;) {
      const c = this.peek(f);
      if (c === undefined) this.fail('unclosed character class', open);
      if (c === 0x5d /* ] */ && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === 0x5b /* [ */) {
        this.pos++;
        current.push(this.charClass(f));
        continue;
      }
      if (c === 0x26 && this.cps[this.pos + 1] === 0x26 /* && */) {
        this.pos += 2;
        current = [];
        operands.push(current);
        continue;
      }
      current.push(...this.classRange(f));
    }
    this.depth--;
    const union = (items: ClassItem[]): string => (items.length === 0 ? '[]' : `[${items.join('')}]`);
    let body: string;
    if (operands.length === 1) body = operands[0]!.join('');
    else {
      // Java: an empty side of && is left out of the intersection.
      const nonEmpty = operands.filter((items) => items.length > 0);
      body = nonEmpty.length === 0 ? '' : nonEmpty.map(union).join('&&');
    }
    if (body === '') return negated ? '[\\s\\S]' : '[]';
    return `[${negated ? '^' : ''}${body}]`;
  }

  /** One item of a class: a character, a range, an escape or a property; folded when case-insensitive. */
  private classRange(f: Flags): ClassItem[] {
    const at = this.pos;
    const a = this.classAtom(f);
    if (a.kind === 'set') return [a.src];
    // a range a-b, unless '-' is last or before a nested class
    if (this.cps[this.pos] === 0x2d) {
      const after = this.cps[this.pos + 1];
      if (after !== undefined && after !== 0x5d && after !== 0x5b) {
        this.pos++;
        const b = this.classAtom(f);
        if (b.kind !== 'char') this.fail('illegal character range', at);
        if (b.cp < a.cp) this.fail('illegal character range', at);
        const items: ClassItem[] = [`${classChar(a.cp)}-${classChar(b.cp)}`];
        if (f.i) {
          const extra = rangeFolds(a.cp, b.cp, f.u || f.U);
          if (extra.length) items.push(classOf(extra.map((e) => [e, e])));
        }
        return items;
      }
    }
    return this.foldedSingle(a.cp, f);
  }

  private foldedSingle(c: number, f: Flags): ClassItem[] {
    return (f.i ? foldsOf(c, f.u || f.U) : [c]).map(classChar);
  }

  private classAtom(f: Flags): ClassAtom {
    const c = this.cps[this.pos];
    if (c === undefined) this.fail('unclosed character class');
    if (c !== 0x5c) {
      this.pos++;
      return { kind: 'char', cp: c };
    }
    const start = this.pos;
    this.pos++;
    const d = this.cps[this.pos];
    if (d === undefined) this.fail('unclosed character class', start);
    if (isDigit(d) && d !== 0x30) this.fail('a back-reference is not allowed in a character class', start);
    const letter = String.fromCodePoint(d);
    if ('AzZbBRGXNk'.includes(letter)) this.fail(`\\${letter} is not allowed in a character class`, start);
    return this.classEscape(f, start);
  }
}
