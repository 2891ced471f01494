/**
 * One Flume properties text run as an agent under measurement, by Apache Flume 1.11 (a JVM from the
 * cached jars, scripts/flume.ts) or by rxflume's CLI (`node dist/lib/agent/cli.js agent`), each in its
 * own process so that its peak RSS and CPU are its own. Both serve Flume's JSON metrics
 * (`-Dflume.monitoring.type=http`), which is how a bench counts what an agent drained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, tail } from '../scripts/service.js';
import { FLUME_SINK_JARS, FLUME_TAILDIR_JAR, flumeExtraJars, flumeJarPath, startFlumeAgent } from '../scripts/flume.js';
import { procStats } from './procStats.js';

export type AgentKind = 'flume' | 'rxflume';

export interface RunningAgent {
  readonly kind: AgentKind;
  readonly pid: number;
  readonly monitorPort: number;
  /** How it exited (signal or code), undefined while it runs. */
  exited(): string | undefined;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Flume only: its JVM's -Xmx (MB) and extra classpath entries (e.g. Hadoop's conf dir), and the HDFS jar set. */
  flume?: { heapMb?: number; classpath?: readonly string[]; hdfs?: boolean };
  /**
   * rxflume only: a folder where its process writes a V8 CPU profile (`node --cpu-prof`), named by
   * Node (time and pid), when it exits on `stop()`; open it in Chrome DevTools or speedscope.
   */
  cpuProfDir?: string;
}

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'agent', 'cli.js');

/**
 * The Node flags of the `rxflume` command's shebang (lib/agent/cli.ts): agents started here as `node cli.js`
 * run with them, so that what is measured is what the command runs. RXFLUME_BENCH_NODE_FLAGS='…' replaces them.
 */
export function cliNodeFlags(): string[] {
  // For trying other flags side by side (e.g. '--max-semi-space-size=4'); '' for none.
  const override = process.env['RXFLUME_BENCH_NODE_FLAGS'];
  if (override !== undefined) return override.split(' ').filter(Boolean);
  return shebang().flags;
}

/** The environment the shebang sets (`env -S NAME=value … node`: MALLOC_ARENA_MAX), over the process's own. */
export function cliEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...shebang().env };
}

function shebang(): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0] ?? '';
  const words = /^#!\S*env -S (.*)$/.exec(first)?.[1]?.trim().split(/\s+/) ?? [];
  const node = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, Math.max(node, 0)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { env, flags: node < 0 ? [] : words.slice(node + 1) };
}

