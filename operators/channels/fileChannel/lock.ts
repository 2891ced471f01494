import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = 'in_use.lock';

/** Directories locked by channels of this process, with the promise of their release when closing. */
const held = new Map<string, { closing: Promise<void> | undefined }>();

export class LockHeldError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      pid === process.pid
        ? `${dir} is in use by another channel of this process (${path.join(dir, LOCK_FILE)})`
        : `${dir} is in use by process ${pid} (${path.join(dir, LOCK_FILE)}); two channels cannot share directories`,
    );
  }
}

/**
 * Takes `in_use.lock` in each directory, as Flume does: the file holds the owner's pid. A lock whose
 * pid is no longer alive is stale (its owner was killed) and is taken over. Within one process a
 * directory still being released by a closing channel is awaited rather than refused. Returns the
 * release function; on failure no lock is left behind.
 */
export async function acquireLocks(dirs: readonly string[]): Promise<() => void> {
  const taken: string[] = [];
  const release = (): void => {
    for (const dir of taken.splice(0)) releaseLock(dir);
  };
  try {
    for (const dir of [...new Set(dirs)].sort()) {
      let entry = held.get(dir);
      while (entry?.closing) {
        await entry.closing.catch(() => undefined);
        entry = held.get(dir);
      }
      takeLock(dir);
      taken.push(dir);
    }
  } catch (error) {
    release();
    throw error;
  }
  return release;
}

/** Marks the directories as being released, so an opening channel of this process waits for them. */
export function markClosing(dirs: readonly string[], closing: Promise<void>): void {
  for (const dir of dirs) {
    const entry = held.get(dir);
    if (entry) entry.closing = closing;
  }
}

function takeLock(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  if (held.has(dir)) throw new LockHeldError(dir, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, `${process.pid}\n${os.hostname()}\n`);
      } finally {
        fs.closeSync(fd);
      }
      held.set(dir, { closing: undefined });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let content: string;
    try {
      content = fs.readFileSync(file, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const [pidText, host] = content.split('\n');
    const pid = Number(pidText);
    // A lock from another host (shared storage) cannot be judged by pid: refuse it.
    const sameHost = host === undefined || host === '' || host === os.hostname();
    if (Number.isInteger(pid) && pid > 0 && (!sameHost || pid === process.pid || isAlive(pid))) throw new LockHeldError(dir, pid);
    // Stale: its owner died without releasing it. Remove it only if it still holds what was judged.
    try {
      if (fs.readFileSync(file, 'utf8') === content) fs.unlinkSync(file);
    } catch {
      // gone already
    }
  }
  throw new LockHeldError(dir, 0);
}

function releaseLock(dir: string): void {
  held.delete(dir);
  try {
    const file = path.join(dir, LOCK_FILE);
    if (Number(fs.readFileSync(file, 'utf8').split('\n')[0]) === process.pid) fs.unlinkSync(file);
  } catch {
    // already gone: nothing to release
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
