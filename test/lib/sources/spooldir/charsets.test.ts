import { describe, expect, it } from 'vitest';
import { CHARSETS, canonical, charsetName } from '../../../../lib/sources/spooldir/charsets.js';

describe('spooldir charsets', () => {
  it("maps Java's aliases to the canonical names, case-insensitively", () => {
    expect(['utf8', 'UTF8', 'utf-8'].map(charsetName)).toEqual(['UTF-8', 'UTF-8', 'UTF-8']);
    expect(['latin1', 'ISO8859_1', 'iso-latin-1', 'ISO_8859_1', 'ISO8859-1', 'iso-8859-1'].map(charsetName)).toEqual(Array(6).fill('ISO-8859-1'));
    expect(['ascii', 'US_ASCII', 'ascii7', 'us-ascii'].map(charsetName)).toEqual(Array(4).fill('US-ASCII'));
  });

  it('leaves any other name for validation to refuse (upper-cased)', () => {
    expect(charsetName('utf-16')).toBe('UTF-16');
    expect(CHARSETS as readonly string[]).not.toContain(charsetName('UTF-16'));
  });

  it("gives every option value its Java name, and every alias's name is an option value", () => {
    expect(CHARSETS.map(canonical)).toEqual(['UTF-8', 'ISO-8859-1', 'US-ASCII', 'UTF-8', 'ISO-8859-1', 'US-ASCII']);
    for (const name of ['utf8', 'LATIN1', 'ASCII7', 'iso_8859_1']) expect(CHARSETS as readonly string[]).toContain(charsetName(name));
  });
});
