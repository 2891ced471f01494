/**
 * A SequenceFile (version 6) writer, as Flume's HDFS sink writes them: LongWritable keys and
 * BytesWritable or Text values; NONE, RECORD or BLOCK compression with a Hadoop codec (lib/hdfs/codecs.ts).
 *
 * It produces bytes and keeps no file: `header` starts the file, then each `flush()` returns what the
 * records appended since the previous flush add to it, ending as Hadoop's `Writer.sync()` ends a batch
 * (Flume syncs after every batch): NONE and RECORD with a sync escape, BLOCK as one complete block. So a
 * file is `header` + the flushes in order, and every flush boundary is a place a reader can resume.
 *
 * Layout (SequenceFile.java): magic `SEQ\x06`, key and value class names (Text), compressed and
 * block-compressed flags, the codec class (only if compressed), metadata (int32 count + Text pairs),
 * 16 sync bytes. A record is int32 record length, int32 key length, key, value (RECORD: the value as one
 * compressed stream). A block is the sync escape (int32 −1 + the sync bytes), VInt record count, and four
 * sections each a VInt size and one compressed stream: key lengths (VInts), keys, value lengths, values.
 * A sync escape goes before a record once `syncIntervalBytes` passed since the last one, never twice in a row.
 */
import { randomBytes } from 'node:crypto';
import type { HadoopCodec } from './codecs.js';
import { bytesWritable, longWritable, text, vlong, WRITABLE_CLASSES } from './writables.js';

export type SequenceFileCompression = 'NONE' | 'RECORD' | 'BLOCK';
export type SequenceFileValue = 'BytesWritable' | 'Text';

export interface SequenceFileOptions {
  /** `BytesWritable` (Flume's `writeFormat=Writable`) or `Text` (`writeFormat=Text`): the value's class. */
  valueClass: SequenceFileValue;
  /** Default NONE; RECORD and BLOCK need `codec`. */
  compression?: SequenceFileCompression;
  codec?: HadoopCodec;
  /** The file's 16 sync bytes (random by default, as Hadoop's are unique per file). */
  syncMarker?: Uint8Array;
  /** NONE/RECORD: a sync escape before a record once this many bytes were written since the last (Hadoop 3: 102,400). */
  syncIntervalBytes?: number;
  /** BLOCK: a block ends once its buffered keys and values reach this many bytes (Hadoop's io.seqfile.compress.blocksize, 1,000,000). */
  blockSizeBytes?: number;
  /** Header metadata (Flume writes none), sorted by key as Hadoop's TreeMap writes it. */
  metadata?: Record<string, string>;
}

export const SYNC_ESCAPE = -1;
export const SYNC_SIZE = 16;
export const DEFAULT_SYNC_INTERVAL = 5 * 1024 * (4 + SYNC_SIZE);
export const DEFAULT_BLOCK_SIZE = 1_000_000;

/** Where a writer stands: what `snapshot()` returns and `restore()` takes back. */
export interface SequenceFileWriterState {
  /** Bytes of the file so far: the header plus every flush. */
  position: number;
  lastSyncPosition: number;
}

/** A NONE-compressed record not yet encoded: its key, its value, and Text's VInt length (BytesWritable: an int32). */
interface PlainRecord {
  key: bigint;
  value: Uint8Array;
  textLength: Buffer | undefined;
}

const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

export class SequenceFileWriter {
  /** The file's first bytes. */
  readonly header: Buffer;
  readonly sync: Buffer;
  readonly compression: SequenceFileCompression;
  readonly codec: HadoopCodec | undefined;
  private readonly valueClass: SequenceFileValue;
  private readonly syncInterval: number;
  private readonly blockSize: number;
  private position: number;
  // Hadoop starts it at 0, so the first sync after the header writes an escape.
  private lastSyncPosition = 0;
  /** What the next flush returns: bytes, and uncompressed records kept as references until then (one copy, at flush). */
  private out: Array<Buffer | PlainRecord> = [];
  private outBytes = 0;
  private block: { count: number; keyLengths: Buffer[]; keys: Buffer[]; valueLengths: Buffer[]; values: Buffer[]; bytes: number } = SequenceFileWriter.emptyBlock();

  constructor(options: SequenceFileOptions) {
    this.compression = options.compression ?? 'NONE';
    this.codec = options.codec;
    if (this.compression !== 'NONE' && !this.codec) throw new TypeError(`SequenceFile ${this.compression} compression needs a codec`);
    if (this.compression === 'NONE' && this.codec) throw new TypeError('SequenceFile NONE compression takes no codec');
    this.valueClass = options.valueClass;
    this.syncInterval = options.syncIntervalBytes ?? DEFAULT_SYNC_INTERVAL;
    this.blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_SIZE;
    this.sync = Buffer.from(options.syncMarker ?? randomBytes(SYNC_SIZE));
    if (this.sync.length !== SYNC_SIZE) throw new RangeError(`a SequenceFile sync marker has ${SYNC_SIZE} bytes, not ${this.sync.length}`);
    const metadata = Object.entries(options.metadata ?? {}).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const count = Buffer.allocUnsafe(4);
    count.writeInt32BE(metadata.length, 0);
    this.header = Buffer.concat([
      Buffer.from('SEQ\x06', 'latin1'),
      text(WRITABLE_CLASSES.LongWritable),
      text(WRITABLE_CLASSES[this.valueClass]),
      Buffer.from([this.compression === 'NONE' ? 0 : 1, this.compression === 'BLOCK' ? 1 : 0]),
      ...(this.codec ? [text(this.codec.className)] : []),
      count,
      ...metadata.flatMap(([k, v]) => [text(k), text(v)]),
      this.sync,
    ]);
    this.position = this.header.length;
  }

