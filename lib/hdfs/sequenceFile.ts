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
import { BytesWritable, encode, javaLong, LongWritable, RawBytes, Text, text, VLong, type ByteEncoder, type WritableEncoder } from './writables.js';

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

/** A record not yet encoded: references to its key and value (for RECORD, the compressed value), encoded once at flush or block end. */
interface PendingRecord {
  key: bigint;
  value: Uint8Array;
  valueSize: number;
}

const VALUE_WRITABLES: Record<SequenceFileValue, WritableEncoder<Uint8Array>> = { BytesWritable, Text };

export class SequenceFileWriter {
  /** The file's first bytes. */
  readonly header: Buffer;
  readonly sync: Buffer;
  readonly compression: SequenceFileCompression;
  readonly codec: HadoopCodec | undefined;
  private readonly valueWritable: WritableEncoder<Uint8Array>;
  /** How a record's stored value is written: the value class, or (RECORD) its compressed bytes as they are. */
  private readonly storedValue: ByteEncoder<Uint8Array>;
  private readonly syncInterval: number;
  private readonly blockSize: number;
  private position: number;
  // Hadoop starts it at 0, so the first sync after the header writes an escape.
  private lastSyncPosition = 0;
  /** What the next flush returns: bytes, and records kept as references until then (one copy of each body, at flush). */
  private out: Array<Buffer | PendingRecord> = [];
  private outBytes = 0;
  private block: { records: PendingRecord[]; bytes: number } = { records: [], bytes: 0 };

  constructor(options: SequenceFileOptions) {
    this.compression = options.compression ?? 'NONE';
    this.codec = options.codec;
    if (this.compression !== 'NONE' && !this.codec) throw new TypeError(`SequenceFile ${this.compression} compression needs a codec`);
    if (this.compression === 'NONE' && this.codec) throw new TypeError('SequenceFile NONE compression takes no codec');
    this.valueWritable = VALUE_WRITABLES[options.valueClass];
    this.storedValue = this.compression === 'RECORD' ? RawBytes : this.valueWritable;
    this.syncInterval = options.syncIntervalBytes ?? DEFAULT_SYNC_INTERVAL;
    this.blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_SIZE;
    this.sync = Buffer.from(options.syncMarker ?? randomBytes(SYNC_SIZE));
    if (this.sync.length !== SYNC_SIZE) throw new RangeError(`a SequenceFile sync marker has ${SYNC_SIZE} bytes, not ${this.sync.length}`);
    const metadata = Object.entries(options.metadata ?? {}).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const count = Buffer.allocUnsafe(4);
    count.writeInt32BE(metadata.length, 0);
    this.header = Buffer.concat([
      Buffer.from('SEQ\x06', 'latin1'),
      text(LongWritable.className),
      text(this.valueWritable.className),
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
    // Records stay references until flush (or the block's end) encodes them straight into one buffer:
    // a buffer per record, then their concatenation, were two copies of every body and three Buffers a record.
    const long = javaLong(key);
    if (this.compression === 'BLOCK') {
      const b = this.block;
      const valueSize = this.valueWritable.size(value);
      b.records.push({ key: long, value, valueSize });
      b.bytes += LongWritable.size(long) + valueSize;
      if (b.bytes >= this.blockSize) this.writeBlock();
      return;
    }
    if (this.position >= this.lastSyncPosition + this.syncInterval) this.writeSync();
    const stored = this.compression === 'RECORD' ? this.codec!.compressSync(encode(this.valueWritable, value)) : value;
    const valueSize = this.storedValue.size(stored);
    const length = 8 + LongWritable.size(long) + valueSize;
    this.out.push({ key: long, value: stored, valueSize });
    this.outBytes += length;
    this.position += length;
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
      // Record length (key + value), key length, the key, the value.
      const keySize = LongWritable.size(part.key);
      at = chunk.writeInt32BE(keySize + part.valueSize, at);
      at = chunk.writeInt32BE(keySize, at);
      at = LongWritable.write(chunk, at, part.key);
      at = this.storedValue.write(chunk, at, part.value);
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
    this.block = { records: [], bytes: 0 };
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
    const { records } = this.block;
    if (records.length === 0) return;
    this.block = { records: [], bytes: 0 };
    const section = <T>(encoder: ByteEncoder<T>, field: (r: PendingRecord) => T) => {
      let size = 0;
      for (const r of records) size += encoder.size(field(r));
      const raw = Buffer.allocUnsafe(size);
      let at = 0;
      for (const r of records) at = encoder.write(raw, at, field(r));
      const compressed = this.codec!.compressSync(raw);
      return [encode(VLong, compressed.length), compressed];
    };
    // Every block starts with an escape: the reader reads one unconditionally before a block.
    const escape = Buffer.allocUnsafe(4);
    escape.writeInt32BE(SYNC_ESCAPE, 0);
    this.emit(escape, this.sync);
    this.lastSyncPosition = this.position;
    this.emit(
      encode(VLong, records.length),
      ...section(VLong, (r) => LongWritable.size(r.key)),
      ...section(LongWritable, (r) => r.key),
      ...section(VLong, (r) => r.valueSize),
      ...section(this.valueWritable, (r) => r.value),
    );
  }
}
