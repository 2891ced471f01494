/**
 * Channel throughput and reopen time. stress source (200-byte bodies, batches of 1,000, 4 in flight)
 * → channel (transactionCapacity 1,000) → null sink, for memoryChannel, fileChannel (a sync per
 * group commit) and spillableMemoryChannel (in memory, and spilling everything to disk); then the
 * time for a fileChannel holding 1M events to open again — from its checkpoint, and by replaying
 * its log after a crash (no checkpoint). Each case runs in its own child process. Prints a table and
 * a JSON line.
 *
 *   npm run bench:channels      (EVENTS=… events per throughput case, REOPEN_EVENTS=… for the reopen)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NEVER, type OperatorFunction } from 'rxjs';
import type { Batch } from '../lib/core/batch.js';
import { metricsOf } from '../lib/core/metrics.js';
import { pipe } from '../lib/core/pipe.js';
import { stressSource } from '../lib/sources/stressSource.js';
import { nullSink } from '../lib/sinks/nullSink.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { fileChannel } from '../operators/channels/fileChannel.js';
import { spillableMemoryChannel } from '../operators/channels/spillableMemoryChannel.js';
import { printJsonLine } from './jsonLine.js';

const BODY = 200;
const BATCH = 1000;

type Throughput = 'memoryChannel' | 'fileChannel' | 'spillableMemoryChannel' | 'spillableMemoryChannel (spilling)';
type Reopen = 'fill' | 'reopen (checkpoint)' | 'reopen (replay, no checkpoint)';

interface Result {
  case: string;
  events: number;
  seconds: number;
  eventsPerSec?: number;
  mbPerSec?: number;
  peakRssMB: number;
}

const quiet = () => undefined;

function channelFor(kind: Throughput, dir: string): OperatorFunction<Batch, Batch> {
  const files = { checkpointDir: path.join(dir, 'checkpoint'), dataDirs: [path.join(dir, 'data')], logger: quiet };
  switch (kind) {
    case 'memoryChannel':
      return memoryChannel({ capacity: 10 * BATCH, transactionCapacity: BATCH });
    case 'fileChannel':
      return fileChannel({ ...files, capacity: 100 * BATCH, transactionCapacity: BATCH });
    case 'spillableMemoryChannel':
      return spillableMemoryChannel({ ...files, memoryCapacity: 10 * BATCH, transactionCapacity: BATCH });
    case 'spillableMemoryChannel (spilling)':
      return spillableMemoryChannel({ ...files, memoryCapacity: 0, overflowCapacity: 100 * BATCH, transactionCapacity: BATCH });
  }
}

async function throughput(kind: Throughput, events: number, dir: string): Promise<Result> {
  const started = process.hrtime.bigint();
  const pipeline = pipe(
    stressSource({ size: BODY, batchSize: BATCH, maxSuccessfulEvents: events, maxInFlight: 4 }),
    channelFor(kind, dir),
    nullSink({ batchSize: BATCH }),
  );
  await pipeline.done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const delivered = pipeline.metrics()['SINK.nullSink']?.['EventDrainSuccessCount'] ?? 0;
  if (delivered !== events) throw new Error(`delivered ${delivered} of ${events} events`);
  return rates(kind, events, seconds);
}

/** Fills a file channel with `events` events and stops it (a checkpoint is written on close). */
async function fill(events: number, dir: string): Promise<Result> {
  const started = process.hrtime.bigint();
  let stored = 0;
  const source = stressSource({ size: BODY, batchSize: BATCH, maxSuccessfulEvents: events, maxInFlight: 4 });
  await new Promise<void>((resolve, reject) => {
    const channel = fileChannel({ checkpointDir: path.join(dir, 'checkpoint'), dataDirs: [path.join(dir, 'data')], capacity: events, transactionCapacity: BATCH, logger: quiet });
    // The sink never acks: everything stays in the channel.
    const sub = source.pipe(channel).subscribe({ error: reject });
    const poll = setInterval(() => {
      stored = metricsOf(channel)!.get('EventPutSuccessCount');
      if (stored >= events) {
        clearInterval(poll);
        sub.unsubscribe();
        resolve();
      }
    }, 5);
  });
  // Wait for the close (checkpoint, lock release).
  const lock = path.join(dir, 'checkpoint', 'in_use.lock');
  for (;;) {
    try {
      await fs.access(lock);
      await new Promise((r) => setTimeout(r, 5));
    } catch {
      break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return rates('fill', events, seconds);
}

/** Time from subscribing until the channel delivers its first take: the log is open. */
async function reopen(kind: Reopen, events: number, dir: string): Promise<Result> {
  if (kind === 'reopen (replay, no checkpoint)') await fs.rm(path.join(dir, 'checkpoint', 'checkpoint'), { force: true });
  const started = process.hrtime.bigint();
  let held = 0;
  await new Promise<void>((resolve, reject) => {
    const channel = fileChannel({
      checkpointDir: path.join(dir, 'checkpoint'),
      dataDirs: [path.join(dir, 'data')],
      capacity: events,
      transactionCapacity: BATCH,
      logger: (_level, message) => {
        const m = /opened with (\d+) events/.exec(message);
        if (m) held = Number(m[1]);
      },
    });
    const sub = NEVER.pipe(channel).subscribe({
      next: () => {
        sub.unsubscribe();
        resolve();
      },
      error: reject,
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (held !== events) throw new Error(`reopened with ${held} events, expected ${events}`);
  return { case: kind, events, seconds: round(seconds, 3), peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1) };
}

function rates(name: string, events: number, seconds: number): Result {
  return {
    case: name,
    events,
    seconds: round(seconds, 3),
    eventsPerSec: Math.round(events / seconds),
    mbPerSec: round((events * BODY) / seconds / 1e6, 1),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function runChild(args: string[]): Result {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', ...args], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`bench case ${args.join(' ')} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Result;
}

async function main(): Promise<void> {
  const [mode, kind, eventsText, dir] = process.argv.slice(2);
  if (mode === '--case') {
    const events = Number(eventsText);
    let result: Result;
    if (kind === 'fill') result = await fill(events, dir!);
    else if (kind!.startsWith('reopen')) result = await reopen(kind as Reopen, events, dir!);
    else result = await throughput(kind as Throughput, events, dir!);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const events = Number(process.env['EVENTS'] ?? 2_000_000);
  const reopenEvents = Number(process.env['REOPEN_EVENTS'] ?? 1_000_000);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rxflume-bench-channels-'));
  const results: Result[] = [];
  try {
    const kinds: Throughput[] = ['memoryChannel', 'fileChannel', 'spillableMemoryChannel', 'spillableMemoryChannel (spilling)'];
    for (const [i, k] of kinds.entries()) results.push(runChild([k, String(events), path.join(root, `t${i}`)]));
    const held = path.join(root, 'held');
    results.push(runChild(['fill', String(reopenEvents), held]));
    results.push(runChild(['reopen (checkpoint)', String(reopenEvents), held]));
    results.push(runChild(['reopen (replay, no checkpoint)', String(reopenEvents), held]));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
  const rows = results.map((r) => [
    r.case,
    r.events.toLocaleString('en-US'),
    r.eventsPerSec?.toLocaleString('en-US') ?? '',
    r.mbPerSec ?? '',
    r.seconds,
    r.peakRssMB,
  ]);
  const header = ['case', 'events', 'events/s', 'MB/s (bodies)', 'seconds', 'peak RSS MB'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: unknown[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  console.log(`stress source (${BODY}-byte bodies, batches of ${BATCH}, 4 in flight) → channel (transactionCapacity ${BATCH}) → null sink; reopen of a file channel holding ${reopenEvents.toLocaleString('en-US')} events`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  // Reopening a file channel has no batch and no rate: its figure is its seconds.
  printJsonLine(
    'channels',
    results.map((r) => ({ ...r, batch: r.eventsPerSec === undefined ? null : BATCH, eventsPerSec: r.eventsPerSec ?? null })),
    { node: process.version, bodyBytes: BODY, batch: BATCH },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
