/**
 * The lifecycle of a Java service run from Maven Central jars (scripts/maven.ts): Kafka, Flume, HDFS, …
 *
 * - `startJava(options)`: `java <jvmArgs> -cp <classpath> <main> <args>` with stdout and stderr appended
 *   to a log file; resolves once it is ready (a log line, a port accepting connections, or both) and
 *   stops cleanly (SIGTERM, then SIGKILL after a timeout). Unless `detached`, a watchdog SIGKILLs the JVM
 *   when this process dies without stopping it.
 * - `serviceUp` / `serviceDown`: `npm run <service>:up` / `<service>:down`. `up` leaves a detached JVM
 *   running and records it in a state file (pid, data folder); `down`, another process, finds it there
 *   and stops it. A recycled pid is never killed: its command line must name the main class and data.
 * - `checkTools` throws `ToolsMissingError` when java (or mvn) cannot run; `startFailure` turns it into
 *   a skip for tests, or a failure when `RXFLUME_REQUIRE_<SERVICE>=1` (as .ci/run sets).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// ---- tools -------------------------------------------------------------------------------------

/** Java or Maven is not on the PATH: the service cannot run here. The message says what to install. */
export class ToolsMissingError extends Error {
  constructor(
    message: string,
    readonly missing: readonly string[],
  ) {
    super(message);
    this.name = 'ToolsMissingError';
  }
}

const INSTALL = {
  java: 'java (a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless)',
  mvn: 'mvn (Apache Maven 3, e.g. apt-get install maven)',
} as const;

function onPath(command: keyof typeof INSTALL): boolean {
  return !spawnSync(command, command === 'java' ? ['-version'] : ['-v'], { stdio: 'ignore' }).error;
}

/** Throws `ToolsMissingError` unless `java` (and, with `maven`, `mvn`) can be run; `what` names the service. */
export function checkTools(what: string, options: { maven?: boolean } = {}): void {
  const missing = (options.maven ? (['java', 'mvn'] as const) : (['java'] as const)).filter((c) => !onPath(c));
  if (missing.length) {
    throw new ToolsMissingError(`${what} needs ${missing.map((c) => INSTALL[c]).join(' and ')} on the PATH; its jars come from Maven Central`, missing);
  }
}

/**
 * What a test run makes of a service that could not start: missing tools skip its tests (with the
 * reason), unless `requireEnv` is "1"; any other error fails them.
 */
export function startFailure(error: unknown, what: string, requireEnv: string): { skipReason: string } | { failure: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof ToolsMissingError)) return { failure: `${what} did not start: ${message}` };
  if (process.env[requireEnv] === '1') return { failure: `${requireEnv}=1 but ${message}` };
  return { skipReason: `${message} (set ${requireEnv}=1 to fail instead)` };
}

/** Runs a command to its end, resolving with its exit code and its stdout and stderr together. */
export function runToEnd(command: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

// ---- files and ports ---------------------------------------------------------------------------

/** `relative` (e.g. "flume/log4j2.xml") in the nearest folder above `moduleUrl` holding it: works from source and from dist. */
export function findUp(moduleUrl: string, relative: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, relative))) return join(dir, relative);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${relative} above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

