import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jodaDateParser } from '../../../operators/interceptors/jodaDateParser.js';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const daysIn = (year: number, month: number): number => {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
};
const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number => {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return date.setUTCHours(h, mi, s, ms);
};

const FIELDS = ['yyyy', 'MM', 'dd', 'HH', 'mm', 'ss', 'SSS'] as const;
const SEPARATORS = ['', '-', ':', ' ', '/', '.', ', ', "'T'", "'at '", "''"];

describe('jodaDateParser', () => {
  it('parses the common patterns', () => {
    expect(jodaDateParser("yyyy-MM-dd'T'HH:mm:ss.SSSZ")('2024-03-05T06:07:08.009Z')).toBe(Date.UTC(2024, 2, 5, 6, 7, 8, 9));
    expect(jodaDateParser('yyyy-MM-dd HH:mm:ssZ')('2024-03-05 06:07:08+0130')).toBe(Date.UTC(2024, 2, 5, 4, 37, 8));
    expect(jodaDateParser('yyyy-MM-dd HH:mm:ssZZ')('2024-03-05 06:07:08-05:00')).toBe(Date.UTC(2024, 2, 5, 11, 7, 8));
    expect(jodaDateParser('yyyyMMddHHmmssZ')('20240305060708+01')).toBe(Date.UTC(2024, 2, 5, 5, 7, 8));
    expect(jodaDateParser('yyyy-MM-dd HH:mm:ss')('2012-10-17 14:34:44')).toBe(new Date(2012, 9, 17, 14, 34, 44).getTime());
    expect(jodaDateParser('dd/MM/yyyy')('5/3/2024')).toBe(new Date(2024, 2, 5).getTime());
    expect(jodaDateParser('HH:mm Z')('01:00 Z')).toBe(Date.UTC(1970, 0, 1, 1));
  });

  it("reads fractions as Joda does: S is a fraction, not a count", () => {
    const p = jodaDateParser('ss.SSSZ');
    expect(p('01.5Z')).toBe(1500);
    expect(p('01.05Z')).toBe(1050);
    expect(p('01.123Z')).toBe(1123);
    expect(() => p('01.1234Z')).toThrow('cannot parse');
  });

  it('matches literal text case-insensitively and reads quotes', () => {
    expect(jodaDateParser("yyyy'T'MM 'o''clock' Z")('2024t03 O\'CLOCK z')).toBe(Date.UTC(2024, 2, 1));
    expect(jodaDateParser('yyyy Z')('-0044 +00')).toBe(utc(-44, 1, 1, 0, 0, 0, 0));
    expect(jodaDateParser('yyyy Z')('+275000 Z')).toBe(utc(275_000, 1, 1, 0, 0, 0, 0));
    expect(() => jodaDateParser('yyyy Z')('123456789 Z')).toThrow('year 123456789 is out of range'); // beyond a JavaScript Date
  });

  it('rejects text that does not fit, naming why', () => {
    const p = jodaDateParser('yyyy-MM-dd');
    expect(() => p('2024-13-01')).toThrow('cannot parse "2024-13-01" with pattern "yyyy-MM-dd": month 13 is not in 1–12');
    expect(() => p('2023-02-29')).toThrow('day 29 is not in 1–28');
    expect(() => p('2024-02-29x')).toThrow('unexpected text at 10');
    expect(() => p('2024/02/29')).toThrow('expected "-" at 4');
    expect(() => p('')).toThrow('expected the year at 0');
    expect(() => jodaDateParser('HHZ')('10+24')).toThrow('offset hours');
  });

  it('rejects unsupported pattern letters when compiled', () => {
    for (const pattern of ['yy-MM-dd', 'MMM dd', 'hh:mm a', 'EEE', 'yyyy z', 'ZZZ', 'DDD', 'ww', 'kk', 'xxxx', 'G']) {
      expect(() => jodaDateParser(pattern), pattern).toThrow(SyntaxError);
      expect(() => jodaDateParser(pattern), pattern).toThrow(/unsupported pattern letters .*supported: yyyy, MM, dd, HH, mm, ss, SSS, Z, ZZ/);
    }
  });

  it('parses back what a pattern of the supported letters formats (property)', () => {
    const date = fc.record({
      year: fc.integer({ min: 1, max: 9999 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 31 }),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.integer({ min: 0, max: 59 }),
      second: fc.integer({ min: 0, max: 59 }),
      millis: fc.integer({ min: 0, max: 999 }),
    });
    const layout = fc.tuple(
      fc.shuffledSubarray([...FIELDS], { minLength: 1 }),
      fc.array(fc.constantFrom(...SEPARATORS), { minLength: 8, maxLength: 8 }),
      fc.constantFrom('Z', 'ZZ'),
      fc.oneof(fc.constant(0), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
    );
    fc.assert(
      fc.property(date, layout, (d, [fields, seps, zone, offsetMin]) => {
        const year = fields.includes('yyyy') ? d.year : 1970;
        const month = fields.includes('MM') ? d.month : 1;
        const day = fields.includes('dd') ? Math.min(d.day, daysIn(year, month)) : 1;
        const values: Record<(typeof FIELDS)[number], string> = {
          yyyy: pad(year, 4),
          MM: pad(month, 2),
          dd: pad(day, 2),
          HH: pad(d.hour, 2),
          mm: pad(d.minute, 2),
          ss: pad(d.second, 2),
          SSS: pad(d.millis, 3),
        };
        const unquote = (s: string): string => s.replace(/''/g, '\u0000').replace(/'/g, '').replace(/\u0000/g, "'");
        let pattern = '';
        let text = '';
        fields.forEach((f, i) => {
          pattern += seps[i] + f;
          text += unquote(seps[i]!) + values[f];
        });
        const abs = Math.abs(offsetMin);
        const sign = offsetMin < 0 ? '-' : '+';
        const offsetText = offsetMin === 0 && zone === 'Z' ? 'Z' : `${sign}${pad(Math.floor(abs / 60), 2)}${zone === 'ZZ' ? ':' : ''}${pad(abs % 60, 2)}`;
        pattern += ` ${zone}`;
        text += ` ${offsetText}`;
        const expected =
          utc(year, month, day, fields.includes('HH') ? d.hour : 0, fields.includes('mm') ? d.minute : 0, fields.includes('ss') ? d.second : 0, fields.includes('SSS') ? d.millis : 0) -
          offsetMin * 60_000;
        expect(jodaDateParser(pattern)(text)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('either parses arbitrary text to a finite number or throws a "cannot parse" Error (property)', () => {
    const parsers = ['yyyy-MM-dd HH:mm:ss.SSS', "yyyyMMdd'T'HHmmssZ", 'dd/MM/yyyy ZZ', 'SSS'].map((p) => jodaDateParser(p));
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789-+:/ .TZz'), maxLength: 30 }), (text) => {
        for (const parse of parsers) {
          let parsed: number | undefined;
          let error: unknown;
          try {
            parsed = parse(text);
          } catch (e) {
            error = e;
          }
          if (error === undefined) expect(Number.isFinite(parsed)).toBe(true);
          else {
            expect(error).toBeInstanceOf(Error);
            expect((error as Error).message).toMatch(/^cannot parse /);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
