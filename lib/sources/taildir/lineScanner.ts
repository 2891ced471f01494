/** What to do with a line longer than `maxLineLength` bytes. */
export type LongLinePolicy = 'split' | 'truncate';

export interface LineScannerOptions {
  /** Longest body in bytes; a longer line is split into pieces of this size or truncated to it. */
  maxLineLength: number;
  longLines: LongLinePolicy;
}

/** Receives the lines; an object rather than a callback so the hot call site stays monomorphic. */
export interface LineSink {
  /**
   * One line: its body (a view into the read buffer, no copy), the file offset of its first byte and
   * the offset just after it (after its newline for a complete line): the position to resume from
   * once this line and every earlier one are delivered.
   */
  line(body: Buffer, offset: number, end: number): void;
}

const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

/**
 * Splits a file's bytes into lines as they are read, in any chunking, with the same result as
 * splitting the whole content at once (a property test holds it to that):
 *
 * - a line ends at `\n`; one `\r` before it is dropped too (Flume's TailFile does the same);
 * - bytes after the last `\n` are held until their newline arrives (or `flush()`);
 * - a body longer than `maxLineLength` is split into consecutive pieces of that size (`split`), or
 *   cut to it with the rest of the line skipped (`truncate`); each such line counts once in
 *   `longLines`. A truncated line is emitted once its newline is seen, so a checkpoint never points
 *   into its skipped part.
 *
 * Bodies are `subarray`s of the pushed buffers, never copies, except the one line that straddles
 * two reads: its bytes are joined into a small buffer of their own so every line lies in one buffer.
 */
export class LineScanner {
  /** Lines over `maxLineLength` seen so far. */
  longLines = 0;
  private buf: Buffer = EMPTY;
  /** First unconsumed byte of `buf`. */
  private start = 0;
  /** File offset of `buf[0]`. */
  private bufOffset: number;
  /** The rest of the last pushed chunk when `buf` holds the line joined across two chunks. */
  private next: Buffer | undefined;
  /** `truncate`: the kept head of a long line whose rest is being skipped, and where that line starts. */
  private head: Buffer | undefined;
  private headOffset = 0;
  /** `split`: the line at `start` already had a piece emitted, so it is counted. */
  private inLongLine = false;
  private readonly max: number;
  private readonly split: boolean;

  constructor(offset: number, options: LineScannerOptions) {
    this.bufOffset = offset;
    this.max = options.maxLineLength;
    this.split = options.longLines === 'split';
  }

  /** The position after the last line taken: where reading resumes once those lines are delivered. */
  get offset(): number {
    return this.head ? this.headOffset : this.bufOffset + this.start;
  }

  /** The file offset the next read must start at. */
  get readOffset(): number {
    return this.bufOffset + this.buf.length + (this.next ? this.next.length : 0);
  }

  /** Bytes read and not yet taken as lines. */
  get held(): number {
    return (this.head ? this.head.length : 0) + this.buf.length - this.start + (this.next ? this.next.length : 0);
  }

