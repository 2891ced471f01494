import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdown, newestResults, plots, type BenchReport } from '../../bench/report.js';

const ROOT = join(import.meta.dirname, '..', '..');
const file = newestResults();
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;

describe('bench report', () => {
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
