/**
 * taildir → memory channel → null sink over a generated file of LINES lines (~220 bytes each),
 * beside plain Node loops over the same file in the same run: fs.read of the same buffer size and
 * Buffer.indexOf counting newlines (`plain`), and the same making an event of each line's buffer slice
 * (`slices`). Each case runs in its own child process so its
 * peak RSS is its own. Prints a table and a JSON line.
 *
 *   npm run bench:files   (LINES=… line count, BATCH=100,1000 taildir batch sizes, READ_BYTES=… read size,
 *                          ROUNDS=5 runs per case, the median reported)
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, read, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricsOf } from '../lib/core/metrics.js';
import { pipe } from '../lib/core/pipe.js';
import { nullSink } from '../lib/sinks/nullSink.js';
import { taildirSource, taildirSourceOptions } from '../lib/sources/taildir/taildirSource.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { printJsonLine } from './jsonLine.js';

/** Bytes per read in every case: the source's default unless READ_BYTES says otherwise. */
const READ_BYTES = Number(process.env['READ_BYTES'] ?? taildirSourceOptions.shape.readBufferBytes.parse(undefined));
/** Runs of each case; the median is reported. */
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);

interface Result {
  case: string;
  batchSize: number | null;
  lines: number;
  seconds: number;
  linesPerSec: number;
  mbPerSec: number;
  peakRssMB: number;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Lines of 200–240 bytes with a sequence number, written in large blocks. */
function generate(path: string, lines: number): void {
  const fd = openSync(path, 'w');
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 GET /api/v1/orders?id= HTTP/1.1 200 '.repeat(4);
  let block: string[] = [];
  for (let i = 0; i < lines; i++) {
    const len = 200 + ((i * 7919) % 41) - 11; // body 189..229 bytes after the 10-byte prefix
    block.push(`${String(i).padStart(9, '0')} ${filler.slice(i % 50, (i % 50) + len)}\n`);
    if (block.length === 10_000) {
      writeSync(fd, block.join(''));
      block = [];
    }
  }
  if (block.length > 0) writeSync(fd, block.join(''));
  closeSync(fd);
}

/**
 * The plain loop: fs.read into a fresh buffer, then Buffer.indexOf over it. With `events`, it also
 * makes each line an event of a buffer slice, in arrays of 1000 (what a source must do at least);
 * without, it only counts newlines.
 */
function plain(path: string, events: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = openSync(path, 'r');
    let pos = 0;
    let lines = 0;
    let batch: Array<{ headers: Record<string, string>; body: Buffer }> = [];
    const step = (): void => {
      const buf = Buffer.allocUnsafe(READ_BYTES);
      read(fd, buf, 0, READ_BYTES, pos, (error, n) => {
        if (error) return reject(error);
        if (n === 0) {
          closeSync(fd);
          return resolve(lines);
        }
        const chunk = n === READ_BYTES ? buf : buf.subarray(0, n);
        let from = 0;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, from)) {
          if (events) {
            batch.push({ headers: {}, body: chunk.subarray(from, at) });
            if (batch.length === 1000) batch = [];
          }
          lines++;
          from = at + 1;
        }
        pos += from; // the partial last line is read again with the next chunk
        step();
      });
    };
    step();
  });
}

async function taildir(path: string, lines: number, batchSize: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-bench-pos-'));
  const sink = nullSink({ batchSize });
  const pipeline = pipe(
    taildirSource({ filegroups: { bench: join(dirname(path), 'bench\\.log') }, positionFile: join(dir, 'position.json'), batchSize, readBufferBytes: READ_BYTES }),
    memoryChannel({ capacity: batchSize * 10, transactionCapacity: batchSize }),
    sink,
  );
  const counters = metricsOf(sink)!;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (counters.get('EventDrainSuccessCount') >= lines) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await pipeline.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function runCase(kind: string, path: string, lines: number, batchSize: number): Promise<Result> {
  const bytes = statSync(path).size;
  const started = process.hrtime.bigint();
  if (kind === 'plain' || kind === 'slices') {
    const counted = await plain(path, kind === 'slices');
    if (counted !== lines) throw new Error(`counted ${counted} of ${lines} lines`);
  } else {
    await taildir(path, lines, batchSize);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    case: kind,
    batchSize: kind === 'taildir' ? batchSize : null,
    lines,
    seconds: round(seconds, 3),
    linesPerSec: Math.round(lines / seconds),
    mbPerSec: round(bytes / 1e6 / seconds, 1),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

async function main(): Promise<void> {
  const [mode, kind, path, lines, batch] = process.argv.slice(2);
  if (mode === '--case') {
    const result = await runCase(kind!, path!, Number(lines), Number(batch));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const count = Number(process.env['LINES'] ?? 1_000_000);
  const batches = (process.env['BATCH'] ?? '100,1000').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-bench-files-'));
  const file = join(dir, 'bench.log');
  try {
    generate(file, count);
    const size = statSync(file).size;
    const cases: Array<[string, number]> = [['plain', 0], ['slices', 0], ...batches.map((b): [string, number] => ['taildir', b])];
    // Rounds of every case in turn, so a busy moment of the machine hits all cases alike; each case
    // reports its median round.
    const runs = new Map<string, Result[]>();
    for (let pass = 0; pass < ROUNDS; pass++) {
      for (const [kind, batchSize] of cases) {
        const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', kind, file, String(count), String(batchSize)], {
          encoding: 'utf8',
        });
        if (child.status !== 0) throw new Error(`bench case ${kind}/${batchSize} failed:\n${child.stderr}`);
        const key = `${kind}/${batchSize}`;
        runs.set(key, [...(runs.get(key) ?? []), JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Result]);
      }
    }
    const results = [...runs.values()].map((rs) => {
      const sorted = [...rs].sort((a, b) => a.seconds - b.seconds);
      return { ...sorted[Math.floor(sorted.length / 2)]!, runsSeconds: rs.map((r) => r.seconds) };
    });
    const plainRate = results.find((r) => r.case === 'plain')!.linesPerSec;
    const slicesRate = results.find((r) => r.case === 'slices')!.linesPerSec;
    const rows = results.map((r) => [
      r.case,
      r.batchSize ?? '-',
      r.lines,
      r.linesPerSec.toLocaleString('en-US'),
      r.mbPerSec,
      r.peakRssMB,
      r.seconds,
      r.case === 'plain' ? '-' : round(r.linesPerSec / plainRate, 2),
      r.case !== 'taildir' ? '-' : round(r.linesPerSec / slicesRate, 2),
    ]);
    const header = ['case', 'batch', 'lines', 'lines/s', 'MB/s', 'peak RSS MB', 'seconds', 'vs plain', 'vs slices'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const line = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
    console.log(`taildir → memory channel → null sink over ${count.toLocaleString('en-US')} lines (${round(size / 1e6, 1)} MB, ${round(size / count, 1)} bytes/line)`);
    console.log(`plain: fs.read of ${READ_BYTES} bytes + Buffer.indexOf newline count; slices: the same making { headers, body: subarray } events`);
    console.log(`median of ${ROUNDS} runs per case, each in its own process`);
    console.log(line(header));
    for (const r of rows) console.log(line(r));
    // A line is an event: linesPerSec is the case's eventsPerSec.
    printJsonLine(
      'files',
      results.map((r) => ({ ...r, batch: r.batchSize, eventsPerSec: r.linesPerSec })),
      { node: process.version, fileBytes: size, readBytes: READ_BYTES, rounds: ROUNDS, targets: { linesPerSec: 1_500_000, vsPlain: 0.7, peakRssMB: 200 } },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
