/**
 * Renders a `bench:flume` results file (bench/results/<date>-<host>.json, the newest by default) as
 * plots — one per row and a summary, SVG from vega-lite, no browser — beside it, and as
 * docs/benchmarks.md, the page the README's benchmark section points at (its plot is pointed at the
 * newest summary). Both are generated: edit the
 * bench, run it, and run this again.
 *
 *   npm run build && npm run bench:report [-- bench/results/<file>.json]
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { findUp } from '../scripts/service.js';

export interface BenchRow {
  row: string;
  title: string;
  batch: number | null;
  target: string;
  median: Partial<Record<'flume' | 'rxflume' | 'baseline' | 'webhdfs', { eventsPerSec: number; peakRssMB: number; startSeconds?: number }>>;
  ratio?: number;
  rssRatio?: number;
}

export interface BenchReport {
  date: string;
  machine: { host: string; cpu: string; cores: number; memoryGB: number };
  versions: { node: string; flume: string; java: string };
  inputs: { rounds: number; quick: boolean; note?: string };
  results: BenchRow[];
  notMeasured: { row: string; title: string; note: string }[];
  /** Per row id, what stands in the way of a target the run missed, as measured (added to the results by hand). */
  obstacles?: Record<string, string>;
}

// The same from bench/*.ts (tests) and dist/bench/*.js (npm run bench:*).
const ROOT = dirname(findUp(import.meta.url, 'package.json'));
const RESULTS = join(ROOT, 'bench', 'results');

/**
 * The parts of a row's target (its text, as issue #14 states it) that its figures miss: "≥ N× Flume",
 * "RSS ≤ ⅓ of Flume" / "≤ ½ its RSS", "≥ 0.8 of the plain-server baseline", "≤ 0.3 s".
 */
export function missedTargets(r: BenchRow): string[] {
  const missed: string[] = [];
  const fraction = (t: string) => (t === '⅓' ? 1 / 3 : t === '½' ? 1 / 2 : Number(t));
  const { rxflume, baseline, flume } = r.median;
  // From the medians where the row has them: the rounded ratios shown would pass 0.503 as ½.
  const speedRatio = rxflume && flume ? rxflume.eventsPerSec / flume.eventsPerSec : (r.ratio ?? 0);
  const rssRatio = rxflume && flume ? rxflume.peakRssMB / flume.peakRssMB : (r.rssRatio ?? Infinity);
  const speed = /≥ ([\d.]+)× Flume/.exec(r.target);
  if (speed && !isStart(r) && speedRatio < Number(speed[1])) missed.push(speed[0]);
  const rss = /(?:RSS )?≤ ([⅓½]|[\d.]+) (?:of Flume|its RSS)/.exec(r.target);
  if (rss && rssRatio > fraction(rss[1]!)) missed.push(`RSS ≤ ${rss[1]} of Flume's`);
  const base = /≥ ([\d.]+) of the plain-server baseline/.exec(r.target);
  if (base && rxflume && baseline && rxflume.eventsPerSec / baseline.eventsPerSec < Number(base[1])) missed.push(base[0]);
  const start = /≤ ([\d.]+) s/.exec(r.target);
  if (start && isStart(r) && (rxflume?.startSeconds ?? Infinity) > Number(start[1])) missed.push(start[0]);
  return missed;
}

const label = (r: BenchRow) => (r.batch === null ? r.row : `${r.row} (batch ${r.batch})`);
const isStart = (r: BenchRow) => r.row === 'start';

/** One datum per row and agent: what the plots draw. */
function data(report: BenchReport) {
  return report.results.flatMap((r) =>
    Object.entries(r.median).map(([agent, m]) => ({ case: label(r), agent, eventsPerSec: isStart(r) ? null : m.eventsPerSec, peakRssMB: m.peakRssMB, startSeconds: m.startSeconds ?? null })),
  );
}

const COLORS = { domain: ['flume', 'rxflume', 'webhdfs', 'baseline'], range: ['#d62728', '#1f77b4', '#17becf', '#999999'] };

