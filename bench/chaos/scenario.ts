/**
 * The tiered deployment under faults (issue #16): 3 edge agents → 2 collectors → a 3-broker Kafka
 * cluster (RF 3, min.insync.replicas 2) → 1 consumer agent, each agent and broker in its own network
 * namespace. While generators write numbered lines, faults are injected one after the other; after
 * each, the run waits until every line written before its end has been delivered (its recovery time).
 * At the end, every line must have arrived at least once; duplicates are counted. The consumer also
 * writes every line to HDFS (a MiniDFSCluster in a namespace of its own, written over Hadoop's native
 * protocols by default); those files are read back at the end and counted by a ledger of their own.
 *
 * Used by `npm run chaos` (bench/chaos/run.ts, the long form) and test/chaos/tiered.chaos.test.ts (short).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startHdfs, type Hdfs } from '../../scripts/hdfs.js';
import { startCluster, type Cluster } from '../../scripts/kafka.js';
import { sleep } from '../../scripts/service.js';
import { chaosAgent, type ChaosAgent } from './agent.js';
import { createLedger, startGenerator, type Generator, type Ledger } from './ledger.js';
import { createNetwork, type Network } from './netns.js';
import { collectorConf, consumerConf, edgeConf, HDFS_DIR, KAFKA_PORT, TOPIC } from './topology.js';

export type FaultKind = 'kill-collector' | 'kill-edge' | 'cut-link' | 'degrade-link' | 'kill-leader' | 'fill-disk' | 'stop-consumer' | 'kill-hdfs';

// kill-leader last: after it the consumer's Kafka source may stall (see docs/deploying.md), which would hide the others' figures.
// kill-hdfs runs only with HDFS (ChaosOptions.hdfs not false).
export const FAULT_KINDS: readonly FaultKind[] = ['kill-collector', 'kill-edge', 'cut-link', 'degrade-link', 'fill-disk', 'stop-consumer', 'kill-hdfs', 'kill-leader'];

export interface ChaosOptions {
  /** Lines per second per edge (default 200). */
  rate?: number;
  /** How long each fault lasts before it is repaired (default 5 s). */
  holdMs?: number;
  /** How long the consumer stays stopped in stop-consumer (default `holdMs`). */
  consumerStopMs?: number;
  /** The consumer's HDFS sink transport, or false for no HDFS (default native). */
  hdfs?: 'native' | 'webhdfs' | false;
  /** Rounds over every fault kind (default 1). */
  rounds?: number;
  /** Longest wait for the backlog of one fault to be delivered (default 90 s); past it the fault counts as not recovered. */
  recoveryTimeoutMs?: number;
  /** Longest wait for the last line at the end (default 120 s). */
  drainTimeoutMs?: number;
  /**
   * The whole run's budget (default none): a fault's recovery wait is cut to what is left, and once it
   * is spent no further fault is injected (those missing make the run fail), so teardown always runs.
   */
  budgetMs?: number;
  /** The collectors' `kafka.producer.retries` (the sink's default unless given). */
  producerRetries?: number;
  /** Lines per file before rotation (default 2000). */
  rotateLines?: number;
  log?: (line: string) => void;
}

export interface FaultResult {
  fault: FaultKind;
  target: string;
  detail: string;
  holdMs: number;
  /** From the start of the repair until every line written before it was delivered; null: not within the timeout. */
  recoveryMs: number | null;
  /** Duplicates counted during this fault and its recovery. */
  duplicates: number;
}

export interface ChaosReport {
  written: number;
  delivered: number;
  lost: number;
  lostSample: string[];
  duplicated: number;
  /**
   * Of `lostSample`, those found in the Kafka topic (`id@partition:offset`): lost on the consumer's side
   * when found, before or in Kafka when not.
   */
  lostInKafka?: string[];
  /** Lines at the end that no generator wrote. */
  foreign: number;
  /** The same count over the files the HDFS sink wrote, read back after the consumer stopped. */
  hdfs?: HdfsCount;
  faults: FaultResult[];
  /** Peak RSS (MB) of each agent over all its restarts. */
  peakRssMB: Record<string, number>;
  seconds: number;
  /** Events per second delivered over the run. */
  eventsPerSec: number;
  /** Where the agents' and brokers' logs were kept, when a line was lost or a fault did not recover. */
  logsDir?: string;
}

