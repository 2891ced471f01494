import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaRegex, JavaRegexError, MAX_DEPTH } from '../../../lib/text/javaRegex.js';

/** Java's find(): [start, end] of the first match, or null. */
const find = (pattern: string, input: string): [number, number] | null => {
  const m = javaRegex(pattern).regex.exec(input);
  return m === null ? null : [m.index, m.index + m[0].length];
};
const found = (pattern: string, input: string): boolean => find(pattern, input) !== null;

// Expectations below were taken from java.util.regex on Java 17 (test/support/JavaRegexProbe.java);
// test/interop/regex.test.ts compares with Java itself on generated patterns.
describe('javaRegex: translated with Java 17 meaning', () => {
  it('atomic groups and possessive quantifiers do not give back', () => {
    expect(find('a*+b', 'aaab')).toEqual([0, 4]);
    expect(found('a*+a', 'aaaa')).toBe(false);
    expect(found('a++a', 'aaaa')).toBe(false);
    expect(found('a?+a', 'a')).toBe(false);
    expect(found('a{1,3}+a', 'aaa')).toBe(false);
    expect(find('a{1,3}+a', 'aaaa')).toEqual([0, 4]);
    expect(found('(?>a|ab)c', 'abc')).toBe(false);
    expect(find('(?>ab|a)c', 'abc')).toEqual([0, 3]);
    expect(found('(?>a*)a', 'aaa')).toBe(false);
    expect(find('"[^"]*+"', 'x "q" y')).toEqual([2, 5]);
    // helper groups are hidden: Java's group numbers and back-references stay
    const re = javaRegex('(?>(a)(b))(c)\\2');
    const m = re.regex.exec('abcb')!;
    expect(re.groupCount).toBe(3);
    expect([1, 2, 3].map((g) => re.group(m, g))).toEqual(['a', 'b', 'c']);
  });

  it('\\w, \\d, \\s and the POSIX classes are ASCII; (?U) makes them Unicode', () => {
    expect(find('\\w+', 'naïve')).toEqual([0, 2]);
    expect(find('(?U)\\w+', 'naïve')).toEqual([0, 5]);
    expect(found('\\d', '٣')).toBe(false);
    expect(found('(?U)\\d', '٣')).toBe(true);
    expect(found('\\s', '\u00a0\u2003')).toBe(false);
    expect(found('(?U)\\s', '\u2003')).toBe(true);
    expect(found('\\p{Alpha}', 'é')).toBe(false);
    expect(found('(?U)\\p{Alpha}', 'é')).toBe(true);
    expect(found('\\p{Lower}', 'é')).toBe(false);
    expect(found('\\p{javaLowerCase}', 'é')).toBe(true);
    expect(found('^\\p{Punct}+$', '!/:@[`{~')).toBe(true);
    expect(found('\\p{Space}', '\u2028')).toBe(false);
    expect(found('\\p{javaWhitespace}', '\u00a0')).toBe(false);
    expect(found('\\p{javaWhitespace}', '\u2003')).toBe(true);
  });

  it("\\b and \\B use Java 17's word characters: letters, digits, _ and marks after them", () => {
    expect(find('\\bé', ' é')).toEqual([1, 2]);
    expect(found('\\bber\\b', 'über')).toBe(false);
    expect(find('\\b\\w+\\b', 'café x')).toEqual([5, 6]);
    expect(found('e\\u0301\\b', 'e\u0301x')).toBe(false);
    expect(found('e\\u0301\\b', 'e\u0301 ')).toBe(true);
    expect(find('\\B.', 'ab')).toEqual([1, 2]);
    expect(found('\\b', '')).toBe(false);
  });

  it('case folding: (?i) ASCII only, (?iu) Unicode, scoped where Java scopes it', () => {
    expect(found('(?i)école', 'ÉCOLE')).toBe(false);
    expect(found('(?i)école', 'éCOLE')).toBe(true);
    expect(found('(?iu)école', 'ÉCOLE')).toBe(true);
    expect(found('(?i)k', '\u212a')).toBe(false);
    expect(found('(?iu)k', '\u212a')).toBe(true);
    expect(found('(?iu)straße', 'STRAẞE')).toBe(true);
    expect(found('(?i)[a-z]+', 'Q')).toBe(true);
    expect(found('(?i)[à-ÿ]', 'À')).toBe(false);
    expect(found('(?iu)[à-ÿ]', 'À')).toBe(true);
    expect(found('(?i)[^a-z]', 'Q')).toBe(false);
    expect(found('a(?i)b', 'aB')).toBe(true);
    expect(found('a(?i)b', 'AB')).toBe(false);
    expect(found('(?i:a)b', 'AB')).toBe(false);
    expect(found('(?i)a(?-i)b', 'AB')).toBe(false);
    expect(found('(?i)(?:a|(?-i)b)c', 'BC')).toBe(false);
    expect(found('(?i)\\p{Lu}', 'a')).toBe(true);
    expect(found('(?i)\\p{Lower}', 'A')).toBe(true);
    expect(found('(?iu)(é)\\1', 'éÉ')).toBe(true);
    expect(found('(?iU)(é)\\1', 'éÉ')).toBe(true); // (?U) implies UNICODE_CASE
  });

  it('inline flags s, m, d, x and Java line terminators', () => {
    expect(found('a.b', 'a\nb')).toBe(false);
    expect(found('a.b', 'a\u0085b')).toBe(false);
    expect(found('(?s)a.b', 'a\nb')).toBe(true);
    expect(found('(?d)a.b', 'a\rb')).toBe(true);
    expect(find('(?m)^b$', 'a\nb\nc')).toEqual([2, 3]);
    expect(found('(?m)^', '')).toBe(false);
    expect(find('(?m)$', 'a\r\nb')).toEqual([1, 1]);
    expect(found('done$', 'done\r\n')).toBe(true);
    expect(found('done$', 'done\n\n')).toBe(false);
    expect(found('done\\z', 'done\n')).toBe(false);
    expect(found('done\\Z', 'done\u2028')).toBe(true);
    expect(found('(?m)\\Ab', 'a\nb')).toBe(false);
    expect(found('(?d)done$', 'done\r')).toBe(false);
    expect(find('(?x) a b # a comment\n c [ d ]', 'abcd')).toEqual([0, 4]);
    expect(found('(?x)a\\ b', 'a b')).toBe(true);
    expect(found('a\\Rb', 'a\r\nb')).toBe(true);
    expect(found('\\h\\v', '\u3000\u2029')).toBe(true);
  });

  it('groups: numbers, names, unmatched (Java null) and back-references as Java parses them', () => {
    const re = javaRegex('(a)?(?<n>b)(c)?');
    const m = re.regex.exec('b')!;
    expect(re.groupCount).toBe(3);
    expect(re.groupNames.get('n')).toBe(2);
    expect([re.group(m, 0), re.group(m, 1), re.group(m, 2), re.group(m, 3)]).toEqual(['b', undefined, 'b', undefined]);
    expect(found('(a)\\11', 'aa1')).toBe(true); // \11 > 1 group: \1 then '1'
    expect(found('(?<w>\\w)\\k<w>', 'xx')).toBe(true);
    expect(found('(a)\\2', 'aa')).toBe(false); // a group Java never opens: never matches
    expect(found('\\Ga', 'ba')).toBe(false);
  });

  it('matches the whole input with whole, whatever the flags', () => {
    expect(javaRegex('tmp', { whole: true }).regex.test('tmp.x')).toBe(false);
    expect(javaRegex('tmp.*', { whole: true }).regex.test('tmp.x')).toBe(true);
    expect(javaRegex('a|b', { whole: true }).regex.test('b')).toBe(true);
    expect(javaRegex('(?m)b', { whole: true }).regex.test('a\nb')).toBe(false);
  });
});

