import { describe, expect, it } from 'vitest';
import type { Flags } from '../../../lib/text/javaCharacterClasses.js';
import { javaRegex } from '../../../lib/text/javaRegex.js';
import { JavaPatternReader, JavaRegexError, MAX_DEPTH, removeQuoting, type ClassAtom } from '../../../lib/text/javaPatternReader.js';

const NONE: Flags = { i: false, u: false, m: false, s: false, d: false, x: false, U: false };
const cps = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0)!);

/** The reader's protected steps, called directly on a pattern. */
class Reader extends JavaPatternReader {
  /** A class starting at `[` (the first code point): its RegExp text and where the cursor stops. */
  cls(f: Flags = NONE): [string, number] {
    this.pos = 1;
    return [this.charClass(f), this.pos];
  }
  /** An escape starting at `\` (the first code point). */
  esc(f: Flags = NONE): [ClassAtom, number] {
    this.pos = 1;
    return [this.classEscape(f, 0), this.pos];
  }
  /** The code point `peek` sees from the start. */
  first(f: Flags): number | undefined {
    return this.peek(f);
  }
}

/** Java's find(): [start, end] of the first match, or null. */
const find = (pattern: string, input: string): [number, number] | null => {
  const m = javaRegex(pattern).regex.exec(input);
  return m === null ? null : [m.index, m.index + m[0].length];
};
const found = (pattern: string, input: string): boolean => find(pattern, input) !== null;

describe('removeQuoting: Java\'s \\Q…\\E pre-pass', () => {
  it('escapes what is quoted, except ASCII letters, digits and non-ASCII', () => {
    expect(removeQuoting(cps('x\\Qa.*é\\Ey'))).toEqual(cps('xa\\.\\*éy'));
    expect(removeQuoting(cps('\\Q(unclosed'))).toEqual(cps('\\(unclosed'));
    expect(removeQuoting(cps('\\\\Q'))).toEqual(cps('\\\\Q')); // an escaped backslash, then Q
    expect(removeQuoting(cps('a\\'))).toEqual(cps('a\\'));
  });
});

describe('JavaPatternReader: classes, escapes and properties', () => {
  const matches = (src: string, s: string): boolean => new RegExp(`^${src}$`, 'v').test(s);

  it('reads a class through its ], with unions, intersections and a leading ] as a literal', () => {
    const [az, end] = new Reader('[a-z&&[^e]]x').cls();
    expect(end).toBe(11);
    expect(matches(az, 'd')).toBe(true);
    expect(matches(az, 'e')).toBe(false);
    expect(matches(new Reader('[]a]').cls()[0], ']')).toBe(true);
    expect(new Reader('[&&]').cls()[0]).toBe('[]');
    expect(matches(new Reader('[^&&]').cls()[0], 'q')).toBe(true);
    expect(matches(new Reader('[a b]').cls({ ...NONE, x: true })[0], ' ')).toBe(false);
  });

  it('folds class members under (?i): ASCII only, or Unicode with u', () => {
    const ci = { ...NONE, i: true };
    expect(matches(new Reader('[a-c]').cls(ci)[0], 'B')).toBe(true);
    expect(matches(new Reader('[k]').cls(ci)[0], '\u212a')).toBe(false);
    expect(matches(new Reader('[k]').cls({ ...ci, u: true })[0], '\u212a')).toBe(true);
  });

  it('reads an escape as one code point or as a class operand', () => {
    expect(new Reader('\\x{1F600}').esc()).toEqual([{ kind: 'char', cp: 0x1f600 }, 9]);
    expect(new Reader('\\uD83D\\uDE00').esc()).toEqual([{ kind: 'char', cp: 0x1f600 }, 12]);
    expect(new Reader('\\0101').esc()).toEqual([{ kind: 'char', cp: 0x41 }, 5]);
    expect(new Reader('\\cA').esc()).toEqual([{ kind: 'char', cp: 1 }, 3]);
    expect(new Reader('\\-').esc()).toEqual([{ kind: 'char', cp: 0x2d }, 2]);
    const [w] = new Reader('\\w').esc();
    expect(w.kind === 'set' && matches(w.src, 'é')).toBe(false);
    const [uw] = new Reader('\\w').esc({ ...NONE, U: true, u: true });
    expect(uw.kind === 'set' && matches(uw.src, 'é')).toBe(true);
    const [lu] = new Reader('\\p{Lu}').esc({ ...NONE, i: true });
    expect(lu.kind === 'set' && matches(lu.src, 'a')).toBe(true); // case properties under (?i), as Java 16+
    const [latin] = new Reader('\\p{sc=latin}').esc();
    expect(latin).toEqual({ kind: 'set', src: '\\p{Script=Latin}' });
  });

  it('skips whitespace and # comments under (?x) only', () => {
    expect(new Reader('  # note\n a').first({ ...NONE, x: true })).toBe(0x61);
    expect(new Reader('  # note\r a').first({ ...NONE, x: true, d: true })).toBeUndefined();
    expect(new Reader(' a').first(NONE)).toBe(0x20);
  });

  it('fails with a JavaRegexError at the index of the construct', () => {
    expect(() => new Reader('[ab').cls()).toThrow(new JavaRegexError('unclosed character class', 0));
    expect(() => new Reader('\\p{InGreek}').esc()).toThrow('Unicode blocks');
  });
});

