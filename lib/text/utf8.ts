/**
 * UTF-8 read as Java's strict decoder reads it (malformed input reported, not replaced), for sources
 * that count and cut lines as Flume does. For each lead byte of a multi-byte character: how many
 * continuation bytes follow and the range the first of them must lie in — which rules out overlong
 * forms (E0, F0), encoded surrogates (ED) and code points past U+10FFFF (F4). A 4-byte character is
 * two UTF-16 units.
 */
export interface Utf8Lead {
  readonly need: 1 | 2 | 3;
  readonly lo: number;
  readonly hi: number;
}

const LEADS: readonly (Utf8Lead | undefined)[] = Array.from({ length: 256 }, (_, b): Utf8Lead | undefined => {
  if (b >= 0xc2 && b <= 0xdf) return { need: 1, lo: 0x80, hi: 0xbf };
  if (b >= 0xe0 && b <= 0xef) return { need: 2, lo: b === 0xe0 ? 0xa0 : 0x80, hi: b === 0xed ? 0x9f : 0xbf };
  if (b >= 0xf0 && b <= 0xf4) return { need: 3, lo: b === 0xf0 ? 0x90 : 0x80, hi: b === 0xf4 ? 0x8f : 0xbf };
  return undefined;
});

/** The lead byte `b` (≥ 0x80) of a multi-byte character, or undefined when no character starts with it. */
export function utf8Lead(b: number): Utf8Lead | undefined {
  return LEADS[b];
}
