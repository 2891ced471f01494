/**
 * A real single-node KRaft Kafka broker from Maven Central jars, for tests, benches and local use.
 *
 *   npm run kafka:up      starts one on 127.0.0.1:19092 in the background (prints how to stop it)
 *   npm run kafka:down    stops it and removes its data
 *   node dist/scripts/kafka.js fetch    only fetches the jars (CI does this before the tests)
 *
 * Options of `up`/`down`: `--port N` (default 19092), `--kafka4` (Kafka 4.x instead of 3.9.x),
 * `--no-auto-create` (auto.create.topics.enable=false), `--partitions N` (num.partitions).
 *
 * Programmatic use (vitest global setup, benches, fault tests): `ensureJars()` then
 * `startBroker({ port, dataDir })`. Jars are cached outside the repository (`kafkaCacheDir()`), fetched
 * once with Maven from `kafka/pom.xml`; nothing else is reused between runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type KafkaMajor = 3 | 4;

/** The Kafka release each major fetches; the pom's profiles (`kafka3`, `kafka4`) pin the same versions. */
export const KAFKA_VERSIONS: Readonly<Record<KafkaMajor, string>> = { 3: '3.9.2', 4: '4.1.1' };
export const DEFAULT_PORT = 19092;
/** Any base64url 16-byte UUID works for a throwaway cluster; a fixed one saves a JVM start. */
const CLUSTER_ID = '5L6g3nShT-eMCtK--X86sw';
const READY_LINE = 'Kafka Server started';

/** Java or Maven is not on the PATH: Kafka cannot run here. The message says what to install. */
export class KafkaToolsMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaToolsMissingError';
  }
}

/** The major to use when none is given: env `RXFLUME_KAFKA_MAJOR=4` switches everything to Kafka 4.x. */
export function defaultMajor(): KafkaMajor {
  return process.env['RXFLUME_KAFKA_MAJOR'] === '4' ? 4 : 3;
}

/** Where jars (and `kafka:up` state) live: `$RXFLUME_KAFKA_CACHE`, else `$XDG_CACHE_HOME/rxflume/kafka`, else `~/.cache/rxflume/kafka`. */
export function kafkaCacheDir(): string {
  const explicit = process.env['RXFLUME_KAFKA_CACHE'];
  if (explicit) return resolve(explicit);
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'rxflume', 'kafka');
}

