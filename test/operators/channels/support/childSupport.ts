/**
 * Agent processes for the kill and fault tests (faultChild.mjs): start one, wait for it, drain what
 * it left, and audit what was acked into the channel against what the sink received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHILD = fileURLToPath(new URL('./faultChild.mjs', import.meta.url));
// The child's settings (faultChild.mjs): sink maxInFlight 1 × transactionCapacity 100; source maxInFlight 3 × 50.
export const UNSETTLED_TAKE_EVENTS = 1 * 100;
export const UNRECORDED_PUT_EVENTS = 3 * 50;

export interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Channel options over the child's defaults. */
  options?: object;
  /** RLIMIT_FSIZE in 512-byte blocks: a write past it fails with EFBIG (node ignores SIGXFSZ). */
  fileSizeLimitBlocks?: number;
  /** Run as this user and group (root runs as another user to meet EACCES). */
  uid?: number;
  gid?: number;
}

export function start(build: string, work: string, mode: 'run' | 'drain', run: number, o: StartOptions = {}): Child {
  const args = [CHILD, build, work, mode, String(run), JSON.stringify(o.options ?? {})];
  const env = { ...process.env, ...o.env };
  const ids = o.uid === undefined ? {} : { uid: o.uid, gid: o.gid ?? o.uid };
  const proc =
    o.fileSizeLimitBlocks === undefined
      ? spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...ids })
      : spawn('/bin/sh', ['-c', `ulimit -f ${o.fileSizeLimitBlocks} && exec "$0" "$@"`, process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready')) onReady();
  });
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': the child's output has been read by then.
    proc.on('close', (code, signal) => {
      onReady();
      resolve({ code, signal });
    }),
  );
  return { proc, ready, exited, output: () => out };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills a running child with SIGKILL (failing if it ended on its own) and waits for it. */
export async function kill(child: Child, what: string): Promise<void> {
  const gone = await Promise.race([child.exited.then(() => true), Promise.resolve(false)]);
  if (gone) throw new Error(`${what} exited on its own:\n${child.output()}`);
  child.proc.kill('SIGKILL');
  const { signal } = await child.exited;
  if (signal !== 'SIGKILL') throw new Error(`${what} ended with ${signal}`);
}

/** Runs the child in drain mode: it delivers everything the channel holds and exits 0. */
export async function drain(build: string, work: string, run: number, o: StartOptions = {}): Promise<string> {
  const child = start(build, work, 'drain', run, o);
  const { code } = await withTimeout(child.exited, 60_000, 'the drain run');
  if (code !== 0) throw new Error(`drain run failed (${code}):\n${child.output()}\n${await readOr(path.join(work, 'channel.log'))}`);
  return child.output();
}

export async function readOr(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

export interface Audit {
  acked: number;
  received: number;
  distinct: number;
  missing: number[];
  redelivered: number;
  reput: number;
}

/** Compares what was acked into the channel with what the sink received. */
export async function audit(work: string): Promise<Audit> {
  const acked = new Set<number>();
  for (const line of (await readOr(path.join(work, 'acked.log'))).split('\n')) {
    const [from, count] = line.split(' ').map(Number);
    if (!Number.isFinite(from) || !Number.isFinite(count)) continue;
    for (let i = 0; i < count!; i++) acked.add(from! + i);
  }
  // number → the runs that put each copy received
  const copies = new Map<number, string[]>();
  let received = 0;
  for (const line of (await readOr(path.join(work, 'received.log'))).split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) continue;
    received++;
    const n = Number(m[1]);
    const runs = copies.get(n) ?? [];
    runs.push(m[2]!);
    copies.set(n, runs);
  }
  const missing = [...acked].filter((n) => !copies.has(n)).sort((a, b) => a - b);
  let redelivered = 0;
  let reput = 0;
  for (const runs of copies.values()) {
    if (runs.length < 2) continue;
    const distinctRuns = new Set(runs).size;
    // Same run twice: the channel delivered a stored event again (its take was unsettled at a kill).
    redelivered += runs.length - distinctRuns;
    // Another run: the source put it again (its put was stored, the ack not yet recorded at a kill).
    reput += distinctRuns - 1;
  }
  return { acked: acked.size, received, distinct: copies.size, missing, redelivered, reput };
}

/** Segment files left in the directories. */
export async function segmentsIn(...dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) for (const f of await fs.readdir(d).catch(() => [] as string[])) if (f.startsWith('log-')) out.push(path.join(d, f));
  return out;
}
