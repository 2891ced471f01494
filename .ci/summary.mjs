// Prints the last line CI reads: "N passed, N failed", over every report given (one per Node line).
// A test file that failed to load counts as failed; a missing report counts as one failure.
// A skipped or todo test counts as failed unless .ci/allowed-skips lists it with its reason (issue #19:
// CI installs every tool the tests need, so a skip there is a test that silently did not run).
// RXFLUME_CHECKS="name=exitcode …" adds whole-tree checks that are not vitest tests (the tests' type-check),
// each counted as one passed or failed test.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const allowFile = process.env.RXFLUME_ALLOWED_SKIPS ?? path.join(here, 'allowed-skips');

/** `<test file> | <text in the test's full name> | <reason>` per line; `#` comments. */
function readAllowList(file) {
  const entries = [];
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { entries, problems: [] };
  }
  const problems = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [testFile, name, reason] = line.split('|').map((s) => s.trim());
    if (!testFile || !name || !reason) problems.push(`${path.relative(root, file)}:${i + 1}: expected "<test file> | <name> | <reason>", got "${line}"`);
    else entries.push({ testFile, name, reason, used: false });
  });
  return { entries, problems };
}

const SKIPPED = new Set(['skipped', 'pending', 'todo', 'disabled']);
const allow = readAllowList(allowFile);
let passed = 0;
let failed = allow.problems.length;
let allowedSkips = 0;
const unexpected = [];
let ok = allow.problems.length === 0;
for (const problem of allow.problems) console.log(problem);
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    console.log(`no test report at ${file}: ${error.message}`);
    failed += 1;
    ok = false;
    continue;
  }
  const brokenFiles = report.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  let fileSkipped = 0;
  for (const testFile of report.testResults) {
    const rel = path.relative(root, testFile.name);
    for (const t of testFile.assertionResults) {
      if (!SKIPPED.has(t.status)) continue;
      fileSkipped++;
      const entry = allow.entries.find((e) => e.testFile === rel && t.fullName.includes(e.name));
      if (entry) {
        entry.used = true;
        allowedSkips++;
      } else unexpected.push(`${rel} > ${t.fullName} (${t.status})`);
    }
  }
  const fileFailed = report.numFailedTests + brokenFiles;
  console.log(`${file}: ${report.numPassedTests} passed, ${fileFailed} failed${fileSkipped > 0 ? `, ${fileSkipped} skipped` : ''}`);
  passed += report.numPassedTests;
  failed += fileFailed;
  if (!report.success) ok = false;
}
for (const check of (process.env.RXFLUME_CHECKS ?? '').split(/\s+/).filter(Boolean)) {
  const [name, code] = check.split('=');
  const good = code === '0';
  console.log(`check ${name}: ${good ? 'passed' : `failed (exit ${code})`}`);
  if (good) passed += 1;
  else {
    failed += 1;
    ok = false;
  }
}
for (const e of allow.entries.filter((e) => !e.used)) console.log(`allowed skip not seen (remove it from .ci/allowed-skips?): ${e.testFile} | ${e.name}`);
if (allowedSkips > 0) console.log(`${allowedSkips} skipped as allowed in .ci/allowed-skips`);
if (unexpected.length > 0) {
  console.log(`${unexpected.length} unexpected skipped test(s), counted as failed (CI runs everything; allow one in .ci/allowed-skips with its reason):`);
  for (const u of unexpected) console.log(`  skipped: ${u}`);
  failed += unexpected.length;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || !ok ? 1 : 0);
