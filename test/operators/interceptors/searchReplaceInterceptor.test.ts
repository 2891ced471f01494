import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import { searchReplaceInterceptor } from '../../../operators/interceptors/searchReplaceInterceptor.js';
import { events, run, through, tracked } from './support.js';

const replace = (searchPattern: string, replaceString: string | undefined, body: string): string =>
  text(through(searchReplaceInterceptor({ searchPattern, ...(replaceString === undefined ? {} : { replaceString }) }), [event(body)])[0]!);

describe('searchReplaceInterceptor', () => {
  it('replaces every match, with Java replacement syntax', () => {
    expect(replace('(\\w+): ', '[$1] ', '2024-05-01 INFO: started')).toBe('2024-05-01 [INFO] started');
    expect(replace('a', 'b', 'banana')).toBe('bbnbnb');
    expect(replace('^INFO:', undefined, 'INFO: x')).toBe(' x');
    expect(replace('(\\d+)', '\\$$1\\\\', 'cost 5')).toBe('cost $5\\');
    expect(replace('(?<word>[a-z]+)', '<${word}>', 'ab 12 cd')).toBe('<ab> 12 <cd>');
    expect(replace('(x)', '$12', 'x')).toBe('x2'); // group 12 does not exist: group 1, then "2"
    expect(replace('x', '$0$0', 'axb')).toBe('axxb');
    expect(replace('(a)|b', '[$1]', 'ab')).toBe('[a][]');
    expect(replace('x*', '-', 'abc')).toBe('-a-b-c-');
    expect(replace('x*', '-', 'a😀')).toBe('-a-😀-'); // Java would split the pair
  });

  it('translates Java-only patterns, group numbers kept', () => {
    expect(replace('(?>(\\w))(\\w)*+', '$2$1', 'ab cd')).toBe('ba dc');
    expect(replace('\\bé', 'E', 'é été')).toBe('E Eté');
    expect(replace('(?iu)straße', 'street', 'STRASSE STRAẞE')).toBe('STRASSE street');
    expect(replace('\\Q$1\\E', '\\$2', 'cost $1')).toBe('cost $2');
  });

  it('keeps a body without a match byte for byte, and never mutates a body', () => {
    const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x41]);
    const untouched = event(invalidUtf8);
    const original = event('hello world');
    const { batch, log } = tracked([untouched, original]);
    const [out] = run(searchReplaceInterceptor({ searchPattern: 'world', replaceString: 'there' }), batch);
    expect(out!.events[0]).toBe(untouched);
    expect(text(out!.events[1]!)).toBe('hello there');
    expect(out!.events[1]!.headers).toBe(original.headers);
    expect(text(original)).toBe('hello world');
    out!.ack();
    expect(log.acks).toBe(1);
  });

  it('passes the same batch on when nothing matched', () => {
    const { batch } = tracked(events('a', 'b'));
    expect(run(searchReplaceInterceptor({ searchPattern: 'z' }), batch)).toEqual([batch]);
  });

  it("decodes with charset, taking Java's names", () => {
    const body = Buffer.from('café', 'latin1');
    const [e] = through(searchReplaceInterceptor({ searchPattern: 'é', replaceString: 'e!', charset: 'ISO-8859-1' }), [event(body)]);
    expect(e!.body.toString('latin1')).toBe('cafe!');
    const [u] = through(searchReplaceInterceptor({ searchPattern: 'b', replaceString: 'B', charset: 'UTF-16LE' }), [event(Buffer.from('abc', 'utf16le'))]);
    expect(u!.body).toEqual(Buffer.from('aBc', 'utf16le'));
  });

  it('rejects bad patterns, replacements and charsets, naming each option', () => {
    expect(() => searchReplaceInterceptor({} as never)).toThrow(/searchReplaceInterceptor\.searchPattern: expected string, received nothing/);
    expect(() => searchReplaceInterceptor({ searchPattern: '' })).toThrow(/searchReplaceInterceptor\.searchPattern/);
    expect(() => searchReplaceInterceptor({ searchPattern: '(a)', replaceString: '$2' })).toThrow(
      'searchReplaceInterceptor.replaceString: expected a valid replacement for the search pattern (no group 2), received "$2"',
    );
    expect(() => searchReplaceInterceptor({ searchPattern: 'a', replaceString: 'x\\' })).toThrow(/character to be escaped is missing/);
    expect(() => searchReplaceInterceptor({ searchPattern: 'a', replaceString: '$x' })).toThrow(/illegal group reference/);
    expect(() => searchReplaceInterceptor({ searchPattern: 'a', replaceString: '${n}' })).toThrow(/no group with name \{n\}/);
    const error = (() => {
      try {
        searchReplaceInterceptor({ searchPattern: '(', charset: 'EBCDIC' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.issues.map((i) => i.path)).toEqual(['searchReplaceInterceptor.searchPattern', 'searchReplaceInterceptor.charset']);
  });
});
