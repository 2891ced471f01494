// Prints the last line CI reads: "N passed, N failed". A test file that failed to load counts as failed.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.log(`no test report at ${file}: ${error.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const brokenFiles = report.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
const failed = report.numFailedTests + brokenFiles;
if (report.numPendingTests + report.numTodoTests > 0) console.log(`${report.numPendingTests + report.numTodoTests} skipped`);
console.log(`${report.numPassedTests} passed, ${failed} failed`);
process.exit(failed > 0 || !report.success ? 1 : 0);
