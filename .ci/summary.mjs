// Prints the last line CI reads: "N passed, N failed", over every report given (one per Node line).
// A test file that failed to load counts as failed; a missing report counts as one failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
let ok = true;
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
  const fileFailed = report.numFailedTests + brokenFiles;
  const fileSkipped = report.numPendingTests + report.numTodoTests;
  console.log(`${file}: ${report.numPassedTests} passed, ${fileFailed} failed${fileSkipped > 0 ? `, ${fileSkipped} skipped` : ''}`);
  passed += report.numPassedTests;
  failed += fileFailed;
  skipped += fileSkipped;
  if (!report.success) ok = false;
}
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || !ok ? 1 : 0);
