/**
 * Avro's Netty framing as Flume's Avro RPC speaks it (`NettyTransportCodec`): a frame decoder that
 * checks its limits as each header arrives, and the encoder. Shared by avroSource and avroSink;
 * imports nothing.
 */

export interface Frame {
  serial: number;
  message: Buffer;
}

/** Estimated heap bytes of one kept buffer view and its array slot, beyond its bytes (measured ~110 on Node 20). */
export const PART_COST = 128;
/** Buffers per frame allowed when a decoder is given no limit (Java's 64 MiB message is ~8,200 buffers of 8 KiB). */
export const DEFAULT_MAX_BUFFERS = 65_536;
/** A single-buffer message sharing a chunk that is larger by more than this is copied out, so it does not keep the chunk alive. */
const SHARED_CHUNK_SLACK = 8192;
const EMPTY = Buffer.alloc(0);

/** Bytes that are not Netty framing or exceed a limit; `serial` is set once the frame's header arrived. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly serial: number | undefined,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * A frame whose message is left where it arrived: views of the received chunks, in order (none of
 * length 0). Readers that decode in place (`new Reader(frame.views)`) take it from `nextViews()`.
 */
export interface FrameViews {
  serial: number;
  views: Buffer[];
  /** Bytes of the message (the views' lengths summed). */
  size: number;
}

/**
 * A part spanning chunks is kept as views of them only while they average this many bytes or more;
 * else it is copied out, so a sender trickling small TCP segments cannot make each byte a Buffer
 * object (PART_COST) that outweighs it. Views then cost at most PART_COST per part plus 1/32 of the bytes.
 */
const MIN_BYTES_PER_VIEW = 4096;

