/**
 * rxflume against Apache Flume 1.11 on every path they share: the same properties text run by each
 * (bench/agents.ts: each agent in its own process), the same input, the exact event count checked on
 * the agent's own metrics, the median of ROUNDS rounds. Writes bench/results/<date>-<host>.json
 * (inputs, versions, CPU, per-round figures) and prints a table and a final JSON line; `npm run
 * bench:report` renders the plots and docs/benchmarks.md from that file.
 *
 *   npm run build && npm run bench:flume [-- --rows taildir-memory,avro-sink] [--rounds 3] [--quick] [--cpu-prof]
 *   (--help for the options)
 *
 * Rows and the issue's targets (#14): avro source → memory → null (delegated to bench/network.ts, which
 * also measures a plain-server baseline), avro sink → avro source, taildir → memory/file → null,
 * spooldir → file → file_roll, http (JSON) → memory → null, hdfs (delegated to bench/hdfs.ts), agent
 * start to first event, memory → kafka sink and kafka source → memory → null (one broker from
 * scripts/kafka.ts for both).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FLUME_VERSION, flumeJarsCached } from '../scripts/flume.js';
import { startBroker, type Broker } from '../scripts/kafka.js';
import { findUp, freePort } from '../scripts/service.js';
import { median } from './median.js';
import { measureDrain, startAgent, type AgentKind, type Drain, type RunningAgent } from './agents.js';
import { printJsonLine, readJsonLine, type BenchLine, type BenchResult } from './jsonLine.js';

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
const QUICK = flags.quick;
const ROUNDS = Number(flags.rounds);
// The same from bench/*.ts (tests) and dist/bench/*.js (npm run bench:*).
const ROOT = dirname(findUp(import.meta.url, 'package.json'));
const DIST = join(ROOT, 'dist');
/** With --cpu-prof: bench/profiles/<start time>/<row>/, one .cpuprofile per rxflume agent process. */
const PROFILES = flags['cpu-prof'] ? join(ROOT, 'bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;
const profileDir = (row: string): string | undefined => {
  if (!PROFILES) return undefined;
  const dir = join(PROFILES, row);
  mkdirSync(dir, { recursive: true });
  // The folder ignores itself: profiles are for whoever chases a bottleneck, never committed.
  writeFileSync(join(ROOT, 'bench', 'profiles', '.gitignore'), '*\n');
  return dir;
};

const USAGE = `npm run bench:flume [-- options]: rxflume against Apache Flume ${FLUME_VERSION} on every path they share

  --rows a,b     only these rows (default all): ROWS_LIST
  --rounds N     rounds per row, alternating the two agents; medians reported (default 3)
  --quick        fewer events per row and shorter windows (a smoke run, not a result)
  --out FILE     where the results JSON goes (default bench/results/<date>-<host>.json)
  --cpu-prof     profile every rxflume process a row starts (node --cpu-prof): one .cpuprofile per
                 agent in bench/profiles/<time>/<row>/ (ignored by git), written as the agent stops;
                 avro-source profiles bench/network.ts's rxflume and baseline servers, hdfs its rxflume
                 agents; Flume's JVM is not profiled. Open them in Chrome DevTools or speedscope.
  -h, --help     this text

Prints a table and, last, one JSON line of the shape every bench script prints (bench/jsonLine.ts):
{"bench": "flume", …, "results": [{"case", "server", "batch", "eventsPerSec", "peakRssMB", …}]}
with one result per row and agent (server "flume" or "rxflume", plus "baseline" where a row has one).`;

/** One side's figures for one round. */
interface Round extends Drain {
  agent: AgentKind;
}

interface RowResult {
  row: string;
  title: string;
  batch: number | null;
  events: number;
  target: string;
  /** Medians over the rounds, per agent (plus `baseline` where the row has one). */
  median: Partial<Record<AgentKind | 'baseline' | 'webhdfs', { eventsPerSec: number; peakRssMB: number; startSeconds?: number }>>;
  /** rxflume's events/s over Flume's, and RSS the same way. */
  ratio?: number;
  rssRatio?: number;
  rounds: Round[];
  note?: string;
}

interface Row {
  id: string;
  title: string;
  batch: number | null;
  events: number;
  target: string;
  run(): Promise<RowResult | RowResult[]>;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

function summarise(row: Omit<Row, 'run'>, rounds: Round[], metric: 'eventsPerSec' | 'firstEventSeconds' = 'eventsPerSec'): RowResult {
  const med: RowResult['median'] = {};
  for (const agent of ['flume', 'rxflume'] as const) {
    const mine = rounds.filter((r) => r.agent === agent);
    if (mine.length === 0) continue;
    med[agent] = {
      eventsPerSec: Math.round(median(mine.map((r) => r.eventsPerSec))),
      peakRssMB: r1(median(mine.map((r) => r.peakRssMB))),
      startSeconds: Math.round(median(mine.map((r) => r.firstEventSeconds)) * 1000) / 1000,
    };
  }
  const out: RowResult = { row: row.id, title: row.title, batch: row.batch, events: row.events, target: row.target, median: med, rounds, ...ratios(med) };
  const { flume, rxflume } = med;
  // For start-up, how many times sooner rxflume's first event is.
  if (metric === 'firstEventSeconds' && flume && rxflume) out.ratio = Math.round((flume.startSeconds! / rxflume.startSeconds!) * 100) / 100;
  return out;
}

/** Runs `conf(side dir)` on each agent ROUNDS times, alternating, after `prepare(side dir)`; `feed` runs beside the measurement. */
async function sideBySide(
  row: Omit<Row, 'run'>,
  setup: {
    conf(dir: string, port: number): string;
    prepare?(dir: string): void;
    /** Puts the input in place once the agent serves metrics (so that none drains before the window). */
    arrive?(dir: string): void;
    feed?(agent: RunningAgent, port: number): Promise<void>;
    expected?: number;
    metric?: 'eventsPerSec' | 'firstEventSeconds';
  },
): Promise<RowResult> {
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const kind of ['flume', 'rxflume'] as const) {
      const dir = mkdtempSync(join(tmpdir(), `rxflume-bench-${row.id}-${kind}-`));
      try {
        setup.prepare?.(dir);
        const port = await freePort();
        const startedAt = performance.now();
        const cpuProfDir = profileDir(row.id);
        const agent = await startAgent(kind, setup.conf(dir, port), cpuProfDir ? { cpuProfDir } : {});
        try {
          const feeding = setup.feed?.(agent, port);
          const drain = await measureDrain(agent, {
            expected: setup.expected ?? row.events,
            startedAt,
            maxSeconds: QUICK ? 60 : 120,
            ...(setup.arrive ? { onServing: () => setup.arrive!(dir) } : {}),
          });
          await feeding;
          // A window that ran out before the input did still gives a rate; the round says it was partial.
          rounds.push({ agent: kind, ...drain });
          console.error(`${row.id} round ${i + 1} ${kind}: ${Math.round(drain.eventsPerSec)} events/s${drain.partial ? ` (partial: ${drain.count} of ${setup.expected ?? row.events} in the window)` : ''}, first event after ${drain.firstEventSeconds.toFixed(2)} s, peak RSS ${drain.peakRssMB} MB`);
        } finally {
          await agent.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return summarise(row, rounds, setup.metric);
}

// ---- inputs ------------------------------------------------------------------------------------

/** `lines` log lines of 200–240 bytes with a sequence number, in `path`. */
function writeLines(path: string, lines: number, from = 0): void {
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 GET /api/v1/orders?id= HTTP/1.1 200 '.repeat(4);
  const chunk: string[] = [];
  for (let i = from; i < from + lines; i++) {
    chunk.push(`${String(i).padStart(9, '0')} ${filler.slice(i % 50, (i % 50) + 189 + ((i * 7919) % 41))}\n`);
  }
  writeFileSync(path, chunk.join(''));
}

const memory = (batch: number) => [`a1.channels.c1.type = memory`, `a1.channels.c1.capacity = ${Math.max(10_000, batch * 10)}`, `a1.channels.c1.transactionCapacity = ${batch}`];
const fileChannel = (dir: string, batch: number) => [
  `a1.channels.c1.type = file`,
  `a1.channels.c1.checkpointDir = ${dir}/checkpoint`,
  `a1.channels.c1.dataDirs = ${dir}/data`,
  `a1.channels.c1.capacity = ${Math.max(100_000, batch * 10)}`,
  `a1.channels.c1.transactionCapacity = ${batch}`,
];
/** `events` bodies of 200 random bytes (Flume's StressSource), counted as successful puts. */
const stress = (events: number, batch: number) => ['a1.sources.r1.type = org.apache.flume.source.StressSource', 'a1.sources.r1.size = 200', `a1.sources.r1.maxSuccessfulEvents = ${events}`, `a1.sources.r1.batchSize = ${batch}`];
const nullSink = (batch: number) => [`a1.sinks.k1.type = null`, `a1.sinks.k1.batchSize = ${batch}`];
const agent = (lines: string[]) => ['a1.sources = r1', 'a1.channels = c1', 'a1.sinks = k1', 'a1.sources.r1.channels = c1', 'a1.sinks.k1.channel = c1', ...lines, ''].join('\n');

// ---- rows --------------------------------------------------------------------------------------

const FILE_EVENTS = QUICK ? 100_000 : 1_000_000;
/** Through a file channel: Flume's commits it at a few transactions a second on this disk, so fewer events. */
const FILE_CHANNEL_EVENTS = QUICK ? 20_000 : 200_000;

function taildirRow(channel: 'memory' | 'file'): Row {
  const batch = 1000;
  const row = {
    id: `taildir-${channel}-null`,
    title: `taildir → ${channel} → null`,
    batch,
    events: channel === 'memory' ? FILE_EVENTS : FILE_CHANNEL_EVENTS,
    target: '≥ 3× Flume; RSS ≤ ⅓ of Flume',
  };
  return {
    ...row,
    run: () => {
      const input = mkdtempSync(join(tmpdir(), 'rxflume-bench-taildir-input-'));
      writeLines(join(input, 'app.log'), row.events);
      return sideBySide(row, {
        prepare: (dir) => {
          mkdirSync(join(dir, 'logs'));
          cpSync(join(input, 'app.log'), join(dir, 'app.log'));
        },
        // A new file in the group: both agents find it on their next scan, and read it from its start.
        arrive: (dir) => renameSync(join(dir, 'app.log'), join(dir, 'logs', 'app.log')),
        conf: (dir) =>
          agent([
            'a1.sources.r1.type = TAILDIR',
            'a1.sources.r1.filegroups = f1',
            `a1.sources.r1.filegroups.f1 = ${dir}/logs/app.*`,
            `a1.sources.r1.positionFile = ${dir}/taildir_position.json`,
            `a1.sources.r1.batchSize = ${batch}`,
            ...(channel === 'memory' ? memory(batch) : fileChannel(dir, batch)),
            ...nullSink(batch),
          ]),
      }).finally(() => rmSync(input, { recursive: true, force: true }));
    },
  };
}

function spooldirRow(): Row {
  const batch = 1000;
  const files = 10;
  const row = { id: 'spooldir-file-file_roll', title: 'spooldir → file → file_roll', batch, events: FILE_CHANNEL_EVENTS, target: '≥ 2× Flume' };
  return {
    ...row,
    run: () => {
      const input = mkdtempSync(join(tmpdir(), 'rxflume-bench-spool-input-'));
      for (let f = 0; f < files; f++) writeLines(join(input, `part-${f}.log`), row.events / files, (f * row.events) / files);
      return sideBySide(row, {
        prepare: (dir) => {
          cpSync(input, join(dir, 'ready'), { recursive: true });
          mkdirSync(join(dir, 'spool'));
          mkdirSync(join(dir, 'out'));
        },
        // Files moved into the spool directory whole, as spooldir requires.
        arrive: (dir) => {
          for (const f of readdirSync(join(dir, 'ready'))) renameSync(join(dir, 'ready', f), join(dir, 'spool', f));
        },
        conf: (dir) =>
          agent([
            'a1.sources.r1.type = spooldir',
            `a1.sources.r1.spoolDir = ${dir}/spool`,
            `a1.sources.r1.batchSize = ${batch}`,
            ...fileChannel(dir, batch),
            'a1.sinks.k1.type = file_roll',
            `a1.sinks.k1.sink.directory = ${dir}/out`,
            'a1.sinks.k1.sink.rollInterval = 0',
            `a1.sinks.k1.sink.batchSize = ${batch}`,
          ]),
      }).finally(() => rmSync(input, { recursive: true, force: true }));
    },
  };
}

/** POSTs JSON arrays of `batch` events, `inFlight` at a time, until `events` were answered 200; 503 (channel full) is sent again. */
async function postJson(port: number, events: number, batch: number, inFlight: number, agentUp: RunningAgent): Promise<void> {
  const body = Buffer.from(JSON.stringify(Array.from({ length: batch }, (_, i) => ({ headers: { host: 'web-1', seq: String(i) }, body: `${'x'.repeat(180)} ${i}` }))));
  const keepAlive = new Agent({ keepAlive: true, maxSockets: inFlight });
  let accepted = 0;
  let sent = 0;
  const post = () =>
    new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });
  const deadline = performance.now() + (QUICK ? 120_000 : 600_000);
  const worker = async () => {
    while (sent < events && performance.now() < deadline && agentUp.exited() === undefined) {
      sent += batch;
      const status = await post();
      if (status === 200) accepted += batch;
      else {
        sent -= batch; // not taken (not listening yet, or the channel is full): send again
        await new Promise((r) => setTimeout(r, status === 0 ? 100 : 5));
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  keepAlive.destroy();
  if (accepted < events) throw new Error(`http feeder: ${accepted} of ${events} events accepted`);
}

function httpRow(): Row {
  const batch = 100;
  const events = QUICK ? 50_000 : 500_000;
  const row = { id: 'http-memory-null', title: 'http (JSON) → memory → null', batch, events, target: '≥ 1.5× Flume' };
  return {
    ...row,
    run: () =>
      sideBySide(row, {
        conf: (_dir, port) => agent(['a1.sources.r1.type = http', 'a1.sources.r1.bind = 127.0.0.1', `a1.sources.r1.port = ${port}`, ...memory(1000), ...nullSink(batch)]),
        feed: (a, port) => postJson(port, events, batch, 4, a),
      }),
  };
}

function avroSinkRow(): Row {
  const batch = 1000;
  const events = QUICK ? 200_000 : 2_000_000;
  const row = { id: 'avro-sink', title: 'stress (200 B) → memory → avro sink → rxflume avro source', batch, events, target: '≥ 1.5× Flume' };
  return {
    ...row,
    async run() {
      // One receiver for both senders: an rxflume agent, avro source → memory → null.
      const port = await freePort();
      const cpuProfDir = profileDir(`${row.id}-receiver`);
      const receiver = await startAgent(
        'rxflume',
        agent([`a1.sources.r1.type = avro`, 'a1.sources.r1.bind = 127.0.0.1', `a1.sources.r1.port = ${port}`, ...memory(batch), ...nullSink(batch)]),
        cpuProfDir ? { cpuProfDir } : {},
      );
      try {
        return await sideBySide(row, {
          conf: () =>
            agent([
              ...stress(events, batch),
              ...memory(batch),
              'a1.sinks.k1.type = avro',
              'a1.sinks.k1.hostname = 127.0.0.1',
              `a1.sinks.k1.port = ${port}`,
              `a1.sinks.k1.batch-size = ${batch}`,
            ]),
        });
      } finally {
        await receiver.stop();
      }
    },
  };
}

/** One broker for the Kafka rows, started on first use (scripts/kafka.ts, Maven Central jars). */
let broker: Broker | undefined;
const kafka = async () => (broker ??= await startBroker({ numPartitions: 1 }));
/** A topic name of its own per side and round (auto-created). */
const topicOf = (dir: string) => basename(dir).replace(/[^a-zA-Z0-9-]/g, '-');

function kafkaSinkRow(): Row {
  const batch = 1000;
  const events = QUICK ? 50_000 : 500_000;
  const row = { id: 'kafka-sink', title: 'stress (200 B) → memory → kafka sink (acks=all)', batch, events, target: "≥ 1× Flume's Kafka sink" };
  return {
    ...row,
    async run() {
      const { bootstrap } = await kafka();
      return sideBySide(row, {
        conf: (dir) =>
          agent([
            ...stress(events, batch),
            ...memory(batch),
            'a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink',
            `a1.sinks.k1.kafka.bootstrap.servers = ${bootstrap}`,
            `a1.sinks.k1.kafka.topic = ${topicOf(dir)}`,
            `a1.sinks.k1.kafka.flumeBatchSize = ${batch}`,
            'a1.sinks.k1.kafka.producer.acks = all',
          ]),
      });
    },
  };
}

function kafkaSourceRow(): Row {
  const batch = 1000;
  const events = QUICK ? 50_000 : 500_000;
  const row = { id: 'kafka-source', title: 'kafka source → memory → null (200 B records)', batch, events, target: "≥ 1× Flume's Kafka source" };
  return {
    ...row,
    async run() {
      const { bootstrap } = await kafka();
      const topic = `bench-source-${Date.now()}`;
      const { Kafka } = await import('kafkajs');
      const producer = new Kafka({ clientId: 'rxflume-bench', brokers: [bootstrap], logLevel: 0 }).producer();
      await producer.connect();
      const value = Buffer.alloc(200, 'x');
      for (let sent = 0; sent < events; sent += 2000) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(2000, events - sent) }, () => ({ value })) });
      }
      await producer.disconnect();
      // Each side and round reads the whole topic with a group of its own, from the earliest offset.
      return sideBySide(row, {
        conf: (dir) =>
          agent([
            'a1.sources.r1.type = org.apache.flume.source.kafka.KafkaSource',
            `a1.sources.r1.kafka.bootstrap.servers = ${bootstrap}`,
            `a1.sources.r1.kafka.topics = ${topic}`,
            `a1.sources.r1.kafka.consumer.group.id = ${topicOf(dir)}`,
            'a1.sources.r1.kafka.consumer.auto.offset.reset = earliest',
            `a1.sources.r1.batchSize = ${batch}`,
            ...memory(batch),
            ...nullSink(batch),
          ]),
      });
    },
  };
}

