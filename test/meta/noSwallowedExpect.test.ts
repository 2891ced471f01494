import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findSwallowedExpects } from './swallowedExpect.js';

const testRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');


function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' || entry.name === 'node_modules' ? [] : testFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('the scanner for swallowed assertions', () => {
  it('finds an expect in a try whose catch accepts anything, and one only in a catch', () => {
    const planted = [
      "it('a', () => {",
      '  try {',
      '    expect(f()).toBe(1);',
      '  } catch {',
      '    // anything goes',
      '  }',
      '  try {',
      '    g();',
      '  } catch (e) {',
      '    expect(e).toBeInstanceOf(Error);',
      '  }',
      '  try {',
      '    g();',
      '    expect.unreachable();',
      '  } catch (e) {',
      '    expect((e as Error).message).toMatch(/x/);',
      '  }',
      '});',
    ].join('\n');
    expect(findSwallowedExpects(planted)).toEqual([
      { line: 2, kind: 'try/catch' },
      { line: 7, kind: 'catch-only' },
      { line: 12, kind: 'try/catch' },
    ]);
  });

  it('finds an expect in a promise chain before a .catch that does not rethrow', () => {
    const planted = ['it("a", async () => {', '  await p.then((v) => expect(v).toBe(1))', '    .catch(() => undefined);', '  await q.catch((e) => expect(e).toBeInstanceOf(Error));', '});'].join('\n');
    expect(findSwallowedExpects(planted)).toEqual([
      { line: 3, kind: '.catch()' },
      { line: 4, kind: 'catch-only' },
    ]);
  });

  it('accepts a catch that rethrows or rejects, a try/finally, and a try that only captures the error', () => {
    const fine = [
      'try { expect(a).toBe(1); } catch (e) { if (!(e instanceof X)) throw e; }',
      'new Promise((resolve, reject) => { try { expect(a).toBe(1); resolve(); } catch (e) { reject(e); } });',
      'try { expect(a).toBe(1); } finally { close(); }',
      'let error; try { f(); } catch (e) { error = e; } expect(error).toBeInstanceOf(X);',
      'await p.then((v) => expect(v).toBe(1)).catch((e) => { throw e; });',
      'await q.catch(() => undefined); expect(1).toBe(1);',
    ].join('\n');
    expect(findSwallowedExpects(fine)).toEqual([]);
  });

  it('no test file in the suite swallows an assertion', () => {
    const files = testFiles(testRoot);
    expect(files.length).toBeGreaterThan(100);
    const hits = files.flatMap((file) => {
      const rel = path.relative(testRoot, file);
      return findSwallowedExpects(readFileSync(file, 'utf8'), file).map((h) => `test/${rel}:${h.line} (${h.kind})`);
    });
    expect(hits, 'use expect(...).toThrow, rejects, or thrown() from test/support/thrown.ts').toEqual([]);
  });
});
