import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isLiteral, LenientJsonLexer } from '../../../../lib/sources/http/lenientJsonLexer.js';

/**
 * Lexes `text` in pieces of `size` characters with a reader that starts a kept string or literal
 * wherever one can start: the tokens it was told of, and the refusal if any.
 */
function lex(text: string, options: { size?: number; keep?: boolean; endDocumentAt?: string } = {}) {
  const tokens: string[] = [];
  const lexer = new LenientJsonLexer({
    token: (c) => {
      if (c === 0x22 || c === 0x27 || isLiteral(c)) lexer.start(options.keep ?? true, c);
      else tokens.push(String.fromCharCode(c));
      if (String.fromCharCode(c) === options.endDocumentAt) lexer.endDocument();
    },
    string: (value) => tokens.push(`s:${value}`),
    literal: (value, keyword) => tokens.push(keyword ? `k:${keyword}` : `l:${value}`),
  });
  const size = Math.max(1, options.size ?? text.length);
  for (let i = 0; i < text.length && !lexer.refusal; i += size) lexer.chars(text.slice(i, i + size));
  const ended = lexer.refusal ? undefined : lexer.end();
  return { tokens, refusal: lexer.refusal, ended };
}

describe('LenientJsonLexer', () => {
  it("reads strings in either quote, with JSON's escapes, \\' and raw control characters, however the text is split", () => {
    const text = `"a\\"b\\n\\u00e9" 'c\\'d\t"' "] } [ ,"`;
    for (const size of [1, 2, 3, 100]) {
      expect(lex(text, { size }).tokens, String(size)).toEqual(['s:a"b\né', `s:c'd\t"`, 's:] } [ ,']);
    }
    expect(lex(`"x" 'y'`, { keep: false }).tokens).toEqual(['s:', 's:']);
  });

  it('reads unquoted literals up to a separator, whitespace or comment, and the keywords in any case', () => {
    expect(lex('[abc,1.5e3;TRUE:False=NULL}nul truey#c\nx/*c*/y').tokens).toEqual([
      '[', 'l:abc', ',', 'l:1.5e3', ';', 'k:true', ':', 'k:false', '=', 'k:null', '}', 'l:nul', 'l:truey', 'l:x', 'l:y',
    ]);
    // A literal at the end of the text ends with it.
    expect(lex('null').tokens).toEqual(['k:null']);
    expect(lex('é😀', { size: 1 }).tokens).toEqual(['l:é😀']);
  });

  it("skips comments, a leading BOM and the non-execute prefix )]}' before the first token, and reads '=>' as '='", () => {
    expect(lex(`\ufeff # c\n// c\r/* * / */)]}'\n[a=>b=c]`, { size: 2 }).tokens).toEqual(['[', 'l:a', '=', 'l:b', '=', 'l:c', ']']);
    // The prefix only before the first token; elsewhere ')' starts a literal, for the reader to refuse.
    expect(lex(`[)]}`).tokens).toEqual(['[', 'l:)', ']', '}']);
    expect(lex(`)]}x`).refusal).toMatchObject({ status: 400, message: expect.stringContaining('expected an array of events') });
    expect(lex(`)]}`).refusal).toMatchObject({ status: 400 });
  });

  it('allows only whitespace after endDocument', () => {
    expect(lex('[] \n\t', { endDocumentAt: ']' })).toMatchObject({ tokens: ['[', ']'], refusal: undefined, ended: true });
    expect(lex('[', {}).ended).toBe(false);
    for (const tail of [' x', ' //', ' []']) {
      expect(lex(`[]${tail}`, { endDocumentAt: ']' }).refusal, tail).toMatchObject({ status: 400, message: expect.stringContaining('content after') });
    }
  });

  it('refuses with 400 what Gson throws a syntax error on, with 500 a \\u escape that is not hex, and reads nothing after', () => {
    for (const [text, what] of [
      ['"abc', 'unterminated string'],
      ['"a\\', 'unterminated escape'],
      ['"\\u00', 'unterminated escape'],
      ['"\\x"', 'invalid escape'],
      ['/* c *', 'unterminated comment'],
      ['a / b', 'unexpected "/"'],
      ['/', 'unexpected "/"'],
    ]) {
      expect(lex(text!).refusal, text).toMatchObject({ status: 400, message: expect.stringContaining(`Request has invalid JSON Syntax: ${what}`) });
    }
    // Gson's NumberFormatException: a 500 in Flume, before the rest arrives.
    const lexed = lex('"\\u12G4" "more"', { size: 3 });
    expect(lexed.refusal).toEqual({ status: 500, message: '\\u12G4 (an escape that is not hexadecimal)' });
    expect(lexed.tokens).toEqual([]);
  });

  it('keeps the first refusal, from the lexer or the reader', () => {
    const lexer = new LenientJsonLexer({ token: () => void lexer.refuse(503, 'too many'), string: () => {}, literal: () => {} });
    lexer.chars('[');
    lexer.chars('"unterminated');
    expect(lexer.syntax('later')).toEqual({ status: 503, message: 'too many' });
    expect(lexer.end()).toBe(false);
    expect(lexer.refusal).toEqual({ status: 503, message: 'too many' });
  });

  it('gives the same tokens however the text is split (property)', () => {
    const piece = fc.constantFrom('[', ']', '{', '}', ',', ';', ':', '=>', '=', ' ', '\n', '"a\\tb"', "'c\\'d'", 'true', 'NuLl', 'x1', '#c\n', '/*c*/', '"\\u00e9😀"', 'é');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.integer({ min: 1, max: 9 }), (pieces, size) => {
        const text = pieces.join('');
        expect(lex(text, { size })).toEqual(lex(text));
      }),
    );
  });
});
