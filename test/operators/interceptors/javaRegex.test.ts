import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupCount, groupNames, javaRegex } from '../../../operators/interceptors/javaRegex.js';

const find = (pattern: string, input: string): boolean => javaRegex(pattern).test(input);

describe('javaRegex', () => {
  it('passes syntax shared by Java and JavaScript through unchanged, and invalid stays invalid', () => {
    const fragment = fc.constantFrom('a', 'b', 'Z', '0', '\\d', '\\w', '\\s', '\\b', '.', '*', '+', '?', '*?', '|', '(x)', '(?:y)', '(?=a)', '(?<!b)', '[a-c]', '[^b]', '{2}', '{1,3}', '\\.', '^', '(', ')', '\\1', '\\t', '\\u0041');
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        const pattern = parts.join('');
        let js: RegExp | undefined;
        try {
          js = new RegExp(pattern);
        } catch {
          js = undefined;
        }
        if (js === undefined) expect(() => javaRegex(pattern)).toThrow(SyntaxError);
        else expect(javaRegex(pattern).source).toBe(js.source);
      }),
      { numRuns: 500 },
    );
  });

  it("translates Java's anchors and line terminators", () => {
    expect(find('done$', 'done\n')).toBe(true);
    expect(find('done$', 'done\r\n')).toBe(true);
    expect(find('done$', 'done\n\n')).toBe(false);
    expect(find('done\\z', 'done\n')).toBe(false);
    expect(find('done\\Z', 'done\n')).toBe(true);
    expect(find('\\Aab', 'ab')).toBe(true);
    expect(find('(?m)\\Ab', 'a\nb')).toBe(false);
    expect(find('(?m)^b$', 'a\nb\nc')).toBe(true);
    expect(find('a\\Rb', 'a\r\nb')).toBe(true);
    expect(find('\\v', '\n')).toBe(true);
    expect(find('\\h', '\t')).toBe(true);
    expect(find('^\\H+$', 'ab')).toBe(true);
  });

  it('translates leading flags, quoting, octal, escaped punctuation and ] first in a class', () => {
    expect(find('(?i)abc', 'xABCx')).toBe(true);
    expect(find('(?s)a.b', 'a\nb')).toBe(true);
    expect(find('a.b', 'a\nb')).toBe(false);
    expect(find('\\Q.*+\\E', 'a.*+b')).toBe(true);
    expect(find('\\Q.*+\\E', 'abc')).toBe(false);
    expect(find('[\\Q]^\\E]', '^')).toBe(true);
    expect(find('\\0101', 'A')).toBe(true);
    expect(find('\\:\\"\\-', ':"-')).toBe(true);
    expect(find('[]a]', ']')).toBe(true);
    expect(find('[^]a]', ']')).toBe(false);
    expect(find('[^]a]', 'b')).toBe(true);
    expect(find('\\pL+\\p{Nd}', 'é1')).toBe(true);
    expect(find('\\e\\a', '\x1b\x07')).toBe(true);
    expect(find('^\\p{Alpha}+$', 'abcXYZ')).toBe(true);
    expect(find('\\p{Alpha}', 'é')).toBe(false); // ASCII-only in Java, Unicode Alphabetic in JavaScript
    expect(find('^[\\p{Lower}_]+$', 'a_b')).toBe(true);
    expect(find('\\P{Digit}', '123')).toBe(false);
    expect(find('^\\p{Punct}+$', '!/:@[`{~')).toBe(true);
    expect(find('\\p{Lu}\\p{Alpha}', 'Éa')).toBe(true);
  });

  it('matches the whole input with whole, whatever the flags', () => {
    expect(javaRegex('tmp', { whole: true }).test('tmp.x')).toBe(false);
    expect(javaRegex('tmp.*', { whole: true }).test('tmp.x')).toBe(true);
    expect(javaRegex('(?m)b', { whole: true }).test('a\nb')).toBe(false);
    expect(javaRegex('a|b', { whole: true }).test('b')).toBe(true);
  });

  it('rejects what JavaScript would run with another meaning', () => {
    for (const [pattern, reason] of [
      ['\\Gx', 'unsupported Java escape \\G'],
      ['\\X', 'unsupported Java escape \\X'],
      ['\\x{41}', 'unsupported Java escape \\x{…}'],
      ['(?x)a b', 'unsupported Java flag (?x)'],
      ['[a-z&&[^aeiou]]', 'intersections'],
      ['[a[bc]]', 'unions'],
      ['[\\A]', 'not allowed in a character class'],
      ['\\08', 'illegal octal escape'],
      ['a\\', '\\ at end of pattern'],
      ['a*+', 'Nothing to repeat'],
      ['(?>a)', 'Invalid group'],
      ['a(?i)b', 'Invalid group'],
      ['\\p{IsLatin}', 'Invalid property name'],
      ['[^\\P{Alpha}]', 'not supported in a character class'],
    ] as const) {
      expect(() => javaRegex(pattern), pattern).toThrow(SyntaxError);
      expect(() => javaRegex(pattern), pattern).toThrow(reason);
    }
  });

  it('counts groups and names them', () => {
    const re = javaRegex('(a)(?:b)(?<c>c)(d)?', { global: true });
    expect(groupCount(re)).toBe(3);
    expect(groupNames(re)).toEqual(['c']);
    expect(re.flags).toBe('g');
  });
});