  /** Appends a record: the key as a LongWritable (Flume: the event's timestamp), the value as the value class. */
  append(key: bigint | number, value: Uint8Array): void {
    if (this.compression === 'NONE') {
      // Encoded at flush, straight into the flush's buffer: a buffer per record, then their concatenation, were
      // two copies of every body and three Buffer objects a record (a third of the native sink's peak RSS).
      const long = BigInt(key);
      if (long < LONG_MIN || long > LONG_MAX) throw new RangeError(`${key} does not fit a Java long`);
      if (this.position >= this.lastSyncPosition + this.syncInterval) this.writeSync();
      const textLength = this.valueClass === 'Text' ? vlong(value.length) : undefined;
      const length = 16 + (textLength?.length ?? 4) + value.length;
      this.out.push({ key: long, value, textLength });
      this.outBytes += length;
      this.position += length;
      return;
    }
    const keyBytes = longWritable(key);
    const valueBytes = this.valueClass === 'Text' ? text(value) : bytesWritable(value);
    if (this.compression === 'BLOCK') {
      const b = this.block;
      b.keyLengths.push(vlong(keyBytes.length));
      b.keys.push(keyBytes);
      b.valueLengths.push(vlong(valueBytes.length));
      b.values.push(valueBytes);
      b.count++;
      b.bytes += keyBytes.length + valueBytes.length;
      if (b.bytes >= this.blockSize) this.writeBlock();
      return;
    }
    if (this.position >= this.lastSyncPosition + this.syncInterval) this.writeSync();
    const stored = this.compression === 'RECORD' ? this.codec!.compressSync(valueBytes) : valueBytes;
    const lengths = Buffer.allocUnsafe(8);
    lengths.writeInt32BE(keyBytes.length + stored.length, 0);
    lengths.writeInt32BE(keyBytes.length, 4);
    this.emit(lengths, keyBytes, stored);
  }

  /**
   * The bytes the records appended since the last flush add to the file, ended as Hadoop's `sync()`
   * ends them (a sync escape, or the last block). Empty when nothing was appended.
   */
  flush(): Buffer {
    if (this.compression === 'BLOCK') this.writeBlock();
    else if (this.outBytes > 0) this.writeSync();
    const chunk = Buffer.allocUnsafe(this.outBytes);
    let at = 0;
    for (const part of this.out) {
      if (Buffer.isBuffer(part)) {
        at += part.copy(chunk, at);
        continue;
      }
      // Record length (key + value), key length, the LongWritable key, the value (BytesWritable or Text).
      const valueLength = (part.textLength?.length ?? 4) + part.value.length;
      chunk.writeInt32BE(8 + valueLength, at);
      chunk.writeInt32BE(8, at + 4);
      chunk.writeBigInt64BE(part.key, at + 8);
      at += 16;
      if (part.textLength) at += part.textLength.copy(chunk, at);
      else at = chunk.writeInt32BE(part.value.length, at);
      chunk.set(part.value, at);
      at += part.value.length;
    }
    this.out = [];
    this.outBytes = 0;
    return chunk;
  }

  /** Where the writer stands after the last flush (call it between flushes). */
  snapshot(): SequenceFileWriterState {
    return { position: this.position - this.outBytes, lastSyncPosition: this.lastSyncPosition };
  }

  /** Back to a `snapshot()`, dropping anything appended since: after a write of a flush failed and the file was cut back to `position`. */
  restore(state: SequenceFileWriterState): void {
    this.position = state.position;
    this.lastSyncPosition = state.lastSyncPosition;
    this.out = [];
    this.outBytes = 0;
    this.block = SequenceFileWriter.emptyBlock();
  }

  private static emptyBlock() {
    return { count: 0, keyLengths: [] as Buffer[], keys: [] as Buffer[], valueLengths: [] as Buffer[], values: [] as Buffer[], bytes: 0 };
  }

  private emit(...parts: Buffer[]): void {
    for (const part of parts) {
      this.out.push(part);
      this.outBytes += part.length;
      this.position += part.length;
    }
  }

  private writeSync(): void {
    if (this.position === this.lastSyncPosition) return;
    const escape = Buffer.allocUnsafe(4);
    escape.writeInt32BE(SYNC_ESCAPE, 0);
    this.emit(escape, this.sync);
    this.lastSyncPosition = this.position;
  }

  private writeBlock(): void {
    const b = this.block;
    if (b.count === 0) return;
    this.block = SequenceFileWriter.emptyBlock();
    const section = (parts: Buffer[]) => {
      const compressed = this.codec!.compressSync(Buffer.concat(parts));
      return [vlong(compressed.length), compressed];
    };
    // Every block starts with an escape: the reader reads one unconditionally before a block.
    const escape = Buffer.allocUnsafe(4);
    escape.writeInt32BE(SYNC_ESCAPE, 0);
    this.emit(escape, this.sync);
    this.lastSyncPosition = this.position;
    this.emit(vlong(b.count), ...section(b.keyLengths), ...section(b.keys), ...section(b.valueLengths), ...section(b.values));
  }
}
