/**
 * Helpers for the example-configuration tests (test/examples*.test.ts): build dist/ once per run,
 * make an example runnable on a shared machine, run the agent CLI on it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cli = join(root, 'dist/lib/agent/cli.js');

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The newest modification time among the files the build reads (its inputs, configs included). */
function newestInput(): number {
  let newest = 0;
  for (const name of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) newest = Math.max(newest, statSync(join(root, name)).mtimeMs);
  for (const dir of ['lib', 'operators', 'bench', 'scripts']) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * `npm run build`, serialised between test files through a lock directory: two tsc runs writing dist/
 * at once could hand a half-written file to an agent another file is starting. A build that finished
 * after every input was last changed (or after this call began) is current, so it is not repeated: one
 * build per run instead of one per test file (about 30 files call this; each tsc run costs seconds of a worker).
 */
export function buildDist(): void {
  const called = Date.now();
  mkdirSync(join(root, 'dist'), { recursive: true });
  const lock = join(root, 'dist/.build-lock');
  // Holds the time the last build began: inputs changed after that may be missing from dist/.
  const stamp = join(root, 'dist/.build-stamp');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than 5 minutes was left by a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      else sleepSync(100);
    }
  }
  try {
    const built = existsSync(stamp) ? Number(readFileSync(stamp, 'utf8')) : NaN;
    if (built >= called || built > newestInput()) return;
    const began = Date.now();
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
    writeFileSync(stamp, String(began));
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The agent name of a properties text: the prefix of its first key. */
export function agentOf(text: string): string {
  const line = text.split('\n').find((l) => /^\s*[^#!\s]/.test(l));
  if (line === undefined) throw new Error('no key in the file');
  return line.trim().split('.')[0]!;
}

/** Every source's `….port = N` and `….ports = N M …` set to 0, so the agent binds free ports (sinks' ports are where they connect). */
export function ephemeralPorts(text: string): string {
  return text.replace(/^(\S+\.sources\.\S+\.ports?)\s*=\s*([\d ]+)$/gm, (_m, key: string, ports: string) => `${key} = ${ports.trim().split(/\s+/).map(() => '0').join(' ')}`);
}

/** At most `n` calls of the returned function run at once. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export interface AgentRun {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  started: boolean;
  stopped: boolean;
  /** The last 20 kB of output, for failure messages. */
  tail: string;
}

/** Runs `rxflume agent` on `file`, waits (polling) for `agent started`, then stops it with SIGTERM. */
export async function startAndStop(file: string, agent: string, startTimeoutMs = 30_000, flags: readonly string[] = []): Promise<AgentRun> {
  const child = spawn(process.execPath, [cli, 'agent', '-n', agent, '-f', file, '--no-reload-conf', '--quiet', ...flags], { cwd: root });
  let started = false;
  let stopped = false;
  let tail = '';
  // A logger sink fed by an endless source writes a lot: keep the markers and a bounded tail only.
  const onData = (d: Buffer) => {
    // Look before cutting: one chunk can hold a marker and more than the tail's length after it.
    const text = tail + d.toString();
    started ||= text.includes('"msg":"agent started"');
    stopped ||= text.includes('"msg":"agent stopped"');
    tail = text.slice(-20_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const until = Date.now() + startTimeoutMs;
  while (!started && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  const code = await exit;
  return { code, started, stopped, tail };
}
