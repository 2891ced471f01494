/**
 * in_use.lock: a crashed agent always reopens its channel, a live one is always refused. Real agent
 * processes (lockChild.mjs), killed with SIGKILL, as PID 1 of fresh PID namespaces (`unshare`, as
 * root), with their PID reused by another process, and as zombies — with the kernel lock (flock) and
 * with the fallback that judges by pid, start time and boot id (no flock on the PATH).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireLocks, LockHeldError, parseHolder } from '../../../../operators/channels/durableLog/lock.js';
import { buildForChildren, memoryLogger, tempDir } from '../support/support.js';

const CHILD = fileURLToPath(new URL('../support/lockChild.mjs', import.meta.url));
const NO_FLOCK = '/nonexistent/flock';

let build: string;
const dirs: string[] = [];
const procs: ChildProcess[] = [];

beforeAll(async () => {
  build = await buildForChildren();
});

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

afterAll(async () => {
  for (const d of [...dirs, build]) await fs.rm(d, { recursive: true, force: true });
});

async function work(): Promise<string> {
  const d = await tempDir('rxflume-fc-lock-');
  dirs.push(d);
  return d;
}

type Mode = 'flock' | 'fallback';

interface Agent {
  proc: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
}

/** An agent process; `fallback` runs it with no flock command on its PATH. */
function agent(dir: string, args: string[], mode: Mode, namespace = false): Agent {
  const env = { ...process.env, PATH: mode === 'fallback' ? '/nonexistent' : process.env['PATH'] };
  const command = [process.execPath, CHILD, build, dir, ...args];
  const proc = namespace
    ? spawn('/usr/bin/unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (/ready \d+/.test(out)) onReady();
  });
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, ready, exited, output: () => out };
}

async function within<T>(p: Promise<T>, ms: number, what: string, a?: Agent): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}\n${a?.output() ?? ''}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs an agent that opens and drains the channel; returns its exit code and output. */
async function open(dir: string, mode: Mode, namespace = false): Promise<{ code: number | null; out: string }> {
  const a = agent(dir, ['open'], mode, namespace);
  const code = await within(a.exited, 30_000, 'the opening agent', a);
  return { code, out: a.output() };
}

