import { describe, expect, it } from 'vitest';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import { readRules, type ReadOptions } from '../../../../lib/sources/spooldir/readRules.js';
import type { SpoolFile } from '../../../../lib/sources/spooldir/spoolFile.js';

const OPTIONS: ReadOptions = {
  deserializer: 'LINE',
  maxBlobLength: 1000,
  maxLineLength: 10,
  inputCharset: 'latin1',
  outputCharset: 'utf8',
  decodeErrorPolicy: 'REPLACE',
  fileHeader: false,
  fileHeaderKey: 'file',
  basenameHeader: false,
  basenameHeaderKey: 'basename',
};

const file = { path: '/spool/sub/a.log', name: 'a.log', committed: 42 } as SpoolFile;

function rules(over: Partial<ReadOptions> = {}) {
  const metrics = new ComponentCounters('SOURCE', 's');
  const r = readRules({ ...OPTIONS, ...over }, metrics, (message) => new Error(`s: ${message}`), '/spool/.flumespool/rxflume-spooldir.json');
  return { r, metrics };
}

describe('spooldir readRules', () => {
  it('takes the deserializer, its limits and the canonical charsets from the options', () => {
    expect(rules().r).toMatchObject({
      blob: false,
      maxBlobLength: 1000,
      maxLineLength: 10,
      codec: { input: 'ISO-8859-1', output: 'UTF-8', policy: 'REPLACE' },
    });
    expect(rules({ deserializer: 'BLOB' }).r.blob).toBe(true);
  });

  it('adds the file and basename headers under their keys only when asked', () => {
    expect(rules().r.headers(file)).toEqual({});
    expect(rules({ fileHeader: true }).r.headers(file)).toEqual({ file: '/spool/sub/a.log' });
    expect(rules({ fileHeader: true, fileHeaderKey: 'path', basenameHeader: true, basenameHeaderKey: 'name' }).r.headers(file)).toEqual({
      path: '/spool/sub/a.log',
      name: 'a.log',
    });
  });

  it('makes the errors for malformed bytes and a changed file, naming the file, the offset acked and the tracker; each counted in EventReadFail', () => {
    const { r, metrics } = rules();
    const malformed = r.malformed(file, 7);
    expect(malformed.message).toBe(
      's: /spool/sub/a.log: bytes at offset 7 are not valid ISO-8859-1 (decodeErrorPolicy FAIL). It is left as it is, with the offset of its acked ' +
        'events (42) in /spool/.flumespool/rxflume-spooldir.json; fix or move it away, or choose decodeErrorPolicy REPLACE or IGNORE',
    );
    const changed = r.changed(file, 'grew');
    expect(changed.message).toMatch(/^s: \/spool\/sub\/a\.log grew\. Spooled files must not change: .*\(42\) in \/spool\/\.flumespool\/rxflume-spooldir\.json; move it away/);
    expect(metrics.get('EventReadFail')).toBe(2);
  });
});
