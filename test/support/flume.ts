/**
 * Real Apache Flume 1.11.0 agents for the interoperability tests, run from Maven Central jars.
 *
 *   const env = flumeEnv();                     // skip when java/mvn are missing (unless RXFLUME_REQUIRE_FLUME=1)
 *   const agent = await startFlumeAgent({ conf: 'a1.sources = r1 …' });
 *   await agent.waitForLog(/Avro source r1 started/);
 *   …
 *   await agent.stop();
 *
 * Jars are fetched once with `mvn -f flume/pom.xml package` into `~/.cache/rxflume/flume/1.11.0/libs`
 * (or `$RXFLUME_FLUME_CACHE`), never into the repository. The agent runs as
 * `java -cp flume/:<libs>/* org.apache.flume.node.Application -n a1 -f <conf> --no-reload-conf`;
 * Flume 1.11.0 starts on JDK 17 without extra flags. `flume/log4j2.xml` logs lifecycle lines to stdout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FLUME_VERSION = '1.11.0';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const configDir = join(repoRoot, 'flume');

export function flumeCacheDir(): string {
  const explicit = process.env['RXFLUME_FLUME_CACHE'];
  if (explicit) return resolve(explicit);
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'rxflume', 'flume');
}

function onPath(command: string): boolean {
  return !spawnSync(command, command === 'java' ? ['-version'] : ['-v'], { stdio: 'ignore' }).error;
}

export interface FlumeEnv {
  skip: boolean;
  /** " [skipped: …]" for a describe title when skipped, else "". */
  note: string;
}

/** Skip Flume tests when java or mvn is missing, unless RXFLUME_REQUIRE_FLUME=1 (then they fail). */
export function flumeEnv(): FlumeEnv {
  if (process.env['RXFLUME_REQUIRE_FLUME'] === '1') return { skip: false, note: '' };
  const missing = ['java', 'mvn'].filter((c) => !onPath(c));
  if (missing.length === 0) return { skip: false, note: '' };
  return { skip: true, note: ` [skipped: ${missing.join(' and ')} not on the PATH; a real Flume ${FLUME_VERSION} needs a JDK and Maven — set RXFLUME_REQUIRE_FLUME=1 to fail instead]` };
}

/** The folder of Flume's jars, fetched with Maven when missing; safe with several processes at once. */
export async function ensureFlumeJars(log?: (line: string) => void): Promise<string> {
  const versionDir = join(flumeCacheDir(), FLUME_VERSION);
  const libsDir = join(versionDir, 'libs');
  const marker = join(libsDir, '.complete');
  if (existsSync(marker)) return libsDir;
  mkdirSync(versionDir, { recursive: true });
  const lock = join(versionDir, '.fetching');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      await sleep(500);
    }
  }
  try {
    if (existsSync(marker)) return libsDir;
    log?.(`fetching Flume ${FLUME_VERSION} jars into ${libsDir} …`);
    rmSync(libsDir, { recursive: true, force: true });
    const args = ['-B', '-q', '-f', join(configDir, 'pom.xml'), 'package', `-Dflume.libs.dir=${libsDir}`];
    const { code, output } = await run('mvn', args);
    if (code !== 0) throw new Error(`mvn ${args.join(' ')} failed with exit code ${code}:\n${tail(output, 40)}`);
    if (!existsSync(join(libsDir, `flume-ng-node-${FLUME_VERSION}.jar`))) throw new Error(`mvn finished but ${libsDir} holds no flume-ng-node jar`);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    return libsDir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface FlumeAgent {
  readonly dir: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  log(): Promise<string>;
  /** Resolves once the agent's log matches; rejects if the agent exits first or on timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (then SIGKILL after 20 s) and removes the agent's temp folder unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

export interface AgentOptions {
  /** The agent's properties file; `{{dir}}` is replaced by the agent's temp folder. */
  conf: string;
  agentName?: string;
  heapMb?: number;
  /** Folders to create in the agent's temp folder first (file_roll needs its directory). */
  mkdirs?: readonly string[];
}

/** Starts `java … org.apache.flume.node.Application` on a temp conf; the JVM dies with this process. */
export async function startFlumeAgent(options: AgentOptions): Promise<FlumeAgent> {
  const libsDir = await ensureFlumeJars();
  const dir = await mkdtemp(join(tmpdir(), 'rxflume-flume-'));
  const confFile = join(dir, 'agent.conf');
  const logFile = join(dir, 'agent.log');
  for (const sub of options.mkdirs ?? []) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(confFile, options.conf.replace(/\{\{dir\}\}/g, dir));
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      'java',
      [
        `-Xmx${options.heapMb ?? 256}m`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        `${configDir}:${join(libsDir, '*')}`,
        'org.apache.flume.node.Application',
        '-n',
        options.agentName ?? 'a1',
        '-f',
        confFile,
        '--no-reload-conf',
      ],
      { cwd: dir, stdio: ['ignore', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : 0);
      r();
    });
    child.once('error', () => {
      exitCode = -1;
      r();
    });
  });
  // SIGKILL the JVM if this (test) process dies without stopping it.
  const dog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`], {
    stdio: 'ignore',
    detached: true,
  });
  dog.unref();

  const readLog = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const agent: FlumeAgent = {
    dir,
    logFile,
    get pid() {
      return exitCode === undefined ? child.pid : undefined;
    },
    log: readLog,
    async waitForLog(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await readLog();
        if (pattern.test(text)) return;
        if (exitCode !== undefined) throw new Error(`Flume agent exited (code ${exitCode}) before logging ${pattern}; ${logFile}:\n${tail(text, 40)}`);
        if (Date.now() > deadline) throw new Error(`Flume agent did not log ${pattern} within ${timeoutMs} ms; ${logFile}:\n${tail(text, 40)}`);
        await sleep(200);
      }
    },
    async stop(stopOptions = {}) {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000).unref());
        if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      if (dog.pid !== undefined && dog.exitCode === null) dog.kill('SIGKILL');
      if (!stopOptions.keep) await rm(dir, { recursive: true, force: true });
    },
  };
  return agent;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
    });
  });
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
