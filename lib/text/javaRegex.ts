import { z } from 'zod';
import {
  type Flags,
  START,
  END,
  NOT_UNIX_LINE,
  NOT_LINE,
  LINE_BREAK,
  dollar,
  caret,
  boundary,
  isDigit,
  literal,
  classChar,
  foldsOf,
} from './javaCharacterClasses.js';
import { JavaPatternReader, JavaRegexError, MAX_DEPTH } from './javaPatternReader.js';

export { JavaRegexError, MAX_DEPTH } from './javaPatternReader.js';

/**
 * Java regular expressions (`java.util.regex.Pattern`, what Flume's interceptors compile) translated to
 * JavaScript RegExps with Java's meaning, as Java 17 (Flume 1.11's runtime) gives it. The translation
 * is a parser over Java's syntax emitting a `v`-flag RegExp (code points, class set operations):
 *
 * - Java's ASCII defaults made explicit: `\w`, `\d`, `\s`, the POSIX classes (`\p{Alpha}`, `\p{Lower}`, …)
 *   are ASCII unless `(?U)`; `\b` / `\B` use Java 17's word characters (letters, digits, `_`, and
 *   non-spacing marks after a letter or digit); `.` excludes Java's line terminators (`\n`, `\r`, U+0085,
 *   U+2028, U+2029; only `\n` under `(?d)`); `^`, `$`, `\A`, `\Z`, `\z` as Java places them.
 * - Case folding: `(?i)` folds ASCII letters only, `(?iu)` Unicode (Java's `toLowerCase(toUpperCase(c))`
 *   rule, ranges as Java's `CIRangeU`), both scoped as Java scopes them — the literals and classes are
 *   expanded, so no JavaScript flag has to cover the whole pattern. Under `(?i)` the case properties
 *   (`\p{Lu}`, `\p{Lower}`, `\p{javaLowerCase}`, …) match every cased letter, as from Java 16.
 * - Inline flags anywhere, on or off, alone or scoped: `(?imsdxuU-imsdxuU)`, `(?i:…)`; `(?x)` comments.
 * - Atomic groups `(?>X)` and possessive quantifiers `X*+`, `X++`, `X?+`, `X{n,m}+` as `(?=(X))\k`
 *   (a lookahead does not backtrack into itself); the helper groups are hidden from group numbering.
 * - `\Q…\E`, `\h`, `\H`, `\v`, `\V`, `\R`, `\e`, `\a`, `\cX`, octal `\0nn`, `\x{h…}`, `\uXXXX` pairs,
 *   `\k<name>`, Java's multi-digit back-reference rule; properties: categories (`\pL`, `\p{IsLu}`,
 *   `\p{gc=Lu}`, `\p{LD}`, `\p{L1}`), binary properties (`\p{IsAlphabetic}`), scripts (`\p{IsLatin}`,
 *   `\p{sc=Latin}`), `java.lang.Character` classes (`\p{javaLowerCase}`, …); class unions `[a[b]]` and
 *   intersections `[a-z&&[^e]]`; `]` first in a class is a literal.
 *
 * Refused, with the construct named (a {@link JavaRegexError}): what Java rejects, and what JavaScript
 * cannot express — Unicode blocks (`\p{InGreek}`, `\p{block=…}`: no block data in JavaScript), `\X`,
 * `\b{g}`, `\N{…}`, the identifier classes (`\p{javaJavaIdentifierStart}`, …), `\G` when every match
 * is replaced (for a single find it is the start of the input), back-references under ASCII-only
 * `(?i)` or in a pattern only partly `(?iu)`, atomic groups or possessive quantifiers inside a
 * lookbehind, and nesting deeper than {@link MAX_DEPTH}.
 *
 * Kept differences: a back-reference to a group that did not take part in the match fails in Java and
 * matches the empty string in JavaScript; `\b` is Java 8–18's (Flume 1.11's runtimes; Java 19 made it
 * ASCII like `\w`); the case properties under `(?i)` are Java 16+'s (Java 8 and 11 keep them
 * case-sensitive); Unicode tables are those of Node's ICU, not Java's.
 */
export interface JavaRegex {
  /** The Java pattern. */
  readonly pattern: string;
  /** The translated RegExp (flag `v`; `g` when asked; `i` only for a pattern that is `(?iu)` throughout). */
  readonly regex: RegExp;
  /** Java's `groupCount()`: the capturing groups of the Java pattern. */
  readonly groupCount: number;
  /** Java's named groups and their numbers. */
  readonly groupNames: ReadonlyMap<string, number>;
  /**
   * Java's `group(n)` of a match of `regex`: undefined when the group did not take part (Java's null).
   * In `regex` every group is named (`$1`, `$2`, … or the Java name), since the helper groups of
   * atomic emulation would shift numbers.
   */
  group(match: RegExpExecArray | RegExpMatchArray, n: number): string | undefined;
}

