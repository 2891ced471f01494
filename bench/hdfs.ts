/**
 * The HDFS sink against Apache Flume 1.11.0's, on one real single-node HDFS (scripts/hdfs.ts,
 * MiniDFSCluster) started once for the run. Each case — hdfs.fileType SequenceFile and DataStream,
 * hdfs.batchSize 100 and 1000 — runs the SAME Flume properties file on Flume (java, its HDFS sink over
 * Hadoop's DFS client, hdfs.path hdfs://…), on rxflume over its native transport (`native`: the file
 * as it is — the default for an hdfs:// path: Hadoop RPC and DataNode pipelines, lib/hdfs/native) and on
 * rxflume over WebHDFS (`rxflume`: the file plus `webHdfsUrl`, which Flume would ignore), one after the other:
 *
 *   StressSource (N events of SIZE bytes, batches of B) → memory channel (transactionCapacity B)
 *     → hdfs sink (batchSize B; no roll by time or count, 128 MB files)
 *
 * Both agents expose Flume's JSON metrics (`-Dflume.monitoring.type=http -Dflume.monitoring.port=…`),
 * polled every POLL_MS: the clock starts at the first answer that has SINK.k1 (so JVM and node start-up
 * are not counted; they are reported apart) and stops when its EventDrainSuccessCount reaches N, or at
 * --max-seconds (then the rate is of the events drained so far and the row says "partial"). Peak RSS is
 * the agent process's VmHWM (/proc/<pid>/status: the JVM's or node's, whole process), CPU its
 * utime + stime over the window. After each agent stops (SIGTERM: files closed and renamed) the bytes in
 * the case's HDFS directory are summed as a check, and the directory is removed for the next agent.
 *
 *   npm run build && npm run bench:hdfs [-- --events N] [--quick] [--size BYTES] [--max-seconds S]
 *       [--batches 100,1000] [--types SequenceFile,DataStream] [--agents flume,rxflume]
 *       [--flume-heap MB] [--set key=value]… [--hdfs-conf key=value]… [--cpu-prof-dir DIR] [--rounds N]
 *   --set adds a line to the shared properties file (e.g. --set a1.channels.c1.maxInFlight=4; Flume
 *   ignores keys it does not know); --hdfs-conf configures the cluster (e.g.
 *   --hdfs-conf dfs.client.block.write.locateFollowingBlock.initial.delay.ms=10); --cpu-prof-dir has
 *   every rxflume agent write a V8 CPU profile there as it stops (bench:flume --cpu-prof passes it);
 *   --rounds runs each case's agents N times, one after the other in turn, and reports each figure's median
 *   (bench:flume passes its own --rounds).
 *
 * What to expect: every WebHDFS APPEND closes the file, and the DataNode's own DFS client then often
 * waits 400 ms (that delay.ms default, while the NameNode has not yet seen the DataNode's block
 * report) before its complete() goes through — measured 25–50 ms or ≈430 ms per APPEND, whatever its
 * size (50 KB–5 MB). Flume hflushes an open file and never pays it. So rxflume's rate here is events
 * in flight over that latency: the agent lets the channel hand the sink all it holds (maxInFlight =
 * min(capacity, 20,000) / transactionCapacity: 100 batches here), so the channel's capacity and that DataNode
 * setting move it most. The native transport keeps each file open and hflushes each round, as Flume
 * does, so it pays a pipeline round trip per round instead. CPU/event ratios include the fixed cost of the POLL_MS metrics polling,
 * which dominates in slow, partial cases.
 *
 * Needs java and Flume's jars with its HDFS sink (npm run flume:fetch) and Hadoop's (npm run hdfs:fetch).
 * Everything listens on 127.0.0.1; the agents, the cluster and the temp folders go away on exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FLUME_VERSION, flumeJarsCached } from '../scripts/flume.js';
import { HADOOP_VERSION, startHdfs, type Hdfs } from '../scripts/hdfs.js';
import { checkTools, sleep, tail } from '../scripts/service.js';
import { counter, startAgent } from './agents.js';
import { printJsonLine } from './jsonLine.js';
import { median } from './median.js';
import { procStats } from './procStats.js';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string' },
    quick: { type: 'boolean', default: false },
    size: { type: 'string', default: '500' },
    'max-seconds': { type: 'string' },
    batches: { type: 'string', default: '100,1000' },
    types: { type: 'string', default: 'SequenceFile,DataStream' },
    agents: { type: 'string', default: 'flume,native,rxflume' },
    'flume-heap': { type: 'string', default: '512' },
    set: { type: 'string', multiple: true, default: [] },
    'hdfs-conf': { type: 'string', multiple: true, default: [] },
    'cpu-prof-dir': { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
  strict: true,
});

const QUICK = flags.quick;
/** Events per case: 1,000,000 is 15–25 s of Flume's HDFS sink on a 2-core machine (40–65k events/s measured). */
const EVENTS = Number(flags.events ?? (QUICK ? 20_000 : 1_000_000));
const SIZE = Number(flags.size);
const MAX_SECONDS = Number(flags['max-seconds'] ?? (QUICK ? 30 : 120));
const BATCHES = flags.batches.split(',').map(Number);
const FILE_TYPES = flags.types.split(',');
const AGENTS = flags.agents.split(',') as AgentKind[];
const FLUME_HEAP_MB = Number(flags['flume-heap']);
const EXTRA = flags.set;
const ROUNDS = Number(flags.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds: a whole number of at least 1, received ${flags.rounds}`);
/** More Hadoop configuration of the cluster (its NameNode, DataNode and the DataNode's own DFS client). */
const HDFS_CONF = Object.fromEntries(flags['hdfs-conf'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const POLL_MS = 50;
/** How long an agent may take to answer its first metrics request with the sink in it. */
const START_TIMEOUT_MS = 120_000;
const ROLL_SIZE = 128 * 1024 * 1024;

/** rxflume: over WebHDFS; native: over Hadoop RPC and DataTransferProtocol. */
type AgentKind = 'flume' | 'rxflume' | 'native';

interface Result {
  fileType: string;
  batch: number;
  agent: AgentKind;
  events: number;
  /** Drained within the window (all N unless partial). */
  drained: number;
  partial: boolean;
  seconds: number;
  eventsPerSec: number;
  mbPerSec: number;
  peakRssMB: number;
  cpuSeconds: number;
  /** Spawn to the first metrics answer with the sink in it. */
  startSeconds: number;
  /** Bytes and files in the case's directory once the agent stopped. */
  hdfsBytes: number;
  hdfsFiles: number;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** A case's rounds as one result: each figure's own median (a partial round makes it partial). */
function medianResult(runs: Result[]): Result {
  if (runs.length === 1) return runs[0]!;
  const m = (key: 'seconds' | 'eventsPerSec' | 'mbPerSec' | 'peakRssMB' | 'cpuSeconds' | 'startSeconds') => round(median(runs.map((r) => r[key])), key === 'eventsPerSec' ? 0 : 2);
  return {
    ...runs[0]!,
    drained: Math.min(...runs.map((r) => r.drained)),
    partial: runs.some((r) => r.partial),
    seconds: m('seconds'),
    eventsPerSec: m('eventsPerSec'),
    mbPerSec: m('mbPerSec'),
    peakRssMB: m('peakRssMB'),
    cpuSeconds: m('cpuSeconds'),
    startSeconds: m('startSeconds'),
  };
}

/** The properties file the agents run, byte for byte but for rxflume over WebHDFS's webHdfsUrl. */
function properties(hdfs: Hdfs, fileType: string, batch: number, kind: AgentKind): string {
  return [
    'a1.sources = r1',
    'a1.channels = c1',
    'a1.sinks = k1',
    'a1.sources.r1.type = org.apache.flume.source.StressSource',
    `a1.sources.r1.size = ${SIZE}`,
    // Successful puts, not generated events: a put refused by a full channel is not re-sent by a
    // StressSource, and would leave fewer than N events to drain.
    `a1.sources.r1.maxSuccessfulEvents = ${EVENTS}`,
    `a1.sources.r1.batchSize = ${batch}`,
    'a1.sources.r1.channels = c1',
    'a1.channels.c1.type = memory',
    `a1.channels.c1.capacity = ${Math.max(10_000, batch * 10)}`,
    `a1.channels.c1.transactionCapacity = ${batch}`,
    'a1.sinks.k1.type = hdfs',
    'a1.sinks.k1.channel = c1',
    `a1.sinks.k1.hdfs.path = ${hdfs.uri}${caseDir(fileType, batch)}`,
    `a1.sinks.k1.hdfs.fileType = ${fileType}`,
    `a1.sinks.k1.hdfs.batchSize = ${batch}`,
    'a1.sinks.k1.hdfs.rollInterval = 0',
    'a1.sinks.k1.hdfs.rollCount = 0',
    `a1.sinks.k1.hdfs.rollSize = ${ROLL_SIZE}`,
    'a1.sinks.k1.hdfs.minBlockReplicas = 1',
    // rxflume over WebHDFS only (Flume would ignore it): where WebHDFS is. Native is an hdfs:// path's default.
    ...(kind === 'rxflume' ? [`a1.sinks.k1.webHdfsUrl = ${hdfs.webhdfs}`] : []),
    ...EXTRA.map((kv) => kv.replace('=', ' = ')),
    '',
  ].join('\n');
}

const caseDir = (fileType: string, batch: number) => `/bench/${fileType}-${batch}`;

async function webHdfs(hdfs: Hdfs, method: string, path: string, op: string): Promise<unknown> {
  const response = await fetch(`${hdfs.webhdfs}/webhdfs/v1${path}?op=${op}&user.name=${encodeURIComponent(hdfs.superuser)}`, { method });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`WebHDFS ${op} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Bytes and files under `dir` (one level: the sink writes no subfolders here). */
async function hdfsUsage(hdfs: Hdfs, dir: string): Promise<{ bytes: number; files: number }> {
  const listing = (await webHdfs(hdfs, 'GET', dir, 'LISTSTATUS')) as { FileStatuses: { FileStatus: Array<{ length: number; type: string }> } } | undefined;
  const files = listing?.FileStatuses.FileStatus.filter((f) => f.type === 'FILE') ?? [];
  return { bytes: files.reduce((sum, f) => sum + f.length, 0), files: files.length };
}

async function runCase(hdfs: Hdfs, kind: AgentKind, fileType: string, batch: number): Promise<Result> {
  const conf = properties(hdfs, fileType, batch, kind);
  const dir = caseDir(fileType, batch);
  await webHdfs(hdfs, 'DELETE', dir, 'DELETE&recursive=true');
  const spawned = performance.now();
  // Flume with its HDFS sink's jars and Hadoop's client configuration of this cluster (fs.defaultFS, replication 1).
  const profile = flags['cpu-prof-dir'] ? { cpuProfDir: flags['cpu-prof-dir'] } : {};
  const agent = await startAgent(kind === 'flume' ? 'flume' : 'rxflume', conf, { flume: { hdfs: true, heapMb: FLUME_HEAP_MB, classpath: [hdfs.confDir] }, ...profile });
  const drained = async () => counter(agent, 'SINK.k1', 'EventDrainSuccessCount');
  try {
    // Bounded: START_TIMEOUT_MS to the first answer, then MAX_SECONDS of measurement.
    let first: { t: number; n: number } | undefined;
    const startDeadline = spawned + START_TIMEOUT_MS;
    while (first === undefined) {
      if (agent.exited()) throw new Error(`${kind} agent exited (${agent.exited()}) before it served metrics:\n${tail(await agent.log(), 40)}`);
      if (performance.now() > startDeadline) throw new Error(`${kind} agent served no SINK.k1 metrics within ${START_TIMEOUT_MS} ms:\n${tail(await agent.log(), 40)}`);
      const n = await drained();
      if (n !== undefined) first = { t: performance.now(), n };
      else await sleep(POLL_MS);
    }
    const cpu0 = procStats(agent.pid).cpuSeconds;
    let last = first;
    const deadline = first.t + MAX_SECONDS * 1000;
    while (last.n < EVENTS && last.t < deadline) {
      if (agent.exited()) throw new Error(`${kind} agent exited (${agent.exited()}) after ${last.n} of ${EVENTS} events:\n${tail(await agent.log(), 40)}`);
      await sleep(POLL_MS);
      const n = await drained();
      if (n !== undefined) last = { t: performance.now(), n };
    }
    const stats = procStats(agent.pid);
    const seconds = (last.t - first.t) / 1000;
    const count = last.n - first.n;
    const perSec = seconds > 0 ? count / seconds : 0;
    const partial = last.n < EVENTS;
    await agent.stop();
    const usage = await hdfsUsage(hdfs, dir);
    if (!partial && usage.bytes < EVENTS * SIZE) console.error(`!!! ${kind} ${fileType}/${batch}: ${usage.bytes} bytes in ${dir}, fewer than the ${EVENTS * SIZE} body bytes drained`);
    return {
      fileType,
      batch,
      agent: kind,
      events: EVENTS,
      drained: last.n,
      partial,
      seconds: round(seconds, 2),
      eventsPerSec: Math.round(perSec),
      mbPerSec: round((perSec * SIZE) / 1e6, 2),
      peakRssMB: stats.peakRssMB,
      cpuSeconds: round(stats.cpuSeconds - cpu0, 2),
      startSeconds: round((first.t - spawned) / 1000, 1),
      hdfsBytes: usage.bytes,
      hdfsFiles: usage.files,
    };
  } finally {
    await agent.stop();
    await webHdfs(hdfs, 'DELETE', dir, 'DELETE&recursive=true').catch(() => undefined);
  }
}

function table(header: string[], rows: unknown[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  checkTools(`Flume ${FLUME_VERSION} / Hadoop ${HADOOP_VERSION}`);
  if (AGENTS.includes('flume') && !flumeJarsCached(true)) console.error(`Flume ${FLUME_VERSION} jars with its HDFS sink are not cached: fetching them (or run npm run flume:fetch)`);
  const tmp = mkdtempSync(join(tmpdir(), 'rxflume-bench-hdfs-'));
  let hdfs: Hdfs | undefined;
  const cleanup = async () => {
    await hdfs?.close().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const load0 = loadavg();
    // The JVM's defaults (G1, tiered JIT) for a cluster that is measured through, not the quick-start flags.
    hdfs = await startHdfs({ jvmArgs: [], conf: HDFS_CONF, log: (l) => console.error(l) });
    await webHdfs(hdfs, 'PUT', '/bench', 'MKDIRS');
    console.log(
      `HDFS ${HADOOP_VERSION} (MiniDFSCluster, 1 DataNode) on ${hdfs.uri}, WebHDFS ${hdfs.webhdfs}; ` +
        `${EVENTS.toLocaleString('en-US')} events of ${SIZE} bytes per case (StressSource → memory → hdfs sink, no roll), at most ${MAX_SECONDS} s each`,
    );
    console.log(`flume: Apache Flume ${FLUME_VERSION}, HDFS sink over Hadoop's DFS client, -Xmx${FLUME_HEAP_MB}m, JVM defaults; native / rxflume: node ${process.version}, hdfsSink over Hadoop RPC + DataTransferProtocol / over WebHDFS`);
    if (EXTRA.length > 0) console.log(`extra properties: ${EXTRA.join(', ')}`);
    if (flags['hdfs-conf'].length > 0) console.log(`cluster configuration: ${flags['hdfs-conf'].join(', ')}`);
    console.log(`load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    const results: Result[] = [];
    const rounds: Array<Result & { round: number }> = [];
    for (const fileType of FILE_TYPES) {
      for (const batch of BATCHES) {
        const runs = new Map<AgentKind, Result[]>(AGENTS.map((kind) => [kind, []]));
        for (let n = 1; n <= ROUNDS; n++) {
          for (const kind of AGENTS) {
            const r = await runCase(hdfs, kind, fileType, batch);
            console.error(`${fileType}/${batch} ${ROUNDS > 1 ? `round ${n} ` : ''}${kind}: ${r.eventsPerSec} events/s, ${r.peakRssMB} MB peak RSS${r.partial ? ` (partial: ${r.drained} of ${r.events} in ${r.seconds} s)` : ''}`);
            runs.get(kind)!.push(r);
            rounds.push({ ...r, round: n });
          }
        }
        for (const kind of AGENTS) results.push(medianResult(runs.get(kind)!));
      }
    }
    const load1 = loadavg();

    console.log(
      '\nper agent (rate over the window from the first metrics answer to the Nth event drained; ' +
        'peak RSS = VmHWM of the agent process; CPU = its utime+stime over the window)',
    );
    table(
      ['fileType', 'batch', 'agent', 'events', 'seconds', 'events/s', 'MB/s', 'peak RSS MB', 'CPU s', 'start s', 'HDFS files', 'HDFS MB', ''],
      results.map((r) => [
        r.fileType,
        r.batch,
        r.agent,
        r.drained,
        r.seconds,
        r.eventsPerSec.toLocaleString('en-US'),
        r.mbPerSec,
        r.peakRssMB,
        r.cpuSeconds,
        r.startSeconds,
        r.hdfsFiles,
        round(r.hdfsBytes / 1e6, 1),
        r.partial ? 'partial' : '',
      ]),
    );
    const ours = AGENTS.filter((a) => a !== 'flume');
    const ratios = ours.flatMap((agent) =>
      FILE_TYPES.flatMap((fileType) =>
      BATCHES.map((batch) => {
        const f = results.find((r) => r.agent === 'flume' && r.fileType === fileType && r.batch === batch);
        const x = results.find((r) => r.agent === agent && r.fileType === fileType && r.batch === batch);
        const speed = f && x && f.eventsPerSec > 0 ? round(x.eventsPerSec / f.eventsPerSec, 2) : null;
        const rss = f && x && f.peakRssMB > 0 ? round(x.peakRssMB / f.peakRssMB, 2) : null;
        const cpu = f && x && f.cpuSeconds > 0 && x.cpuSeconds > 0 ? round(x.cpuSeconds / x.drained / (f.cpuSeconds / f.drained), 2) : null;
        return { agent, fileType, batch, speedRatio: speed, rssRatio: rss, cpuPerEventRatio: cpu, meetsTarget: speed !== null && rss !== null && speed >= 1.5 && rss <= 0.5 };
      }),
      ),
    );
    if (AGENTS.includes('flume') && ours.length > 0) {
      console.log('\nrxflume (native, WebHDFS) / flume (target: events/s ≥ 1.5×, peak RSS ≤ 0.5×)');
      table(
        ['agent', 'fileType', 'batch', 'events/s ×', 'peak RSS ×', 'CPU/event ×', 'target'],
        ratios.map((r) => [r.agent, r.fileType, r.batch, r.speedRatio ?? '-', r.rssRatio ?? '-', r.cpuPerEventRatio ?? '-', r.meetsTarget ? 'met' : 'not met']),
      );
    }
    console.log(`load average after: ${load1.map((l) => l.toFixed(2)).join(' ')}`);
    printJsonLine(
      'hdfs',
      results.map((r) => ({ ...r, case: `hdfs ${r.fileType}`, server: r.agent })),
      {
        node: process.version,
        flume: FLUME_VERSION,
        hadoop: HADOOP_VERSION,
        events: EVENTS,
        bodyBytes: SIZE,
        maxSeconds: MAX_SECONDS,
        flumeHeapMb: FLUME_HEAP_MB,
        extra: EXTRA,
        hdfsConf: HDFS_CONF,
        loadBefore: load0.map((l) => round(l, 2)),
        loadAfter: load1.map((l) => round(l, 2)),
        target: { speedRatio: 1.5, rssRatio: 0.5 },
        rounds: ROUNDS,
        ratios,
        ...(ROUNDS > 1 ? { perRound: rounds } : {}),
      },
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