/** rxflume agents alive, killed if the bench dies. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts agent `a1` of `conf` on `kind`, serving metrics on a free port; resolves once the process runs. */
export async function startAgent(kind: AgentKind, conf: string, options: StartOptions = {}): Promise<RunningAgent> {
  const monitorPort = await freePort();
  const metrics = { 'flume.monitoring.type': 'http', 'flume.monitoring.port': String(monitorPort) };
  if (kind === 'flume') {
    const agent = await startFlumeAgent({
      conf,
      // The JVM's own defaults (G1, tiered JIT), as a production agent runs, not the quick-start flags.
      jvmArgs: [],
      heapMb: options.flume?.heapMb ?? 512,
      hdfs: options.flume?.hdfs ?? false,
      // Flume's taildir source, HTTP sink and Kafka source and sink are jars of their own beside the agent's.
      classpath: [...(options.flume?.classpath ?? []), await flumeJarPath(FLUME_TAILDIR_JAR), ...(await flumeExtraJars(FLUME_SINK_JARS))],
      systemProperties: metrics,
    });
    if (agent.pid === undefined) throw new Error(`the Flume agent exited at once:\n${tail(await agent.log(), 40)}`);
    const pid = agent.pid;
    return { kind, pid, monitorPort, exited: () => (agent.pid === undefined ? 'exited' : undefined), log: () => agent.log(), stop: () => agent.stop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-bench-agent-'));
  const confFile = join(dir, 'agent.conf');
  const logFile = join(dir, 'rxflume.log');
  writeFileSync(confFile, conf);
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    // Reload on, checked hourly: the agent stays up after a bounded source ended, as Flume's does.
    const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
    const args = [...cliNodeFlags(), ...profile, CLI, 'agent', '-n', 'a1', '-f', confFile, '-i', '3600', ...Object.entries(metrics).map(([k, v]) => `-D${k}=${v}`), '--log-level', 'warn', '--quiet'];
    child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: cliEnv() });
  } finally {
    closeSync(fd);
  }
  children.add(child);
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitedWith = signal ?? `code ${code}`;
      children.delete(child);
      resolve();
    }),
  );
  return {
    kind,
    pid: child.pid!,
    monitorPort,
    exited: () => exitedWith,
    log: async () => readFileSync(logFile, 'utf8'),
    async stop() {
      if (exitedWith !== undefined) return;
      child.kill('SIGTERM');
      if ((await Promise.race([exited.then(() => 'exited' as const), sleep(40_000).then(() => 'timeout' as const)])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** One counter of one component from the agent's JSON metrics; undefined while it does not answer or lacks it. */
export async function counter(agent: RunningAgent, component: string, name: string): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${agent.monitorPort}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const metrics = (await response.json()) as Record<string, Record<string, string | number> | undefined>;
    const value = metrics[component]?.[name];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

export interface Drain {
  /** From the first metrics answer with the counter in it to the last poll before `expected`. */
  seconds: number;
  /** Counted at the end (≥ expected unless `partial`). */
  count: number;
  /** Counted at the first answer: events drained before the window, left out of `eventsPerSec`. */
  countAtFirst: number;
  /** (count − countAtFirst) / seconds. */
  eventsPerSec: number;
  partial: boolean;
  /** Spawn (`startedAt`) to the first answer with the counter in it. */
  startSeconds: number;
  /** Spawn to the first answer with the counter above 0. */
  firstEventSeconds: number;
  peakRssMB: number;
  cpuSeconds: number;
}

export interface DrainOptions {
  component?: string;
  name?: string;
  expected: number;
  /** performance.now() when the agent was spawned. */
  startedAt: number;
  maxSeconds: number;
  startTimeoutMs?: number;
  pollMs?: number;
  /** Called once the agent first answers with the counter; the window starts when it returns. */
  onServing?: () => void | Promise<void>;
}

/**
 * Polls the agent's counter (CHANNEL.c1 EventTakeSuccessCount by default) until it reaches `expected`,
 * bounded by a start timeout and then `maxSeconds`; throws with the log's end if the agent exits first.
 */
export async function measureDrain(agent: RunningAgent, o: DrainOptions): Promise<Drain> {
  // Flume's null sink keeps no counters; a take is counted once the sink's transaction committed.
  const component = o.component ?? 'CHANNEL.c1';
  const name = o.name ?? 'EventTakeSuccessCount';
  const poll = o.pollMs ?? 25;
  const failWith = async (why: string) => new Error(`${agent.kind} agent ${why}:\n${tail(await agent.log(), 40)}`);
  let first: number | undefined;
  let countAtFirst = 0;
  let firstEvent: number | undefined;
  let count = 0;
  const startDeadline = o.startedAt + (o.startTimeoutMs ?? 120_000);
  for (;;) {
    if (agent.exited()) throw await failWith(`exited (${agent.exited()})`);
    const now = performance.now();
    if (first === undefined && now > startDeadline) throw await failWith(`served no ${component} ${name} within ${o.startTimeoutMs ?? 120_000} ms`);
    if (first !== undefined && now > first + o.maxSeconds * 1000) break;
    const n = await counter(agent, component, name);
    const at = performance.now();
    if (n !== undefined) {
      if (first === undefined) {
        // The input arrives now (a file moved into place), so the window holds all of it.
        if (o.onServing) await o.onServing();
        first = o.onServing ? performance.now() : at;
        countAtFirst = n;
      }
      count = n;
      if (n > 0) firstEvent ??= at;
      if (n >= o.expected) break;
    }
    await sleep(poll);
  }
  const end = performance.now();
  const stats = procStats(agent.pid);
  const seconds = (end - first!) / 1000;
  return {
    seconds,
    count,
    countAtFirst,
    eventsPerSec: seconds > 0 ? (count - countAtFirst) / seconds : 0,
    partial: count < o.expected,
    startSeconds: (first! - o.startedAt) / 1000,
    firstEventSeconds: firstEvent === undefined ? NaN : (firstEvent - o.startedAt) / 1000,
    ...stats,
  };
}
