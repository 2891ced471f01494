import { close, closeSync, fstat, open, read } from 'node:fs';
import type { FileGroup } from './fileGroups.js';
import { LineScanner, type LineScannerOptions } from './lineScanner.js';

/** An emitted batch of one file: where its last line ends, and which content generation it read. */
export interface Emitted {
  readonly end: number;
  readonly gen: number;
  acked: boolean;
}

interface ReadAhead {
  readonly from: number;
  readonly fd: number;
  readonly gen: number;
  /** Never rejects: an error is a value here, so a read-ahead nobody awaits cannot go unhandled. */
  readonly result: Promise<Buffer | Error>;
}

/**
 * One tailed file, known by its inode (a rename does not make it another file). It holds the open
 * descriptor, the line scanner, and the ordered-ack checkpoint: `committed` only moves over batches
 * that are acked together with every earlier batch of the file.
 */
export class TailFile {
  fd: number | undefined;
  /** Size and mtime as last seen by stat/fstat. */
  size = 0;
  mtimeMs = 0;
  /** Seen at a path matching its group in the last scan; false once renamed away or deleted. */
  matched = true;
  /** Its leaving a matching name was counted as a rotation: being found under another name is not a second one. */
  leftCounted = false;
  /** Its last link is gone (fstat nlink 0): read what is left, then release it. */
  deleted = false;
  /** The last complete batch may have left lines in the scanner's buffer. */
  buffered = false;
  /** A read failed: skipped until the next scan reopens it. */
  failed = false;
  /** Not yet seen by a scan after the one that found it. */
  isNew = true;
  /** Flushed and closed for good; forgotten once its batches are settled. */
  released = false;
  /** Scheduler time of the last read that returned data. */
  lastActivity: number;
  /** Position whose events, and all before, are acked: what the position file records. */
  committed: number;
  /** Bumped on truncation: batches read from the old content no longer move the checkpoint. */
  gen = 0;
  readonly emitted: Emitted[] = [];
  private ahead: ReadAhead | undefined;
  readonly scanner: LineScanner;

  constructor(
    readonly ino: number,
    public path: string,
    public group: FileGroup,
    position: number,
    options: LineScannerOptions,
    now: number,
  ) {
    this.committed = position;
    this.scanner = new LineScanner(position, options);
    this.lastActivity = now;
  }

  /** Bytes on disk not read yet. */
  get unread(): boolean {
    return this.scanner.readOffset < this.size;
  }

  /** Opens `path`; false (and closed again) when the inode there is not this file's any more. */
  open(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      open(this.path, 'r', (error, fd) => {
        if (error) return reject(error);
        fstat(fd, (error, st) => {
          if (error || st.ino !== this.ino) {
            close(fd, () => (error ? reject(error) : resolve(false)));
            return;
          }
          this.fd = fd;
          this.size = st.size;
          this.mtimeMs = st.mtimeMs;
          resolve(true);
        });
      });
    });
  }

  /** Refreshes size, mtime and `deleted` from the open descriptor. */
  refresh(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.fd === undefined) return resolve();
      fstat(this.fd, (error, st) => {
        if (error) return reject(error);
        this.size = st.size;
        this.mtimeMs = st.mtimeMs;
        this.deleted = st.nlink === 0;
        resolve();
      });
    });
  }

  /**
   * Reads the next chunk (up to `n` bytes, the known size permitting) into the scanner and resolves
   * the count read. The chunk after it is requested at once, so the disk works while these lines are
   * processed: one read-ahead buffer per file at most.
   */
  async read(n: number): Promise<number> {
    const from = this.scanner.readOffset;
    let pending = this.ahead;
    this.ahead = undefined;
    if (!pending || pending.from !== from || pending.gen !== this.gen) pending = this.readAt(from, n);
    if (!pending) return 0;
    const result = await pending.result;
    // Closed, truncated or repositioned while the read was under way: what came back is stale.
    if (this.fd !== pending.fd || this.gen !== pending.gen || this.scanner.readOffset !== from) return 0;
    if (result instanceof Error) throw result;
    this.scanner.push(result);
    this.ahead = this.readAt(this.scanner.readOffset, n);
    return result.length;
  }

  private readAt(from: number, n: number): ReadAhead | undefined {
    const fd = this.fd;
    const length = Math.min(n, this.size - from);
    if (fd === undefined || length <= 0) return undefined;
    const buffer = Buffer.allocUnsafe(length);
    return {
      from,
      fd,
      gen: this.gen,
      result: new Promise((resolve) => read(fd, buffer, 0, length, from, (error, bytesRead) => resolve(error ?? buffer.subarray(0, bytesRead)))),
    };
  }

  /** The content shrank below what was read (copy-truncate): start over at 0. */
  truncated(): void {
    this.ahead = undefined;
    this.scanner.reset(0);
    this.gen++;
    this.committed = 0;
    this.buffered = false;
  }

  /** Records a batch ending at the scanner's current offset; returned to `ack` later. */
  emit(): Emitted {
    const record: Emitted = { end: this.scanner.offset, gen: this.gen, acked: false };
    this.emitted.push(record);
    return record;
  }

  /** Marks a batch acked; true when the checkpoint moved. */
  ack(record: Emitted): boolean {
    record.acked = true;
    let moved = false;
    while (this.emitted.length > 0 && this.emitted[0]!.acked) {
      const done = this.emitted.shift()!;
      if (done.gen === this.gen && done.end !== this.committed) {
        this.committed = done.end;
        moved = true;
      }
    }
    return moved;
  }

  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    this.ahead = undefined;
    close(fd, () => undefined);
  }

  closeSync(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    this.ahead = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed by the OS side; nothing left to release.
    }
  }
}
