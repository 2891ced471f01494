import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { closest, parseOptions } from '../../../lib/core/config.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

const spec = {
  name: 'demo',
  schema: z.strictObject({
    capacity: z.number().int().min(1).default(10),
    ratio: z.number().max(1).optional(),
    mode: z.enum(['a', 'b']).default('a'),
    path: z.string(),
  }),
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('parseOptions', () => {
  it('applies defaults', () => {
    expect(parseOptions(spec, { path: '/x' })).toEqual({ capacity: 10, mode: 'a', path: '/x' });
  });

  it('names every bad option with path, expected and received', () => {
    const err = configError(() => parseOptions(spec, { capacity: 0, ratio: 2, mode: 'c', capacty: 5 }));
    expect(err.code).toBe('FLUME_CONFIG');
    expect(err.retriable).toBe(false);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i]));
    expect(byPath['demo.capacity']).toMatchObject({ expected: 'integer ≥ 1', received: '0' });
    expect(byPath['demo.ratio']).toMatchObject({ expected: 'number ≤ 1', received: '2' });
    expect(byPath['demo.mode']).toMatchObject({ expected: 'one of "a" | "b"', received: '"c"' });
    expect(byPath['demo.path']).toMatchObject({ expected: 'string', received: 'nothing' });
    expect(byPath['demo.capacty']).toMatchObject({ suggestion: 'capacity', received: '5' });
    expect(err.message).toContain('demo.capacty: expected a known option');
    expect(err.message).toContain('did you mean `capacity`?');
    expect(err.issues).toHaveLength(5);
  });

  it('reports the memory channel example from DESIGN.md verbatim', () => {
    expect(() => memoryChannel({ capacity: 0 })).toThrow('memoryChannel.capacity: expected integer ≥ 1, received 0');
    expect(() => memoryChannel({ capacity: 10, transactionCapacity: 20 })).toThrow(
      'memoryChannel.transactionCapacity: expected integer ≤ capacity (10), received 20',
    );
    expect(() => memoryChannel({ capacity: 1.5 })).toThrow('memoryChannel.capacity: expected integer, received 1.5');
  });

  it('shows numbers that JSON cannot, as they are', () => {
    expect(() => parseOptions(spec, { path: '/x', capacity: Infinity })).toThrow('received Infinity');
    expect(() => parseOptions(spec, { path: '/x', capacity: NaN })).toThrow('received NaN');
  });

  it('suggests only close keys', () => {
    expect(closest('transactioncapacity', ['capacity', 'transactionCapacity'])).toBe('transactionCapacity');
    expect(closest('zzz', ['capacity'])).toBeUndefined();
  });
});
