import type { Colors, Paint } from './colors.js';

const LEVELS: Record<number, [name: string, paint: keyof Colors]> = {
  10: ['TRACE', 'dim'],
  20: ['DEBUG', 'blue'],
  30: ['INFO', 'green'],
  40: ['WARN', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'magenta'],
};

/** Fields every line carries or the layout already shows. */
const SHOWN = new Set(['level', 'time', 'msg', 'component', 'agent', 'pid', 'hostname']);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A value on the line: bare when it reads unambiguously, JSON otherwise (quoted, escaped, objects compact). */
function inline(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line as a person reads it on a terminal: local time, level (coloured), component,
 * message, then the other fields as `key=value`. A multi-line string (a topology, a stack) follows on
 * indented lines of its own. A line that is not pino's JSON is passed through unchanged.
 */
export function prettyLogLine(line: string, c: Colors): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry['level'] !== 'number') return line;
  const t = new Date(typeof entry['time'] === 'number' ? entry['time'] : Date.now());
  const [name, colour] = LEVELS[entry['level']] ?? [`L${entry['level']}`, 'bold'];
  const paint: Paint = c[colour];
  const head = [c.dim(`${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`), paint(name.padEnd(5))];
  if (entry['component'] !== undefined) head.push(c.cyan(String(entry['component'])));
  if (entry['msg'] !== undefined) head.push(String(entry['msg']));
  const blocks: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN.has(key) || value === undefined) continue;
    // pino's error serializer: its message on the line, its stack below.
    const err = key === 'err' && typeof value === 'object' && value !== null ? (value as { message?: unknown; stack?: unknown }) : undefined;
    const text = err ? err.stack ?? err.message : value;
    if (typeof text === 'string' && text.includes('\n')) blocks.push(`${c.dim(`${key}:`)}\n${text.replace(/^/gm, '    ')}`);
    else head.push(`${c.dim(`${key}=`)}${inline(err?.message ?? value)}`);
  }
  return `${[head.join(' '), ...blocks.map((b) => `  ${b}`)].join('\n')}\n`;
}