/** A service's data folder: the given one (kept by `remove()`), or a new temp folder that `remove()` deletes. */
export async function dataDir(given: string | undefined, prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  if (given !== undefined) {
    const path = resolve(given);
    mkdirSync(path, { recursive: true });
    return { path, remove: async () => undefined };
  }
  const path = await mkdtemp(join(tmpdir(), `rxflume-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Ports freePort has handed out in this process: none is handed out twice. */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1, and not handed out before by this process (the
 * kernel picks an ephemeral port at random, so two calls in a row can get the same one).
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await new Promise<number>((resolvePromise, reject) => {
      const server = createServer();
      server.unref();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port that was not handed out already');
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

// ---- a running JVM -----------------------------------------------------------------------------

export interface JavaOptions {
  /** Names the process in errors, e.g. "Kafka 3.9.2 broker". */
  what: string;
  /** Entries of `-cp`: folders (of config files) and jar globs such as `<libs>/*`. */
  classpath: readonly string[];
  mainClass: string;
  args?: readonly string[];
  /** Heap, GC and `-D` options, before `-cp`. */
  jvmArgs?: readonly string[];
  cwd?: string;
  /** The JVM's stdout and stderr are appended here. */
  logFile: string;
  /** Ready once the log (of this start) matches… */
  readyLog?: RegExp;
  /** …and/or this port on 127.0.0.1 (or `readyHost`) accepts connections. Neither: ready once spawned. */
  readyPort?: number;
  /** Where `readyPort` is probed (default 127.0.0.1), e.g. the address of a network namespace. */
  readyHost?: string;
  /**
   * A command that runs the JVM in its place, e.g. `['ip', 'netns', 'exec', 'ns1']`: it must exec java
   * (keep the pid), as `ip netns exec` does, so that signals and the watchdog reach the JVM itself.
   */
  launcher?: readonly string[];
  /** Default 180 s: a busy 2-core machine starts a JVM slowly. On timeout the JVM is killed. */
  readyTimeoutMs?: number;
  /** In its own session, outliving this process (for `up`); no watchdog. */
  detached?: boolean;
}

export interface StopOptions {
  /** SIGTERM (default) shuts down cleanly; SIGKILL simulates a crash. */
  signal?: 'SIGTERM' | 'SIGKILL';
  /** After this, a SIGTERM is followed by SIGKILL (default 60 s). */
  timeoutMs?: number;
}

export interface JavaProcess {
  readonly logFile: string;
  /** The JVM's pid while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** What the JVM logged since its latest start. */
  log(): Promise<string>;
  /** Resolves once the log matches; rejects, with the log's tail, if the JVM exits first or on timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Stops the JVM and waits until it exited. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again with the same command line (after `stop()`) and waits until it is ready. */
  start(): Promise<void>;
}

/** Starts a JVM and resolves once it is ready (see `JavaOptions`); throws `ToolsMissingError` without java. */
export async function startJava(options: JavaOptions): Promise<JavaProcess> {
  checkTools(options.what);
  const { logFile, what } = options;
  const command = [...(options.jvmArgs ?? []), '-cp', options.classpath.join(delimiter), options.mainClass, ...(options.args ?? [])];
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  let child: ChildProcess | undefined;
  let exitCode: number | string | undefined;
  let exited: Promise<void> = Promise.resolve();
  let watchdog: ChildProcess | undefined;
  let logFrom = 0;

  const log = async (): Promise<string> => {
    try {
      return (await readFile(logFile)).subarray(logFrom).toString('utf8');
    } catch {
      return '';
    }
  };
  const until = async (ready: () => Promise<boolean>, goal: string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await ready()) return;
      // The last lines may have landed between the check and the exit: look once more.
      if (exitCode !== undefined && !(await ready())) throw new Error(`${what} exited (${exitCode}) before ${goal}; ${logFile}:\n${tail(await log(), 40)}`);
      if (Date.now() > deadline) throw new Error(`${what} not ${goal} within ${timeoutMs} ms; ${logFile}:\n${tail(await log(), 40)}`);
      await sleep(200);
    }
  };
  const stop = async ({ signal = 'SIGTERM', timeoutMs = 60_000 }: StopOptions = {}): Promise<void> => {
    const proc = child;
    if (!proc) return;
    if (exitCode === undefined) {
      proc.kill(signal);
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
      }
    }
    if (child === proc) child = undefined;
    if (watchdog?.pid !== undefined && watchdog.exitCode === null) watchdog.kill('SIGKILL');
    watchdog = undefined;
  };
  const launch = async (): Promise<void> => {
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    logFrom = statSync(logFile).size;
    let proc: ChildProcess;
    try {
      const [program, ...prefix] = [...(options.launcher ?? []), 'java'];
      proc = spawn(program!, [...prefix, ...command], { cwd: options.cwd, stdio: ['ignore', fd, fd], detached: options.detached ?? false });
    } finally {
      closeSync(fd);
    }
    child = proc;
    exitCode = undefined;
    exited = new Promise<void>((resolveExit) => {
      proc.once('exit', (code, signal) => {
        exitCode = signal ?? `code ${code}`;
        resolveExit();
      });
      proc.once('error', (error) => {
        exitCode = error.message;
        resolveExit();
      });
    });
    if (options.detached) proc.unref();
    else watchdog = startWatchdog(proc.pid!);
    const { readyLog, readyPort } = options;
    try {
      await until(
        async () => (!readyLog || readyLog.test(await log())) && (readyPort === undefined || (await canConnect(readyPort, options.readyHost))),
        'ready',
        readyTimeoutMs,
      );
    } catch (error) {
      await stop({ signal: 'SIGKILL', timeoutMs: 5000 });
      throw error;
    }
  };

  const java: JavaProcess = {
    logFile,
    get pid() {
      return child && exitCode === undefined ? child.pid : undefined;
    },
    get running() {
      return java.pid !== undefined;
    },
    log,
    waitForLog: (pattern, timeoutMs = readyTimeoutMs) => until(async () => pattern.test(await log()), `logging ${pattern}`, timeoutMs),
    stop,
    async start() {
      if (!java.running) await launch();
    },
  };
  await launch();
  return java;
}

/** What a one-JVM service (a Kafka broker, ActiveMQ) hands out beside its addresses: the JVM, restartable on its data. */
export interface JavaService {
  /** The JVM's stdout/stderr. */
  readonly logFile: string;
  /** The JVM's pid while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Stops the JVM and waits for it to exit; the data stays, so `start()` can bring it back. */
  stop(options?: StopOptions): Promise<void>;
  /** Starts it again with the same command line and data (after `stop()`), and waits until it is ready. */
  start(): Promise<void>;
  /** Stops it if running, then removes its data folder (when the service created it: `dataDir`'s `remove`). */
  close(): Promise<void>;
}

