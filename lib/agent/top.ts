import { parseArgs } from 'node:util';
import { describeError } from '../core/errors.js';
import { colors, useColors, type Colors } from './colors.js';
import { componentRows, type ComponentRow, type FlumeMetrics } from './monitor/rates.js';

/** What `rxflume top` can sort by, and the key that picks it. */
export const SORTS = { n: 'name', i: 'in', o: 'out', f: 'fill', e: 'errors' } as const;
export type SortKey = (typeof SORTS)[keyof typeof SORTS];

export interface AgentReading {
  /** The monitor URL as given. */
  url: string;
  rows: ComponentRow[];
  /** Why the last reading failed (the agent is down, not a monitor URL); its rows are then the last ones read. */
  error?: string;
}

/** `http://host:port` or `host:port` → its `/metrics` URL; one naming `/metrics` already is kept. */
export function metricsUrl(given: string): URL {
  const url = new URL(/^[a-z]+:\/\//i.test(given) ? given : `http://${given}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`expected an http(s) URL, received ${JSON.stringify(given)}`);
  if (!url.pathname.endsWith('/metrics')) url.pathname = `${url.pathname.replace(/\/$/, '')}/metrics`;
  return url;
}

const value = (r: ComponentRow, sort: SortKey): number | string =>
  sort === 'name' ? r.id : sort === 'in' ? r.inRate : sort === 'out' ? r.outRate : sort === 'fill' ? (r.fill ?? -1) : r.errors;

/** Rows of every agent, sorted (names ascending; numbers descending, the busiest first), `reverse` flipping it. */
export function sortedRows(readings: readonly AgentReading[], sort: SortKey, reverse = false): { url: string; row: ComponentRow }[] {
  const all = readings.flatMap((a) => a.rows.map((row) => ({ url: a.url, row })));
  const sign = (sort === 'name' ? 1 : -1) * (reverse ? -1 : 1);
  return all.sort((a, b) => {
    const x = value(a.row, sort);
    const y = value(b.row, sort);
    const byValue = typeof x === 'string' ? x.localeCompare(y as string) : x - (y as number);
    return sign * byValue || a.url.localeCompare(b.url) || a.row.id.localeCompare(b.row.id);
  });
}

export const rate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1));

const fillText = (r: ComponentRow, bar: boolean): string => {
  if (r.fill === undefined) return '';
  const pct = `${r.fill.toFixed(0)}%`.padStart(4);
  if (!bar) return pct;
  const filled = Math.round(r.fill / 10);
  return `${'█'.repeat(filled)}${'·'.repeat(10 - filled)} ${pct}`;
};

const COLUMNS = ['AGENT', 'COMPONENT', 'IN/s', 'OUT/s', 'FILL', 'ERRORS', 'STATE'] as const;
const SORTED_BY: Partial<Record<(typeof COLUMNS)[number], SortKey>> = { COMPONENT: 'name', 'IN/s': 'in', 'OUT/s': 'out', FILL: 'fill', ERRORS: 'errors' };

/** The table as lines of text, cut to `width` columns; colours and fill bars only when `paint` is given. */
export function renderTable(readings: readonly AgentReading[], sort: SortKey, reverse: boolean, width: number, paint?: Colors): string[] {
  const rows = sortedRows(readings, sort, reverse);
  const agentWidth = Math.min(28, Math.max(5, ...readings.map((r) => r.url.length)));
  const idWidth = Math.max(9, ...rows.map((r) => r.row.id.length));
  const fillWidth = paint ? 15 : 4;
  const widths = [agentWidth, idWidth, 8, 8, fillWidth, 7, 7];
  const right = [false, false, true, true, true, true, false];
  const line = (cells: readonly string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const head = line(COLUMNS.map((c, i) => (SORTED_BY[c] === sort ? `${c}${reverse ? '↑' : '↓'}` : c).slice(0, widths[i])));
  const out = [paint ? paint.bold(head) : head];
  for (const { url, row } of rows) {
    const text = line([url.slice(-agentWidth), row.id, rate(row.inRate), rate(row.outRate), fillText(row, paint !== undefined), String(row.errors), row.state]);
    const hot = row.state === 'failing' || (row.fill ?? 0) >= 90;
    const warm = (row.fill ?? 0) >= 75;
    out.push(paint && hot ? paint.red(text) : paint && warm ? paint.yellow(text) : text);
  }
  for (const r of readings) if (r.error) out.push(`${r.url}: ${r.error}`);
  return out.map((l) => cut(l, width));
}

const ANSI = /\x1b\[[0-9;]*m/g;
function cut(text: string, width: number): string {
  const visible = text.replace(ANSI, '');
  if (visible.length <= width) return text;
  // Coloured lines are whole rows painted once: cutting the plain text and repainting is not needed here.
  return `${visible.slice(0, Math.max(0, width - 1))}…`;
}

/** Reads every agent's `/metrics` once; an agent that cannot be read keeps its previous rows, with the error. */
export async function readAgents(urls: readonly URL[], given: readonly string[], previous: Map<string, { metrics: FlumeMetrics; at: number; rows?: ComponentRow[] }>, timeoutMs: number): Promise<AgentReading[]> {
  return Promise.all(
    urls.map(async (url, i): Promise<AgentReading> => {
      const name = given[i]!;
      const before = previous.get(name);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) throw new Error(`HTTP ${res.status} from ${url.href}`);
        const metrics = (await res.json()) as FlumeMetrics;
        const at = Date.now();
        const rows = componentRows(before?.metrics, metrics, before ? at - before.at : 0, before?.rows);
        previous.set(name, { metrics, at, rows });
        return { url: name, rows };
      } catch (error) {
        return { url: name, rows: [], error: `unreachable: ${describeError((error as { cause?: unknown }).cause ?? error)}` };
      }
    }),
  );
}

