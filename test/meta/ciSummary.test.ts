import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'rxflume-ci-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Status = 'passed' | 'failed' | 'skipped' | 'todo';

/** A vitest JSON report (the fields .ci/summary.mjs reads) of one file with these tests. */
function report(name: string, tests: Record<string, Status>): string {
  const file = path.join(dir, `${name}.json`);
  const results = Object.entries(tests).map(([fullName, status]) => ({ fullName, status, title: fullName, ancestorTitles: [], failureMessages: [] }));
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  writeFileSync(
    file,
    JSON.stringify({
      numPassedTests: count('passed'),
      numFailedTests: count('failed'),
      numPendingTests: count('skipped'),
      numTodoTests: count('todo'),
      success: count('failed') === 0,
      testResults: [{ name: path.join(root, 'test/lib/x.test.ts'), status: count('failed') ? 'failed' : 'passed', assertionResults: results }],
    }),
  );
  return file;
}

function summary(allowList: string, ...reports: string[]): { status: number | null; lines: string[] } {
  return summaryWith({}, allowList, ...reports);
}

function summaryWith(env: Record<string, string>, allowList: string, ...reports: string[]): { status: number | null; lines: string[] } {
  const allow = path.join(dir, 'allowed-skips');
  writeFileSync(allow, allowList);
  const r = spawnSync(process.execPath, [path.join(root, '.ci/summary.mjs'), ...reports], {
    encoding: 'utf8',
    env: { ...process.env, RXFLUME_CHECKS: '', ...env, RXFLUME_ALLOWED_SKIPS: allow },
  });
  return { status: r.status, lines: r.stdout.trim().split('\n') };
}

describe('.ci/summary.mjs', () => {
  it('passes a report with no skip, its last line "N passed, 0 failed"', () => {
    const r = summary('', report('clean', { a: 'passed', b: 'passed' }));
    expect(r.status).toBe(0);
    expect(r.lines.at(-1)).toBe('2 passed, 0 failed');
  });

  it('fails on a skipped or todo test not in the allow-list, naming each, and counts them as failed', () => {
    const r = summary('# nothing allowed\n', report('skips', { a: 'passed', 'b quietly skipped': 'skipped', 'c later': 'todo' }));
    expect(r.status).toBe(1);
    expect(r.lines).toContain('  skipped: test/lib/x.test.ts > b quietly skipped (skipped)');
    expect(r.lines).toContain('  skipped: test/lib/x.test.ts > c later (todo)');
    expect(r.lines.at(-1)).toBe('1 passed, 2 failed');
  });

  it('accepts a skip the allow-list names with a reason, and refuses an entry without one', () => {
    const skips = report('allowed', { a: 'passed', 'b needs a GPU': 'skipped' });
    const allowed = summary('test/lib/x.test.ts | needs a GPU | CI has none\n', skips);
    expect(allowed.status).toBe(0);
    expect(allowed.lines.at(-1)).toBe('1 passed, 0 failed');
    const noReason = summary('test/lib/x.test.ts | needs a GPU\n', skips);
    expect(noReason.status).toBe(1);
    expect(noReason.lines.at(-1)).toBe('1 passed, 2 failed');
  });

  it('counts a missing report as a failure', () => {
    const r = summary('', report('one', { a: 'passed' }), path.join(dir, 'absent.json'));
    expect(r.status).toBe(1);
    expect(r.lines.at(-1)).toBe('1 passed, 1 failed');
  });

  it("counts each whole-tree check (RXFLUME_CHECKS, .ci/run's typecheck) as one test, failing on a non-zero exit", () => {
    const clean = report('checked', { a: 'passed' });
    const good = summaryWith({ RXFLUME_CHECKS: 'typecheck=0' }, '', clean);
    expect(good.status).toBe(0);
    expect(good.lines.at(-1)).toBe('2 passed, 0 failed');
    const bad = summaryWith({ RXFLUME_CHECKS: 'typecheck=2 lint=0' }, '', clean);
    expect(bad.status).toBe(1);
    expect(bad.lines).toContain('check typecheck: failed (exit 2)');
    expect(bad.lines.at(-1)).toBe('2 passed, 1 failed');
  });
});
