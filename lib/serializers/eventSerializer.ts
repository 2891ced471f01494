/**
 * Flume's event serializers (flume-ng-core `org.apache.flume.serialization`), one implementation for
 * every sink that writes files: file_roll and hdfs (DataStream and CompressedStream).
 *
 * A serializer belongs to one file. `header` is what opens the file (the Avro container header; empty
 * for the text formats) and `serialize(events)` the bytes a batch adds to it, always complete units
 * (whole lines, whole Avro blocks ending with the file's sync marker), so a file cut after any batch is
 * a valid file. Nothing is buffered between calls: a sink that fails to write a batch drops the bytes
 * and writes the batch again later.
 *
 * The built-in serializers are made with `defineSerializer`, as a module's are: a sink's `serializer`
 * option takes a built-in's name or any definition, and `serializerOptions` its options.
 */
import { z } from 'zod';
import { parseOptions } from '../core/config.js';
import { avroEventSerializer, type AvroCodecName } from './avroEventSerializer.js';
import { isSerializerDefinition, type EventSerializer, type SerializerDefinition } from './defineSerializer.js';
import { headerAndTextSerializer } from './headerAndTextSerializer.js';
import { textSerializer } from './textSerializer.js';

export { defineSerializer, isSerializerDefinition, type EventSerializer, type SerializerDefinition, type SerializerSpec } from './defineSerializer.js';

export type SerializerName = 'TEXT' | 'HEADER_AND_TEXT' | 'avro_event';

export const SERIALIZER_NAMES = ['TEXT', 'HEADER_AND_TEXT', 'avro_event'] as const;

/** The built-in serializers by name. */
export const SERIALIZERS: Readonly<Record<SerializerName, SerializerDefinition>> = {
  TEXT: textSerializer as SerializerDefinition,
  HEADER_AND_TEXT: headerAndTextSerializer as SerializerDefinition,
  avro_event: avroEventSerializer as SerializerDefinition,
};

export interface SerializerOptions {
  /** TEXT and HEADER_AND_TEXT: end each event with \n (Flume `serializer.appendNewline`, default true). */
  appendNewline?: boolean;
  /** avro_event: largest uncompressed block (Flume `serializer.syncIntervalBytes`, default 2,048,000). */
  syncIntervalBytes?: number;
  /** avro_event: block codec (Flume `serializer.compressionCodec`, default null). */
  compressionCodec?: AvroCodecName;
}

/**
 * The option of a file sink naming its serializer: a built-in's name or a definition (a module's, which
 * the agent loads where the property names one). Its options go in `serializerOptions`.
 */
export const serializerOption = (description: string) => ({
  serializer: z
    .custom<SerializerName | SerializerDefinition>((v) => SERIALIZER_NAMES.includes(v as SerializerName) || isSerializerDefinition(v), {
      // Where a module was meant, the agent names the module's problem; here the built-ins are what is expected.
      message: `one of ${SERIALIZER_NAMES.map((n) => JSON.stringify(n)).join(' | ')}`,
    })
    .default('TEXT')
    // The agent's plugin loader reads this: the property may name a module, its sub-keys go to serializerOptions.
    .meta({ plugin: 'serializer', optionsIn: 'serializerOptions' })
    .describe(description),
  serializerOptions: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("A custom serializer's options (Flume serializer.* for it), validated by its schema; the built-ins take the options above."),
});

/**
 * A function making a serializer for each new file. Options are validated once, now: bad ones throw
 * `ConfigError` naming them (`TEXT.appendNewline: expected boolean, …`). A built-in named takes only
 * the options its schema knows, so one options object can serve every built-in.
 */
export function serializerFactory(serializer: SerializerName | SerializerDefinition, options: object = {}): () => EventSerializer {
  const def = typeof serializer === 'string' ? SERIALIZERS[serializer] : serializer;
  if (!def) throw new RangeError(`no serializer named ${String(serializer)}; expected one of ${SERIALIZER_NAMES.join(', ')}`);
  let input: Record<string, unknown> = { ...options };
  if (typeof serializer === 'string' && def.schema instanceof z.ZodObject) {
    input = Object.fromEntries(Object.entries(input).filter(([k, v]) => k in (def.schema as z.ZodObject).shape && v !== undefined));
  }
  const parsed: unknown = parseOptions(def, input);
  return () => def.create(parsed);
}

/** A serializer for one new file. */
export function createSerializer(name: SerializerName | SerializerDefinition, options: SerializerOptions | Record<string, unknown> = {}): EventSerializer {
  return serializerFactory(name, options)();
}

const BY_FLUME_NAME = new Map<string, SerializerName>();
for (const name of SERIALIZER_NAMES) for (const n of [name, ...SERIALIZERS[name].flumeTypes]) BY_FLUME_NAME.set(n.toLowerCase(), name);

/** Flume's serializer names are case-insensitive and may be builder class names; anything else is returned trimmed, for the schema to name. */
export const flumeSerializerName = (value: string): string => BY_FLUME_NAME.get(value.trim().toLowerCase()) ?? value.trim();
