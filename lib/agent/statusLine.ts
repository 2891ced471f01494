import type { ComponentCounters, ComponentType } from '../core/metrics.js';
import type { Colors } from './colors.js';

const FLOW: readonly ComponentType[] = ['SOURCE', 'INTERCEPTOR', 'CHANNEL', 'SINK'];

/**
 * One line summarising a running agent: events/s per source (accepted) and sink (drained) since the
 * previous call, fill % per channel; a source that has ended (a `seq` with `totalEvents`, an `exec`
 * whose command exited) says so. Rates come from counter deltas, so the caller decides the interval.
 */
export function statusLine(c?: Colors): (counters: readonly ComponentCounters[], elapsedMs: number) => string {
  const last = new Map<ComponentCounters, number>();
  return (counters, elapsedMs) => {
    const parts: string[] = [];
    // In the order events flow: sources, channels, sinks (the agent lists channels first).
    const ordered = [...counters].sort((a, b) => FLOW.indexOf(a.type) - FLOW.indexOf(b.type));
    for (const counter of ordered) {
      const key = counter.type === 'SOURCE' ? 'EventAcceptedCount' : counter.type === 'SINK' ? 'EventDrainSuccessCount' : undefined;
      if (counter.type === 'SOURCE' && counter.stopTime !== 0) {
        parts.push(`source ${counter.name} ${c ? c.yellow('finished') : 'finished'}`);
      } else if (key) {
        const now = counter.get(key);
        const rate = ((now - (last.get(counter) ?? now)) * 1000) / Math.max(1, elapsedMs);
        last.set(counter, now);
        parts.push(`${counter.name} ${Math.round(rate).toLocaleString('en-US')} ev/s`);
      } else if (counter.type === 'CHANNEL') {
        const fill = counter.snapshot()['ChannelFillPercentage'] ?? 0;
        const text = `${fill >= 1e300 ? '∞' : fill.toFixed(0)}% full`;
        parts.push(`${counter.name} ${c && fill >= 90 ? c.red(text) : text}`);
      }
    }
    return parts.join(c ? c.dim(' | ') : ' | ');
  };
}

/** The part of a terminal stream the status line writes to (`process.stderr`). */
export interface StatusStream {
  write(text: string): unknown;
  columns?: number | undefined;
}

const CLEAR = '\r\x1b[2K';
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * The live status line at the foot of a terminal. It is never appended to: whatever else is written
 * there (log lines, a logger sink's events on the same terminal) goes through `print` or `hide`, which
 * clear it first, so the line never ends up inside another; `print` draws it again after whole lines.
 */
export class StatusDisplay {
  private line = '';
  private drawn = false;
  /** Whether the terminal's cursor is at the start of a line, where the status line may be drawn. */
  private atLineStart = true;
  private closed = false;

  constructor(private readonly out: StatusStream) {}

  /** Replaces the status line (cut to the terminal's width: a wrapped line could not be cleared). */
  update(line: string): void {
    if (this.closed) return;
    // A pseudo-terminal may report no width (0): assume the usual 80 columns.
    this.line = fit(line, (this.out.columns || 80) - 1);
    if (this.atLineStart) {
      this.out.write(`${CLEAR}${this.line}`);
      this.drawn = true;
    }
  }

  /** Writes `text` to the status line's stream above it: cleared first, drawn again after whole lines. */
  print(text: string): void {
    if (text === '') return;
    this.atLineStart = text.endsWith('\n');
    const redraw = !this.closed && this.atLineStart && this.line !== '';
    this.out.write(`${this.drawn ? CLEAR : ''}${text}${redraw ? this.line : ''}`);
    this.drawn = redraw;
  }

  /**
   * Clears the status line before something is written to the terminal through another stream (stdout);
   * `update` draws it again. `endsLine` says whether that text left the cursor at a line's start.
   */
  hide(endsLine: boolean): void {
    if (this.drawn) this.out.write(CLEAR);
    this.drawn = false;
    this.atLineStart = endsLine;
  }

  /**
   * Hides the status line before each write to `stream` — stdout on the same terminal, where a logger
   * sink writes its events — until the returned function restores the stream's own `write`.
   */
  guard(stream: NodeJS.WriteStream): () => void {
    const write = stream.write;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.hide(typeof chunk === 'string' ? chunk.endsWith('\n') : chunk.at(-1) === 0x0a);
      return (write as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
    return () => void (stream.write = write);
  }

  /** Clears it for good: what is printed after stays on its own. */
  close(): void {
    this.hide(this.atLineStart);
    this.closed = true;
  }
}

/** `text` cut to `width` visible characters, its colour codes kept whole (and reset when cut). */
function fit(text: string, width: number): string {
  if (text.replace(ANSI, '').length <= width) return text;
  let visible = 0;
  let out = '';
  for (let i = 0; i < text.length && visible < width - 1; ) {
    ANSI.lastIndex = i;
    const code = text.startsWith('\x1b[', i) ? ANSI.exec(text) : null;
    if (code && code.index === i) {
      out += code[0];
      i += code[0].length;
    } else {
      out += text[i++];
      visible++;
    }
  }
  return `${out}${out.includes('\x1b[') ? '\x1b[0m' : ''}…`;
}
