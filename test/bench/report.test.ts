import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdown, missedTargets, newestResults, plots, type BenchReport, type BenchRow } from '../../bench/report.js';

const ROOT = join(import.meta.dirname, '..', '..');
const file = newestResults();
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;

describe('bench report', () => {
  it('every target the newest run missed says what stands in the way (issue #14: "or the row says what stands in the way, measured")', () => {
    const missing = report.results.filter((r) => missedTargets(r).length > 0 && !report.obstacles?.[r.row]).map((r) => `${r.row}/${r.batch}: ${missedTargets(r).join('; ')}`);
    expect(missing).toEqual([]);
  });

  it('reads each kind of target', () => {
    const row = (target: string, ratio: number, rssRatio: number, rx = 100, base = 100, start?: number): BenchRow => ({
      row: start === undefined ? 'r' : 'start',
      title: 't',
      batch: 1,
      target,
      ratio,
      rssRatio,
      median: { rxflume: { eventsPerSec: rx, peakRssMB: 1, startSeconds: start }, baseline: { eventsPerSec: base, peakRssMB: 1 } },
    });
    expect(missedTargets(row('≥ 3× Flume; RSS ≤ ⅓ of Flume', 3.1, 0.33))).toEqual([]);
    expect(missedTargets(row('≥ 3× Flume; RSS ≤ ⅓ of Flume', 2.9, 0.34))).toEqual(['≥ 3× Flume', "RSS ≤ ⅓ of Flume's"]);
    expect(missedTargets(row('≥ 1.5× Flume at ≤ ½ its RSS', 14, 0.91))).toEqual(["RSS ≤ ½ of Flume's"]);
    expect(missedTargets(row('≥ 1.5× Flume; ≥ 0.8 of the plain-server baseline', 1.6, 0.3, 79, 100))).toEqual(['≥ 0.8 of the plain-server baseline']);
    expect(missedTargets(row('≤ 0.3 s', 6, 0.7, 0, 0, 0.31))).toEqual(['≤ 0.3 s']);
    expect(missedTargets(row('≤ 0.3 s', 6, 0.7, 0, 0, 0.28))).toEqual([]);
    // With Flume's medians the ratios come from them, not from the rounded ones shown (0.503 is not ½).
    const half: BenchRow = { ...row('≥ 1.5× Flume at ≤ ½ its RSS', 12.5, 0.5), median: { rxflume: { eventsPerSec: 354032, peakRssMB: 99.4 }, flume: { eventsPerSec: 28298, peakRssMB: 197.6 } } };
    expect(missedTargets(half)).toEqual(["RSS ≤ ½ of Flume's"]);
    expect(missedTargets({ ...half, median: { ...half.median, rxflume: { eventsPerSec: 354032, peakRssMB: 98.8 } } })).toEqual([]);
  });

  it('docs/benchmarks.md is what bench/report.ts renders from the newest results (run `npm run bench:report` when this fails)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'benchmarks.md'), 'utf8')).toBe(markdown(report, file));
  });

  it('has a plot per row and a summary, beside the results, each drawing a bar per agent measured', async () => {
    const rendered = await plots(report);
    const dir = join(dirname(file), basename(file, '.json'));
    expect(rendered.size).toBe(report.results.length + 1);
    for (const [name, svg] of rendered) {
      expect(existsSync(join(dir, name)), `${name} is missing beside ${basename(file)}: run npm run bench:report`).toBe(true);
      expect(svg).toMatch(/^<svg/);
    }
    for (const r of report.results) {
      const svg = rendered.get(`${r.row}${r.batch === null ? '' : `-${r.batch}`}.svg`)!;
      // Two panels (rate and RSS), one bar per agent in each.
      const bars = svg.match(/aria-roledescription="bar"/g)?.length ?? 0;
      expect(bars, r.row).toBe(2 * Object.keys(r.median).length);
    }
  });

  it('the README shows the summary plot and points at the table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`bench/results/${basename(file, '.json')}/summary.svg`);
    expect(readme).toContain('docs/benchmarks.md');
  });
});
