/**
 * Issue #19 item 6: the README's TypeScript samples compile, as a user's code would — `import … from
 * 'rxflume'` resolved to the built package (its `exports` and declaration files), under `tsc --strict`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, root } from './support/examples.js';

/** The ```ts blocks of a Markdown text, with the line each starts on. */
function tsBlocks(markdown: string): Array<{ line: number; code: string }> {
  const blocks: Array<{ line: number; code: string }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

// A user's project: type-module package.json, and node_modules/rxflume being this package.
const project = mkdtempSync(path.join(tmpdir(), 'rxflume-readme-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));
beforeAll(() => {
  buildDist();
  mkdirSync(path.join(project, 'node_modules'));
  symlinkSync(root, path.join(project, 'node_modules', 'rxflume'), 'dir');
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ type: 'module' }));
}, 180_000);

/** tsc --strict --noEmit over the given sources; its diagnostics ('' when it compiles). */
function compile(files: Record<string, string>): string {
  for (const [name, code] of Object.entries(files)) writeFileSync(path.join(project, name), code);
  const tsconfig = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules/@types')],
      // The package's own declarations are checked; others' (zod, kafkajs) are their business.
      skipLibCheck: true,
    },
    files: Object.keys(files),
  };
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, stdio: 'pipe' });
    return '';
  } catch (error) {
    return String((error as { stdout?: Buffer }).stdout ?? error);
  }
}

describe("the README's TypeScript samples", () => {
  const blocks = tsBlocks(readFileSync(path.join(root, 'README.md'), 'utf8'));

  it('has samples, and each compiles under tsc --strict against the built package', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    expect(blocks.every((b) => /from 'rxflume'/.test(b.code))).toBe(true);
    const files = Object.fromEntries(blocks.map((b) => [`readme-line-${b.line}.ts`, b.code]));
    expect(compile(files)).toBe('');
  }, 60_000);

  it('the check can fail: a sample with a wrong option or a missing export does not compile', () => {
    const sample = blocks[0]!.code;
    const wrongOption = sample.replace('capacity: 10_000', "capacity: '10000'");
    expect(wrongOption).not.toBe(sample);
    const diagnostics = compile({ 'wrong-option.ts': wrongOption, 'missing-export.ts': "import { noSuchSource } from 'rxflume';\nnoSuchSource();\n" });
    expect(diagnostics).toMatch(/wrong-option\.ts\(\d+,\d+\): error TS2322/);
    expect(diagnostics).toMatch(/missing-export\.ts\(1,10\): error TS2305: Module '"rxflume"' has no exported member 'noSuchSource'/);
  }, 60_000);
});
