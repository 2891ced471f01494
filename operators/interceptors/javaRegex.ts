import { z } from 'zod';

/**
 * Java regular expressions (what Flume's interceptors compile with `java.util.regex.Pattern`) as
 * JavaScript RegExps. Most syntax is shared; where the two differ, the pattern is translated when the
 * meaning can be kept, and rejected otherwise — never silently run with another meaning:
 *
 * - translated: a leading `(?imsdu)` flag group, `\Q…\E`, `\A`, `\z`, `\Z`, `$` (Java's matches before
 *   a final line terminator too), `\h`, `\v` (vertical whitespace in Java), `\R`, `\e`, `\a`, octal
 *   `\0nn`, `\pL`, the POSIX classes (`\p{Alpha}`, `\p{Lower}`, … are ASCII-only in Java), `]` first in
 *   a class (a literal in Java), escaped punctuation;
 * - rejected: `(?x)` and `(?U)`, `\G`, `\X`, `\x{…}`, other letter escapes JavaScript lacks, class
 *   unions `[a[b]]` and intersections `[a&&b]`; possessive quantifiers, atomic groups and inline flags
 *   after the start are rejected by the JavaScript compiler itself.
 *
 * Remaining difference: Java's `.` also excludes U+0085 (NEL).
 */
export interface JavaRegexOptions {
  /** Add the `g` flag (for replace-all). */
  global?: boolean;
  /** Match the whole input, as Java's `Matcher.matches()`, instead of anywhere, as `find()`. */
  whole?: boolean;
}

const V_CHARS = '\\n\\x0B\\f\\r\\x85\\u2028\\u2029';
const H_CHARS = ' \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000';
const END = '(?![\\s\\S])';
const START = '(?<![\\s\\S])';
const END_BEFORE_TERMINATOR = '(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?(?![\\s\\S]))';
const END_BEFORE_NEWLINE = '(?=\\n?(?![\\s\\S]))';
/** Letter escapes with the same meaning in both languages. */
const SHARED_ESCAPES = 'dDwWsSbBnrtfcuk';
/** Characters that must stay escaped to stay literal (in either unicode mode). */
const SYNTAX = '^$\\.*+?()[]{}|/';

/** Compiles a Java regex; throws `SyntaxError` saying why when it cannot be run with Java's meaning. */
export function javaRegex(pattern: string, options: JavaRegexOptions = {}): RegExp {
  const { source, flags } = translate(pattern);
  const body = options.whole ? `${START}(?:${source})${END}` : source;
  try {
    return new RegExp(body, flags + (options.global ? 'g' : ''));
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(error);
    throw new SyntaxError(reason);
  }
}

/** Number of capturing groups of a compiled regex. */
export function groupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;
}

/** Names of the named groups of a compiled regex. */
export function groupNames(re: RegExp): string[] {
  return Object.keys(new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.groups ?? {});
}

/** A zod string option that must compile as a Java regex; the reason lands in the ConfigError. */
export function javaRegexOption(): z.ZodString {
  return z.string().check((ctx) => {
    const reason = regexProblem(ctx.value);
    if (reason !== undefined) {
      ctx.issues.push({ code: 'custom', message: `a valid Java regular expression (${reason})`, input: ctx.value });
    }
  });
}

