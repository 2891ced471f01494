/**
 * What the `rxflume` command's V8 flags (lib/agent/cli.ts) cost an agent that holds a large backlog in
 * memory: a memoryChannel filled with BACKLOG fresh events (200-byte bodies, a header each), then
 * drained while the source keeps putting, TOTAL events in all. Each flag set runs in a child process
 * of its own, the sets in turn for --rounds rounds: the command's flags, 8 MB semi-spaces alone (its
 * flags before issue #12's last change) and Node's defaults. Prints medians and a JSON line.
 *
 *   npm run build && npm run bench:backlog [-- --backlog N] [--total N] [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Observable, Subscription } from 'rxjs';
import { createBatch, type Batch } from '../lib/core/batch.js';
import type { FlumeEvent } from '../lib/core/event.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { cliNodeFlags } from './agents.js';
import { printJsonLine } from './jsonLine.js';
import { median } from './median.js';

const BATCH = 1000;
const BODY = 200;

interface Measured {
  seconds: number;
  cpuSeconds: number;
  eventsPerSec: number;
  peakRssMB: number;
}

/** One case, in this process: fill the channel to `backlog`, then ack as fast as it hands batches over. */
async function backlogCase(backlog: number, total: number): Promise<Measured> {
  let made = 0;
  const source = new Observable<Batch>((subscriber) => {
    let inFlight = 0;
    let stopped = false;
    const pump = () => {
      while (!stopped && inFlight < 4 && made < total) {
        const events: FlumeEvent[] = [];
        for (let i = 0; i < BATCH; i++) {
          const body = Buffer.allocUnsafe(BODY);
          body.writeUInt32BE(made + i, 0);
          events.push({ headers: { n: String(made + i) }, body });
        }
        made += BATCH;
        inFlight++;
        const onAck = () => {
          inFlight--;
          queueMicrotask(pump);
        };
        subscriber.next(createBatch(events, { onAck, onNack: (error) => subscriber.error(error) }));
      }
    };
    pump();
    return () => {
      stopped = true;
    };
  });
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const held: Batch[] = [];
  let taken = 0;
  const subscription = new Subscription();
  await new Promise<void>((resolve, reject) => {
    // The sink holds what it is handed until the source has made `backlog` events (the channel is full), then
    // acks everything. The channel hands over only a few batches while none is acked, so a timer watches too.
    const release = () => {
      for (const b of held.splice(0)) b.ack();
    };
    const filled = setInterval(() => {
      if (made < backlog) return;
      clearInterval(filled);
      release();
    }, 5);
    subscription.add(() => clearInterval(filled));
    subscription.add(
      source.pipe(memoryChannel({ capacity: backlog, transactionCapacity: BATCH })).subscribe({
        next: (batch) => {
          taken += batch.events.length;
          if (made < backlog) held.push(batch);
          else {
            release();
            setImmediate(() => batch.ack());
          }
          if (taken >= total) resolve();
        },
        error: reject,
      }),
    );
  });
  subscription.unsubscribe();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    seconds: round(seconds),
    cpuSeconds: round((used.user + used.system) / 1e6),
    eventsPerSec: Math.round(total / seconds),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
  };
}

const round = (x: number) => Number(x.toFixed(2));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      case: { type: 'boolean', default: false },
      backlog: { type: 'string', default: '1000000' },
      total: { type: 'string', default: '4000000' },
      rounds: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const backlog = Number(values.backlog);
  const total = Number(values.total);
  const rounds = Number(values.rounds);
  // A total below the backlog would never fill the channel, and the sink would wait for ever.
  if (!Number.isInteger(backlog) || backlog < BATCH) throw new RangeError(`--backlog ${values.backlog}: expected an integer ≥ ${BATCH}`);
  if (!Number.isInteger(total) || total < backlog) throw new RangeError(`--total ${values.total}: expected an integer ≥ the backlog (${backlog})`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds ${values.rounds}: expected an integer ≥ 1`);
  if (values.case) {
    process.stdout.write(`${JSON.stringify(await backlogCase(backlog, total))}\n`);
    process.exit(0);
  }
  const sets: { name: string; flags: string[] }[] = [
    { name: 'rxflume command', flags: cliNodeFlags() },
    { name: '8 MB semi-spaces', flags: ['--max-semi-space-size=8'] },
    { name: "Node's defaults", flags: [] },
  ];
  const runs = new Map<string, Measured[]>(sets.map((s) => [s.name, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const set of sets) {
      const args = [...set.flags, fileURLToPath(import.meta.url), '--case', '--backlog', String(backlog), '--total', String(total)];
      const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${set.name} (${set.flags.join(' ')}) failed:\n${child.stderr}`);
      const m = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Measured;
      runs.get(set.name)!.push(m);
      console.log(`round ${r} ${set.name}: ${m.eventsPerSec} events/s, ${m.cpuSeconds} s CPU, peak RSS ${m.peakRssMB} MB`);
    }
  }
  const results = sets.map((set) => {
    const all = runs.get(set.name)!;
    const of = (k: keyof Measured) => median(all.map((m) => m[k]));
    return { case: `memoryChannel backlog of ${backlog}`, batch: BATCH, server: set.name, flags: set.flags.join(' '), eventsPerSec: of('eventsPerSec'), cpuSeconds: of('cpuSeconds'), peakRssMB: of('peakRssMB') };
  });
  console.log(`\n${'flags'.padEnd(18)} ${'events/s'.padStart(10)} ${'CPU s'.padStart(7)} ${'peak RSS MB'.padStart(12)}  (medians of ${rounds} rounds, ${total} events)`);
  for (const r of results) console.log(`${r.server.padEnd(18)} ${String(r.eventsPerSec).padStart(10)} ${String(r.cpuSeconds).padStart(7)} ${String(r.peakRssMB).padStart(12)}  ${r.flags}`);
  printJsonLine('backlog', results, { node: process.version, backlog, total, bodyBytes: BODY, rounds });
}

await main();
