/**
 * A Flume file's Kafka sink or source without `header.<flume> = <kafka>` keys copies no header, as
 * Flume 1.11 (test/interop/kafka.test.ts compares it with a real agent): record headers are not written
 * from event headers, nor event headers read from record headers. The library's own default
 * (copyHeaders: true) is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { mapOptions } from '../../../lib/agent/build.js';
import type { ComponentSpec } from '../../../lib/core/config.js';
import { kafkaSinkSpec } from '../../../lib/sinks/kafkaSink.js';
import { kafkaSourceSpec } from '../../../lib/sources/kafkaSource.js';

function mapped(spec: ComponentSpec, props: Record<string, string>): Record<string, unknown> {
  const located = new Map(Object.entries(props).map(([key, value], i) => [key, { key, value, line: i + 1 }]));
  const { options, problems } = mapOptions(spec, located, new Set());
  expect(problems).toEqual([]);
  return spec.schema.parse({ ...options, name: 'x' }) as Record<string, unknown>;
}

describe('headerMapFromFlume: Flume files copy headers only through header.* keys', () => {
  for (const [kind, spec, base] of [
    ['sink', kafkaSinkSpec, { 'kafka.bootstrap.servers': 'b:9092' }],
    ['source', kafkaSourceSpec, { 'kafka.bootstrap.servers': 'b:9092', 'kafka.topics': 't' }],
  ] as const) {
    it(`${kind}: none without them, only the mapped ones with them; the library default still copies`, () => {
      expect(mapped(spec, base)).toMatchObject({ copyHeaders: false });
      expect(mapped(spec, base)['headerMap']).toBeUndefined();
      expect(mapped(spec, { ...base, 'header.a': 'A' })).toMatchObject({ copyHeaders: true, headerMap: { a: 'A' } });
      expect(spec.schema.parse({ ...(kind === 'source' ? { topics: ['t'] } : {}), brokers: ['b:9092'], name: 'x' })).toMatchObject({ copyHeaders: true });
    });
  }
});