/** Why `pattern` cannot be compiled, or undefined when it can. */
export function regexProblem(pattern: string): string | undefined {
  try {
    javaRegex(pattern);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function translate(pattern: string): { source: string; flags: string } {
  let flags = '';
  let unixLines = false;
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 's' || f === 'm') {
        if (!flags.includes(f)) flags += f;
      } else if (f === 'd') unixLines = true;
      else if (f !== 'u') throw new SyntaxError(`unsupported Java flag (?${f})`);
    }
    i = lead[0].length;
  }
  const multiline = flags.includes('m');
  let unicode = false;
  let out = '';
  let inClass = false;
  let classFirst = false;
  const n = pattern.length;

  while (i < n) {
    const c = pattern[i]!;
    const first = classFirst;
    classFirst = false;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new SyntaxError('\\ at end of pattern');
      if (d === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const literal = end < 0 ? pattern.slice(i + 2) : pattern.slice(i + 2, end);
        out += literal.replace(inClass ? /[\\\]^[-]/g : /[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? n : end + 2;
        continue;
      }
      if (/[a-zA-Z]/.test(d)) {
        if (d === 'p' || d === 'P') {
          // \p{Name} or Java's one-letter \pL
          const braced = pattern[i + 2] === '{';
          const end = braced ? pattern.indexOf('}', i + 3) : i + 3;
          if (end < 0 || end > n) throw new SyntaxError(`unterminated \\${d}`);
          const name = braced ? pattern.slice(i + 3, end) : pattern[i + 2]!;
          out += property(d === 'P', name, inClass);
          unicode ||= !Object.hasOwn(POSIX, name);
          i = braced ? end + 1 : end;
          continue;
        }
        if (d === 'x' && pattern[i + 2] === '{') throw new SyntaxError('unsupported Java escape \\x{…}');
        out += letterEscape(d, inClass, unixLines);
        i += 2;
        continue;
      }
      if (d === '0') {
        const octal = /^0([0-3][0-7]{0,2}|[0-7]{1,2})/.exec(pattern.slice(i + 1));
        if (!octal) throw new SyntaxError('illegal octal escape \\0');
        out += `\\x${parseInt(octal[1]!, 8).toString(16).padStart(2, '0')}`;
        i += 1 + octal[0].length;
        continue;
      }
      if (/[1-9]/.test(d)) out += `\\${d}`; // back-reference
      else if (SYNTAX.includes(d) || (d === '-' && inClass)) out += `\\${d}`;
      else out += d; // Java allows escaping any punctuation; it is literal either way
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']' && !first) inClass = false;
      else if (c === ']') {
        out += '\\]'; // literal when first in a Java class
        i++;
        continue;
      } else if (c === '[') throw new SyntaxError('character class unions ([a[b]]) are not supported');
      else if (c === '&' && pattern[i + 1] === '&') throw new SyntaxError('character class intersections (&&) are not supported');
      else if (c === '^' && first) classFirst = true;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      classFirst = true;
    } else if (c === '$' && !multiline) {
      out += unixLines ? END_BEFORE_NEWLINE : END_BEFORE_TERMINATOR;
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags: flags + (unicode ? 'u' : '') };
}

/** Java's POSIX classes are ASCII-only; JavaScript knows some of these names with Unicode meaning. */
const POSIX: Record<string, string> = {
  Lower: 'a-z',
  Upper: 'A-Z',
  ASCII: '\\x00-\\x7F',
  Alpha: 'a-zA-Z',
  Digit: '0-9',
  Alnum: 'a-zA-Z0-9',
  Punct: '!-\\/:-@\\[-`{-~',
  Graph: '!-~',
  Print: ' -~',
  Blank: ' \\t',
  Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F',
  Space: ' \\t\\n\\x0B\\f\\r',
};

function property(negated: boolean, name: string, inClass: boolean): string {
  if (!Object.hasOwn(POSIX, name)) return `\\${negated ? 'P' : 'p'}{${name}}`;
  const posix = POSIX[name]!;
  if (!inClass) return `[${negated ? '^' : ''}${posix}]`;
  if (negated) throw new SyntaxError(`\\P{${name}} is not supported in a character class`);
  return posix;
}

function letterEscape(d: string, inClass: boolean, unixLines: boolean): string {
  const outsideOnly = (s: string): string => {
    if (inClass) throw new SyntaxError(`\\${d} is not allowed in a character class`);
    return s;
  };
  switch (d) {
    case 'A':
      return outsideOnly(START);
    case 'z':
      return outsideOnly(END);
    case 'Z':
      return outsideOnly(unixLines ? END_BEFORE_NEWLINE : END_BEFORE_TERMINATOR);
    case 'R':
      return outsideOnly(`(?:\\r\\n|[${V_CHARS}])`);
    case 'h':
      return inClass ? H_CHARS : `[${H_CHARS}]`;
    case 'H':
      return outsideOnly(`[^${H_CHARS}]`);
    case 'v':
      return inClass ? V_CHARS : `[${V_CHARS}]`;
    case 'V':
      return outsideOnly(`[^${V_CHARS}]`);
    case 'e':
      return '\\x1B';
    case 'a':
      return '\\x07';
    case 'x':
      return `\\${d}`;
    default:
      if (SHARED_ESCAPES.includes(d)) return `\\${d}`;
      throw new SyntaxError(`unsupported Java escape \\${d}`);
  }
}
