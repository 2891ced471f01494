/**
 * Serializers made with defineSerializer: the built-ins are, a custom one is made and validated the
 * same way, and the file sinks' `serializer` option takes either.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { event } from '../../../lib/core/event.js';
import { ConfigError } from '../../../lib/core/errors.js';
import {
  createSerializer,
  defineSerializer,
  isSerializerDefinition,
  serializerFactory,
  serializerOption,
  SERIALIZERS,
} from '../../../lib/serializers/eventSerializer.js';

/** A serializer writing `<prefix><body>\n`, opening each file with a count of the files it opened so far. */
function counting() {
  let files = 0;
  const def = defineSerializer({
    name: 'prefixed',
    schema: z.strictObject({ prefix: z.string().min(1), upper: z.boolean().default(false) }),
    create: ({ prefix, upper }) => {
      files++;
      return {
        header: Buffer.from(`# file ${files}\n`),
        serialize: (events) => Buffer.from(events.map((e) => `${prefix}${upper ? e.body.toString().toUpperCase() : e.body.toString()}\n`).join('')),
      };
    },
  });
  return def;
}

describe('defineSerializer', () => {
  it('makes the built-ins, known by their Flume names', () => {
    expect(Object.values(SERIALIZERS).every(isSerializerDefinition)).toBe(true);
    expect(SERIALIZERS.TEXT.flumeTypes).toContain('org.apache.flume.serialization.BodyTextEventSerializer$Builder');
    expect(isSerializerDefinition({ kind: 'serializer', name: 'x', create: () => undefined })).toBe(false);
    expect(isSerializerDefinition(counting())).toBe(true);
  });

  it('validates options once, then makes a serializer per file from them', () => {
    const make = serializerFactory(counting(), { prefix: '> ', upper: true });
    const [a, b] = [make(), make()];
    expect(a.header.toString()).toBe('# file 1\n');
    expect(b.header.toString()).toBe('# file 2\n');
    expect(a.serialize([event('x'), event('y')]).toString()).toBe('> X\n> Y\n');
  });

  it("refuses bad options with a ConfigError naming the option, the value and what the serializer's schema expects", () => {
    expect(() => serializerFactory(counting(), { prefix: '' })).toThrow(ConfigError);
    expect(() => serializerFactory(counting(), { prefix: '' })).toThrow(/prefixed\.prefix: expected length of ≥ 1, received ""/);
    expect(() => serializerFactory(counting(), { prefix: '>', uper: true })).toThrow(/prefixed\.uper: expected a known option \(prefix, upper\)/);
    // A built-in named takes only its own options from a shared set (file_roll's and hdfs's).
    expect(createSerializer('TEXT', { appendNewline: false, syncIntervalBytes: 64 }).serialize([event('a')]).toString()).toBe('a');
    expect(() => createSerializer('avro_event', { syncIntervalBytes: 8 })).toThrow(/avro_event\.syncIntervalBytes: expected integer ≥ 32, received 8/);
  });

  it("is what a file sink's serializer option takes, beside the built-ins' names", () => {
    const schema = z.strictObject(serializerOption('format'));
    expect(schema.parse({}).serializer).toBe('TEXT');
    expect(schema.parse({ serializer: 'avro_event' }).serializer).toBe('avro_event');
    const custom = counting();
    expect(schema.parse({ serializer: custom, serializerOptions: { prefix: '>' } }).serializer).toBe(custom);
    expect(schema.safeParse({ serializer: 'text' }).error?.issues[0]?.message).toBe('one of "TEXT" | "HEADER_AND_TEXT" | "avro_event"');
  });
});
