import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Makes the entries of a directory (a file created, renamed or deleted in it) durable, as a state file
 * written by "temp, fsync, rename" needs. Platforms and file systems that cannot sync a directory say so
 * with one of these codes: nothing more can be done there, and the rename itself stays atomic. Any
 * other failure (EIO, ENOSPC) is thrown: the caller's write did not become durable.
 */
const CANNOT_SYNC_DIRECTORIES = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES']);

function tolerated(error: unknown): boolean {
  return CANNOT_SYNC_DIRECTORIES.has((error as NodeJS.ErrnoException).code ?? '');
}

export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!tolerated(error)) throw error;
  } finally {
    await handle?.close();
  }
}

export function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (error) {
    if (!tolerated(error)) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
