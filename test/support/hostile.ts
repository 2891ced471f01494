/**
 * Helpers for hostile-client and memory-bound tests: run the agent CLI as a child process, read a
 * process's memory, open many slow connections, time a well-behaved client. Every loop here is bounded
 * in count and time; traffic goes to 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { buildDist, cli, root } from './examples.js';

/**
 * The RSS an agent under attack must stay below (README, Limits and guarantees). Measured peaks: 225–280 MB
 * on Node 20 and 22; 271–394 MB on Node 24, whose V8 and 64 KiB Buffer pool hold more.
 */
export const HOSTILE_CEILING_MB = 450;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
export function memoryOf(pid: number = process.pid): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

let gc: (() => void) | undefined;

/** Bytes this process still holds after a full garbage collection: JS heap plus Buffers. */
export function retainedBytes(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A port that was free a moment ago on 127.0.0.1, for TCP or UDP. */
export function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = createSocket('udp4');
      s.on('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
      return;
    }
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  alive(): boolean;
  /** Everything the agent wrote so far (last 200 kB). */
  output(): string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Runs `rxflume agent -n a1` on a properties text in a temporary directory (the text may use `${dir}`
 * for it). `maxOpenFiles` runs it under `ulimit -n`. The dist build is shared with the other CLI tests.
 */
export function startAgent(properties: string, options: { maxOpenFiles?: number } = {}): AgentProcess {
  buildDist();
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-hostile-'));
  const file = join(dir, 'agent.properties');
  writeFileSync(file, properties.replaceAll('${dir}', dir));
  const args = [cli, 'agent', '-n', 'a1', '-f', file, '--no-reload-conf'];
  const child =
    options.maxOpenFiles === undefined
      ? spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `ulimit -n ${options.maxOpenFiles} && exec "$0" "$@"`, process.execPath, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-200_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    pid: child.pid!,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => out,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `probe` resolves true, polling every 100 ms, at most `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(probe).catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface SlowClients {
  sockets: Socket[];
  /** Stops trickling and closes every connection. */
  stop(): void;
}

/**
 * Opens `count` TCP connections (in waves of 50) and writes `next(i, n)` to each every `intervalMs`,
 * for at most `rounds` rounds: slow senders that never finish. Errors and closes by the server are
 * expected and ignored.
 */
export async function slowClients(port: number, count: number, next: (i: number, n: number) => string | Buffer, intervalMs = 200, rounds = 1000): Promise<SlowClients> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, () => {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        sockets.push(s);
        return new Promise<void>((r) => {
          s.once('connect', () => r());
          s.once('close', () => r());
        });
      }),
    );
  }
  let n = 0;
  const timer = setInterval(() => {
    if (++n > rounds) return clearInterval(timer);
    sockets.forEach((s, i) => {
      if (!s.destroyed && s.writable) s.write(next(i, n));
    });
  }, intervalMs);
  return {
    sockets,
    stop() {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Calls `good` every `intervalMs` while `busy` is pending (at least once, at most `maxCalls`) and
 * returns how long each call took: a well-behaved client's latencies during an attack.
 */
export async function latenciesWhile(busy: Promise<unknown>, good: () => Promise<unknown>, intervalMs = 100, maxCalls = 300): Promise<number[]> {
  let done = false;
  void busy.then(
    () => (done = true),
    () => (done = true),
  );
  const latencies: number[] = [];
  do {
    const started = performance.now();
    await good();
    latencies.push(performance.now() - started);
    await sleep(intervalMs);
  } while (!done && latencies.length < maxCalls);
  return latencies;
}
