/**
 * kill -9, for real: a child process runs source → fileChannel → recording sink and is SIGKILLed at
 * random moments (and at chosen ones: mid-checkpoint, mid-deletion); a last run drains the channel.
 * Every event whose put was acked must have been delivered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildForChildren, tempDir } from './support.js';

const CHILD = fileURLToPath(new URL('../../../fixtures/fileChannel/crashChild.mjs', import.meta.url));
// The child's settings (crashChild.mjs): sink maxInFlight 1 × transactionCapacity 100; source maxInFlight 3 × 50.
const UNSETTLED_TAKE_EVENTS = 1 * 100;
const UNRECORDED_PUT_EVENTS = 3 * 50;

let build: string;
const dirs: string[] = [];

beforeAll(async () => {
  build = await buildForChildren();
  dirs.push(build);
});

afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

function start(work: string, mode: 'run' | 'drain', run: number, env: Record<string, string> = {}, options: object = {}, fileSizeLimitBlocks?: number): Child {
  const args = [CHILD, build, work, mode, String(run), JSON.stringify(options)];
  const proc =
    fileSizeLimitBlocks === undefined
      ? spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : // RLIMIT_FSIZE: a write past it fails with EFBIG (node ignores SIGXFSZ), like a full disk.
        spawn('/bin/sh', ['-c', `ulimit -f ${fileSizeLimitBlocks} && exec "$0" "$@"`, process.execPath, ...args], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function drain(work: string, run: number): Promise<string> {
  const child = start(work, 'drain', run);
  const { code } = await withTimeout(child.exited, 60_000, 'the drain run');
  if (code !== 0) throw new Error(`drain run failed (${code}):\n${child.output()}\n${await readOr(path.join(work, 'channel.log'))}`);
  return child.output();
}

async function readOr(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

interface Audit {
  acked: number;
  received: number;
  distinct: number;
  missing: number[];
  redelivered: number;
  reput: number;
}

/** Compares what was acked into the channel with what the sink received. */
async function audit(work: string): Promise<Audit> {
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

describe('fileChannel under kill -9', () => {
  it('loses no acked event over 20 random SIGKILLs; duplicates stay within what was unsettled at each kill', async () => {
    const work = await tempDir('rxflume-fc-kill-');
    dirs.push(work);
    const kills = 20;
    let killedDuringOpen = 0;
    for (let run = 0; run < kills; run++) {
      const child = start(work, 'run', run);
      if (run % 3 === 0) {
        // Some kills land while the channel is still recovering or opening.
        await sleep(100 + Math.random() * 200);
        killedDuringOpen++;
      } else {
        await withTimeout(child.ready, 30_000, `run ${run} to start`);
        await sleep(Math.random() * 400);
      }
      const gone = await Promise.race([child.exited.then(() => true), Promise.resolve(false)]);
      if (gone) throw new Error(`run ${run} exited on its own:\n${child.output()}`);
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');
    }
    const drained = await drain(work, kills);
    const a = await audit(work);
    const log = await readOr(path.join(work, 'channel.log'));
    const torn = (log.match(/cut off a torn record/g) ?? []).length;
    const damaged = (log.match(/damaged/g) ?? []).length;
    console.log(
      `kill -9 × ${kills} (${killedDuringOpen} early): ${a.acked} events acked, ${a.received} received (${a.distinct} distinct), ` +
        `${a.missing.length} acked events missing, ${a.redelivered} redelivered by the channel (bound ${kills * UNSETTLED_TAKE_EVENTS}), ` +
        `${a.reput} put again by the source (bound ${kills * UNRECORDED_PUT_EVENTS}); torn tails cut: ${torn}; ${drained.trim().replace(/\s+/g, " ")}`,
    );
    expect(a.acked).toBeGreaterThan(1000);
    expect(a.missing.slice(0, 20)).toEqual([]);
    expect(a.redelivered).toBeLessThanOrEqual(kills * UNSETTLED_TAKE_EVENTS);
    expect(a.reput).toBeLessThanOrEqual(kills * UNRECORDED_PUT_EVENTS);
    expect(damaged).toBe(0); // a crash tears tails; it never damages what was written before
    // Nothing is left behind: the channel drained, every segment emptied and deleted.
    const left = [...(await fs.readdir(path.join(work, 'data1'))), ...(await fs.readdir(path.join(work, 'data2')))].filter((f) => f.startsWith('log-'));
    expect(left).toEqual([]);
  }, 180_000);

  it('when writes fail for want of space (EFBIG under ulimit -f), puts are nacked, nothing stored is harmed, and the channel goes on', async () => {
    const work = await tempDir('rxflume-fc-full-');
    dirs.push(work);
    // 200 blocks of 512 bytes: each segment fills up after ~100 KB, far below maxFileSize.
    const child = start(work, 'run', 0, { CHILD_TOTAL_EVENTS: '10000' }, { maxFileSize: 1 << 20, checkpointIntervalMs: 1000 }, 200);
    const { code } = await withTimeout(child.exited, 60_000, 'the run under a file size limit');
    expect(code, child.output()).toBe(0);
    const metrics = JSON.parse(/metrics (.*)/.exec(child.output())![1]!) as Record<string, number>;
    const log = await readOr(path.join(work, 'channel.log'));
    await drain(work, 1);
    const a = await audit(work);
    const after = (await readOr(path.join(work, 'channel.log'))).slice(log.length);
    console.log(
      `EFBIG: ${metrics['EventPutErrorCount']} events of failed puts nacked and retried; ${a.acked} acked, ${a.missing.length} missing, ` +
        `${a.redelivered + a.reput} duplicates; reopen report: ${/opened with .*/.exec(after)?.[0]}`,
    );
    expect(metrics['EventPutErrorCount']).toBeGreaterThan(0);
    expect(a.acked).toBe(10000);
    expect(a.missing).toEqual([]);
    expect(after).not.toMatch(/damaged|torn|unusable/);
  }, 90_000);

  const points = ['checkpoint-half-written', 'checkpoint-tmp-written', 'checkpoint-renamed', 'segment-deleted'] as const;
  for (const point of points) {
    it(`opens cleanly after kill -9 at ${point}`, async () => {
      const work = await tempDir('rxflume-fc-point-');
      dirs.push(work);
      // A first run with no crash point leaves a checkpoint and segments behind.
      const first = start(work, 'run', 0, {}, { maxFileSize: 4096 });
      await withTimeout(first.ready, 30_000, 'the first run');
      await sleep(300);
      first.proc.kill('SIGKILL');
      await first.exited;
      // Segments empty out in batches between checkpoints, so that a deletion has several to do.
      const second = start(work, 'run', 1, { RXFLUME_FILECHANNEL_CRASH_AT: point }, { maxFileSize: 4096, checkpointIntervalMs: 400 });
      const { signal } = await withTimeout(second.exited, 30_000, `the crash at ${point}`);
      expect(signal).toBe('SIGKILL');
      const log = await readOr(path.join(work, 'channel.log'));
      const drained = await drain(work, 2);
      const a = await audit(work);
      const after = (await readOr(path.join(work, 'channel.log'))).slice(log.length);
      console.log(`kill -9 at ${point}: ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ${drained.trim().replace(/\s+/g, " ")}`);
      expect(a.missing).toEqual([]);
      expect(after).not.toMatch(/unusable|damaged|no longer exist/);
      await expect(fs.access(path.join(work, 'checkpoint', 'checkpoint.tmp'))).rejects.toThrow();
    }, 90_000);
  }
});
