import type { BigIntStats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FlumeEvent } from '../../core/event.js';
import type { Candidate } from './candidates.js';
import { lineBody, malformedAt, splitLines, type LineCodec, type LinePiece } from './lines.js';
import type { TrackerState } from './tracker.js';

/** Bytes read from a file at a time (LINE): the most read ahead of what is sent. */
const CHUNK = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** How a spooled file becomes events. */
export interface ReadRules {
  blob: boolean;
  maxBlobLength: number;
  maxLineLength: number;
  /** LINE: the input and output charsets and the decodeErrorPolicy. */
  codec: LineCodec;
  headers(file: SpoolFile): Record<string, string>;
  /** The error for malformed bytes at `offset` under decodeErrorPolicy FAIL. */
  malformed(file: SpoolFile, offset: number): Error;
  /** The error for a file that changed, was replaced or removed while read (`what` says which). */
  changed(file: SpoolFile, what: string): Error;
}

/**
 * One file being ingested: its identity as seen when opened (inode, size, modification time), the
 * bytes read and split into events not yet sent, and the offset up to which its events are acked.
 * Files must not change once spooled: every read and the completion check the identity first.
 */
export class SpoolFile implements Candidate {
  /** Next byte to read. */
  private readPos: number;
  /** Read and not yet split into lines (an unfinished line). */
  private carry = EMPTY;
  /** Split and not yet sent, with the file offset after each. */
  private parsed: FlumeEvent[] = [];
  private ends: number[] = [];
  private head = 0;
  /** Everything read and split. */
  private done = false;
  /** The offset of the first piece with malformed bytes (FAIL): nothing is parsed past it. */
  private bad: number | undefined;
  /** Its handle is closed (completion under way). */
  private released = false;
  private readonly pieces: LinePiece[] = [];
  /** Events up to this offset, and all before, are acked. */
  committed: number;
  /** Events sent so far. */
  events = 0;

  private constructor(
    readonly path: string,
    readonly rel: string,
    readonly name: string,
    private readonly handle: FileHandle,
    readonly ino: bigint,
    readonly size: number,
    readonly mtimeNs: bigint,
    private readonly rules: ReadRules,
    from: number,
  ) {
    this.readPos = from;
    this.committed = from;
  }

  /** Opens a waiting file, at the tracked offset `from`; undefined when it is gone. */
  static async open(c: Candidate, rules: ReadRules, from = 0): Promise<SpoolFile | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(c.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let s: BigIntStats;
    try {
      s = await handle.stat({ bigint: true });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return new SpoolFile(c.path, c.rel, c.name, handle, s.ino, Number(s.size), s.mtimeNs, rules, from);
  }

  /** Whether this is the file a tracker state names, unchanged since. */
  is(at: TrackerState): boolean {
    return String(this.ino) === at.ino && this.size === at.size && String(this.mtimeNs) === at.mtimeNs && at.pos <= this.size;
  }

  /** The tracker state of this file at its acked offset. */
  state(): TrackerState {
    return { file: this.rel, ino: String(this.ino), size: this.size, mtimeNs: String(this.mtimeNs), pos: this.committed };
  }

  /** Everything is read and sent. */
  get exhausted(): boolean {
    return this.done && this.bad === undefined && this.head >= this.parsed.length;
  }

  /** Throws `rules.changed` when the file is not the one opened any more. */
  async checkUnchanged(): Promise<void> {
    let s: BigIntStats;
    try {
      s = await stat(this.path, { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw this.rules.changed(this, 'was removed while being read');
      throw error;
    }
    if (s.ino !== this.ino) throw this.rules.changed(this, 'was replaced by another file while being read');
    if (Number(s.size) !== this.size) throw this.rules.changed(this, `has changed size since being read (${this.size} → ${s.size} bytes)`);
    if (s.mtimeNs !== this.mtimeNs) throw this.rules.changed(this, 'has been modified since being read');
  }

  /** The next batch of at most `max` events and the offset after its last; undefined when none is left (or `stopped()`). */
  async nextBatch(max: number, stopped: () => boolean): Promise<{ events: FlumeEvent[]; end: number } | undefined> {
    while (this.parsed.length - this.head < max && !this.done && !stopped()) await this.readMore(stopped);
    // As Flume, the batch that would hold the malformed line fails whole.
    if (this.bad !== undefined && this.parsed.length - this.head < max && !stopped()) throw this.rules.malformed(this, this.bad);
    const n = Math.min(max, this.parsed.length - this.head);
    if (n === 0 || stopped()) return undefined;
    const events = this.parsed.slice(this.head, this.head + n);
    const end = this.ends[this.head + n - 1]!;
    this.head += n;
    if (this.head === this.parsed.length) {
      this.parsed = [];
      this.ends = [];
      this.head = 0;
    }
    this.events += n;
    return { events, end };
  }

  /** Closes the handle, once. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.handle.close();
  }

  private async readMore(stopped: () => boolean): Promise<void> {
    const { blob } = this.rules;
    if (this.bad !== undefined) return;
    if (this.readPos >= this.size) {
      if (!blob) this.addLines(this.carry, this.readPos - this.carry.length, true);
      this.carry = EMPTY;
      this.done = true;
      return;
    }
    await this.checkUnchanged();
    if (stopped()) return;
    const want = Math.min(blob ? this.rules.maxBlobLength : CHUNK, this.size - this.readPos);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.handle.read(buf, got, want - got, this.readPos + got);
      if (bytesRead === 0) throw this.rules.changed(this, `has changed size since being read (ends at ${this.readPos + got}, not ${this.size})`);
      got += bytesRead;
    }
    this.readPos += want;
    if (blob) {
      this.parsed.push({ headers: this.rules.headers(this), body: buf });
      this.ends.push(this.readPos);
      return;
    }
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, buf]) : buf;
    const consumed = this.addLines(data, this.readPos - data.length, this.readPos === this.size);
    this.carry = this.bad === undefined ? data.subarray(consumed) : EMPTY;
    if (this.readPos === this.size && this.carry.length === 0) this.done = true;
  }

  private addLines(data: Buffer, base: number, final: boolean): number {
    const pieces = this.pieces;
    pieces.length = 0;
    const consumed = splitLines(data, this.rules.maxLineLength, this.rules.codec, final, pieces);
    for (const p of pieces) {
      // A copy (or a transcoded one), so an event does not pin the whole read chunk.
      const body = lineBody(data, p.start, p.end, this.rules.codec);
      if (body === undefined) {
        this.bad = base + p.start + malformedAt(data.subarray(p.start, p.end), this.rules.codec.input);
        this.done = true;
        return consumed;
      }
      this.parsed.push({ headers: this.rules.headers(this), body });
      this.ends.push(base + p.next);
    }
    return consumed;
  }
}

/**
 * Whether the directory holding `c` is, right now, the real directory under the spool directory
 * (`realSpoolDir`, resolved) that its relative path names: no symlink on the way. Files are opened,
 * renamed and deleted only then.
 */
export async function inside(c: Candidate, realSpoolDir: string): Promise<boolean> {
  const parent = dirname(c.rel);
  const expected = parent === '.' ? realSpoolDir : join(realSpoolDir, ...parent.split('/'));
  return (await realpath(dirname(c.path)).catch(() => undefined)) === expected;
}