/** Bytes received and not yet consumed, as a list of chunks (no quadratic concatenation). */
class ByteQueue {
  private chunks: Buffer[] = [];
  /** Consumed bytes of chunks[0]. */
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next big-endian int32 (callers check `length` first); no allocation. */
  int32(): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= 4) {
      const v = first.readInt32BE(this.offset);
      this.advance(first, 4);
      return v;
    }
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const chunk = this.chunks[0]!;
      v = (v << 8) | chunk[this.offset]!;
      this.advance(chunk, 1);
    }
    return v | 0;
  }

  /**
   * The next `n` bytes, n > 0 (callers check `length` first), appended to `out`: one view when they lie
   * in one chunk, views of each chunk when those average MIN_BYTES_PER_VIEW, else one copy. Returns
   * how many buffers it appended.
   */
  take(n: number, out: Buffer[]): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      out.push(first.subarray(this.offset, this.offset + n));
      this.advance(first, n);
      return 1;
    }
    let spanned = 1;
    for (let left = n - (first.length - this.offset); left > 0; spanned++) left -= this.chunks[spanned]!.length;
    const copy = spanned * MIN_BYTES_PER_VIEW > n;
    const whole = copy ? Buffer.allocUnsafe(n) : undefined;
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const k = Math.min(chunk.length - this.offset, n - at);
      if (whole) chunk.copy(whole, at, this.offset, this.offset + k);
      else out.push(chunk.subarray(this.offset, this.offset + k));
      at += k;
      this.advance(chunk, k);
    }
    if (whole) out.push(whole);
    return whole ? 1 : spanned;
  }

  private advance(chunk: Buffer, n: number): void {
    this.length -= n;
    this.offset += n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/**
 * Avro's `NettyTransportCodec` framing: int32 serial, int32 buffer count, then count × (int32 length,
 * bytes); one frame is one message. Limits are checked as each header arrives, before anything is
 * kept: a buffer count over `maxBuffers`, or a length taking the message over `maxBytes`, throws a
 * `FrameError` (so does a negative count or length). Zero-length buffers cost nothing (not kept).
 *
 * `write` + `next` decode one frame at a time (what is not asked for stays raw bytes); `push` does both.
 * `nextViews` is `next` without joining the message: views of the received chunks, no copy.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private serial = 0;
  /** Buffers still to read in the current frame; -1 while waiting for a header. */
  private remaining = -1;
  private partLength = -1;
  private views: Buffer[] = [];
  private size = 0;
  /** What the current frame's consumed bytes may keep alive: header and lengths (views share their chunks), parts and their views. */
  private current = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxBuffers: number = DEFAULT_MAX_BUFFERS,
  ) {}

  /** Bytes held: received and not yet returned as frames, with the estimated cost of kept views. */
  get held(): number {
    return this.queue.length + this.current;
  }

  /** The serial of the frame being received, once its header arrived. */
  get pendingSerial(): number | undefined {
    return this.remaining < 0 ? undefined : this.serial;
  }

  write(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** The next whole frame as one message buffer, or undefined until more bytes arrive. Throws a FrameError on bad framing or a limit. */
  next(): Frame | undefined {
    const frame = this.nextViews();
    if (frame === undefined) return undefined;
    const { views } = frame;
    let message: Buffer;
    if (views.length === 0) message = EMPTY;
    else if (views.length > 1) message = Buffer.concat(views, frame.size);
    else message = views[0]!.buffer.byteLength - views[0]!.length > SHARED_CHUNK_SLACK ? Buffer.from(views[0]!) : views[0]!;
    return { serial: frame.serial, message };
  }

  /**
   * The next whole frame as views of the chunks it arrived in (nothing copied but parts split into
   * small pieces), or undefined until more bytes arrive. Throws a FrameError on bad framing or a limit.
   * The views keep their chunks alive: a caller keeping a little of a large chunk copies it out.
   */
  nextViews(): FrameViews | undefined {
    if (this.remaining < 0) {
      if (this.queue.length < 8) return undefined;
      this.serial = this.queue.int32();
      const count = this.queue.int32();
      if (count < 0 || count > this.maxBuffers) {
        throw new FrameError(`a frame of ${count} buffers (limit ${this.maxBuffers} per message)`, this.serial);
      }
      this.remaining = count;
      this.size = 0;
      this.current = 8;
    }
    while (this.remaining > 0) {
      if (this.partLength < 0) {
        if (this.queue.length < 4) return undefined;
        this.partLength = this.queue.int32();
        this.current += 4;
        if (this.partLength < 0 || this.size + this.partLength > this.maxBytes) {
          throw new FrameError(`a buffer of ${this.partLength} bytes after ${this.size} (limit ${this.maxBytes} per message)`, this.serial);
        }
      }
      if (this.queue.length < this.partLength) return undefined;
      if (this.partLength > 0) {
        const kept = this.queue.take(this.partLength, this.views);
        this.size += this.partLength;
        this.current += this.partLength + kept * PART_COST;
      }
      this.partLength = -1;
      this.remaining--;
    }
    const frame = { serial: this.serial, views: this.views, size: this.size };
    this.views = [];
    this.remaining = -1;
    this.current = 0;
    return frame;
  }

  /** Every whole frame the bytes so far complete. */
  push(chunk: Buffer): Frame[] {
    this.write(chunk);
    const out: Frame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) out.push(frame);
    return out;
  }
}

/**
 * Bytes of memory `views` keep alive: the whole of each distinct ArrayBuffer under them (a chunk
 * received from a socket is its own, of its length; one from a pool or a zlib stream may be larger).
 */
export function backingBytes(views: readonly Buffer[]): number {
  let total = 0;
  let last: ArrayBufferLike | undefined;
  for (const v of views) {
    // Consecutive views of one chunk are the common case; a chunk seen again later is counted again (an over-estimate).
    if (v.buffer !== last) total += v.buffer.byteLength;
    last = v.buffer;
  }
  return total;
}

/** One message as a Netty frame (see FrameDecoder). */
export function encodeFrame(serial: number, parts: readonly Buffer[]): Buffer {
  let size = 8;
  for (const p of parts) size += 4 + p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(serial, 0);
  out.writeInt32BE(parts.length, 4);
  let at = 8;
  for (const p of parts) {
    out.writeInt32BE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}