/** `fields` (addresses, ports) with the `JavaService` of `java` on `data`; `what` names it in the error of a start after close. */
export function javaService<F extends object>(java: JavaProcess, data: { remove(): Promise<void> }, what: string, fields: F): F & JavaService {
  let closed = false;
  const service: JavaService = {
    logFile: java.logFile,
    get pid() {
      return java.pid;
    },
    get running() {
      return java.running;
    },
    stop: (options) => java.stop(options),
    async start() {
      if (closed) throw new Error(`${what} was closed`);
      await java.start();
    },
    async close() {
      closed = true;
      await java.stop();
      await data.remove();
    },
  };
  // Property descriptors, not a spread: pid and running stay live getters.
  return Object.defineProperties({ ...fields }, Object.getOwnPropertyDescriptors(service)) as F & JavaService;
}

/** A detached shell that SIGKILLs process `pid` (a JVM, an agent) once this process is gone, however it died. */
export function startWatchdog(pid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null`;
  const dog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  dog.unref();
  return dog;
}

// ---- npm run <service>:up / <service>:down -------------------------------------------------------

/** What `serviceUp` records about a detached JVM so that `serviceDown`, in another process, can stop it. */
export interface UpState {
  pid: number;
  /** Removed by `serviceDown`. */
  dataDir: string;
  logFile: string;
  /** With `dataDir`, must appear in /proc/<pid>/cmdline: a recycled pid is not ours. */
  mainClass: string;
  /** For messages, e.g. "Kafka 3.9.2 on 127.0.0.1:19092". */
  name: string;
}

function readState<S extends UpState>(file: string): S | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as S) : undefined;
}

/** The process exists and is not a zombie (a child that exited stays one until Node reaps it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true; // no /proc here: trust the pid
  }
}

/** The recorded JVM still runs (a recycled pid does not: its command line no longer matches). */
export function isRunning(state: UpState): boolean {
  if (!processAlive(state.pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8');
    return cmdline.includes(state.mainClass) && cmdline.includes(state.dataDir);
  } catch {
    return true; // no /proc here: trust the pid
  }
}

export interface UpCommand<S extends UpState> {
  stateFile: string;
  /** Wiped, then handed to `start`; `serviceDown` removes it. */
  dataDir: string;
  /** Printed: how to stop it, e.g. "npm run kafka:down". */
  downCommand: string;
  /** Starts the service detached (`startJava({ detached: true })`) on `dataDir`; resolves once it is ready. */
  start(dataDir: string): Promise<S>;
  /** The line printed once it is ready (what a user connects to). */
  readyLine(state: S): string;
}

/** `up`: starts the service in the background unless the state file names a running one; prints how to stop it. */
export async function serviceUp<S extends UpState>(command: UpCommand<S>): Promise<S> {
  const previous = readState<S>(command.stateFile);
  if (previous && isRunning(previous)) {
    console.log(`${previous.name} is already running (pid ${previous.pid}); stop it with: ${command.downCommand}`);
    return previous;
  }
  if (previous) rmSync(previous.dataDir, { recursive: true, force: true });
  rmSync(command.dataDir, { recursive: true, force: true });
  const state = await command.start(command.dataDir);
  mkdirSync(dirname(command.stateFile), { recursive: true });
  writeFileSync(command.stateFile, JSON.stringify(state, null, 2));
  console.log(command.readyLine(state));
  console.log(`stop it with: ${command.downCommand}`);
  return state;
}

/** `down`: stops what `serviceUp` recorded in `stateFile` (SIGTERM, SIGKILL after `timeoutMs`) and removes its data. */
export async function serviceDown(stateFile: string, notFound: string, timeoutMs = 60_000): Promise<void> {
  const state = readState(stateFile);
  if (!state) {
    console.log(notFound);
    return;
  }
  if (isRunning(state)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (isRunning(state) && Date.now() < deadline) await sleep(200);
    if (isRunning(state)) {
      process.kill(state.pid, 'SIGKILL');
      while (isRunning(state) && Date.now() < deadline + 10_000) await sleep(100);
    }
    console.log(`stopped ${state.name} (pid ${state.pid})`);
  } else {
    console.log(`${state.name} was not running any more`);
  }
  rmSync(state.dataDir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
}

// ---- command line ------------------------------------------------------------------------------

export interface Args {
  command: string | undefined;
  flag(name: string): boolean;
  value(name: string): string | undefined;
}

/** Runs `main` when `moduleUrl` is the script node started; an error prints as `name: message` and exits 1. */
export function runMain(moduleUrl: string, name: string, main: (args: Args) => Promise<void>): void {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  const [command, ...rest] = process.argv.slice(2);
  const args: Args = {
    command,
    flag: (flag) => rest.includes(flag),
    value: (option) => {
      const i = rest.indexOf(option);
      return i >= 0 ? rest[i + 1] : undefined;
    },
  };
  main(args).catch((error: unknown) => {
    console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
