/**
 * What rxflume costs before it does any work:
 *
 * - `import`: RSS and V8 heap (after a full GC) once one module is imported into a bare Node process,
 *   for each dependency and each of the library's modules, beside bare Node itself; with the time the
 *   import took and which heavy dependencies it pulled in (read from the CommonJS module cache: kafkajs,
 *   avsc, pino, prom-client and the others are all CommonJS);
 * - `import('rxflume')`: the public entry's import time, median of IMPORT_ROUNDS fresh processes
 *   (the core only: the rest is behind subpaths, lib/entries/, and loads on first use);
 * - `agent`: the CLI (`rxflume agent`) on netcat → memory → null — peak RSS (VmHWM) once it has started,
 *   and after AGENT_EVENTS lines were sent and each answered OK, with the CPU time those took (CPU
 *   rather than wall time: on a shared machine it moves far less with the neighbours' load).
 *   NODE_OPTIONS reaches every child, so `NODE_OPTIONS=--max-semi-space-size=2 npm run bench:startup`
 *   measures a V8 setting.
 *
 * Each measurement runs in its own child process, so what one import loads is not counted by the next.
 * Prints a table and a JSON line. Timings are of a shared machine: compare within one run.
 *
 *   npm run build && npm run bench:startup   (IMPORT_ROUNDS=5, AGENT_EVENTS=100000,
 *                                            ONLY=substring to measure only matching imports)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../scripts/service.js';
import { procStats } from './procStats.js';
import { cliEnv, cliNodeFlags } from './agents.js';
import { printJsonLine } from './jsonLine.js';

const IMPORT_ROUNDS = Number(process.env['IMPORT_ROUNDS'] ?? 5);
const AGENT_EVENTS = Number(process.env['AGENT_EVENTS'] ?? 100_000);
const ONLY = process.env['ONLY'];
/** Bounds the agent case: start plus sending, whatever the machine's load. */
const AGENT_TIMEOUT_MS = 120_000;

const HEAVY = ['kafkajs', 'kafkajs-snappy', 'snappyjs', 'avsc', 'pino', 'prom-client', 'split2', 'tail'] as const;
const DEPENDENCIES = ['rxjs', 'zod', ...HEAVY];

const here = dirname(fileURLToPath(import.meta.url));
/** dist/ (this file runs as dist/bench/startup.js). */
const dist = join(here, '..');

interface ImportResult {
  kind: 'import';
  target: string;
  ms: number;
  rssMB: number;
  heapMB: number;
  loaded: string[];
}

interface AgentResult {
  kind: 'agent';
  events: number;
  startedPeakRssMB: number;
  afterEventsPeakRssMB: number;
  afterEventsRssMB: number;
  /** The agent's CPU time (user + system) from started to every event answered. */
  eventsCpuSeconds: number;
}

interface EntryResult {
  kind: 'entry';
  rounds: number;
  medianMs: number;
  minMs: number;
}

type Result = ImportResult | AgentResult | EntryResult;

const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

