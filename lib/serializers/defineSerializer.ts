/**
 * The definer of event serializers — the built-in ones (TEXT, HEADER_AND_TEXT, avro_event) and a
 * module's, which a configuration names where Flume takes a `$Builder` class
 * (`a1.sinks.k1.sink.serializer = ./plugins/csv.js`). Its options (Flume `serializer.*`) are declared
 * once in its zod schema, as a component's are.
 */
import type { z } from 'zod';
import type { FlumeEvent } from '../core/event.js';

export interface EventSerializer {
  /** What opens a file: the Avro container header, or nothing. */
  readonly header: Buffer;
  /** The bytes `events` add to the file, as complete units. Throws when an event cannot be written (a header that is not a string, for Avro). */
  serialize(events: readonly FlumeEvent[]): Buffer;
  /** Throws, saying why, when `serialize` would throw on this event (so a batch can be refused before any of it is written). */
  check?(event: FlumeEvent): void;
}

export interface SerializerSpec<S extends z.ZodType = z.ZodType> {
  /** Its name in messages and in `rxflume validate`. */
  name: string;
  /** Flume's names for it (short names, `$Builder` class names), matched case-insensitively; a module's needs none. */
  flumeTypes?: readonly string[];
  /** Its options: Flume's `serializer.*` properties, validated (and coerced from text) by this schema. */
  schema: S;
  /** A serializer for one new file, from validated options. Called once per file: keep state per file in what it returns. */
  create: (options: z.output<S>) => EventSerializer;
}

/** A serializer definition, as `defineSerializer` returns it. */
export interface SerializerDefinition<S extends z.ZodType = z.ZodType> extends SerializerSpec<S> {
  readonly kind: 'serializer';
  readonly flumeTypes: readonly string[];
}

/** Declares a serializer: what the file sinks (file_roll, hdfs) accept as their `serializer`. */
export function defineSerializer<S extends z.ZodType>(spec: SerializerSpec<S>): SerializerDefinition<S> {
  return Object.freeze({ ...spec, kind: 'serializer' as const, flumeTypes: spec.flumeTypes ?? [] });
}

/** Whether `value` has the shape `defineSerializer` gives (a module's export is checked by shape, not origin). */
export function isSerializerDefinition(value: unknown): value is SerializerDefinition {
  const v = value as Partial<SerializerDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'serializer' &&
    typeof v.name === 'string' &&
    typeof v.create === 'function' &&
    typeof (v.schema as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}
