import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export interface CandidateRules {
  spoolDir: string;
  /** Absolute; skipped when it lies inside the spool directory. */
  trackerDir: string;
  fileSuffix: string;
  include: RegExp;
  ignore: RegExp;
  recursive: boolean;
  /** trackingPolicy tracker_dir: whether the file (relative path) is marked completed in the tracker directory. */
  completed?: (rel: string) => boolean;
  /** Told of each symbolic link to a directory met while searching recursively (it is not searched). */
  onLinkedDirectory?: (path: string) => void;
}

export interface Candidate {
  path: string;
  /** Relative to the spool directory, `/`-separated. */
  rel: string;
  name: string;
}

/**
 * The files waiting in the spool directory, by Flume's rules: not hidden (`.` first), not already
 * completed (`fileSuffix`), name matching `include` and not `ignore` (whole-name matches).
 * Sub-directories are searched only when `recursive`, and never hidden or ignored ones nor the
 * tracker directory. Files that vanish while listing are left out.
 *
 * Symbolic links: a link to a file is a candidate (Flume reads through it; completing renames or
 * removes the link, never its target). A link to a directory is never searched, so every directory
 * searched is a real one under the spool directory: nothing reached through a link can be renamed
 * or deleted, and a link loop cannot be walked. A directory met twice (a bind mount of an ancestor)
 * is searched once.
 */
export async function listCandidates(rules: CandidateRules): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const visited = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      const s = await stat(dir, { bigint: true });
      const id = `${s.dev}:${s.ino}`;
      if (visited.has(id)) return;
      visited.add(id);
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // A sub-directory removed meanwhile is no error; the spool directory itself is.
      if (dir !== rules.spoolDir && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      if (entry.isDirectory()) {
        if (rules.recursive && path !== rules.trackerDir && !rules.ignore.test(name)) await walk(path);
        continue;
      }
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await stat(path).catch(() => undefined);
        if (target?.isDirectory() && rules.recursive && !rules.ignore.test(name)) rules.onLinkedDirectory?.(path);
        isFile = target?.isFile() ?? false;
      }
      if (!isFile || name.endsWith(rules.fileSuffix) || !rules.include.test(name) || rules.ignore.test(name)) continue;
      const rel = relative(rules.spoolDir, path).split(sep).join('/');
      if (rules.completed?.(rel)) continue;
      out.push({ path, rel, name });
    }
  };
  await walk(rules.spoolDir);
  return out;
}

/**
 * The next file to read: the oldest or youngest by modification time, ties going to the smaller
 * name (as Flume), or any one at random. `undefined` when none is left.
 */
export async function pickCandidate(
  candidates: readonly Candidate[],
  order: 'oldest' | 'youngest' | 'random',
): Promise<Candidate | undefined> {
  if (candidates.length === 0) return undefined;
  if (order === 'random') return candidates[Math.floor(Math.random() * candidates.length)];
  let best: Candidate | undefined;
  let bestTime = 0;
  for (const c of candidates) {
    const s = await stat(c.path).catch(() => undefined);
    if (!s) continue;
    const t = Math.floor(s.mtimeMs); // Java's lastModified(): whole milliseconds
    const better =
      best === undefined ||
      (order === 'oldest' ? t < bestTime : t > bestTime) ||
      (t === bestTime && (c.name < best.name || (c.name === best.name && c.rel < best.rel)));
    if (better) {
      best = c;
      bestTime = t;
    }
  }
  return best;
}
