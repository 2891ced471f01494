/**
 * spooldirSource's charsets: the names its options accept (Java's and Node's), Java's aliases of
 * them as Flume properties may spell them, and the canonical names the LINE codec works with.
 */
import type { InputCharset } from './lines.js';

/** The charsets LINE reads and writes (Java's names, and Node's). */
export const CHARSETS = ['UTF-8', 'ISO-8859-1', 'US-ASCII', 'utf8', 'latin1', 'ascii'] as const;
export type CharsetOption = (typeof CHARSETS)[number];

/** Java's aliases of the supported charsets to their canonical names; anything else is left for validation to refuse. */
export function charsetName(value: string): string {
  const v = value.toUpperCase();
  if (v === 'UTF8') return 'UTF-8';
  if (v === 'LATIN1' || v === 'ISO8859_1' || v === 'ISO-LATIN-1' || v === 'ISO_8859_1' || v === 'ISO8859-1') return 'ISO-8859-1';
  if (v === 'ASCII' || v === 'US_ASCII' || v === 'ASCII7') return 'US-ASCII';
  return v;
}

/** The canonical (Java) name of a charset option. */
export function canonical(c: CharsetOption): InputCharset {
  return c === 'utf8' ? 'UTF-8' : c === 'latin1' ? 'ISO-8859-1' : c === 'ascii' ? 'US-ASCII' : c;
}