describe('javaRegex: quoting, escapes, properties and classes', () => {
  it('quoting, escapes, properties and class set operations', () => {
    expect(find('\\Qa.*\\E+', 'xa.**')).toEqual([1, 5]);
    expect(found('[\\Q]^\\E]', '^')).toBe(true);
    expect(found('\\Q(unclosed', 'x(unclosed')).toBe(true);
    expect(found('\\0101\\x41\\x{1F600}\\u0041\\uD83D\\uDE00\\cA', 'AA😀A😀\u0001')).toBe(true);
    expect(found('\\:\\"\\-\\#', ':"-#')).toBe(true);
    expect(found('^\\e\\a$', '\u001b\u0007')).toBe(true);
    expect(found('\\H', ' ')).toBe(false);
    expect(found('\\V', '\n')).toBe(false);
    expect(found('\\H\\V', 'xy')).toBe(true);
    expect(find('[a-z&&[^aeiou]]+', 'each')).toEqual([2, 4]);
    expect(found('[^a-z&&[^e]]', 'e')).toBe(true);
    expect(find('[a-c[x-z]]+', 'bxq')).toEqual([0, 2]);
    expect(find('[\\w&&[^\\d]]+', '12ab3')).toEqual([2, 4]);
    expect(found('[]a]', ']')).toBe(true);
    expect(found('[^]a]', ']')).toBe(false);
    expect(found('\\p{IsLatin}\\p{sc=Greek}\\p{IsAlphabetic}\\p{gc=Nd}\\pL', 'aα9') ).toBe(false);
    expect(found('\\p{IsLatin}\\p{sc=Greek}\\p{IsAlphabetic}\\p{gc=Nd}\\pL', 'aαb1c')).toBe(true);
    expect(found('\\p{L1}\\p{LD}\\p{javaLetterOrDigit}', 'ÿ1x')).toBe(true);
    expect(found('\\P{Alpha}', 'abc')).toBe(false);
    expect(found('\\p{IsLu}', 'a')).toBe(false);
    expect(found('\\p{IsLu}', 'A')).toBe(true);
  });

  it('refuses the class, escape and property constructs Java rejects or JavaScript cannot express', () => {
    for (const [pattern, reason] of [
      ['\\p{InGreek}', 'Unicode blocks'],
      ['\\p{block=Greek}', 'Unicode blocks'],
      ['\\p{javaJavaIdentifierStart}', 'Java identifier rules'],
      ['[a', 'unclosed character class'],
      ['[z-a]', 'illegal character range'],
      ['[\\A]', 'not allowed in a character class'],
      ['\\08', 'illegal octal escape'],
      ['\\y', 'illegal/unsupported escape sequence \\y'],
      ['\\p{Nope}', 'unknown character property'],
    ] as const) {
      expect(() => javaRegex(pattern), pattern).toThrow(JavaRegexError);
      expect(() => javaRegex(pattern), pattern).toThrow(reason);
    }
    expect(() => javaRegex('['.repeat(MAX_DEPTH + 1) + 'a' + ']'.repeat(MAX_DEPTH + 1))).toThrow(`classes nested deeper than ${MAX_DEPTH}`);
  });
});
