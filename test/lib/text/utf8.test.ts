import { describe, expect, it } from 'vitest';
import { utf8Lead } from '../../../lib/text/utf8.js';

/** Whether the strict WHATWG decoder (which rejects what Java's REPORT decoder does) accepts `bytes` as the start of a character. */
function validPrefix(bytes: number[]): boolean {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for (const b of bytes) decoder.decode(Uint8Array.of(b), { stream: true });
    return true;
  } catch {
    return false;
  }
}

describe('utf8Lead', () => {
  it('agrees with a strict decoder on every lead byte and every first continuation byte', () => {
    for (let b = 0x80; b <= 0xff; b++) {
      const lead = utf8Lead(b);
      expect(lead !== undefined, `lead ${b.toString(16)}`).toBe(validPrefix([b]));
      if (!lead) continue;
      for (let c = 0; c <= 0xff; c++) {
        expect(c >= lead.lo && c <= lead.hi, `${b.toString(16)} ${c.toString(16)}`).toBe(validPrefix([b, c]));
      }
      // Bytes after the first continuation byte take the whole 80–BF range.
      const first = lead.lo;
      for (let k = 2; k <= lead.need; k++) expect(validPrefix([b, first, ...Array(k - 1).fill(0x80)])).toBe(true);
      const whole = [b, first, ...Array(lead.need - 1).fill(0x80)];
      expect(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(whole)).length).toBe(lead.need === 3 ? 2 : 1);
    }
  });
});