/** The pid (outside) of the process unshare forked: PID 1 of the new namespace. */
async function namespaceInit(unsharePid: number): Promise<number> {
  const children = (await fs.readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  expect(children).toHaveLength(1);
  return children[0]!;
}

const lockFile = (dir: string) => path.join(dir, 'checkpoint', 'in_use.lock');

for (const mode of ['flock', 'fallback'] as const) {
  describe(`in_use.lock (${mode === 'flock' ? 'kernel lock by flock' : 'fallback: pid, start time, boot id'})`, () => {
    it('an agent that was PID 1 of its namespace, killed with SIGKILL, reopens as PID 1 of a new one', async () => {
      const dir = await work();
      const first = agent(dir, ['hold'], mode, true);
      await within(first.ready, 30_000, 'the first agent', first);
      expect(first.output()).toMatch(/ready 1\b/);
      expect(parseHolder(await fs.readFile(lockFile(dir), 'utf8'))?.pid).toBe(1);
      process.kill(await namespaceInit(first.proc.pid!), 'SIGKILL');
      await first.exited;
      // The lock file is still there, naming pid 1 — which is alive again: the new agent itself.
      expect(parseHolder(await fs.readFile(lockFile(dir), 'utf8'))?.pid).toBe(1);
      const again = await open(dir, mode, true);
      expect(again.out).toMatch(/opened \d+/);
      expect(again.code).toBe(0);
    });

    it('a lock left by an agent killed with SIGKILL, whose PID another process now has, is taken over', async () => {
      const dir = await work();
      const orchestrator = agent(dir, ['reuse', 'hold'], mode, true);
      const code = await within(orchestrator.exited, 60_000, 'the reuse run', orchestrator);
      const [, dead, sleeper] = /reused (\d+) (\d+)/.exec(orchestrator.output()) ?? [];
      expect(sleeper, orchestrator.output()).toBe(dead); // the PID really was reused, by a live process
      expect(orchestrator.output()).toMatch(/opened \d+/);
      expect(code).toBe(0);
    });

    it('a lock left by an agent that exited without releasing it (drain timeout), its PID reused, is taken over', async () => {
      const dir = await work();
      const orchestrator = agent(dir, ['reuse', 'exit'], mode, true);
      const code = await within(orchestrator.exited, 60_000, 'the reuse run', orchestrator);
      const [, dead, sleeper] = /reused (\d+) (\d+)/.exec(orchestrator.output()) ?? [];
      expect(sleeper, orchestrator.output()).toBe(dead);
      expect(orchestrator.output()).toMatch(/opened \d+/);
      expect(code).toBe(0);
    });

    it('a killed agent not yet reaped by its parent (a zombie) does not keep its lock', async () => {
      const dir = await work();
      // The shell becomes `sleep`, which never reaps the agent it started.
      const env = { ...process.env, PATH: mode === 'fallback' ? '/nonexistent' : process.env['PATH'] };
      const parent = spawn('/bin/sh', ['-c', '"$0" "$@" & echo "agent $!"; exec /bin/sleep 60', process.execPath, CHILD, build, dir, 'hold'], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      procs.push(parent);
      let out = '';
      await within(
        new Promise<void>((resolve) => parent.stdout!.on('data', (d: Buffer) => (out += d.toString()) && /ready \d+/.test(out) && resolve())),
        30_000,
        'the agent',
      );
      const pid = Number(/agent (\d+)/.exec(out)![1]);
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (!/^\S+ \(.*\) Z /.test(await fs.readFile(`/proc/${pid}/stat`, 'utf8'))) {
        if (Date.now() > deadline) throw new Error('the agent never became a zombie');
        await new Promise((r) => setTimeout(r, 10));
      }
      const again = await open(dir, mode);
      expect(again.out).toMatch(/opened \d+/);
      expect(again.code).toBe(0);
      expect((await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(' ')[2]).toBe('Z'); // still a zombie meanwhile
    });

    it('a second live agent is refused with the holder named; after kill -9 of the holder the lock is free at once', async () => {
      const dir = await work();
      const holder = agent(dir, ['hold'], mode);
      await within(holder.ready, 30_000, 'the holder', holder);
      const refused = await open(dir, mode);
      expect(refused.code).toBe(3);
      expect(refused.out).toMatch(new RegExp(`refused FLUME_CHANNEL_IO .*in use by process ${holder.proc.pid} on ${os.hostname()} \\(.*in_use\\.lock`));
      holder.proc.kill('SIGKILL');
      await holder.exited;
      const again = await open(dir, mode);
      expect(again.out).toMatch(/opened \d+/);
      expect(again.code).toBe(0);
    });
  });
}

describe('in_use.lock (flock)', () => {
  it('a child process the agent started (an exec source) does not keep the lock after the agent is killed', async () => {
    const dir = await work();
    const holder = agent(dir, ['hold', 'child'], 'flock');
    await within(holder.ready, 30_000, 'the holder', holder);
    await within(
      (async () => {
        while (!/child \d+/.test(holder.output())) await new Promise((r) => setTimeout(r, 10));
      })(),
      10_000,
      'the child',
    );
    const child = Number(/child (\d+)/.exec(holder.output())![1]);
    try {
      holder.proc.kill('SIGKILL');
      await holder.exited;
      expect(() => process.kill(child, 0)).not.toThrow(); // still alive
      const again = await open(dir, 'flock');
      expect(again.out).toMatch(/opened \d+/);
      expect(again.code).toBe(0);
    } finally {
      process.kill(child, 'SIGKILL');
    }
  });

  it('agents in two PID namespaces, both PID 1, are kept apart by the kernel lock', async () => {
    const dir = await work();
    const holder = agent(dir, ['hold'], 'flock', true);
    await within(holder.ready, 30_000, 'the holder', holder);
    const refused = await open(dir, 'flock', true);
    expect(refused.code).toBe(3);
    expect(refused.out).toMatch(/refused FLUME_CHANNEL_IO .*in use by process 1 .*held by a kernel lock/);
  });

  it('a lock file naming a live process that holds no lock (a reused PID) is taken over; one open costs one spawn', async () => {
    const d = await work();
    await fs.mkdir(path.join(d, 'other'));
    await fs.writeFile(path.join(d, 'in_use.lock'), `${process.ppid}\n${os.hostname()}\n`);
    const started = performance.now();
    const release = await acquireLocks([d, path.join(d, 'other')]);
    const ms = performance.now() - started;
    release();
    console.log(`flock: two directories locked in ${ms.toFixed(1)} ms`);
    await expect(fs.access(path.join(d, 'in_use.lock'))).rejects.toThrow();
  });
});

describe('in_use.lock fallback judge (no flock)', () => {
  const stat = (pid: number) => spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout;
  const startOf = (pid: number) => stat(pid).slice(stat(pid).lastIndexOf(')') + 2).split(' ')[19]!;
  const bootId = () => spawnSync('cat', ['/proc/sys/kernel/random/boot_id'], { encoding: 'utf8' }).stdout.trim();

  async function tryLock(content: string): Promise<unknown> {
    const d = await work();
    await fs.writeFile(path.join(d, 'in_use.lock'), content);
    const { logger, lines } = memoryLogger();
    let release: () => void;
    try {
      release = await acquireLocks([d], { flockCommand: NO_FLOCK, logger });
    } catch (error) {
      return error;
    }
    // Assertions outside the catch, so a failing one is not returned as the refusal (issue #19).
    const written = parseHolder(await fs.readFile(path.join(d, 'in_use.lock'), 'utf8'));
    expect(written).toMatchObject({ pid: process.pid, startTime: startOf(process.pid), bootId: bootId() });
    release();
    await expect(fs.access(path.join(d, 'in_use.lock'))).rejects.toThrow();
    expect(lines.some((l) => l.level === 'warn' && /no flock command/.test(l.message))).toBe(true);
    return 'taken';
  }

  it('refuses a live process with its start time, and one of an older format naming a live pid', async () => {
    const ppid = process.ppid;
    const live = await tryLock(`${ppid}\n${os.hostname()}\nstarttime=${startOf(ppid)}\nbootid=${bootId()}\n`);
    expect(live).toBeInstanceOf(LockHeldError);
    expect((live as Error).message).toMatch(new RegExp(`in use by process ${ppid} on ${os.hostname()} .*judged by pid`));
    expect(await tryLock(`${ppid}\n${os.hostname()}\n`)).toBeInstanceOf(LockHeldError);
  });

  it('takes over a reused PID (start time differs), its own PID of an earlier life, another boot, a dead pid, garbage', async () => {
    const ppid = process.ppid;
    expect(await tryLock(`${ppid}\n${os.hostname()}\nstarttime=1\nbootid=${bootId()}\n`)).toBe('taken');
    expect(await tryLock(`${process.pid}\n${os.hostname()}\nstarttime=1\nbootid=${bootId()}\n`)).toBe('taken');
    expect(await tryLock(`${ppid}\n${os.hostname()}\nstarttime=${startOf(ppid)}\nbootid=00000000-0000-0000-0000-000000000000\n`)).toBe('taken');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    expect(await tryLock(`${dead}\n${os.hostname()}\n`)).toBe('taken');
    expect(await tryLock('not a lock')).toBe('taken');
  });

  it('refuses a lock from another host that is not on this boot (shared storage), even naming a dead pid', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const other = await tryLock(`${dead}\nsome-other-host\nstarttime=5\nbootid=00000000-0000-0000-0000-000000000000\n`);
    expect(other).toBeInstanceOf(LockHeldError);
    expect((other as Error).message).toMatch(/on some-other-host/);
    // Same boot, another host name (a container recreated with a new name): judged by pid.
    expect(await tryLock(`${dead}\nsome-other-host\nstarttime=5\nbootid=${bootId()}\n`)).toBe('taken');
  });
});