export interface JavaRegexOptions {
  /** Add the `g` flag (for replace-all). */
  global?: boolean;
  /** Match the whole input, as Java's `Matcher.matches()`, instead of anywhere, as `find()`. */
  whole?: boolean;
}


/** Compiles a Java regex; throws a {@link JavaRegexError} naming the construct when it cannot. */
export function javaRegex(pattern: string, options: JavaRegexOptions = {}): JavaRegex {
  const t = new Translator(pattern, options.global === true);
  const { source, ignoreCase } = t.translate();
  const body = options.whole ? `${START}(?:${source})${END}` : source;
  let regex: RegExp;
  try {
    regex = new RegExp(body, `${options.global ? 'g' : ''}${ignoreCase ? 'i' : ''}v`);
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(error);
    throw new JavaRegexError(`not runnable as JavaScript (${reason})`, 0);
  }
  const names = t.javaToJs;
  return {
    pattern,
    regex,
    groupCount: names.length - 1,
    groupNames: t.names,
    group: (m, n) => (n === 0 ? m[0] : m.groups?.[names[n]!]),
  };
}

/** A zod string option that must compile as a Java regex; the pattern and the construct land in the ConfigError. */
export function javaRegexOption(): z.ZodString {
  return z.string().check((ctx) => {
    try {
      javaRegex(ctx.value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      ctx.issues.push({ code: 'custom', message: `a Java regular expression rxflume can run (${reason})`, input: ctx.value });
    }
  });
}

/** The parser and emitter of groups, quantifiers, atomic emulation, back-references and inline flags. */
class Translator extends JavaPatternReader {
  private helpers = 0;
  private lookbehind = 0;
  /** Java group n → JavaScript group name (index 0 unused). */
  readonly javaToJs: string[] = [''];
  readonly names = new Map<string, number>();
  private ciBackRef = -1;
  private everNotIU = false;

  constructor(
    pattern: string,
    private readonly global: boolean,
  ) {
    super(pattern);
  }

  translate(): { source: string; ignoreCase: boolean } {
    const flags: Flags = { i: false, u: false, m: false, s: false, d: false, x: false, U: false };
    let source = this.alternation(flags);
    if (this.pos < this.cps.length) this.fail("unmatched closing ')'");
    // A reference to a group Java never opens fails in Java; JavaScript would not compile it.
    const count = this.javaToJs.length - 1;
    source = source.replace(/\\k<\$(\d+)>/g, (ref, n: string) => (Number(n) > count ? '(?:(?!))' : ref));
    if (this.ciBackRef >= 0 && this.everNotIU) {
      this.fail('a back-reference under ASCII-only (?i) (or in a pattern only partly case-insensitive) cannot be expressed in JavaScript; make the whole pattern (?iu)', this.ciBackRef);
    }
    return { source, ignoreCase: this.ciBackRef >= 0 };
  }

  private noteFlags(f: Flags): void {
    if (!(f.i && f.u)) this.everNotIU = true;
  }

  /** `X|Y|…` up to a `)` or the end; inline flags change `f` for the rest of the group. */
  private alternation(f: Flags): string {
    const alternatives: string[] = [];
    let seq = '';
    for (;;) {
      const c = this.peek(f);
      if (c === undefined || c === 0x29 /* ) */) break;
      if (c === 0x7c /* | */) {
        this.pos++;
        alternatives.push(seq);
        seq = '';
        continue;
      }
      const atomStart = this.pos;
      const atom = this.atom(f);
      if (atom === undefined) continue; // a flag group
      seq += this.quantified(atom, f, atomStart);
    }
    alternatives.push(seq);
    return alternatives.join('|');
  }

  /** One atom: the JavaScript text, and whether it can take a quantifier as it is. */
  private atom(f: Flags): { src: string; simple: boolean } | undefined {
    const c = this.cps[this.pos]!;
    if (c !== 0x28) this.noteFlags(f);
    switch (c) {
      case 0x28: // (
        return this.group(f);
      case 0x5b: // [
        this.pos++;
        return { src: this.charClass(f), simple: true };
      case 0x2e: // .
        this.pos++;
        return { src: f.s ? '[\\s\\S]' : f.d ? NOT_UNIX_LINE : NOT_LINE, simple: true };
      case 0x5e: // ^
        this.pos++;
        return { src: caret(f), simple: false };
      case 0x24: // $
        this.pos++;
        return { src: dollar(f, f.m), simple: false };
      case 0x5c: // \
        return this.escape(f);
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return this.fail(`dangling meta character '${String.fromCharCode(c)}'`);
      case 0x7b:
        // Java takes a {n,m} with nothing before it as repeating nothing
        if (!/^\{\d+(,\d*)?\}/.test(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 40)))) this.fail("illegal repetition '{'");
        return { src: '', simple: false };
      default:
        this.pos++;
        return { src: this.literalAtom(c, f), simple: true };
    }
  }

  private literalAtom(c: number, f: Flags): string {
    if (!f.i) return literal(c);
    const all = foldsOf(c, f.u || f.U);
    return all.length === 1 ? literal(c) : `[${all.map(classChar).join('')}]`;
  }

  private quantified(atom: { src: string; simple: boolean }, f: Flags, atomStart: number): string {
    const c = this.peek(f);
    let q: string;
    if (c === 0x2a || c === 0x2b || c === 0x3f) {
      q = String.fromCharCode(c);
      this.pos++;
    } else if (c === 0x7b) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 40)));
      if (!m) this.fail("illegal repetition: expected {n}, {n,} or {n,m}");
      const min = Number(m[1]);
      const max = m[3] === undefined || m[3] === '' ? undefined : Number(m[3]);
      if (min > 0x7fffffff || (max !== undefined && (max > 0x7fffffff || max < min))) this.fail(`illegal repetition range ${m[0]}`);
      q = m[0];
      this.pos += m[0].length;
    } else return atom.src;
    const base = atom.simple ? atom.src : `(?:${atom.src})`;
    const mode = this.cps[this.pos];
    if (mode === 0x3f /* lazy */) {
      this.pos++;
      return `${base}${q}?`;
    }
    if (mode === 0x2b /* possessive */) {
      this.pos++;
      return this.atomic(`${base}${q}`, atomStart);
    }
    return `${base}${q}`;
  }

  /** `(?=(X))\k`: X matched once, as far as it goes, and never re-entered by backtracking. */
  private atomic(inner: string, at: number): string {
    if (this.lookbehind > 0) this.fail('an atomic group or possessive quantifier inside a lookbehind cannot be expressed in JavaScript', at);
    const name = `$h${++this.helpers}`;
    return `(?:(?=(?<${name}>${inner}))\\k<${name}>)`;
  }

  private group(f: Flags): { src: string; simple: boolean } | undefined {
    const start = this.pos;
    this.pos++; // (
    if (++this.depth > MAX_DEPTH) this.fail(`groups nested deeper than ${MAX_DEPTH}`, start);
    let result: { src: string; simple: boolean } | undefined;
    if (this.cps[this.pos] !== 0x3f /* ? */) {
      const name = `$${this.javaToJs.length}`;
      this.javaToJs.push(name);
      result = { src: `(?<${name}>${this.inner(f)})`, simple: true };
    } else {
      this.pos++;
      const k = this.cps[this.pos];
      const next = this.cps[this.pos + 1];
      if (k === 0x3a /* : */) {
        this.pos++;
        result = { src: `(?:${this.inner(f)})`, simple: true };
      } else if (k === 0x3d || k === 0x21 /* = ! */) {
        this.pos++;
        result = { src: `(?${String.fromCharCode(k)}${this.inner(f)})`, simple: false };
      } else if (k === 0x3c && (next === 0x3d || next === 0x21) /* <= <! */) {
        this.pos += 2;
        this.lookbehind++;
        result = { src: `(?<${String.fromCharCode(next)}${this.inner(f)})`, simple: false };
        this.lookbehind--;
      } else if (k === 0x3c /* <name> */) {
        const m = /^<([a-zA-Z][a-zA-Z0-9]*)>/.exec(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 200)));
        if (!m) this.fail('a group name must be an ASCII letter followed by letters or digits');
        if (this.names.has(m[1]!)) this.fail(`named capturing group <${m[1]}> is already defined`);
        this.pos += m[0].length;
        this.names.set(m[1]!, this.javaToJs.length);
        this.javaToJs.push(m[1]!);
        result = { src: `(?<${m[1]}>${this.inner(f)})`, simple: true };
      } else if (k === 0x3e /* > */) {
        this.pos++;
        result = { src: this.atomic(this.inner(f), start), simple: true };
      } else {
        // Inline flags: (?imsdxuU-imsdxuU) for the rest of the group, or (?…:X) for X.
        const scoped: Flags = { ...f };
        let on = true;
        for (;;) {
          const ch = this.cps[this.pos];
          if (ch === undefined) this.fail('unclosed group');
          const letter = String.fromCodePoint(ch);
          if ('imsdxuU'.includes(letter)) {
            scoped[letter as keyof Flags] = on;
            if (letter === 'U' && on) scoped.u = true;
            this.pos++;
          } else if (ch === 0x2d /* - */ && on) {
            on = false;
            this.pos++;
          } else if (ch === 0x63 /* c */) {
            this.fail('CANON_EQ matching is not supported');
          } else if (ch === 0x29 /* ) */) {
            this.pos++;
            Object.assign(f, scoped);
            this.depth--;
            return undefined;
          } else if (ch === 0x3a /* : */) {
            this.pos++;
            result = { src: `(?:${this.inner(scoped)})`, simple: true };
            break;
          } else {
            this.fail(`unknown inline modifier '${String.fromCodePoint(ch)}'`);
          }
        }
      }
    }
    this.depth--;
    return result;
  }

  /** The rest of a group, with its own copy of the flags, through its `)`. */
  private inner(f: Flags): string {
    const open = this.pos;
    const src = this.alternation({ ...f });
    if (this.cps[this.pos] !== 0x29) this.fail('unclosed group', open);
    this.pos++;
    return src;
  }

  private escape(f: Flags): { src: string; simple: boolean } {
    const start = this.pos;
    this.pos++;
    const d = this.cps[this.pos];
    if (d === undefined) this.fail('unexpected internal error: \\ at end of pattern', start);
    if (isDigit(d) && d !== 0x30) return { src: this.backReference(f, start), simple: true };
    if (d === 0x6b /* k */) {
      const m = /^k<([a-zA-Z][a-zA-Z0-9]*)>/.exec(String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 200)));
      if (!m) this.fail('\\k is not followed by <name>', start);
      const n = this.names.get(m[1]!);
      if (n === undefined) this.fail(`named capturing group <${m[1]}> does not exist`, start);
      this.pos += m[0].length;
      return { src: this.refTo(n, f, start), simple: true };
    }
    const letter = String.fromCodePoint(d);
    switch (letter) {
      case 'A':
        this.pos++;
        return { src: START, simple: false };
      case 'z':
        this.pos++;
        return { src: END, simple: false };
      case 'Z':
        this.pos++;
        return { src: dollar(f, false), simple: false };
      case 'b':
      case 'B':
        this.pos++;
        if (letter === 'b' && this.cps[this.pos] === 0x7b && this.cps[this.pos + 1] === 0x67 && this.cps[this.pos + 2] === 0x7d) this.fail('\\b{g} (grapheme boundary) cannot be expressed in JavaScript', start);
        return { src: boundary(f, letter === 'B'), simple: false };
      case 'R':
        this.pos++;
        return { src: LINE_BREAK, simple: false };
      case 'G':
        // The end of the previous match: for a single find() the start of the input.
        if (this.global) this.fail('\\G (end of the previous match) cannot be expressed in JavaScript when every match is replaced', start);
        this.pos++;
        return { src: START, simple: false };
      case 'X':
        this.fail('\\X (grapheme cluster) cannot be expressed in JavaScript', start);
      case 'N':
        this.fail('\\N{name} (a character by its Unicode name) is not supported', start);
      default: {
        const item = this.classEscape(f, start);
        return { src: item.kind === 'char' ? this.literalAtom(item.cp, f) : item.src, simple: true };
      }
    }
  }

  private backReference(f: Flags, start: number): string {
    // Java: \1–\9 always; a further digit joins while the number names a group opened so far.
    let n = this.cps[this.pos]! - 0x30;
    this.pos++;
    for (;;) {
      const c = this.cps[this.pos];
      if (!isDigit(c)) break;
      const next = n * 10 + (c! - 0x30);
      if (next > this.javaToJs.length - 1) break;
      n = next;
      this.pos++;
    }
    return this.refTo(n, f, start);
  }

  private refTo(n: number, f: Flags, start: number): string {
    if (f.i && this.ciBackRef < 0) this.ciBackRef = start;
    // A group not opened yet: resolved at the end (never matching when Java never opens it).
    return `\\k<${n < this.javaToJs.length ? this.javaToJs[n] : `$${n}`}>`;
  }
}
