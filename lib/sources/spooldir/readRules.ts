/**
 * How spooldirSource's options turn a spooled file into events (./spoolFile.ts's ReadRules): the
 * deserializer and its limits, the charsets, the file and basename headers, and the errors for
 * malformed bytes and for a file that changed, each counted in `EventReadFail`.
 */
import type { ComponentCounters } from '../../core/metrics.js';
import { canonical, type CharsetOption } from './charsets.js';
import type { DecodeErrorPolicy } from './lines.js';
import type { ReadRules } from './spoolFile.js';

/** The options of spooldirSource that say how a file is read. */
export interface ReadOptions {
  deserializer: 'LINE' | 'BLOB';
  maxBlobLength: number;
  maxLineLength: number;
  inputCharset: CharsetOption;
  outputCharset: CharsetOption;
  decodeErrorPolicy: DecodeErrorPolicy;
  fileHeader: boolean;
  fileHeaderKey: string;
  basenameHeader: boolean;
  basenameHeaderKey: string;
}

/**
 * The read rules of `opts`; `failure` makes the source's fatal error of a message, `trackerPath`
 * is named in it (where the offset of the file's acked events is kept).
 */
export function readRules(opts: ReadOptions, metrics: ComponentCounters, failure: (message: string) => Error, trackerPath: string): ReadRules {
  return {
    blob: opts.deserializer === 'BLOB',
    maxBlobLength: opts.maxBlobLength,
    maxLineLength: opts.maxLineLength,
    codec: { input: canonical(opts.inputCharset), output: canonical(opts.outputCharset), policy: opts.decodeErrorPolicy },
    malformed: (f, offset) => {
      metrics.inc('EventReadFail');
      return failure(
        `${f.path}: bytes at offset ${offset} are not valid ${canonical(opts.inputCharset)} (decodeErrorPolicy FAIL). ` +
          `It is left as it is, with the offset of its acked events (${f.committed}) in ${trackerPath}; ` +
          'fix or move it away, or choose decodeErrorPolicy REPLACE or IGNORE',
      );
    },
    headers: (f) => {
      const h: Record<string, string> = {};
      if (opts.fileHeader) h[opts.fileHeaderKey] = f.path;
      if (opts.basenameHeader) h[opts.basenameHeaderKey] = f.name;
      return h;
    },
    changed: (f, what) => {
      metrics.inc('EventReadFail');
      return failure(
        `${f.path} ${what}. Spooled files must not change: it is left as it is, with the offset of its acked events ` +
          `(${f.committed}) in ${trackerPath}; move it away, or delete the tracker to read it again from its start`,
      );
    },
  };
}
