/**
 * sequence → timestamp → memory channel → null sink, at batch sizes 1, 100 and 1000, beside a
 * baseline of sequence → null sink in the same run. Each case runs in its own child process so its
 * peak RSS is its own. Prints a table and a JSON line.
 *
 *   npm run bench            (EVENTS=… to change the events per case)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pipe } from '../lib/core/pipe.js';
import { sequenceSource } from '../lib/sources/sequenceSource.js';
import { nullSink } from '../lib/sinks/nullSink.js';
import { timestampInterceptor } from '../operators/interceptors/timestampInterceptor.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { printJsonLine } from './jsonLine.js';

type Case = 'baseline' | 'pipeline';

interface Result {
  case: Case;
  batchSize: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  peakRssMB: number;
}

async function runCase(kind: Case, batchSize: number, events: number): Promise<Result> {
  const source = sequenceSource({ totalEvents: events, batchSize });
  const started = process.hrtime.bigint();
  const pipeline =
    kind === 'baseline'
      ? pipe(source, nullSink({ batchSize }))
      : pipe(
          source,
          timestampInterceptor(),
          memoryChannel({ capacity: Math.max(100, batchSize * 10), transactionCapacity: batchSize }),
          nullSink({ batchSize }),
        );
  await pipeline.done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const delivered = pipeline.metrics()['SINK.nullSink']?.['EventDrainSuccessCount'] ?? 0;
  if (delivered !== events) throw new Error(`delivered ${delivered} of ${events} events`);
  return {
    case: kind,
    batchSize,
    events,
    seconds: round(seconds, 3),
    eventsPerSec: Math.round(events / seconds),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

async function main(): Promise<void> {
  const [mode, kind, batch, events] = process.argv.slice(2);
  if (mode === '--case') {
    const result = await runCase(kind as Case, Number(batch), Number(events));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const base = Number(process.env['EVENTS'] ?? 10_000_000);
  const results: Result[] = [];
  for (const batchSize of [1, 100, 1000]) {
    // Batch size 1 pays one emission per event by definition; a tenth of the events keeps the run short.
    const events = batchSize === 1 ? Math.round(base / 10) : base;
    for (const kind of ['baseline', 'pipeline'] as const) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', kind, String(batchSize), String(events)], {
        encoding: 'utf8',
      });
      if (child.status !== 0) throw new Error(`bench case ${kind}/${batchSize} failed:\n${child.stderr}`);
      results.push(JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Result);
    }
  }
  const rows = results.map((r) => [r.case, r.batchSize, r.events, r.eventsPerSec.toLocaleString('en-US'), r.peakRssMB, r.seconds]);
  const header = ['case', 'batch', 'events', 'events/s', 'peak RSS MB', 'seconds'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
  console.log('sequence → [timestamp → memory channel →] null sink   (baseline: sequence → null sink)');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  printJsonLine(
    'pipeline',
    results.map((r) => ({ ...r, batch: r.batchSize })),
    { node: process.version },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