/** The folder holding `kafka/pom.xml` and the properties templates (found from this file, in source or dist). */
export function kafkaConfigDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'kafka');
    if (existsSync(join(candidate, 'pom.xml')) && existsSync(join(candidate, 'server.properties'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('scripts/kafka: cannot find kafka/pom.xml above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function onPath(command: string): boolean {
  const probe = spawnSync(command, command === 'java' ? ['-version'] : ['-v'], { stdio: 'ignore' });
  return !probe.error;
}

/** Throws `KafkaToolsMissingError` unless `java` (and, when `maven`, `mvn`) can be run. */
export function checkTools(options: { maven?: boolean } = {}): void {
  const missing: string[] = [];
  if (!onPath('java')) missing.push('java (a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless)');
  if (options.maven && !onPath('mvn')) missing.push('mvn (Apache Maven 3, e.g. apt-get install maven)');
  if (missing.length) {
    throw new KafkaToolsMissingError(
      `a local Kafka broker needs ${missing.join(' and ')} on the PATH; ` +
        'the broker jars come from Maven Central through kafka/pom.xml',
    );
  }
}

export interface JarsOptions {
  major?: KafkaMajor;
  /** Progress lines (e.g. "fetching …"); silent by default. */
  log?: (line: string) => void;
}

export interface Jars {
  major: KafkaMajor;
  version: string;
  /** Folder of the broker's jars: the classpath is `${libsDir}/*`. */
  libsDir: string;
  /** False when the cache already held them. */
  fetched: boolean;
  seconds: number;
}

/**
 * Makes sure the broker jars are in the cache, fetching them with Maven (`kafka/pom.xml`) when
 * missing. Safe to call from several processes at once: one fetches, the others wait for it.
 */
export async function ensureJars(options: JarsOptions = {}): Promise<Jars> {
  const major = options.major ?? defaultMajor();
  const version = KAFKA_VERSIONS[major];
  const versionDir = join(kafkaCacheDir(), version);
  const libsDir = join(versionDir, 'libs');
  const marker = join(libsDir, '.complete');
  const started = Date.now();
  const result = (fetched: boolean): Jars => ({ major, version, libsDir, fetched, seconds: (Date.now() - started) / 1000 });
  if (existsSync(marker)) return result(false);

  checkTools({ maven: true });
  mkdirSync(versionDir, { recursive: true });
  const lock = join(versionDir, '.fetching');
  await acquireLock(lock, options.log);
  try {
    if (existsSync(marker)) return result(false);
    options.log?.(`fetching Kafka ${version} broker jars from Maven Central into ${libsDir} …`);
    rmSync(libsDir, { recursive: true, force: true });
    const args = ['-B', '-q', '-f', join(kafkaConfigDir(), 'pom.xml'), 'package', `-Dkafka.libs.dir=${libsDir}`];
    if (major === 4) args.push('-P', 'kafka4');
    const { code, output } = await run('mvn', args);
    if (code !== 0) throw new Error(`mvn ${args.join(' ')} failed with exit code ${code}:\n${tail(output, 40)}`);
    if (!existsSync(join(libsDir, `kafka_2.13-${version}.jar`))) throw new Error(`mvn finished but ${libsDir} holds no kafka_2.13-${version}.jar`);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    options.log?.(`fetched Kafka ${version} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result(true);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function acquireLock(lock: string, log?: (line: string) => void): Promise<void> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A fetch that died long ago left its lock behind.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (!told) log?.('another process is fetching the Kafka jars; waiting for it …');
      told = true;
      await sleep(500);
    }
  }
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

export interface BrokerOptions {
  /** Client port on 127.0.0.1; 0 (default) picks a free one. `kafka:up` uses 19092. */
  port?: number;
  /** Controller (KRaft quorum) port; a free one by default. */
  controllerPort?: number;
  /**
   * Broker state (formatted KRaft metadata, topic logs, its config and log file). Given: kept on
   * `close()`, so a broker can be started again on it. Absent: a temp folder removed by `close()`.
   */
  dataDir?: string;
  /** `auto.create.topics.enable` (default true). */
  autoCreateTopics?: boolean;
  /** `num.partitions` of auto-created topics (default 1). */
  numPartitions?: number;
  /**
   * More broker properties, appended to the template's (a key given here wins, as the last one in a
   * Java properties file): e.g. a TLS or SASL listener added to `listeners` (see test/lib/kafka/tls.test.ts).
   */
  properties?: Record<string, string>;
  major?: KafkaMajor;
  /** JVM max heap in MB (default 512). */
  heapMb?: number;
  /** How long to wait for "Kafka Server started" (default 180 s: a busy 2-core machine is slow). */
  readyTimeoutMs?: number;
  /** Run in its own session, surviving this process (for `kafka:up`); no watchdog. */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface StopOptions {
  /** SIGTERM (default) shuts down cleanly; SIGKILL simulates a crash. */
  signal?: 'SIGTERM' | 'SIGKILL';
  /** After this, a SIGTERM is followed by SIGKILL (default 60 s). */
  timeoutMs?: number;
}

export interface Broker {
  /** `127.0.0.1:<port>`, what kafkajs `brokers` takes. */
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  /** The broker's stdout/stderr. */
  readonly logFile: string;
  readonly major: KafkaMajor;
  /** The JVM's pid while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Stops the JVM and waits for it to exit; the data stays, so `start()` can bring it back. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again on the same ports and data (after `stop()`), and waits until it is ready. */
  start(): Promise<void>;
  /** Stops it if running, then removes its data folder if `startBroker` created it. */
  close(): Promise<void>;
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

/**
 * Starts a single-node KRaft broker (broker + controller in one JVM) and resolves once it accepts
 * clients. Fetches the jars first if needed (`ensureJars`). The JVM is killed if this process dies
 * (a watchdog polls its pid), unless `detached`.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const major = options.major ?? defaultMajor();
  checkTools();
  const jars = await ensureJars({ major, ...(options.log ? { log: options.log } : {}) });
  const port = options.port || (await freePort());
  const controllerPort = options.controllerPort || (await freePort());
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ? resolve(options.dataDir) : await mkdtemp(join(tmpdir(), 'rxflume-kafka-'));
  mkdirSync(dataDir, { recursive: true });
  const logDirs = join(dataDir, 'kraft');
  const propsFile = join(dataDir, 'server.properties');
  const logFile = join(dataDir, 'broker.log');
  const configDir = kafkaConfigDir();
  const template = readFileSync(join(configDir, 'server.properties'), 'utf8');
  const values: Record<string, string> = {
    port: String(port),
    controllerPort: String(controllerPort),
    logDirs,
    numPartitions: String(options.numPartitions ?? 1),
    autoCreateTopics: String(options.autoCreateTopics ?? true),
  };
  const extra = Object.entries(options.properties ?? {}).map(([k, v]) => `${k}=${v}\n`).join('');
  writeFileSync(propsFile, template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? '') + (extra ? `\n${extra}` : ''));
  const logConfig =
    major === 4 ? `-Dlog4j2.configurationFile=${join(configDir, 'log4j2.properties')}` : `-Dlog4j.configuration=file:${join(configDir, 'log4j.properties')}`;
  const classpath = join(jars.libsDir, '*');

  if (!existsSync(join(logDirs, 'meta.properties'))) {
    const format = await run('java', ['-Xmx128m', logConfig, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', propsFile, '--ignore-formatted']);
    if (format.code !== 0) throw new Error(`formatting Kafka storage in ${logDirs} failed (exit ${format.code}):\n${tail(format.output, 30)}`);
  }

  const heap = options.heapMb ?? 512;
  const jvmArgs = [
    `-Xmx${heap}m`,
    `-Xms${Math.min(heap, 256)}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    logConfig,
    '-cp',
    classpath,
    'kafka.Kafka',
    propsFile,
  ];
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let watchdog: ChildProcess | undefined;
  let closed = false;

  const launch = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    const readFrom = statSync(logFile).size;
    try {
      child = spawn('java', jvmArgs, { stdio: ['ignore', fd, fd], detached: options.detached ?? false });
    } finally {
      closeSync(fd);
    }
    const proc = child;
    let exitCode: number | null | undefined;
    exited = new Promise<void>((resolveExit) => {
      proc.once('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : 0);
        resolveExit();
      });
      proc.once('error', () => {
        exitCode = -1;
        resolveExit();
      });
    });
    if (options.detached) proc.unref();
    else watchdog = startWatchdog(proc.pid!);
    options.log?.(`starting Kafka ${jars.version} (pid ${proc.pid}) on 127.0.0.1:${port}, data in ${dataDir}`);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (exitCode !== undefined) {
        throw new Error(`Kafka broker exited (code ${exitCode}) before it was ready; ${logFile}:\n${tail(await readLog(logFile, readFrom), 40)}`);
      }
      if ((await readLog(logFile, readFrom)).includes(READY_LINE) && (await canConnect(port))) break;
      if (Date.now() > deadline) {
        await killAndWait(proc, exited, 'SIGKILL', 5000);
        throw new Error(`Kafka broker not ready within ${readyTimeoutMs} ms; ${logFile}:\n${tail(await readLog(logFile, readFrom), 40)}`);
      }
      await sleep(200);
    }
  };

  const broker: Broker = {
    bootstrap: `127.0.0.1:${port}`,
    port,
    controllerPort,
    dataDir,
    logFile,
    major,
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    get running() {
      return broker.pid !== undefined;
    },
    async stop(stopOptions: StopOptions = {}) {
      const proc = child;
      if (!proc) return;
      await killAndWait(proc, exited, stopOptions.signal ?? 'SIGTERM', stopOptions.timeoutMs ?? 60_000);
      if (child === proc) child = undefined;
      if (watchdog?.pid !== undefined && watchdog.exitCode === null) watchdog.kill('SIGKILL');
      watchdog = undefined;
    },
    async start() {
      if (closed) throw new Error('this broker was closed');
      if (broker.running) return;
      await launch();
    },
    async close() {
      closed = true;
      await broker.stop();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (error) {
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return broker;
}

/** A detached shell that SIGKILLs the broker once this process is gone, however it died. */
function startWatchdog(brokerPid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${brokerPid} 2>/dev/null; do sleep 1; done; kill -9 ${brokerPid} 2>/dev/null`;
  const dog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  dog.unref();
  return dog;
}

async function killAndWait(proc: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
    proc.kill('SIGKILL');
    await exited;
  }
}

async function readLog(file: string, from: number): Promise<string> {
  try {
    const all = await readFile(file);
    return all.subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// ---- npm run kafka:up / kafka:down -----------------------------------------------------------

interface UpState {
  pid: number;
  bootstrap: string;
  dataDir: string;
  logFile: string;
  version: string;
}

const stateFile = (port: number) => join(kafkaCacheDir(), `broker-${port}.json`);

function isOurBroker(pid: number, dataDir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A recycled pid must not be killed: check the command line where /proc exists.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('kafka.Kafka') && cmdline.includes(dataDir);
  } catch {
    return true;
  }
}

/** `npm run kafka:up`: a detached broker on `port` with fresh data under the cache; prints how to stop it. */
export async function kafkaUp(
  port = DEFAULT_PORT,
  options: { major?: KafkaMajor; autoCreateTopics?: boolean; numPartitions?: number } = {},
): Promise<{ bootstrap: string; pid: number }> {
  const major = options.major ?? defaultMajor();
  const file = stateFile(port);
  if (existsSync(file)) {
    const state = JSON.parse(readFileSync(file, 'utf8')) as UpState;
    if (isOurBroker(state.pid, state.dataDir)) {
      console.log(`Kafka is already running on ${state.bootstrap} (pid ${state.pid}); stop it with: npm run kafka:down${port === DEFAULT_PORT ? '' : ` -- --port ${port}`}`);
      return { bootstrap: state.bootstrap, pid: state.pid };
    }
    rmSync(state.dataDir, { recursive: true, force: true });
  }
  const dataDir = join(kafkaCacheDir(), `run-${port}`);
  rmSync(dataDir, { recursive: true, force: true });
  const broker = await startBroker({
    port,
    dataDir,
    major,
    autoCreateTopics: options.autoCreateTopics ?? true,
    numPartitions: options.numPartitions ?? 1,
    detached: true,
    log: (l) => console.log(l),
  });
  const state: UpState = { pid: broker.pid!, bootstrap: broker.bootstrap, dataDir, logFile: broker.logFile, version: KAFKA_VERSIONS[major] };
  writeFileSync(file, JSON.stringify(state, null, 2));
  console.log(`Kafka ${state.version} is ready: bootstrap ${broker.bootstrap} (pid ${state.pid}, log ${broker.logFile})`);
  console.log(`stop it with: npm run kafka:down${port === DEFAULT_PORT ? '' : ` -- --port ${port}`}`);
  return { bootstrap: state.bootstrap, pid: state.pid };
}

/** `npm run kafka:down`: stops the broker `kafkaUp` started on `port` and removes its data. */
export async function kafkaDown(port = DEFAULT_PORT): Promise<void> {
  const file = stateFile(port);
  if (!existsSync(file)) {
    console.log(`no Kafka started by kafka:up on port ${port}`);
    return;
  }
  const state = JSON.parse(readFileSync(file, 'utf8')) as UpState;
  if (isOurBroker(state.pid, state.dataDir)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (isOurBroker(state.pid, state.dataDir)) {
      if (Date.now() > deadline) {
        process.kill(state.pid, 'SIGKILL');
        break;
      }
      await sleep(200);
    }
    console.log(`stopped Kafka on ${state.bootstrap} (pid ${state.pid})`);
  } else {
    console.log(`Kafka on ${state.bootstrap} was not running any more`);
  }
  rmSync(state.dataDir, { recursive: true, force: true });
  rmSync(file, { force: true });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const flag = (name: string) => rest.includes(name);
  const value = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const port = Number(value('--port') ?? process.env['RXFLUME_KAFKA_PORT'] ?? DEFAULT_PORT);
  const major: KafkaMajor = flag('--kafka4') ? 4 : defaultMajor();
  switch (command) {
    case 'up':
      await kafkaUp(port, { major, autoCreateTopics: !flag('--no-auto-create'), numPartitions: Number(value('--partitions') ?? 1) });
      return;
    case 'down':
      return kafkaDown(port);
    case 'fetch': {
      const jars = await ensureJars({ major, log: (l) => console.log(l) });
      console.log(`Kafka ${jars.version} jars ${jars.fetched ? 'fetched' : 'already cached'} in ${jars.libsDir} (${jars.seconds.toFixed(1)} s)`);
      return;
    }
    default:
      console.error('usage: node dist/scripts/kafka.js up|down|fetch [--port N] [--kafka4] [--no-auto-create] [--partitions N]');
      process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`kafka: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
