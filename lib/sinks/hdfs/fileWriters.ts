/**
 * How one HDFS file is encoded, per Flume `hdfs.fileType`. A writer collects the events routed to its
 * file and `take()`s their bytes as one unit — the body of one CREATE (with the file's header) or one
 * APPEND — ending where Flume's per-batch flush ends them, so the file is valid after every unit:
 *
 * - SequenceFile (HDFSSequenceFile): LongWritable keys from the `timestamp` header (the clock when
 *   absent), BytesWritable (`writeFormat` Writable) or Text values of the bodies; with a codec, BLOCK
 *   compressed, one block per unit; without, NONE, each unit ended by a sync escape.
 * - DataStream (HDFSDataStream): the serializer's bytes (lib/serializers, or a module's).
 * - CompressedStream (HDFSCompressedDataStream): the serializer's bytes of each unit as one complete
 *   compressed stream (a gzip member, a zlib stream, a bzip2 stream, snappy blocks), which Hadoop reads
 *   one after the other.
 *
 * `snapshot()`/`restore()` bracket a unit whose write failed: the writer forgets what it collected since.
 */
import { FlumeError, toError } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import type { HadoopCodec } from '../../hdfs/codecs.js';
import { SequenceFileWriter, type SequenceFileWriterState } from '../../hdfs/sequenceFile.js';
import type { EventSerializer } from '../../serializers/eventSerializer.js';
import { parseJavaLongExact } from './bucketPath.js';

export type FileType = 'SequenceFile' | 'DataStream' | 'CompressedStream';

export interface FileWriterOptions {
  fileType: FileType;
  codec?: HadoopCodec | undefined;
  writeFormat: 'Writable' | 'Text';
  /** DataStream and CompressedStream: a serializer for each new file (`serializerFactory`, options validated once). */
  newSerializer: () => EventSerializer;
  /** Its name, for the error when it fails. */
  serializerName: string;
  /** Its `serialize` returns a new buffer each call and keeps no reference to it (the built-ins do). */
  serializerOutputIsFresh: boolean;
  now: () => number;
}

export interface FileWriter {
  /** Throws a RangeError saying why when the event cannot be encoded (call before `append`). */
  check(event: FlumeEvent): void;
  /** Adds a checked event to the next unit. */
  append(event: FlumeEvent): void;
  /** The next unit's bytes (the file's header first when nothing was taken yet); empty when nothing was appended. */
  take(): Promise<Buffer>;
  /** `take()` returns a new buffer that nothing else refers to: the caller may hand it over to the client (HdfsClient WriteOptions). */
  readonly freshUnits: boolean;
  snapshot(): unknown;
  restore(state: unknown): void;
}

/** The SequenceFile key of an event: its `timestamp` header as a Java long, or the clock. */
export function sequenceKey(event: FlumeEvent, now: () => number): bigint | number {
  const raw = Object.prototype.hasOwnProperty.call(event.headers, 'timestamp') ? event.headers['timestamp'] : undefined;
  if (raw === undefined) return now();
  const key = parseJavaLongExact(raw);
  if (key === undefined) throw new RangeError(`its timestamp header ${JSON.stringify(raw.slice(0, 40))} is not a Java long (the SequenceFile key)`);
  return key;
}

export function createFileWriter(options: FileWriterOptions): FileWriter {
  return options.fileType === 'SequenceFile' ? sequenceFileWriter(options) : streamWriter(options);
}

function sequenceFileWriter(options: FileWriterOptions): FileWriter {
  const writer = new SequenceFileWriter({
    valueClass: options.writeFormat === 'Text' ? 'Text' : 'BytesWritable',
    ...(options.codec ? { compression: 'BLOCK' as const, codec: options.codec } : {}),
  });
  let started = false;
  return {
    // SequenceFileWriter.flush() copies the unit into a buffer of its own.
    freshUnits: true,
    check(event) {
      sequenceKey(event, options.now);
    },
    append(event) {
      writer.append(sequenceKey(event, options.now), event.body);
    },
    async take() {
      const chunk = writer.flush();
      if (started || chunk.length === 0) return chunk;
      started = true;
      return Buffer.concat([writer.header, chunk]);
    },
    snapshot: (): { state: SequenceFileWriterState; started: boolean } => ({ state: writer.snapshot(), started }),
    restore(s) {
      const { state, started: was } = s as { state: SequenceFileWriterState; started: boolean };
      writer.restore(state);
      started = was;
    },
  };
}

function streamWriter(options: FileWriterOptions): FileWriter {
  const serializer: EventSerializer = options.newSerializer();
  const codec = options.fileType === 'CompressedStream' ? options.codec : undefined;
  let pending: FlumeEvent[] = [];
  let started = false;
  return {
    // A codec's stream is always a new buffer; a serializer's output only if the serializer says so.
    freshUnits: codec !== undefined || options.serializerOutputIsFresh,
    check(event) {
      serializer.check?.(event);
    },
    append(event) {
      pending.push(event);
    },
    async take() {
      const events = pending;
      pending = [];
      if (events.length === 0) return Buffer.alloc(0);
      let body: Buffer;
      try {
        body = serializer.serialize(events);
      } catch (error) {
        // Offered again, it would fail again (file_roll's rule): not retriable.
        throw new FlumeError('FLUME_BAD_EVENT', `cannot serialize the events as ${options.serializerName}: ${toError(error).message}`, { retriable: false, cause: error });
      }
      const bytes = started || serializer.header.length === 0 ? body : Buffer.concat([serializer.header, body]);
      started = true;
      return codec ? codec.compress(bytes) : bytes;
    },
    snapshot: () => started,
    restore(s) {
      pending = [];
      started = s as boolean;
    },
  };
}
