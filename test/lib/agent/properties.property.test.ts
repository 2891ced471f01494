/**
 * The properties reader reads files an operator may fetch over HTTP (-u): hostile or broken input must
 * end in entries or a PropertiesSyntaxError naming the line, in bounded time and memory.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseProperties, PropertiesSyntaxError } from '../../../lib/agent/properties.js';
import { buildDist, root } from '../../support/examples.js';

const run = promisify(execFile);
const noLineBreak = (s: string) => !/[\r\n]/.test(s);
const garbageLine = fc
  .string({ unit: 'binary', maxLength: 60 })
  .filter((s) => noLineBreak(s) && !/\\u/.test(s))
  // A garbage line ending in a continuation would swallow the next line, as Java's reader does.
  .map((s) => s.replace(/\\+$/, ''));

describe('parseProperties on hostile input', () => {
  it('any text gives entries or a PropertiesSyntaxError with its line, never another error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        let result: unknown;
        try {
          result = parseProperties(text);
        } catch (error) {
          result = error;
        }
        if (result instanceof Error) {
          expect(result).toBeInstanceOf(PropertiesSyntaxError);
          expect((result as PropertiesSyntaxError).line).toBeGreaterThanOrEqual(1);
        } else expect(Array.isArray(result)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('a valid entry between garbage lines is still read', () => {
    fc.assert(
      fc.property(fc.array(garbageLine, { maxLength: 8 }), fc.array(garbageLine, { maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\r'), (before, after, eol) => {
        const text = [...before, 'a1.sources.r1.type = seq', ...after].join(eol);
        const entries = parseProperties(text);
        const last = entries.find((e) => e.key === 'a1.sources.r1.type');
        // A later garbage line with the same key would win, as in Java; none has it here unless generated.
        if (!after.some((l) => l.trim().startsWith('a1.sources.r1.type'))) expect(last?.value).toBe('seq');
      }),
      { numRuns: 1000 },
    );
  });

  it('160 000 continuation lines are joined in linear time, with bounded memory (a quadratic join took 7 minutes)', async () => {
    // In a child process, so a regression fails this test instead of blocking the test worker.
    const script = `
      import { parseProperties } from ${JSON.stringify(join(root, 'dist/lib/agent/properties.js'))};
      const text = 'a = x\\\\\\n'.repeat(160000) + 'end\\n';
      const before = process.memoryUsage().heapUsed;
      const entries = parseProperties(text);
      console.log(JSON.stringify({ n: entries.length, value: entries[0].value.length, grown: process.memoryUsage().heapUsed - before }));`;
    buildDist();
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    const r = JSON.parse(stdout) as { n: number; value: number; grown: number };
    expect(r).toMatchObject({ n: 1, value: 1 + 159_999 * 'a = x'.length + 3 });
    // The text is 1.1 MB, the value 0.8 MB: a copy per joined line would be gigabytes.
    expect(r.grown).toBeLessThan(100 * 1024 * 1024);
  }, 200_000);

  it('a malformed \\u escape is a syntax error at its line', () => {
    expect(() => parseProperties('ok = 1\nbad = \\u12G4\n')).toThrow(new PropertiesSyntaxError(2, 'malformed \\uxxxx escape: \\u12G4'));
  });
});
