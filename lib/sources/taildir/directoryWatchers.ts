import { watch, type FSWatcher } from 'node:fs';

/**
 * fs.watch on the file groups' directories, each watched once: any change in one calls `changed`.
 * Best effort, since the periodic scan finds whatever a watcher misses: a directory that cannot be
 * watched (missing now, or no inotify watch left) is skipped, and a removed directory's watcher ends,
 * so that the next `watch` watches it again.
 */
export class DirectoryWatchers {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(private readonly changed: () => void) {}

  /** Whether `dir` is being watched. */
  has(dir: string): boolean {
    return this.watchers.has(dir);
  }

  /** Watches those of `dirs` not watched yet. */
  watch(dirs: Iterable<string>): void {
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.changed());
        // A removed directory ends its watcher; the periodic scan carries on and watches it again.
        watcher.on('error', () => {
          watcher.close();
          if (this.watchers.get(dir) === watcher) this.watchers.delete(dir);
        });
        this.watchers.set(dir, watcher);
      } catch {
        // Not watchable (missing now, or no inotify left): the periodic scan still finds changes.
      }
    }
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
