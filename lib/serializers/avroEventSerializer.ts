/**
 * Flume's avro_event serializer (`FlumeEventAvroEventSerializer`): an Avro object container file of
 * records `Event { headers: map<string>, body: bytes }`, readable by avro-tools, avsc and Hadoop's
 * `fs -text`. Written here without streams, so a batch's bytes are known at once:
 *
 * - header: `Obj\x01`, the metadata map (`avro.schema`, `avro.codec`) and the file's 16 random sync bytes;
 * - a batch: its records in blocks of at most `syncIntervalBytes` uncompressed bytes (Flume's
 *   DataFileWriter sync interval), each block `count, size, data, sync`, the last one ended by the batch
 *   (Flume flushes the writer per batch), so every batch ends on a block boundary;
 * - codecs (Flume `serializer.compressionCodec`): `null`, `deflate` (raw deflate, as Avro specifies) and
 *   `snappy` (raw snappy followed by the CRC-32 of the uncompressed block, big-endian).
 */
import type * as Avsc from 'avsc';
import { z } from 'zod';
import { avsc } from '../avro/avsc.js';
import type { FlumeEvent } from '../core/event.js';
import { lazyRequire } from '../core/lazyRequire.js';
import { defineSerializer, type EventSerializer } from './defineSerializer.js';

export type AvroCodecName = 'null' | 'deflate' | 'snappy';

export const AVRO_CODECS = ['null', 'deflate', 'snappy'] as const;

/** Flume's `avro_event` record (`FlumeEventAvroEventSerializer`): no namespace, headers then body. */
export const AVRO_EVENT_SCHEMA = {
  type: 'record',
  name: 'Event',
  fields: [
    { name: 'headers', type: { type: 'map', values: 'string' } },
    { name: 'body', type: 'bytes' },
  ],
} as const;

const snappy = lazyRequire<{ compress(input: Uint8Array): Uint8Array }>('snappyjs', "the avro_event serializer's snappy codec");

// Built on first use: every agent imports this module (file_roll, hdfs), few write avro_event.
let types: { event: Avsc.Type; meta: Avsc.Type; long: Avsc.Type } | undefined;
const avroTypes = () =>
  (types ??= {
    event: avsc().Type.forSchema(AVRO_EVENT_SCHEMA as unknown as Avsc.Schema),
    meta: avsc().Type.forSchema({ type: 'map', values: 'bytes' }),
    long: avsc().Type.forSchema('long'),
  });
const MAGIC = Buffer.from('Obj\x01', 'latin1');

function compress(codec: AvroCodecName, data: Buffer): Buffer {
  const zlib = process.getBuiltinModule('node:zlib');
  if (codec === 'deflate') return zlib.deflateRawSync(data);
  if (codec === 'snappy') {
    const compressed = snappy().compress(data);
    const out = Buffer.allocUnsafe(compressed.length + 4);
    out.set(compressed, 0);
    out.writeUInt32BE(zlib.crc32(data), compressed.length);
    return out;
  }
  return data;
}

export interface AvroEventSerializerOptions {
  syncIntervalBytes: number;
  codec: AvroCodecName;
  /** The file's sync marker (random by default, as Avro's). */
  sync?: Uint8Array;
}

/** One Avro container file's serializer: its header and sync marker, then blocks per batch. */
export function avroEventFile(options: AvroEventSerializerOptions): EventSerializer {
  const sync = Buffer.from(options.sync ?? process.getBuiltinModule('node:crypto').randomBytes(16));
  const { event: eventType, meta: metaType, long: longType } = avroTypes();
  const header = Buffer.concat([
    MAGIC,
    metaType.toBuffer({ 'avro.schema': Buffer.from(JSON.stringify(AVRO_EVENT_SCHEMA)), 'avro.codec': Buffer.from(options.codec) }),
    sync,
  ]);
  const block = (records: Buffer[], bytes: number, out: Buffer[]): void => {
    const data = compress(options.codec, Buffer.concat(records, bytes));
    out.push(longType.toBuffer(records.length), longType.toBuffer(data.length), data, sync);
  };
  return {
    header,
    check(event: FlumeEvent): void {
      let problem = '';
      if (!eventType.isValid(event, { errorHook: (path) => (problem ||= path.join('.') || 'the event') })) throw new RangeError(`${problem} is not what an Avro Event holds (string headers, bytes body)`);
    },
    serialize(events: readonly FlumeEvent[]): Buffer {
      const out: Buffer[] = [];
      let records: Buffer[] = [];
      let bytes = 0;
      for (const e of events) {
        const record = eventType.toBuffer(e);
        records.push(record);
        bytes += record.length;
        if (bytes >= options.syncIntervalBytes) {
          block(records, bytes, out);
          records = [];
          bytes = 0;
        }
      }
      if (records.length > 0) block(records, bytes, out);
      return Buffer.concat(out);
    },
  };
}

export const avroEventSerializer = defineSerializer({
  name: 'avro_event',
  flumeTypes: ['avro_event', 'org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder'],
  schema: z.strictObject({
    syncIntervalBytes: z.number().int().min(32).default(2_048_000).describe('Largest uncompressed block (Flume serializer.syncIntervalBytes).'),
    compressionCodec: z.enum(AVRO_CODECS).default('null').describe('Block codec (Flume serializer.compressionCodec).'),
  }),
  create: ({ syncIntervalBytes, compressionCodec }) => avroEventFile({ syncIntervalBytes, codec: compressionCodec }),
});