function startRow(): Row {
  const row = { id: 'start', title: 'agent start to first event (seq → memory → null)', batch: null, events: 1, target: '≤ 0.3 s' };
  return {
    ...row,
    run: () =>
      sideBySide(row, {
        conf: () => agent(['a1.sources.r1.type = seq', 'a1.sources.r1.totalEvents = 1000', ...memory(100), ...nullSink(100)]),
        expected: 1,
        metric: 'firstEventSeconds',
      }),
  };
}

/** Runs another bench script and returns its final JSON line. */
function delegate(script: string, args: string[], env: Record<string, string> = {}): BenchLine {
  const run = spawnSync(process.execPath, [join(DIST, 'bench', script), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${script} exited ${run.status}: ${run.stdout.slice(-2000)}`);
  return readJsonLine(run.stdout);
}

/** Connections the avro-source row measures: one, as a single upstream agent sends, and several. */
const AVRO_SOURCE_CONNS = [1, 4];

function avroSourceRow(): Row {
  const row = { id: 'avro-source', title: 'avro source → memory → null', batch: null, events: 0, target: '≥ 1.5× Flume; ≥ 0.8 of the plain-server baseline' };
  return {
    ...row,
    async run() {
      const cpuProfDir = profileDir(row.id);
      const out = delegate('network.js', [], {
        BATCHES: '100,1000',
        AVRO_CONNS: AVRO_SOURCE_CONNS.join(','),
        ROUNDS: String(ROUNDS),
        SECONDS: QUICK ? '2' : '5',
        CASES: 'avro/baseline,avro/rxflume,avro/flume',
        ...(cpuProfDir ? { CPU_PROF_DIR: cpuProfDir } : {}),
      });
      const results = (out.results as Array<BenchResult & { proto: string; server: AgentKind | 'baseline'; batch: number; conns: number; eventsPerSec: number; peakRssMB: number; mismatch: boolean }>).filter((r) => r.proto === 'avro');
      if (results.some((r) => r.mismatch)) throw new Error('avro-source: bench/network.ts reported a count mismatch');
      // One result per connection count and batch; the id names the count past one, so plots and labels stay apart.
      return AVRO_SOURCE_CONNS.flatMap((conns) =>
        [100, 1000].map((batch) => {
          const med: RowResult['median'] = {};
          for (const r of results.filter((x) => x.batch === batch && x.conns === conns)) med[r.server] = { eventsPerSec: r.eventsPerSec, peakRssMB: r.peakRssMB };
          const id = conns === 1 ? row.id : `${row.id}-${conns}conn`;
          const title = `${row.title} (${conns} connection${conns === 1 ? '' : 's'})`;
          return { row: id, title, events: row.events, target: row.target, batch, median: med, rounds: [], ...ratios(med) };
        }),
      );
    },
  };
}

/** rxflume over Flume for events/s, and the same for peak RSS. */
function ratios(med: RowResult['median']): Pick<RowResult, 'ratio' | 'rssRatio'> {
  const { flume, rxflume } = med;
  if (!flume || !rxflume) return {};
  return { ratio: Math.round((rxflume.eventsPerSec / flume.eventsPerSec) * 100) / 100, rssRatio: Math.round((rxflume.peakRssMB / flume.peakRssMB) * 100) / 100 };
}

function hdfsRow(): Row {
  const row = { id: 'hdfs', title: 'StressSource → memory → hdfs (DataStream)', batch: 1000, events: QUICK ? 20_000 : 1_000_000, target: '≥ 1.5× Flume at ≤ ½ its RSS' };
  return {
    ...row,
    async run() {
      const cpuProfDir = profileDir(row.id);
      const out = delegate('hdfs.js', ['--batches', '1000', '--types', 'DataStream', '--rounds', String(ROUNDS), ...(QUICK ? ['--quick'] : []), ...(cpuProfDir ? ['--cpu-prof-dir', cpuProfDir] : [])]);
      const results = out.results as Array<BenchResult & { agent: AgentKind; eventsPerSec: number; peakRssMB: number; startSeconds: number }>;
      const med: RowResult['median'] = {};
      // bench/hdfs.ts's 'native' agent runs Flume's file as written (an hdfs:// path: the sink's default, native
      // transport) — rxflume's figure; its 'rxflume' agent is the same sink over WebHDFS, shown beside it.
      const as = { flume: 'flume', native: 'rxflume', rxflume: 'webhdfs' } as const;
      for (const r of results) med[as[r.agent]] = { eventsPerSec: r.eventsPerSec, peakRssMB: r.peakRssMB, startSeconds: r.startSeconds };
      return { row: row.id, title: row.title, events: row.events, target: row.target, batch: row.batch, median: med, rounds: [], ...ratios(med) };
    },
  };
}

const ROWS: Row[] = [avroSourceRow(), avroSinkRow(), taildirRow('memory'), taildirRow('file'), spooldirRow(), httpRow(), kafkaSinkRow(), kafkaSourceRow(), hdfsRow(), startRow()];
const NOT_MEASURED: { row: string; title: string; note: string }[] = [];

async function main(): Promise<void> {
  if (flags.help) {
    console.log(USAGE.replace('ROWS_LIST', ROWS.map((r) => r.id).join(', ')));
    return;
  }
  // The agents run on this Node (process.execPath): a figure from a Node line rxflume does not support is no result.
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const [wantMajor = 0, wantMinor = 0] = (/(\d+)\.(\d+)/.exec(engines) ?? []).slice(1).map(Number);
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
    console.error(`bench:flume: rxflume needs Node ${engines} (package.json engines); this is ${process.version}. Run it with Node 22 or 24 on the PATH.`);
    process.exitCode = 2;
    return;
  }
  if (!flumeJarsCached()) throw new Error(`Flume ${FLUME_VERSION} jars are not cached: npm run flume:fetch`);
  const wanted = flags.rows?.split(',');
  const rows = ROWS.filter((r) => !wanted || wanted.includes(r.id));
  const results: RowResult[] = [];
  try {
    for (const row of rows) {
      console.error(`== ${row.title}`);
      results.push(...[await row.run()].flat());
    }
  } finally {
    await broker?.close();
  }
  const date = new Date().toISOString().slice(0, 10);
  const report = {
    bench: 'flume',
    date,
    machine: { host: hostname(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGB: Math.round(totalmem() / 2 ** 30) },
    versions: { node: process.version, flume: FLUME_VERSION, java: spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0] ?? '' },
    inputs: { rounds: ROUNDS, quick: QUICK, note: process.env['BENCH_NOTE'] ?? '' },
    results: results.map((r) => ({ ...r, case: r.row, eventsPerSec: r.median.rxflume?.eventsPerSec, peakRssMB: r.median.rxflume?.peakRssMB })),
    notMeasured: NOT_MEASURED,
  };
  const file = flags.out ?? join(ROOT, 'bench', 'results', `${date}-${hostname()}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log('');
  console.log(`${'row'.padEnd(26)} ${'batch'.padStart(5)} ${'flume ev/s'.padStart(11)} ${'rxflume ev/s'.padStart(13)} ${'ratio'.padStart(6)} ${'flume MB'.padStart(9)} ${'rxflume MB'.padStart(11)}  target`);
  for (const r of results) {
    const f = r.median.flume;
    const x = r.median.rxflume;
    console.log(
      `${r.row.padEnd(26)} ${String(r.batch ?? '').padStart(5)} ${String(f?.eventsPerSec ?? '').padStart(11)} ${String(x?.eventsPerSec ?? '').padStart(13)} ${String(r.ratio ?? '').padStart(6)} ${String(f?.peakRssMB ?? '').padStart(9)} ${String(x?.peakRssMB ?? '').padStart(11)}  ${r.target}`,
    );
  }
  console.log(`written to ${file}`);
  if (PROFILES) console.log(`CPU profiles of the rxflume processes in ${PROFILES}`);
  // One result per row and agent, in the shape of every bench line.
  const lineResults = results.flatMap((r) =>
    Object.entries(r.median).map(([server, m]) => ({
      case: r.row,
      server,
      batch: r.batch,
      eventsPerSec: m.eventsPerSec,
      peakRssMB: m.peakRssMB,
      ...(m.startSeconds !== undefined ? { startSeconds: m.startSeconds } : {}),
      ...(server === 'rxflume' && r.ratio !== undefined ? { ratio: r.ratio, rssRatio: r.rssRatio } : {}),
      target: r.target,
    })),
  );
  printJsonLine('flume', lineResults, { file });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