describe('javaRegex: refused, naming the construct', () => {
  it('refuses what Java rejects and what JavaScript cannot express', () => {
    for (const [pattern, reason] of [
      ['\\X', '\\X (grapheme cluster)'],
      ['\\b{g}', 'grapheme boundary'],
      ['\\N{LATIN SMALL LETTER A}', '\\N{name}'],
      ['(?i)(a)\\1', 'back-reference under ASCII-only (?i)'],
      ['a(?iu)(é)\\1', 'only partly case-insensitive'],
      ['(?<=(?>a))b', 'inside a lookbehind'],
      ['(?<=a++)b', 'inside a lookbehind'],
      ['a**', "dangling meta character '*'"],
      ['{x', 'illegal repetition'],
      ['a{2,1}', 'illegal repetition range'],
      ['(a', 'unclosed group'],
      ['a)', "unmatched closing ')'"],
      ['\\k<nope>', 'named capturing group <nope> does not exist'],
      ['(?<a>x)(?<a>y)', 'already defined'],
      ['(?q)', "unknown inline modifier 'q'"],
      ['(?\u{10069})', "unknown inline modifier '\u{10069}'"], // not read as its low 16 bits, 'i'
    ] as const) {
      expect(() => javaRegex(pattern), pattern).toThrow(JavaRegexError);
      expect(() => javaRegex(pattern), pattern).toThrow(reason);
    }
    expect(() => javaRegex('\\Gx', { global: true })).toThrow(/\\G \(end of the previous match\)/);
  });

  it('bounds hostile patterns: deep nesting refused, huge quantifiers and wide folds compiled', () => {
    expect(() => javaRegex('('.repeat(MAX_DEPTH + 1) + ')'.repeat(MAX_DEPTH + 1))).toThrow(`groups nested deeper than ${MAX_DEPTH}`);
    expect(() => javaRegex('(?:'.repeat(100_000))).toThrow(JavaRegexError);
    expect(javaRegex('(?:a{2147483647}){2147483647}').regex.test('b')).toBe(false);
    expect(() => javaRegex('a{2147483648}')).toThrow('illegal repetition range');
    // every range folded by Unicode case: the expansion is bounded by the cased characters
    const wide = javaRegex(`(?iu)${'[\\u0000-\\x{10FFFF}]'.repeat(200)}`);
    expect(wide.regex.source.length).toBeLessThan(200 * 20_000);
  });
});

