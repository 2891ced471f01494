/**
 * `in_use.lock` in every channel directory keeps two channels off the same files, like Flume's
 * `FileLock`. The judge is the kernel: the lock file is opened by this process and kept open for the
 * channel's life, and util-linux `flock -x -n <fd>` (one `sh` spawn per open, each descriptor passed
 * to it as an inherited stdio slot) takes an flock(2) lock on that open file description. The lock
 * then belongs to our descriptor: it is released when we close it, or by the kernel when the process
 * dies however it dies (`kill -9`, PID 1 of a container, a zombie waiting to be reaped), so a crashed
 * agent always reopens its channel and a live one is always refused, whatever PIDs were reused.
 *
 * The file also records who holds it (pid, host, process start time from /proc/<pid>/stat field 22,
 * boot id), for the refusal message, and as the judge where no `flock` command can be run (no
 * util-linux or busybox; not Linux): then a lock is stale when its pid is gone, a zombie, or another
 * process (start time differs), or the machine rebooted (boot id differs); a lock from another host
 * is refused. That fallback cannot see processes of another PID namespace: containers sharing a
 * volume need `flock`.
 *
 * Within one process a map of held directories refuses a second channel (or waits for one closing).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComponentLogger } from '../../../lib/core/log.js';

export const LOCK_FILE = 'in_use.lock';

const openFd = promisify(fs.open);
const closeFd = promisify(fs.close);
const fstat = promisify(fs.fstat);
const ftruncate = promisify(fs.ftruncate);
const writeFd = promisify(fs.write);

/** Who a lock file says holds it. */
export interface LockHolder {
  pid: number;
  host: string | undefined;
  /** Start time of the process, in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTime: string | undefined;
  bootId: string | undefined;
}

interface Held {
  /** Set while the channel holding it closes: an opening channel of this process waits for it. */
  closing: Promise<void> | undefined;
}

/** Directories locked (or being locked) by channels of this process. */
const held = new Map<string, Held>();

export class LockHeldError extends Error {
  constructor(
    readonly dir: string,
    /** The holder's pid; 0 when unknown (the holder has not written the file yet). */
    readonly pid: number,
    readonly holder?: LockHolder,
    how = '',
  ) {
    const file = path.join(dir, LOCK_FILE);
    const who =
      pid === process.pid && holder?.startTime === selfStartTime()
        ? 'another channel of this process'
        : pid > 0
          ? `process ${pid}${holder?.host ? ` on ${holder.host}` : ''}`
          : 'another process';
    super(`${dir} is in use by ${who} (${file}${how}); two channels cannot share directories`);
  }
}

export interface LockOptions {
  logger?: ComponentLogger | undefined;
  /** The flock command; tests point it at a missing one to run the fallback. */
  flockCommand?: string;
}

/**
 * Takes `in_use.lock` in each directory. Returns the release function (synchronous: it closes the
 * descriptors and removes the files); on failure nothing is left locked.
 */
export async function acquireLocks(dirs: readonly string[], options: LockOptions = {}): Promise<() => void> {
  const sorted = [...new Set(dirs)].sort();
  const reserved: string[] = [];
  try {
    for (const dir of sorted) {
      let entry = held.get(dir);
      while (entry?.closing) {
        await entry.closing.catch(() => undefined);
        entry = held.get(dir);
      }
      if (entry) throw new LockHeldError(dir, process.pid, selfHolder());
      // Reserved at once: a channel of this process opening meanwhile is refused by the map.
      held.set(dir, { closing: undefined });
      reserved.push(dir);
    }
  } catch (error) {
    for (const dir of reserved) held.delete(dir);
    throw error;
  }
  let fds: number[] | string;
  try {
    fds = await flockAll(sorted, options);
  } catch (error) {
    for (const dir of reserved) held.delete(dir);
    throw error;
  }
  if (typeof fds === 'string') {
    options.logger?.(
      'warn',
      `no flock command (${fds}); in_use.lock is judged by its pid, process start time and boot id, ` +
        'which cannot see processes of another PID namespace',
    );
    const taken: string[] = [];
    try {
      for (const dir of sorted) {
        await takeByPid(dir);
        taken.push(dir);
      }
    } catch (error) {
      for (const dir of taken) releaseByPid(dir);
      for (const dir of reserved) held.delete(dir);
      throw error;
    }
    return once(() => {
      for (const dir of sorted) releaseByPid(dir);
    });
  }
  const locked = fds;
  return once(() => {
    for (const [i, dir] of sorted.entries()) releaseFlock(dir, locked[i]!);
  });
}

