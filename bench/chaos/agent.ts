/**
 * One rxflume agent of the chaos topology: the built CLI (`dist/lib/agent/cli.js agent`) run inside a
 * network namespace, which can be SIGKILLed or stopped and started again on the same configuration
 * (its channels and positions stay on disk). Its peak RSS is sampled over every life of the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findUp, sleep, startWatchdog, tail } from '../../scripts/service.js';
import { procStats } from '../procStats.js';

export interface ChaosAgentOptions {
  name: string;
  /** Flume properties text of agent `a1`. */
  conf: string;
  /** The agent's folder: its configuration and log go here. */
  dir: string;
  /** Runs the CLI inside a namespace, e.g. `['ip', 'netns', 'exec', 'rxc-e1']` (must exec, keeping the pid). */
  launcher: readonly string[];
  /** Serve Flume's JSON metrics on this address (its namespace's) and port. */
  monitor?: { host: string; port: number };
}

export interface ChaosAgent {
  readonly name: string;
  readonly running: boolean;
  /** Highest VmHWM seen over every life of the process (MB). */
  readonly peakRssMB: number;
  /** Starts the process and resolves once it logged 'agent started' (every source listens). */
  start(): Promise<void>;
  /** SIGKILL, as a crash; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful: sources stop, channels drain as far as the drain timeout allows), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** One counter of one component from the metrics (needs `monitor`); undefined while it does not answer. */
  counter(component: string, name: string): Promise<number | undefined>;
  log(): string;
}

const CLI = findUp(import.meta.url, 'dist/lib/agent/cli.js');

export function chaosAgent(options: ChaosAgentOptions): ChaosAgent {
  const confFile = join(options.dir, 'agent.conf');
  const logFile = join(options.dir, 'agent.log');
  writeFileSync(confFile, options.conf);
  writeFileSync(logFile, '');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let peak = 0;
  let sampler: NodeJS.Timeout | undefined;
  const sample = () => {
    if (child?.pid !== undefined) peak = Math.max(peak, procStats(child.pid).peakRssMB);
  };
  const log = () => readFileSync(logFile, 'utf8');
  const monitor = options.monitor ? ['--monitor-port', String(options.monitor.port), '--monitor-bind', options.monitor.host] : [];

  const agent: ChaosAgent = {
    name: options.name,
    get running() {
      return child !== undefined;
    },
    get peakRssMB() {
      sample();
      return peak;
    },
    async start() {
      if (child) return;
      const from = log().length;
      const fd = openSync(logFile, 'a');
      let proc: ChildProcess;
      try {
        const [program, ...prefix] = options.launcher;
        // Reload checks hourly: the agent stays as configured for the whole run.
        const args = [...prefix, process.execPath, CLI, 'agent', '-n', 'a1', '-f', confFile, '-i', '3600', '--log-format', 'json', '--quiet', ...monitor];
        proc = spawn(program!, args, { stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      child = proc;
      // Killed with this process, however it dies (a test timing out included).
      const watchdog = startWatchdog(proc.pid!);
      exited = new Promise<void>((resolve) =>
        proc.once('exit', () => {
          if (watchdog.exitCode === null) watchdog.kill('SIGKILL');
          sample();
          if (child === proc) child = undefined;
          resolve();
        }),
      );
      sampler ??= setInterval(sample, 500).unref();
      const deadline = Date.now() + 120_000;
      while (!log().slice(from).includes('agent started')) {
        if (child !== proc) throw new Error(`${options.name} exited before it started:\n${tail(log().slice(from), 30)}`);
        if (Date.now() > deadline) throw new Error(`${options.name} did not start within 120 s:\n${tail(log().slice(from), 30)}`);
        await sleep(100);
      }
    },
    async kill() {
      sample();
      child?.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 60_000) {
      const proc = child;
      if (proc) {
        proc.kill('SIGTERM');
        if ((await Promise.race([exited.then(() => 'exited' as const), sleep(timeoutMs).then(() => 'timeout' as const)])) === 'timeout') {
          proc.kill('SIGKILL');
          await exited;
        }
      }
      clearInterval(sampler);
      sampler = undefined;
    },
    async counter(component, name) {
      if (!options.monitor || !child) return undefined;
      try {
        const response = await fetch(`http://${options.monitor.host}:${options.monitor.port}/metrics`, { signal: AbortSignal.timeout(2000) });
        const metrics = (await response.json()) as Record<string, Record<string, string | number> | undefined>;
        const value = metrics[component]?.[name];
        return value === undefined ? undefined : Number(value);
      } catch {
        return undefined;
      }
    },
    log,
  };
  return agent;
}
