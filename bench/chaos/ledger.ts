/**
 * What the chaos generators wrote and what reached the end, line by line. Each line carries its writer
 * and sequence number (`e1 000000042 …`); the ledger counts, per writer, every delivery of every
 * number, so at the end it knows the lost (never delivered) and the duplicated (delivered again).
 */
import { appendFileSync, existsSync, mkdirSync, openSync, readSync, closeSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface GeneratorOptions {
  /** Writers, e.g. e1 e2 e3: each writes `<dir>/<writer>/app.log`. */
  writers: readonly string[];
  dir: string;
  /** Lines per second per writer. */
  rate: number;
  /** Lines per writer at most (the run's bound in count). */
  maxLines: number;
  /** Lines per file before it is rotated (renamed app.log.<n>, a new app.log started). */
  rotateLines: number;
  /** Bytes per line, newline included (≥ 24). */
  lineBytes: number;
}

export interface Generator {
  /** Lines written so far by `writer`: numbers 1 … written(writer). */
  written(writer: string): number;
  totalWritten(): number;
  /** Stops writing (also reached by itself at maxLines). */
  stop(): void;
  readonly done: boolean;
}

/** Appends lines at `rate` per writer every 100 ms, rotating by rename as logrotate does. */
export function startGenerator(options: GeneratorOptions): Generator {
  const state = new Map(options.writers.map((w) => [w, { seq: 0, inFile: 0, rotations: 0 }]));
  for (const w of options.writers) mkdirSync(join(options.dir, w), { recursive: true });
  const perTick = Math.max(1, Math.round(options.rate / 10));
  const pad = 'x'.repeat(Math.max(0, options.lineBytes - 24));
  let stopped = false;
  const tick = () => {
    let left = false;
    for (const [writer, s] of state) {
      const n = Math.min(perTick, options.maxLines - s.seq);
      if (n <= 0) continue;
      left = true;
      const file = join(options.dir, writer, 'app.log');
      let text = '';
      for (let i = 0; i < n; i++) text += `${writer} ${String(++s.seq).padStart(9, '0')} ${pad}\n`;
      appendFileSync(file, text);
      s.inFile += n;
      if (s.inFile >= options.rotateLines) {
        renameSync(file, `${file}.${++s.rotations}`);
        s.inFile = 0;
      }
    }
    if (!left) stop();
  };
  const timer = setInterval(tick, 100);
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return {
    written: (writer) => state.get(writer)?.seq ?? 0,
    totalWritten: () => [...state.values()].reduce((n, s) => n + s.seq, 0),
    stop,
    get done() {
      return stopped;
    },
  };
}

export interface Ledger {
  /** Reads what was appended to the output folder's files since the last call. */
  scan(): void;
  /** Numbers 1 … n of `writer` have all been delivered: the largest such n. */
  deliveredPrefix(writer: string): number;
  /** Distinct lines delivered. */
  delivered(): number;
  /** Deliveries beyond the first of a line. */
  duplicated(): number;
  /** Lines not delivered among 1 … written(w) of each writer, and the first few of them. */
  lost(written: (writer: string) => number): { count: number; sample: string[] };
  /** Lines that no generator wrote (malformed or mangled on the way). */
  readonly foreign: number;
}

/** Tracks the lines of `writers` in every file of `outDir` (file_roll's output), reading each file incrementally. */
export function createLedger(outDir: string, writers: readonly string[], maxLines: number): Ledger {
  const counts = new Map(writers.map((w) => [w, new Uint16Array(maxLines + 1)]));
  const prefix = new Map(writers.map((w) => [w, 0]));
  const offsets = new Map<string, number>();
  let distinct = 0;
  let duplicates = 0;
  let foreign = 0;
  const take = (line: string) => {
    const [writer, seqText] = line.split(' ', 2);
    const seq = Number(seqText);
    const c = writer === undefined ? undefined : counts.get(writer);
    if (!c || !Number.isInteger(seq) || seq < 1 || seq > maxLines) return void foreign++;
    if (c[seq]! === 0) distinct++;
    else duplicates++;
    if (c[seq]! < 65535) c[seq]!++;
  };
  return {
    scan() {
      if (!existsSync(outDir)) return;
      for (const name of readdirSync(outDir).sort()) {
        const file = join(outDir, name);
        const from = offsets.get(file) ?? 0;
        const size = statSync(file).size;
        if (size <= from) continue;
        const buffer = Buffer.alloc(size - from);
        const fd = openSync(file, 'r');
        try {
          readSync(fd, buffer, 0, buffer.length, from);
        } finally {
          closeSync(fd);
        }
        // Only whole lines: the sink may be half way through one.
        const end = buffer.lastIndexOf(10);
        if (end < 0) continue;
        for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) take(line);
        offsets.set(file, from + end + 1);
      }
    },
    deliveredPrefix(writer) {
      const c = counts.get(writer)!;
      let n = prefix.get(writer)!;
      while (n < maxLines && c[n + 1]! > 0) n++;
      prefix.set(writer, n);
      return n;
    },
    delivered: () => distinct,
    duplicated: () => duplicates,
    lost(written) {
      let count = 0;
      const sample: string[] = [];
      for (const [writer, c] of counts) {
        for (let seq = 1; seq <= written(writer); seq++) {
          if (c[seq] !== 0) continue;
          count++;
          if (sample.length < 10) sample.push(`${writer}:${seq}`);
        }
      }
      return { count, sample };
    },
    get foreign() {
      return foreign;
    },
  };
}