/** Marks the directories as being released, so an opening channel of this process waits for them. */
export function markClosing(dirs: readonly string[], closing: Promise<void>): void {
  for (const dir of dirs) {
    const entry = held.get(dir);
    if (entry) entry.closing = closing;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

// ---- flock ----------------------------------------------------------------------------------

/** Locks every directory's file with one spawn; its exit status says which failed and why. */
const SCRIPT = 'i=0; for fd do "$0" -x -n "$fd"; s=$?; if [ "$s" -ne 0 ]; then echo "$i"; exit "$s"; fi; i=$((i+1)); done';
const SPAWN_TIMEOUT_MS = 10_000;
/** A file replaced between our open and our lock (its holder released it meanwhile): open again. */
const ATTEMPTS = 3;

interface OpenLock {
  file: string;
  fd: number;
  created: boolean;
}

/**
 * Takes the kernel locks: the open descriptors in `dirs` order, or why no flock command can be run
 * here (the caller falls back to judging by pid). Throws LockHeldError when a directory is locked by
 * a live process.
 */
async function flockAll(dirs: readonly string[], options: LockOptions): Promise<number[] | string> {
  for (let attempt = 0; ; attempt++) {
    const open: OpenLock[] = [];
    try {
      for (const dir of dirs) open.push(await openLockFile(path.join(dir, LOCK_FILE)));
    } catch (error) {
      await closeAll(open, () => false);
      throw error;
    }
    const result = await runFlock(
      open.map((o) => o.fd),
      options.flockCommand ?? 'flock',
    );
    if (result.kind === 'unavailable') {
      // Leave no empty lock file of ours behind: the fallback judges by what a file holds.
      await closeAll(open, (o) => o.created);
      return result.reason;
    }
    if (result.kind === 'held') {
      const dir = dirs[result.index]!;
      const holder = parseHolder(readOr(path.join(dir, LOCK_FILE)));
      await closeAll(open, (o, i) => i < result.index && o.created);
      throw new LockHeldError(dir, holder?.pid ?? 0, holder, ', held by a kernel lock');
    }
    // Locked. A file unlinked by its previous holder before our lock is not the one at the path.
    let replaced = false;
    for (const o of open) if (!(await samePath(o))) replaced = true;
    if (replaced && attempt + 1 < ATTEMPTS) {
      await closeAll(open, (o) => o.created);
      continue;
    }
    if (replaced) {
      await closeAll(open, (o) => o.created);
      throw new LockHeldError(dirs[0]!, 0, undefined, ', replaced while being locked');
    }
    // Who holds it, for the message of a refused channel: worth a try, never a reason to fail (a full
    // or read-only disk); the kernel lock is what counts.
    const content = Buffer.from(holderText());
    for (const o of open) {
      try {
        await ftruncate(o.fd, 0);
        await writeFd(o.fd, content, 0, content.length, 0);
      } catch (error) {
        options.logger?.('warn', `cannot write ${o.file} (${(error as Error).message}); it is locked all the same`);
      }
    }
    return open.map((o) => o.fd);
  }
}

async function openLockFile(file: string): Promise<OpenLock> {
  for (;;) {
    try {
      return { file, fd: await openFd(file, 'wx', 0o644), created: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    try {
      return { file, fd: await openFd(file, 'r+'), created: false };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A read-only file system or file: flock needs no write access, and the channel can still drain.
      if (code === 'EROFS' || code === 'EACCES') return { file, fd: await openFd(file, 'r'), created: false };
      if (code !== 'ENOENT') throw error; // removed meanwhile: create it
    }
  }
}

/**
 * Closes the descriptors, first removing the files `remove` names (ours: created by us and locked by
 * us, or no lock in use) while they are still open.
 */
async function closeAll(open: readonly OpenLock[], remove: (o: OpenLock, i: number) => boolean): Promise<void> {
  for (const [i, o] of open.entries()) {
    if (remove(o, i) && (await samePath(o))) await fs.promises.rm(o.file, { force: true }).catch(() => undefined);
    await closeFd(o.fd).catch(() => undefined);
  }
}

async function samePath(o: OpenLock): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([fstat(o.fd), fs.promises.stat(o.file)]);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

type FlockResult = { kind: 'locked' } | { kind: 'held'; index: number } | { kind: 'unavailable'; reason: string };

function runFlock(fds: readonly number[], command: string): Promise<FlockResult> {
  return new Promise((resolve) => {
    const args = ['-c', SCRIPT, command, ...fds.map((_, i) => String(3 + i))];
    let child;
    try {
      child = spawn('/bin/sh', args, { stdio: ['ignore', 'pipe', 'pipe', ...fds], timeout: SPAWN_TIMEOUT_MS });
    } catch (error) {
      resolve({ kind: 'unavailable', reason: (error as Error).message });
      return;
    }
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (error) => resolve({ kind: 'unavailable', reason: error.message }));
    child.on('close', (code, signal) => {
      const index = Number(out.trim());
      if (code === 0) resolve({ kind: 'locked' });
      else if (code === 1 && Number.isInteger(index) && index >= 0 && index < fds.length) resolve({ kind: 'held', index });
      else resolve({ kind: 'unavailable', reason: `${command} exited with ${signal ?? code}${err.trim() ? `: ${err.trim().split('\n')[0]}` : ''}` });
    });
  });
}

function releaseFlock(dir: string, fd: number): void {
  held.delete(dir);
  const file = path.join(dir, LOCK_FILE);
  try {
    // Removed while still locked: whoever opened it meanwhile finds, once locked, that it is gone, and opens anew.
    const a = fs.fstatSync(fd);
    const b = fs.statSync(file);
    if (a.ino === b.ino && a.dev === b.dev) fs.unlinkSync(file);
  } catch {
    // gone already
  }
  try {
    fs.closeSync(fd);
  } catch {
    // closed already
  }
}

// ---- fallback: judged by what the file says --------------------------------------------------

async function takeByPid(dir: string): Promise<void> {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, holderText());
      } finally {
        fs.closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const content = readOr(file);
    if (content === undefined) continue; // released meanwhile
    const holder = parseHolder(content);
    if (holder === undefined && content === '' && recentlyModified(file)) {
      // Created an instant ago, its content not yet written.
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (holder !== undefined && judgeAlive(holder)) throw new LockHeldError(dir, holder.pid, holder, ', judged by pid');
    // Stale: its holder died without releasing it. Remove it only if it still holds what was judged.
    try {
      if (fs.readFileSync(file, 'utf8') === content) fs.unlinkSync(file);
    } catch {
      // gone already
    }
  }
  throw new LockHeldError(dir, 0, undefined, ', contended');
}

function releaseByPid(dir: string): void {
  held.delete(dir);
  const file = path.join(dir, LOCK_FILE);
  try {
    const holder = parseHolder(fs.readFileSync(file, 'utf8'));
    if (holder?.pid === process.pid && holder.startTime === selfStartTime()) fs.unlinkSync(file);
  } catch {
    // already gone: nothing to release
  }
}

/** Whether the process a lock file names is still the one that wrote it. */
export function judgeAlive(holder: LockHolder): boolean {
  const self = selfHolder();
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  const sameBoot = holder.bootId !== undefined && self.bootId !== undefined && holder.bootId === self.bootId;
  const sameHost = holder.host === undefined || holder.host === '' || holder.host === self.host;
  // Another machine on shared storage: its processes cannot be seen from here.
  if (!sameHost && !sameBoot) return true;
  // Same host, another boot: every process of that boot is gone.
  if (holder.bootId !== undefined && self.bootId !== undefined && !sameBoot) return false;
  if (holder.pid === process.pid) return holder.startTime === self.startTime;
  const stat = procStat(holder.pid);
  if (stat === null) return false; // no such process
  if (stat === undefined) return isAlive(holder.pid); // no /proc here
  if (stat.state === 'Z' || stat.state === 'X') return false; // dead, not yet reaped
  return holder.startTime === undefined || holder.startTime === stat.startTime;
}

// ---- who we are ------------------------------------------------------------------------------

let self: LockHolder | undefined;

function selfHolder(): LockHolder {
  self ??= {
    pid: process.pid,
    host: os.hostname(),
    startTime: procStat(process.pid)?.startTime,
    bootId: readOr('/proc/sys/kernel/random/boot_id')?.trim() || undefined,
  };
  return self;
}

function selfStartTime(): string | undefined {
  return selfHolder().startTime;
}

/** Line 1 the pid and line 2 the host, as before; then `key=value` lines. */
function holderText(): string {
  const h = selfHolder();
  return `${h.pid}\n${h.host}\n` + (h.startTime ? `starttime=${h.startTime}\n` : '') + (h.bootId ? `bootid=${h.bootId}\n` : '');
}

export function parseHolder(content: string | undefined): LockHolder | undefined {
  if (!content) return undefined;
  const [pidText, host, ...rest] = content.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const fields = new Map(rest.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return { pid, host: host || undefined, startTime: fields.get('starttime') || undefined, bootId: fields.get('bootid') || undefined };
}

/** State and start time of a process; null when there is no such process, undefined without /proc. */
function procStat(pid: number): { state: string; startTime: string } | null | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fs.existsSync('/proc/self/stat') ? null : undefined;
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function recentlyModified(file: string): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs < 2000;
  } catch {
    return false;
  }
}