  /**
   * Appends the next bytes of the file (read at `readOffset`). The scanner keeps `chunk` and cuts
   * bodies from it: the caller must not reuse it.
   */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.next) this.flatten();
    const keep = this.buf.length - this.start;
    if (keep === 0) {
      this.bufOffset += this.buf.length;
      this.buf = chunk;
      this.start = 0;
      return;
    }
    const tail = this.buf.subarray(this.start);
    this.bufOffset += this.start;
    this.start = 0;
    const lf = chunk.indexOf(LF);
    if (lf === -1 || lf === chunk.length - 1) {
      this.buf = Buffer.concat([tail, chunk]);
    } else {
      this.buf = Buffer.concat([tail, chunk.subarray(0, lf + 1)]);
      this.next = chunk.subarray(lf + 1);
    }
  }

  /** Emits up to `limit` lines (pieces of a split line count one each); returns how many. */
  take(limit: number, sink: LineSink): number {
    let n = this.takeFrom(limit, sink);
    while (n < limit && this.next && this.start === this.buf.length) {
      // The joined line is done: carry on in the rest of the chunk.
      this.bufOffset += this.buf.length;
      this.buf = this.next;
      this.next = undefined;
      this.start = 0;
      n += this.takeFrom(limit - n, sink);
    }
    if (this.start === this.buf.length && this.start > 0 && !this.next) {
      // Everything taken: let the buffer go (events keep their own views of it).
      this.bufOffset += this.start;
      this.buf = EMPTY;
      this.start = 0;
    }
    return n;
  }

  private takeFrom(limit: number, sink: LineSink): number {
    const buf = this.buf;
    const base = this.bufOffset;
    const max = this.max;
    let s = this.start;
    let n = 0;
    while (n < limit) {
      const at = buf.indexOf(LF, s);
      if (this.head) {
        if (at === -1) {
          s = buf.length;
          break;
        }
        sink.line(this.head, this.headOffset, base + at + 1);
        this.head = undefined;
        s = at + 1;
        n++;
        continue;
      }
      if (at === -1) {
        // At least max + 2 bytes without a newline: the body (the record less a final \r) is longer than max.
        if (buf.length - s < max + 2) break;
        if (this.split) {
          this.countLong();
          sink.line(buf.subarray(s, s + max), base + s, base + s + max);
          s += max;
          n++;
          continue;
        }
        this.longLines++;
        this.head = Buffer.from(buf.subarray(s, s + max)); // a copy: the rest of this buffer is dropped
        this.headOffset = base + s;
        s = buf.length;
        break;
      }
      const end = at > s && buf[at - 1] === CR ? at - 1 : at;
      if (end - s <= max) {
        sink.line(buf.subarray(s, end), base + s, base + at + 1);
        this.inLongLine = false;
      } else if (this.split) {
        this.countLong();
        while (end - s > max && n < limit) {
          sink.line(buf.subarray(s, s + max), base + s, base + s + max);
          s += max;
          n++;
        }
        continue; // the remainder (≤ max) ends at the same newline
      } else {
        this.longLines++;
        sink.line(buf.subarray(s, s + max), base + s, base + at + 1);
      }
      s = at + 1;
      n++;
    }
    this.start = s;
    return n;
  }

  /**
   * Emits the held partial line as a line of its own (its bytes as they are: no newline was seen),
   * split or truncated like any line. For a file that stopped growing (idle, deleted).
   */
  flush(sink: LineSink): number {
    if (this.next) this.flatten();
    if (this.head) {
      sink.line(this.head, this.headOffset, this.readOffset);
      this.head = undefined;
      this.dropBuffer();
      return 1;
    }
    let s = this.start;
    const buf = this.buf;
    const base = this.bufOffset;
    let n = 0;
    while (buf.length - s > this.max) {
      this.countLong();
      const piece = buf.subarray(s, s + this.max);
      if (!this.split) {
        sink.line(piece, base + s, base + buf.length);
        this.inLongLine = false;
        this.dropBuffer();
        return 1;
      }
      sink.line(piece, base + s, base + s + this.max);
      s += this.max;
      n++;
    }
    if (s < buf.length) {
      sink.line(buf.subarray(s), base + s, base + buf.length);
      n++;
    }
    this.inLongLine = false;
    this.dropBuffer();
    return n;
  }

  /** Forgets everything held and restarts at `offset` (a truncated or replaced file). */
  reset(offset: number): void {
    this.next = undefined;
    this.buf = EMPTY;
    this.start = 0;
    this.bufOffset = offset;
    this.head = undefined;
    this.inLongLine = false;
  }

  /** Joins `next` back onto what is left of `buf` (a push or flush before the lines were taken). */
  private flatten(): void {
    this.buf = Buffer.concat([this.buf.subarray(this.start), this.next!]);
    this.bufOffset += this.start;
    this.start = 0;
    this.next = undefined;
  }

  private dropBuffer(): void {
    this.bufOffset += this.buf.length;
    this.buf = EMPTY;
    this.start = 0;
  }

  private countLong(): void {
    if (!this.inLongLine) this.longLines++;
    this.inLongLine = true;
  }
}