describe('javaRegex: properties', () => {
  // Fragments with one meaning in Java and in JavaScript (no u flag needed for them).
  const shared = fc.constantFrom('a', 'b', 'Z', '0', 'é', '(x)', '(?:y)', '(a|b)', '[a-c]', '[^b]', 'a*', 'b+', 'x?', 'a*?', 'b{2}', '(?:ab){1,2}', '(?=a)', '(?!b)', '(?<=a)', '|');
  const text = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'x', 'y', 'Z', '0', 'é', 'É', '\n', '😀'), maxLength: 12 });

  it('a pattern without Java-only constructs matches as the same JavaScript pattern does', () => {
    fc.assert(
      fc.property(fc.array(shared, { maxLength: 8 }), text, (parts, input) => {
        const pattern = parts.join('');
        const js = new RegExp(pattern, 'u').exec(input);
        const java = javaRegex(pattern);
        const m = java.regex.exec(input);
        expect(m?.index).toBe(js?.index);
        expect(m?.[0]).toBe(js?.[0]);
        if (m !== null) for (let g = 1; g <= java.groupCount; g++) expect(java.group(m, g)).toBe(js![g]);
      }),
      { numRuns: 1000 },
    );
  });

  it('(?>P)Q finds what a model finds: P matched once, its first way, then Q', () => {
    const simple = fc.array(fc.constantFrom('a', 'b', 'a*', 'b?', '[ab]', 'a|b', 'ab|a', '(?:a|ab)', 'a+?', '[ab]*'), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(simple, simple, fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 8 }), (p, q, input) => {
        const P = p.join('');
        const Q = q.join('');
        const model = (atom: string): [number, number] | null => {
          for (let i = 0; i <= input.length; i++) {
            const mp = new RegExp(`(?:${atom})`, 'y');
            mp.lastIndex = i;
            const a = mp.exec(input);
            if (a === null) continue;
            const mq = new RegExp(`(?:${Q})`, 'y');
            mq.lastIndex = i + a[0].length;
            const b = mq.exec(input);
            if (b !== null) return [i, i + a[0].length + b[0].length];
          }
          return null;
        };
        expect(find(`(?>${P})(?:${Q})`, input)).toEqual(model(P));
        expect(find(`(?:${P})*+(?:${Q})`, input)).toEqual(model(`(?:${P})*`));
        expect(find(`(?:${P})++(?:${Q})`, input)).toEqual(model(`(?:${P})+`));
      }),
      { numRuns: 500 },
    );
  });

  it('(?i) folds exactly the ASCII letters: a quoted literal matches where the ASCII-lowered texts contain each other', () => {
    const unit = fc.constantFrom('a', 'B', 'z', 'é', 'É', 'k', 'K', '\u212a', 'ß', 's', 'ſ', '.', '*', '1');
    const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
    fc.assert(
      fc.property(fc.string({ unit, minLength: 1, maxLength: 4 }), fc.string({ unit, maxLength: 10 }), (literal, input) => {
        const m = find(`(?i)\\Q${literal}\\E`, input);
        const at = asciiLower(input).indexOf(asciiLower(literal));
        expect(m).toEqual(at < 0 ? null : [at, at + literal.length]);
      }),
      { numRuns: 1000 },
    );
  });

  it('translation stays linear in the pattern without case folding', () => {
    const fragment = fc.constantFrom('a', '\\w', '\\b', '\\d', '.', '$', '^', '(?>x)', 'a*+', '[a-z&&[^e]]', '\\p{Alpha}', '(y)', '\\1', '(?m)', '(?s)', '\\Qq\\E', '\\h', '|');
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
        const pattern = parts.join('');
        let source: string | undefined;
        let error: unknown;
        try {
          source = javaRegex(pattern).regex.source;
        } catch (e) {
          error = e;
        }
        if (source === undefined) return void expect(error).toBeInstanceOf(JavaRegexError);
        expect(source.length).toBeLessThanOrEqual(400 * (pattern.length + 1));
      }),
      { numRuns: 300 },
    );
  });
});