const HELP = `Usage: rxflume top URL... [--interval S] [--count N]

A live table of running agents' components: events/s in and out, channel fill, errors, state.
URL is an agent's monitoring address (rxflume agent --monitor-port, or a Flume agent's
-Dflume.monitoring.port): http://127.0.0.1:41414, or just 127.0.0.1:41414.

  --interval S   seconds between readings (default 1)
  --count N      stop after N readings (default: until q or Ctrl-C)

Keys on a terminal: n i o f e sort by name, in, out, fill, errors; r reverses; q or Ctrl-C quits.
Not on a terminal, it prints one plain line per component and reading.
`;

/** `rxflume top URL...`: redrawn in place on a terminal, plain lines otherwise. */
export async function top(argv: string[], out: NodeJS.WriteStream = process.stdout, input: NodeJS.ReadStream = process.stdin): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { interval: { type: 'string', default: '1' }, count: { type: 'string' } },
  });
  if (positionals.length === 0) {
    process.stderr.write(HELP);
    return 2;
  }
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 0.05) throw new TopUsageError(`top --interval: expected seconds ≥ 0.05, received ${JSON.stringify(values.interval)}`);
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (count !== Infinity && (!Number.isInteger(count) || count < 1)) throw new TopUsageError(`top --count: expected a whole number ≥ 1, received ${JSON.stringify(values.count)}`);
  const urls = positionals.map((p) => {
    try {
      return metricsUrl(p);
    } catch (error) {
      throw new TopUsageError(`top: ${describeError(error)}`);
    }
  });

  const previous = new Map<string, { metrics: FlumeMetrics; at: number; rows?: ComponentRow[] }>();
  const tty = out.isTTY === true;
  const paint = colors(useColors(out));
  let sort: SortKey = 'name';
  let reverse = false;
  let quit = false;
  let wake: (() => void) | undefined;
  let last: AgentReading[] = [];

  const draw = () => {
    const width = out.columns || 80;
    const height = out.rows || 24;
    const title = `rxflume top · ${positionals.length} agent${positionals.length === 1 ? '' : 's'} · sort: ${sort}${reverse ? ' (reversed)' : ''} · keys: n i o f e sort, r reverse, q quit`;
    const lines = [paint.dim(cut(title, width)), '', ...renderTable(last, sort, reverse, width, paint)].slice(0, height - 1);
    // Home, each line cleared to its end, then the rest of the screen cleared: no flicker, no leftovers.
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
  };

  let restore = () => {};
  if (tty) {
    out.write('\x1b[?1049h\x1b[?25l');
    const raw = input.isTTY === true;
    if (raw) input.setRawMode(true);
    input.resume();
    const onKey = (data: Buffer) => {
      const key = data.toString();
      if (key === 'q' || key === '\x03' || key === '\x1b') quit = true;
      else if (key === 'r') reverse = !reverse;
      else if (key in SORTS) {
        sort = SORTS[key as keyof typeof SORTS];
        reverse = false;
      } else return;
      // A key redraws the last reading at once; only quitting cuts the wait for the next one.
      if (quit) wake?.();
      else draw();
    };
    input.on('data', onKey);
    const resize = () => draw();
    out.on('resize', resize);
    restore = () => {
      input.off('data', onKey);
      out.off('resize', resize);
      if (raw) input.setRawMode(false);
      input.pause();
      out.write('\x1b[?25h\x1b[?1049l');
    };
  }
  const stop = () => {
    quit = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (let n = 0; n < count && !quit; n++) {
      last = await readAgents(urls, positionals, previous, Math.max(1000, interval * 1000));
      if (tty) draw();
      else {
        const stamp = new Date().toISOString();
        for (const { url, row } of sortedRows(last, 'name')) {
          out.write(`${stamp} ${url} ${row.id} in=${rate(row.inRate)}/s out=${rate(row.outRate)}/s${row.fill === undefined ? '' : ` fill=${row.fill.toFixed(1)}%`} errors=${row.errors} ${row.state}\n`);
        }
        for (const r of last) if (r.error) out.write(`${stamp} ${r.url} ${r.error}\n`);
      }
      if (n + 1 < count && !quit) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    restore();
  }
  return last.some((r) => r.error) ? 1 : 0;
}

/** A bad `top` argument: the CLI reports it as a usage error (exit 2). */
export class TopUsageError extends Error {}