/** In the child: imports `target` (a package name or a file path, '' for none) and prints what it cost. */
async function importCase(target: string): Promise<void> {
  const started = performance.now();
  if (target) await import(target.startsWith('/') ? pathToFileURL(target).href : target);
  const ms = performance.now() - started;
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  const cached = Object.keys(createRequire(import.meta.url).cache);
  const loaded = HEAVY.filter((name) => cached.some((file) => file.includes(`/node_modules/${name}/`)));
  const result: ImportResult = { kind: 'import', target: target || '(bare node)', ms: Math.round(ms), rssMB: mb(usage.rss), heapMB: mb(usage.heapUsed), loaded };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function child<T>(args: string[]): T {
  const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`startup case ${args.join(' ')} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
}

/** The library's modules worth a row: the entry, the agent's, and every file directly in a component or protocol folder. */
function libraryModules(): string[] {
  const lib = join(dist, 'lib');
  const files = ['index.js', 'agent/components.js', 'agent/loadConfig.js', 'agent/runAgent.js', 'agent/monitorServer.js'].map((f) => join(lib, f));
  for (const folder of ['core', 'entries', 'kafka', 'avro', 'sources', 'sinks', 'serializers', 'hdfs']) {
    for (const f of readdirSync(join(lib, folder)).sort()) if (f.endsWith('.js')) files.push(join(lib, folder, f));
  }
  files.push(join(dist, 'operators/channels/kafkaChannel.js'), join(dist, 'operators/channels/memoryChannel.js'));
  return files;
}

function entryTime(): EntryResult {
  const times: number[] = [];
  for (let i = 0; i < IMPORT_ROUNDS; i++) times.push(child<ImportResult>(['--import', 'rxflume']).ms);
  times.sort((a, b) => a - b);
  return { kind: 'entry', rounds: times.length, medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]! };
}

async function agentCase(): Promise<AgentResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-startup-'));
  const port = await freePort();
  const conf = join(dir, 'agent.properties');
  writeFileSync(
    conf,
    [
      'a1.sources = r1',
      'a1.channels = c1',
      'a1.sinks = k1',
      'a1.sources.r1.type = netcat',
      'a1.sources.r1.bind = 127.0.0.1',
      `a1.sources.r1.port = ${port}`,
      'a1.sources.r1.channels = c1',
      'a1.channels.c1.type = memory',
      'a1.channels.c1.capacity = 10000',
      'a1.channels.c1.transactionCapacity = 1000',
      'a1.sinks.k1.type = null',
      'a1.sinks.k1.channel = c1',
      '',
    ].join('\n'),
  );
  const agent = spawn(process.execPath, [...cliNodeFlags(), join(dist, 'lib/agent/cli.js'), 'agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cliEnv(),
  });
  const deadline = setTimeout(() => agent.kill('SIGKILL'), AGENT_TIMEOUT_MS);
  try {
    let log = '';
    await new Promise<void>((resolve, reject) => {
      // The log is on stderr (JSON lines, stderr being a pipe).
      agent.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
      agent.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString('utf8');
        if (log.includes('"agent started"')) resolve();
      });
      agent.once('exit', (code) => reject(new Error(`agent exited (${code}) before it started:\n${log}`)));
    });
    // 'agent started' comes once the sources were started; netcat listens a moment later (a host lookup).
    await listening(port);
    const started = procStats(agent.pid!);
    await sendLines(port, AGENT_EVENTS);
    const after = procStats(agent.pid!);
    const afterEventsRssMB = currentRssMB(agent.pid!);
    return {
      kind: 'agent',
      events: AGENT_EVENTS,
      startedPeakRssMB: started.peakRssMB,
      afterEventsPeakRssMB: after.peakRssMB,
      afterEventsRssMB,
      eventsCpuSeconds: Math.round((after.cpuSeconds - started.cpuSeconds) * 100) / 100,
    };
  } finally {
    clearTimeout(deadline);
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function currentRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 102.4) / 10;
}

/** Resolves once `port` accepts a connection (tried every 50 ms, for 10 s at most). */
async function listening(port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (attempt === 200) throw new Error(`nothing listens on 127.0.0.1:${port} after 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `count` lines on one connection and resolves once netcat answered each (OK or FAILED). */
function sendLines(port: number, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answered = 0;
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('utf8');
      const lines = text.split('\n');
      tail = lines.pop()!;
      answered += lines.length;
      if (answered >= count) {
        socket.end();
        resolve();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => (answered >= count ? resolve() : reject(new Error(`connection closed after ${answered} of ${count} answers`))));
    const line = `${'x'.repeat(100)}\n`;
    const chunk = line.repeat(1000);
    let sent = 0;
    const write = () => {
      while (sent < count) {
        const n = Math.min(1000, count - sent);
        sent += n;
        if (!socket.write(n === 1000 ? chunk : line.repeat(n))) return void socket.once('drain', write);
      }
    };
    socket.once('connect', write);
  });
}

function table(header: string[], rows: unknown[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: unknown[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const [mode, target] = process.argv.slice(2);
  if (mode === '--import') return importCase(target ?? '');
  const results: Result[] = [];
  const imports: ImportResult[] = [child<ImportResult>(['--import', ''])];
  for (const target of [...DEPENDENCIES, ...libraryModules()]) if (!ONLY || target.includes(ONLY)) imports.push(child<ImportResult>(['--import', target]));
  results.push(...imports);
  const bare = imports[0]!;
  console.log('import: one module into a bare Node process (RSS and heap after a full GC)');
  table(
    ['module', 'ms', 'RSS MB', '+RSS MB', 'heap MB', 'heavy dependencies loaded'],
    imports.map((r) => [
      r.target.startsWith('/') ? relative(dist, r.target) : r.target,
      r.ms,
      r.rssMB,
      r === bare ? '' : Math.round((r.rssMB - bare.rssMB) * 10) / 10,
      r.heapMB,
      r.loaded.join(' '),
    ]),
  );
  const entry = entryTime();
  results.push(entry);
  console.log(`\nimport('rxflume'): median ${entry.medianMs} ms, fastest ${entry.minMs} ms of ${entry.rounds} processes`);
  const agent = await agentCase();
  results.push(agent);
  console.log(
    `\nrxflume agent, netcat → memory → null: peak RSS ${agent.startedPeakRssMB} MB once started, ` +
      `${agent.afterEventsPeakRssMB} MB after ${agent.events} events (RSS then ${agent.afterEventsRssMB} MB; ${agent.eventsCpuSeconds} CPU s for them)`,
  );
  // Start-up cases have no rate; an import's RSS is measured after a GC, not a peak (its rssMB).
  const lineResults = results.map((r) => {
    if (r.kind === 'import') return { ...r, case: `import ${r.target}`, batch: null, eventsPerSec: null, peakRssMB: null };
    if (r.kind === 'entry') return { ...r, case: "import('rxflume')", batch: null, eventsPerSec: null, peakRssMB: null };
    return { ...r, case: 'agent netcat → memory → null', batch: null, eventsPerSec: null, peakRssMB: r.afterEventsPeakRssMB };
  });
  printJsonLine('startup', lineResults, { node: process.version, execArgv: process.execArgv, nodeOptions: process.env['NODE_OPTIONS'] ?? '' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
