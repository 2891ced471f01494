/**
 * The last line every bench script prints, one shape for all of them (issue #14), so that tools —
 * bench:flume delegating a row, CI, a user's spreadsheet — read any bench the same way:
 *
 *   {"bench": "<script>", …context, "results": [{"case", "batch", "eventsPerSec", "peakRssMB", …}]}
 *
 * Each result names its case and carries those four figures (`null` where the case has none: a
 * start-up case has no rate, two cases of one process no RSS of their own), plus `server` where more
 * than one implementation serves the same case (`rxflume`, `flume`, `baseline`, `native`, `kafkajs`),
 * and whatever else the script measures.
 */

export interface BenchResult {
  case: string;
  /** Events per batch (call, transaction), or null where batches do not apply. */
  batch: number | null;
  eventsPerSec: number | null;
  peakRssMB: number | null;
  /** Who served the case where several did: Apache Flume's cases say `flume`. */
  server?: string;
  [figure: string]: unknown;
}

export interface BenchLine {
  bench: string;
  results: BenchResult[];
  [context: string]: unknown;
}

const numberOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

/** What is wrong with `line` as a bench line (empty when nothing is). */
export function benchLineIssues(line: unknown): string[] {
  if (typeof line !== 'object' || line === null) return ['not an object'];
  const { bench, results } = line as Partial<BenchLine>;
  const issues: string[] = [];
  if (typeof bench !== 'string' || bench === '') issues.push('bench: expected a name');
  if (!Array.isArray(results)) return [...issues, 'results: expected an array'];
  results.forEach((r: Partial<BenchResult>, i) => {
    if (typeof r !== 'object' || r === null) return void issues.push(`results[${i}]: not an object`);
    if (typeof r.case !== 'string' || r.case === '') issues.push(`results[${i}].case: expected a name`);
    for (const key of ['batch', 'eventsPerSec', 'peakRssMB'] as const) {
      if (!(key in r) || !numberOrNull(r[key])) issues.push(`results[${i}].${key}: expected a number or null, received ${JSON.stringify(r[key])}`);
    }
    if (r.server !== undefined && typeof r.server !== 'string') issues.push(`results[${i}].server: expected a string`);
  });
  return issues;
}

/** The line for `bench`'s `results`, with `context` (inputs, versions) before them; throws when a result lacks a figure. */
export function jsonLine(bench: string, results: readonly BenchResult[], context: Record<string, unknown> = {}): string {
  if ('bench' in context || 'results' in context) throw new Error(`${bench}: the context of a bench line may not set bench or results`);
  const line = { bench, ...context, results };
  const issues = benchLineIssues(line);
  if (issues.length > 0) throw new Error(`${bench}: not a bench line: ${issues.join('; ')}`);
  return JSON.stringify(line);
}

/** Prints the line to stdout: a bench script's last output. */
export function printJsonLine(bench: string, results: readonly BenchResult[], context: Record<string, unknown> = {}): void {
  console.log(jsonLine(bench, results, context));
}

/** The bench line a script printed last in `stdout`; throws when the last line is not one. */
export function readJsonLine(stdout: string): BenchLine {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new Error(`the last line is not JSON: ${last.slice(0, 200)}`);
  }
  const issues = benchLineIssues(parsed);
  if (issues.length > 0) throw new Error(`the last line is not a bench line: ${issues.join('; ')}`);
  return parsed as BenchLine;
}