function bars(field: 'eventsPerSec' | 'peakRssMB' | 'startSeconds', title: string, values: object[]): TopLevelSpec['hconcat' & keyof TopLevelSpec] {
  return {
    title,
    width: { step: 14 },
    height: 220,
    data: { values },
    transform: [{ filter: `datum.${field} !== null` }],
    mark: 'bar',
    encoding: {
      x: { field: 'case', type: 'nominal', title: null, axis: { labelAngle: -35, labelLimit: 220 } },
      xOffset: { field: 'agent' },
      y: { field, type: 'quantitative', title },
      color: { field: 'agent', scale: COLORS, title: null },
      tooltip: [{ field: 'case' }, { field: 'agent' }, { field, format: ',' }],
    },
  } as never;
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** The summary plot (events/s and peak RSS per row) and one plot per row, as SVG texts by file name. */
export async function plots(report: BenchReport): Promise<Map<string, string>> {
  const all = data(report);
  const out = new Map<string, string>();
  const subtitle = `${report.date} · ${report.machine.cpu} · ${report.machine.cores} cores · Node ${report.versions.node} · Flume ${report.versions.flume}`;
  out.set(
    'summary.svg',
    await svg({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'rxflume vs Apache Flume, same config, same machine', subtitle },
      hconcat: [bars('eventsPerSec', 'events/s', all), bars('peakRssMB', 'peak RSS (MB)', all)],
    } as TopLevelSpec),
  );
  for (const r of report.results) {
    const mine = all.filter((d) => d.case === label(r));
    out.set(
      `${r.row}${r.batch === null ? '' : `-${r.batch}`}.svg`,
      await svg({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: { text: r.title + (r.batch === null ? '' : `, batch ${r.batch}`), subtitle: `target: ${r.target}` },
        hconcat: [isStart(r) ? bars('startSeconds', 'seconds to first event', mine) : bars('eventsPerSec', 'events/s', mine), bars('peakRssMB', 'peak RSS (MB)', mine)],
      } as TopLevelSpec),
    );
  }
  return out;
}

const n = (x: number | undefined) => (x === undefined ? '' : x.toLocaleString('en-US'));

/** docs/benchmarks.md for a results file at `file` (linked relative to docs/). */
export function markdown(report: BenchReport, file: string): string {
  const rel = relative(join(ROOT, 'docs'), file);
  const plotsDir = relative(join(ROOT, 'docs'), dirname(file));
  const lines = [
    '<!-- Generated by bench/report.ts from the bench:flume results file below; do not edit by hand. -->',
    '# Benchmarks: rxflume and Apache Flume side by side',
    '',
    `Each row runs the same Flume properties file on Apache Flume ${report.versions.flume} (${report.versions.java}) and on rxflume (Node ${report.versions.node}), each agent in its own process on the same machine (${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGB} GB), with the same input; every event is counted on the agent's own metrics. Figures are medians of ${report.inputs.rounds} round${report.inputs.rounds === 1 ? '' : 's'}${report.inputs.quick ? ' (quick mode: small inputs, not representative)' : ''}.${report.inputs.note ? ` ${report.inputs.note}` : ''} Results: [${basename(file)}](${rel}); reproduce with \`npm run build && npm run bench:flume && npm run bench:report\`.`,
    '',
    `![summary](${plotsDir}/${basename(file, '.json')}/summary.svg)`,
    '',
    '| row | batch | Flume events/s | rxflume events/s | ratio | Flume peak RSS MB | rxflume peak RSS MB | RSS ratio | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of report.results) {
    const { flume, rxflume, baseline, webhdfs } = r.median;
    const rate = (m: typeof flume) => (isStart(r) ? (m?.startSeconds === undefined ? '' : `${m.startSeconds} s to first event`) : n(m?.eventsPerSec));
    lines.push(
      `| ${r.title}${baseline ? ` (plain-server baseline ${n(baseline.eventsPerSec)}/s)` : ''}${webhdfs ? ` (rxflume over WebHDFS instead: ${n(webhdfs.eventsPerSec)}/s, ${webhdfs.peakRssMB} MB)` : ''} | ${r.batch ?? ''} | ${rate(flume)} | ${rate(rxflume)} | ${r.ratio ?? ''}${r.ratio === undefined ? '' : '×'} | ${flume?.peakRssMB ?? ''} | ${rxflume?.peakRssMB ?? ''} | ${r.rssRatio ?? ''} | ${r.target} |`,
    );
  }
  for (const m of report.notMeasured) lines.push(`| ${m.title} | | not measured: ${m.note} | | | | | | |`);
  lines.push('', 'For the start row, the ratio is how many times sooner rxflume delivers its first event.', '');
  const obstacles = Object.entries(report.obstacles ?? {});
  if (obstacles.length > 0) {
    lines.push('## Where a target is not met', '');
    for (const [row, text] of obstacles) {
      const missed = [...new Set(report.results.filter((r) => r.row === row).flatMap((r) => missedTargets(r).map((m) => (r.batch === null ? m : `${m} at batch ${r.batch}`))))];
      lines.push(`- **${report.results.find((r) => r.row === row)?.title ?? row}** (missed: ${missed.join('; ')}): ${text}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The newest results file under bench/results. */
export function newestResults(): string {
  const files = readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no results in ${RESULTS}: run npm run bench:flume first`);
  return join(RESULTS, files[files.length - 1]!);
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? newestResults();
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const dir = join(dirname(file), basename(file, '.json'));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of await plots(report)) writeFileSync(join(dir, name), text);
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), markdown(report, file));
  // The README's benchmark section shows the newest summary plot.
  const readme = join(ROOT, 'README.md');
  writeFileSync(readme, readFileSync(readme, 'utf8').replace(/bench\/results\/[^/)]+\/summary\.svg/, `bench/results/${basename(file, '.json')}/summary.svg`));
  console.log(`plots in ${relative(ROOT, dir)}, table in docs/benchmarks.md`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
