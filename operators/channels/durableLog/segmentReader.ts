/**
 * The read side of the log: events read back from segment files (the read-ahead of takes, and
 * recovery's size checks), through a few cached read handles, least recently used closed first.
 */
import fs from 'node:fs/promises';

/** Open read handles at most. */
const READ_HANDLES = 8;

export class SegmentReader<S extends { readonly path: string } = { readonly path: string }> {
  private readonly handles = new Map<S, fs.FileHandle>();
  private reads = 0;

  /** `settled` runs after each read, done or failed (the log's idle check). */
  constructor(private readonly settled: () => void = () => undefined) {}

  /** Reads under way. */
  get busy(): boolean {
    return this.reads > 0;
  }

  /** Reads `len` bytes at `off` of a segment; fewer when the file ends sooner. */
  async read(seg: S, off: number, len: number): Promise<Buffer> {
    this.reads++;
    try {
      const file = await this.handle(seg);
      const buf = Buffer.allocUnsafe(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await file.read(buf, done, len - done, off + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === len ? buf : buf.subarray(0, done);
    } finally {
      this.reads--;
      this.settled();
    }
  }

  private async handle(seg: S): Promise<fs.FileHandle> {
    const cached = this.handles.get(seg);
    if (cached) {
      // Most recently used last.
      this.handles.delete(seg);
      this.handles.set(seg, cached);
      return cached;
    }
    const file = await fs.open(seg.path, 'r');
    this.handles.set(seg, file);
    if (this.handles.size > READ_HANDLES) {
      const [oldest, handle] = this.handles.entries().next().value as [S, fs.FileHandle];
      this.handles.delete(oldest);
      void handle.close().catch(() => undefined);
    }
    return file;
  }

  /** Closes the segment's handle (before it is truncated or deleted). */
  async forget(seg: S): Promise<void> {
    const handle = this.handles.get(seg);
    this.handles.delete(seg);
    await handle?.close().catch(() => undefined);
  }

  /** Open handles, for tests. */
  get open(): number {
    return this.handles.size;
  }

  async close(): Promise<void> {
    for (const handle of this.handles.values()) await handle.close().catch(() => undefined);
    this.handles.clear();
  }
}
