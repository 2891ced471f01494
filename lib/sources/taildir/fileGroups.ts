import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { javaRegex } from '../../text/javaRegex.js';

/** A Flume file group: a directory and a regex over the names of the files in it. */
export interface FileGroup {
  name: string;
  dir: string;
  pattern: RegExp;
  /** Static headers of this group's events (`headers.<group>.<key>`). */
  headers: Readonly<Record<string, string>>;
}

/**
 * Flume's `filegroups.<name> = /dir/regex`: the part after the last `/` is a Java regex that must match
 * a whole file name; the directory is literal. Returns the problem as text when the spec is bad.
 */
export function parseFileGroup(name: string, spec: string, headers: Readonly<Record<string, string>> = {}): FileGroup | string {
  if (!isAbsolute(spec)) return 'an absolute path whose file name part is a regex, e.g. /var/log/app/.*\\.log';
  const dir = dirname(spec);
  const regex = basename(spec);
  if (regex === '' || spec.endsWith('/')) return 'a path ending in a file name regex, not a directory';
  try {
    return { name, dir, pattern: javaRegex(regex, { whole: true }).regex, headers };
  } catch (error) {
    return `a Java regular expression rxflume can run after the last "/" (${(error as Error).message})`;
  }
}

/**
 * Lists a group's matching files. With `cache` (Flume's cachePatternMatching) the directory is only
 * listed again when its mtime moved, or moved so recently that a change in the same clock tick could
 * hide behind it.
 */
export class GroupMatcher {
  private lastDirMtime = Number.NaN;
  private lastListedAt = 0;
  private names: string[] = [];

  constructor(
    readonly group: FileGroup,
    private readonly cache: boolean,
  ) {}

  /** Paths of the matching files (not directories). Throws ENOENT when the directory is missing. */
  async list(): Promise<string[]> {
    if (this.cache) {
      const mtime = (await stat(this.group.dir)).mtimeMs;
      if (mtime === this.lastDirMtime && mtime < this.lastListedAt - 1000) return this.names;
      this.lastDirMtime = mtime;
    }
    this.lastListedAt = Date.now();
    const entries = await readdir(this.group.dir, { withFileTypes: true });
    const names: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() && this.group.pattern.test(entry.name)) names.push(join(this.group.dir, entry.name));
    }
    this.names = names;
    return names;
  }

  /** Every other non-directory in the group's directory: where a rotated file may have gone. */
  async others(): Promise<string[]> {
    const entries = await readdir(this.group.dir, { withFileTypes: true });
    return entries.filter((e) => !e.isDirectory() && !this.group.pattern.test(e.name)).map((e) => join(this.group.dir, e.name));
  }
}
