/**
 * Flume's event serializers (flume-ng-core `org.apache.flume.serialization`), one implementation for
 * every sink that writes files: file_roll and hdfs (DataStream and CompressedStream).
 *
 * A serializer belongs to one file. `header` is what opens the file (the Avro container header; empty
 * for the text formats) and `serialize(events)` the bytes a batch adds to it, always complete units
 * (whole lines, whole Avro blocks ending with the file's sync marker), so a file cut after any batch is
 * a valid file. Nothing is buffered between calls: a sink that fails to write a batch drops the bytes
 * and writes the batch again later.
 */
import type { FlumeEvent } from '../core/event.js';
import { avroEventSerializer, type AvroCodecName } from './avroEventSerializer.js';
import { headerAndTextSerializer } from './headerAndTextSerializer.js';
import { textSerializer } from './textSerializer.js';

export type SerializerName = 'TEXT' | 'HEADER_AND_TEXT' | 'avro_event';

export const SERIALIZER_NAMES = ['TEXT', 'HEADER_AND_TEXT', 'avro_event'] as const;

export interface EventSerializer {
  /** What opens a file: the Avro container header, or nothing. */
  readonly header: Buffer;
  /** The bytes `events` add to the file, as complete units. Throws when an event cannot be written (a header that is not a string, for Avro). */
  serialize(events: readonly FlumeEvent[]): Buffer;
  /** Throws, saying why, when `serialize` would throw on this event (so a batch can be refused before any of it is written). */
  check?(event: FlumeEvent): void;
}

export interface SerializerOptions {
  /** TEXT and HEADER_AND_TEXT: end each event with \n (Flume `serializer.appendNewline`, default true). */
  appendNewline?: boolean;
  /** avro_event: largest uncompressed block (Flume `serializer.syncIntervalBytes`, default 2,048,000). */
  syncIntervalBytes?: number;
  /** avro_event: block codec (Flume `serializer.compressionCodec`, default null). */
  compressionCodec?: AvroCodecName;
}

/** A serializer for one new file. */
export function createSerializer(name: SerializerName, options: SerializerOptions = {}): EventSerializer {
  switch (name) {
    case 'TEXT':
      return textSerializer(options.appendNewline ?? true);
    case 'HEADER_AND_TEXT':
      return headerAndTextSerializer(options.appendNewline ?? true);
    case 'avro_event':
      return avroEventSerializer({ syncIntervalBytes: options.syncIntervalBytes ?? 2_048_000, codec: options.compressionCodec ?? 'null' });
  }
}

const BY_FLUME_NAME: Record<string, SerializerName> = {
  text: 'TEXT',
  header_and_text: 'HEADER_AND_TEXT',
  avro_event: 'avro_event',
  'org.apache.flume.serialization.bodytexteventserializer$builder': 'TEXT',
  'org.apache.flume.serialization.headerandbodytexteventserializer$builder': 'HEADER_AND_TEXT',
  'org.apache.flume.serialization.flumeeventavroeventserializer$builder': 'avro_event',
};

/** Flume's serializer names are case-insensitive and may be builder class names; anything else is returned trimmed, for the schema to name. */
export const flumeSerializerName = (value: string): string => BY_FLUME_NAME[value.trim().toLowerCase()] ?? value.trim();