export interface HdfsCount {
  transport: 'native' | 'webhdfs';
  files: number;
  /** Files still in use (`.tmp`) after the consumer's graceful stop; their lines count all the same. */
  inUse: number;
  delivered: number;
  lost: number;
  lostSample: string[];
  duplicated: number;
  foreign: number;
}

const EDGES = ['e1', 'e2', 'e3'] as const;
const COLLECTORS = ['c1', 'c2'] as const;
const BROKERS = ['k1', 'k2', 'k3'] as const;

function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
}

/** Fills the file system of `dir` until a write fails for want of space; returns the filler's path. */
function fillDisk(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return file;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/**
 * Copies every file of the HDFS sink's folder into `into` over WebHDFS, from this host. The NameNode
 * names its DataNode 127.0.0.1 (MiniDFSCluster), so an OPEN's redirect is followed by hand to the
 * namespace's address.
 */
async function copyFromHdfs(hdfs: Hdfs, address: string, into: string): Promise<{ files: number; inUse: number }> {
  const base = `http://${address}:${hdfs.httpPort}/webhdfs/v1${HDFS_DIR}`;
  const get = async (url: string) => {
    const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!response.ok) throw new Error(`WebHDFS ${url}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    return response;
  };
  // No folder: the sink never wrote; every line then counts as lost.
  const names = (await listHdfs(hdfs, address)) ?? [];
  mkdirSync(into, { recursive: true });
  for (const name of names) {
    const where = (await (await get(`${base}/${encodeURIComponent(name)}?op=OPEN&noredirect=true&user.name=${hdfs.superuser}`)).json()) as { Location: string };
    const location = new URL(where.Location);
    location.hostname = address;
    writeFileSync(join(into, name), Buffer.from(await (await get(location.href)).arrayBuffer()));
  }
  return { files: names.length, inUse: names.filter((n) => n.endsWith('.tmp')).length };
}

/** The files in the HDFS sink's folder, or undefined when there is none. */
async function listHdfs(hdfs: Hdfs, address: string): Promise<string[] | undefined> {
  const listing = await fetch(`http://${address}:${hdfs.httpPort}/webhdfs/v1${HDFS_DIR}?op=LISTSTATUS&user.name=${hdfs.superuser}`, { signal: AbortSignal.timeout(60_000) });
  if (listing.status === 404) return undefined;
  if (!listing.ok) throw new Error(`WebHDFS LISTSTATUS ${HDFS_DIR}: HTTP ${listing.status}`);
  const statuses = ((await listing.json()) as { FileStatuses: { FileStatus: { pathSuffix: string; type: string }[] } }).FileStatuses.FileStatus;
  return statuses.filter((f) => f.type === 'FILE').map((f) => f.pathSuffix);
}

/** Reads the whole topic once (a fresh group, bounded to 60 s) and says where each of `ids` (`e1:42`) is. */
async function findInTopic(kafka: Kafka, ids: readonly string[]): Promise<string[]> {
  const wanted = new Set(ids);
  const found: string[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(TOPIC)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `chaos-audit-${Date.now()}` });
  await consumer.connect();
  let seen = 0;
  try {
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen++;
        const [writer, seq] = (message.value?.toString('utf8') ?? '').split(' ', 2);
        const id = `${writer}:${Number(seq)}`;
        if (wanted.has(id)) found.push(`${id}@${partition}:${message.offset}`);
      },
    });
    await waitUntil(() => seen >= total, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return [...found, `(${seen} of ${total} records read)`];
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const rate = options.rate ?? 200;
  const holdMs = options.holdMs ?? 5000;
  const rounds = options.rounds ?? 1;
  const recoveryTimeoutMs = options.recoveryTimeoutMs ?? 90_000;
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const budgetLeft = () => (options.budgetMs === undefined ? Infinity : options.budgetMs - (Date.now() - started));
  // Bound in count: enough lines for every fault at most at its timeouts, and no more.
  const maxLines = Math.ceil((rate * (rounds * FAULT_KINDS.length * (holdMs + recoveryTimeoutMs) + 600_000)) / 1000);

  const root = mkdtempSync(join(tmpdir(), 'rxflume-chaos-'));
  const mounts: string[] = [];
  let net: Network | undefined;
  let cluster: Cluster | undefined;
  let hdfs: Hdfs | undefined;
  let generator: Generator | undefined;
  const agents = new Map<string, ChaosAgent>();
  // On a failure, what each agent and broker logged is copied out of the run's tmpfs before it goes.
  const keepLogs = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'rxflume-chaos-logs-'));
    for (const [name, a] of agents) writeFileSync(join(dir, `${name}.log`), a.log());
    cluster?.brokers.forEach((b, i) => {
      if (existsSync(b.logFile)) copyFileSync(b.logFile, join(dir, `k${i + 1}.log`));
    });
    if (hdfs && existsSync(hdfs.logFile)) copyFileSync(hdfs.logFile, join(dir, 'hdfs.log'));
    return dir;
  };
  try {
    // Everything on tmpfs: fsyncs of six agents, three brokers and HDFS on one disk would measure the disk.
    mountTmpfs(root, '4g');
    mounts.unshift(root);
    net = createNetwork();
    const n = net;
    BROKERS.forEach((b, i) => n.add(b, 11 + i));
    COLLECTORS.forEach((c, i) => n.add(c, 21 + i));
    EDGES.forEach((e, i) => n.add(e, 31 + i));
    n.add('sink', 41);
    const hdfsTransport = options.hdfs ?? 'native';
    if (hdfsTransport) {
      n.add('hdfs', 51);
      // MiniDFSCluster serves on 127.0.0.1 only and hands out 127.0.0.1 for its DataNode: its namespace's
      // address leads to its loopback, and the consumer's loopback leads to that address.
      n.serveLoopback('hdfs');
      n.loopbackTo('sink', 'hdfs');
    }

    log(`starting a Kafka cluster of ${BROKERS.length} in namespaces ${BROKERS.map((b) => n.host(b).netns).join(', ')}`);
    [cluster, hdfs] = await Promise.all([
      startCluster({
        nodes: BROKERS.map((b) => ({ host: n.host(b).address, port: KAFKA_PORT, controllerPort: KAFKA_PORT + 1, netns: n.host(b).netns })),
        dataDir: join(root, 'kafka'),
        autoCreateTopics: false,
        heapMb: 384,
        log,
      }),
      hdfsTransport ? startHdfs({ dataDir: join(root, 'hdfs'), netns: n.host('hdfs').netns, heapMb: 384, log }) : undefined,
    ]);
    const kafka = new Kafka({ clientId: 'rxflume-chaos', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Right after start the metadata may name no controller yet (kafkajs: "Broker -1 not found"): try again.
      let createError: unknown;
      const created = await waitUntil(async () => {
        try {
          await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: BROKERS.length }], waitForLeaders: false });
          return true;
        } catch (error) {
          createError = error;
          return (error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS';
        }
      }, 60_000, 1000);
      if (!created) throw new Error(`topic ${TOPIC} not created within 60 s: ${createError instanceof Error ? createError.message : String(createError)}`);
      // kafkajs' waitForLeaders asks one broker, which may not know the topic yet: wait for every replica in sync instead.
      const ready = await waitUntil(async () => {
        try {
          const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
          return meta.topics[0]!.partitions.every((p) => p.leader >= 0 && p.isr.length === BROKERS.length);
        } catch {
          return false;
        }
      }, 60_000);
      if (!ready) throw new Error(`topic ${TOPIC} had no leader and ${BROKERS.length} in-sync replicas on every partition within 60 s`);
    } finally {
      await admin.disconnect();
    }

    // The agents: collectors (c2's channel on a small disk of its own), consumer, edges.
    const addAgent = (name: string, conf: (dir: string) => string) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      const agent = chaosAgent({ name, conf: conf(dir), dir, launcher: n.launcher(name), monitor: { host: n.host(name).address, port: 41414 } });
      agents.set(name, agent);
      return agent;
    };
    mountTmpfs(join(root, 'c2', 'channel'), '48m');
    mounts.unshift(join(root, 'c2', 'channel'));
    for (const c of COLLECTORS) addAgent(c, (dir) => collectorConf(dir, n.host(c).address, cluster!.bootstrap, 8 * 1024 * 1024, options.producerRetries));
    const outDir = join(root, 'out');
    const hdfsTarget = hdfs && hdfsTransport ? { nameNode: `${n.host('hdfs').address}:${hdfs.port}`, http: `${n.host('hdfs').address}:${hdfs.httpPort}`, transport: hdfsTransport } : undefined;
    addAgent('sink', (dir) => consumerConf(dir, outDir, cluster!.bootstrap, hdfsTarget));
    // taildir refuses a file group whose folder does not exist.
    for (const e of EDGES) mkdirSync(join(root, 'logs', e), { recursive: true });
    for (const e of EDGES) addAgent(e, (dir) => edgeConf(dir, join(root, 'logs', e), COLLECTORS.map((c) => n.host(c).address)));
    const agent = (name: string) => agents.get(name)!;
    await Promise.all([...agents.values()].map((a) => a.start()));
    log(`agents started: ${[...agents.keys()].join(', ')}`);

    generator = startGenerator({ writers: EDGES, dir: join(root, 'logs'), rate, maxLines, rotateLines: options.rotateLines ?? 2000, lineBytes: 100 });
    const gen = generator;
    const ledger: Ledger = createLedger(outDir, EDGES, maxLines);
    const caughtUp = (marks: Map<string, number>) => {
      ledger.scan();
      return EDGES.every((e) => ledger.deliveredPrefix(e) >= marks.get(e)!);
    };
    const marks = () => new Map<string, number>(EDGES.map((e) => [e, gen.written(e)]));
    if (!(await waitUntil(() => caughtUp(new Map(EDGES.map((e) => [e, 1]))), 120_000))) throw new Error(`no line reached the end within 120 s`);
    log(`first lines delivered after ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const faults: FaultResult[] = [];
    const channelSizes = async () =>
      (await Promise.all([...agents].map(async ([name, a]) => `${name} ${(await a.counter('CHANNEL.c1', 'ChannelSize')) ?? '?'}`))).join(', ');
    const leaderOfPartition0 = async (): Promise<number> => {
      const a = kafka.admin();
      await a.connect();
      try {
        const meta = await a.fetchTopicMetadata({ topics: [TOPIC] });
        return meta.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
      } finally {
        await a.disconnect();
      }
    };
    const inject = async (fault: FaultKind, round: number): Promise<{ target: string; detail: string; repair: () => Promise<void> }> => {
      switch (fault) {
        case 'kill-collector': {
          const target = COLLECTORS[round % 2]!;
          await agent(target).kill();
          return { target, detail: 'SIGKILL, restarted on the same channel', repair: () => agent(target).start() };
        }
        case 'kill-edge': {
          const target = EDGES[(round + 1) % 3]!;
          await agent(target).kill();
          return { target, detail: 'SIGKILL, restarted: taildir resumes from its positions', repair: () => agent(target).start() };
        }
        case 'cut-link': {
          const edge = EDGES[round % 3]!;
          const collector = COLLECTORS[(round + 1) % 2]!;
          n.cut(edge, n.host(collector).address);
          return { target: `${edge}↔${collector}`, detail: 'nftables drop both ways', repair: async () => n.restore(edge, n.host(collector).address) };
        }
        case 'degrade-link': {
          const target = EDGES[(round + 2) % 3]!;
          const how = n.degrade(target, { delayMs: 200, lossPercent: 5 });
          return { target, detail: how, repair: async () => n.clearDegradation(target) };
        }
        case 'kill-leader': {
          const leader = await leaderOfPartition0();
          const broker = cluster!.broker(leader);
          await broker.stop({ signal: 'SIGKILL' });
          return { target: `broker ${leader} (${BROKERS[leader - 1]})`, detail: 'SIGKILL of partition 0 leader, restarted', repair: () => broker.start() };
        }
        case 'fill-disk': {
          const target = 'c2';
          const c = agent(target);
          const from = c.log().length;
          const filler = fillDisk(join(root, 'c2', 'channel'));
          // The fault is real only once the channel refuses puts for want of space (it logs the first refusal).
          const seen = await waitUntil(() => /minimumRequiredSpace|ENOSPC/.test(c.log().slice(from)), 60_000);
          return {
            target,
            detail: seen ? 'channel disk filled (tmpfs): puts refused' : 'channel disk filled, but no put was refused within 60 s',
            repair: async () => rmSync(filler, { force: true }),
          };
        }
        case 'stop-consumer': {
          const target = 'sink';
          await agent(target).stop();
          return { target, detail: 'SIGTERM (graceful), restarted', repair: () => agent(target).start() };
        }
        case 'kill-hdfs': {
          // One JVM holds the NameNode and the DataNode: both die, the sink's open files lose their pipelines.
          await hdfs!.stop({ signal: 'SIGKILL' });
          return { target: 'hdfs', detail: 'SIGKILL of the NameNode and DataNode, restarted on the same data', repair: () => hdfs!.start() };
        }
      }
    };
    // Every line put into the HDFS channel before `putMark` has been written and taken (a FIFO channel).
    const hdfsCaughtUp = async (putMark: number | undefined) => {
      const drained = await agent('sink').counter('SINK.k2', 'EventDrainSuccessCount');
      return putMark !== undefined && drained !== undefined && drained >= putMark;
    };
    const kinds = hdfsTarget ? FAULT_KINDS : FAULT_KINDS.filter((k) => k !== 'kill-hdfs');
    for (let round = 0; round < rounds; round++) {
      for (const fault of kinds) {
        if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs - holdMs) {
          log(`budget of ${options.budgetMs} ms spent: ${fault} (round ${round + 1}) and later faults not run`);
          break;
        }
        if (gen.done) throw new Error(`the generators reached their bound (${maxLines} lines each) before the faults ended`);
        ledger.scan();
        const duplicatesBefore = ledger.duplicated();
        const { target, detail, repair } = await inject(fault, round);
        const hold = fault === 'stop-consumer' ? (options.consumerStopMs ?? holdMs) : holdMs;
        log(`fault ${fault} on ${target}: ${detail}, for ${hold / 1000} s`);
        await sleep(hold);
        const repairStart = Date.now();
        const due = marks();
        // For an HDFS fault the backlog is also what the HDFS sink had not written yet.
        const putMark = fault === 'kill-hdfs' ? await agent('sink').counter('CHANNEL.c2', 'EventPutSuccessCount') : undefined;
        await repair();
        const recovered = await waitUntil(
          async () => caughtUp(due) && (fault !== 'kill-hdfs' || (await hdfsCaughtUp(putMark))),
          Math.max(0, Math.min(recoveryTimeoutMs, budgetLeft())),
        );
        const recoveryMs = recovered ? Date.now() - repairStart : null;
        faults.push({ fault, target, detail, holdMs: hold, recoveryMs, duplicates: ledger.duplicated() - duplicatesBefore });
        if (!recovered) log(`  channel sizes: ${await channelSizes()}`);
        log(`  repaired; ${recovered ? `backlog delivered ${(recoveryMs! / 1000).toFixed(1)} s after the repair began` : `NOT caught up within ${recoveryTimeoutMs} ms`}`);
      }
    }
    gen.stop();
    const final = marks();
    await waitUntil(() => caughtUp(final), Math.max(5000, Math.min(options.drainTimeoutMs ?? 120_000, budgetLeft())));
    // Late duplicates of a last redelivery land here too.
    await sleep(1000);
    ledger.scan();
    const lost = ledger.lost((w) => final.get(w)!);
    const lostInKafka = lost.count > 0 ? await findInTopic(kafka, lost.sample) : [];
    let hdfsCount: HdfsCount | undefined;
    if (hdfs && hdfsTransport) {
      // Every line is in c2 once file_roll has it (the source puts into both channels at once): wait until the
      // HDFS sink has taken them all, stop the consumer (its files are closed), and read HDFS back.
      const sink = agent('sink');
      const drained = await waitUntil(async () => (await sink.counter('CHANNEL.c2', 'ChannelSize')) === 0, Math.max(5000, Math.min(options.drainTimeoutMs ?? 120_000, budgetLeft())));
      if (!drained) log(`the consumer's HDFS channel c2 still holds ${await sink.counter('CHANNEL.c2', 'ChannelSize')} events`);
      // A file that was open when HDFS was killed is repaired in the background once the NameNode has closed its
      // last block, which can take a minute after the restart; a stop before that leaves it for the next start.
      // Wait for it: only the file the sink is writing (one bucket) may be in use when it stops.
      const cluster = hdfs;
      const inUse = async () => ((await listHdfs(cluster, n.host('hdfs').address)) ?? []).filter((f) => f.endsWith('.tmp')).length;
      if (!(await waitUntil(async () => (await inUse()) <= 1, Math.max(5000, Math.min(120_000, budgetLeft()))))) {
        log(`${await inUse()} HDFS files still in use before the consumer stops`);
      }
      await sink.stop();
      const copied = await copyFromHdfs(hdfs, n.host('hdfs').address, join(root, 'out-hdfs'));
      const hdfsLedger = createLedger(join(root, 'out-hdfs'), EDGES, maxLines);
      hdfsLedger.scan();
      const hdfsLost = hdfsLedger.lost((w) => final.get(w)!);
      hdfsCount = { transport: hdfsTransport, ...copied, delivered: hdfsLedger.delivered(), lost: hdfsLost.count, lostSample: hdfsLost.sample, duplicated: hdfsLedger.duplicated(), foreign: hdfsLedger.foreign };
    }
    const seconds = (Date.now() - started) / 1000;
    const report: ChaosReport = {
      written: gen.totalWritten(),
      delivered: ledger.delivered(),
      lost: lost.count,
      lostSample: lost.sample,
      lostInKafka,
      duplicated: ledger.duplicated(),
      foreign: ledger.foreign,
      ...(hdfsCount ? { hdfs: hdfsCount } : {}),
      faults,
      peakRssMB: Object.fromEntries([...agents].map(([name, a]) => [name, a.peakRssMB])),
      seconds,
      eventsPerSec: Math.round(ledger.delivered() / seconds),
    };
    // Also when HDFS shows what file_roll does not (a file left in use, duplicates of its own): the sink's log says why.
    const hdfsOdd = hdfsCount !== undefined && (hdfsCount.inUse > 0 || hdfsCount.duplicated > report.duplicated);
    if (report.lost > 0 || (hdfsCount?.lost ?? 0) > 0 || hdfsOdd || faults.some((f) => f.recoveryMs === null)) report.logsDir = keepLogs();
    return report;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (agent and broker logs kept in ${keepLogs()})`, { cause: error });
  } finally {
    generator?.stop();
    await Promise.all([...agents.values()].map((a) => a.stop(30_000)));
    await Promise.all([cluster?.close(), hdfs?.close()]);
    net?.teardown();
    for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  }
}

/** The report as text: totals, one line per fault, peak RSS per agent. */
export function formatReport(report: ChaosReport): string {
  const lines = [
    `written ${report.written}, delivered ${report.delivered}, lost ${report.lost}${report.lost ? ` (e.g. ${report.lostSample.join(', ')}; in Kafka: ${report.lostInKafka?.join(', ')})` : ''}, duplicated ${report.duplicated}, foreign ${report.foreign}`,
    ...(report.hdfs
      ? [
          `HDFS (${report.hdfs.transport}, ${report.hdfs.files} files, ${report.hdfs.inUse} in use): delivered ${report.hdfs.delivered}, lost ${report.hdfs.lost}${report.hdfs.lost ? ` (e.g. ${report.hdfs.lostSample.join(', ')})` : ''}, duplicated ${report.hdfs.duplicated}, foreign ${report.hdfs.foreign}`,
        ]
      : []),
    `${report.seconds.toFixed(0)} s, ${report.eventsPerSec} events/s delivered on average`,
    'fault            target           recovery  duplicates  how',
    ...report.faults.map(
      (f) =>
        `${f.fault.padEnd(16)} ${f.target.padEnd(16)} ${(f.recoveryMs === null ? 'NONE' : `${(f.recoveryMs / 1000).toFixed(1)} s`).padStart(8)}  ${String(f.duplicates).padStart(10)}  ${f.detail}`,
    ),
    ...(report.logsDir ? [`logs kept in ${report.logsDir}`] : []),
    `peak RSS (MB): ${Object.entries(report.peakRssMB)
      .map(([name, mb]) => `${name} ${mb}`)
      .join(', ')}`,
  ];
  return lines.join('\n');
}
