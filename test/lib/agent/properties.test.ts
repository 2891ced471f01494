import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatProperties, parseProperties, PropertiesSyntaxError } from '../../../lib/agent/properties.js';

const asObject = (text: string) => Object.fromEntries(parseProperties(text).map((e) => [e.key, e.value]));

describe('parseProperties', () => {
  it('reads the separators, comments and blank lines Java accepts', () => {
    const text = [
      '# comment',
      '! also a comment',
      '',
      'a1.sources = r1',
      'a1.channels:c1',
      'a1.sinks k1',
      '   a1.sources.r1.type   =   seq   ',
      'a1.empty =',
      'a1.tab\tvalue',
    ].join('\n');
    expect(asObject(text)).toEqual({
      'a1.sources': 'r1',
      'a1.channels': 'c1',
      'a1.sinks': 'k1',
      'a1.sources.r1.type': 'seq',
      'a1.empty': '',
      'a1.tab': 'value',
    });
  });

  it('joins continuation lines and drops their leading whitespace', () => {
    const entries = parseProperties('x = a \\\n    b \\\n\tc\ny = 1\r\nz = \\\\\n');
    expect(entries).toEqual([
      { key: 'x', value: 'a b c', line: 1 },
      { key: 'y', value: '1', line: 4 },
      { key: 'z', value: '\\', line: 5 },
    ]);
  });

  it('decodes escapes in keys and values', () => {
    expect(asObject('a\\ b\\=c = x\\ty\\u0041\\:z')).toEqual({ 'a b=c': 'x\tyA:z' });
    expect(() => parseProperties('a = \\u00zz')).toThrow(PropertiesSyntaxError);
  });

  it('keeps the last of duplicate keys, with its line', () => {
    expect(parseProperties('a = 1\nb = 2\na = 3')).toEqual([
      { key: 'b', value: '2', line: 2 },
      { key: 'a', value: '3', line: 3 },
    ]);
  });

  it('round-trips whatever Properties.store would write', () => {
    const key = fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k.trim() === k && k.length > 0);
    const value = fc.string({ maxLength: 30 }).filter((v) => v.trim() === v);
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ key, value }), { selector: (e) => e.key, maxLength: 10 }), (entries) => {
        const parsed = parseProperties(formatProperties(entries)).map(({ key, value }) => ({ key, value }));
        expect(parsed).toEqual(entries);
      }),
    );
  });
});
