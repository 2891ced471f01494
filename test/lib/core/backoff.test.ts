import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, backoffOf, backoffOptions, exponential, linear } from '../../../lib/core/backoff.js';
import { z } from 'zod';

describe('back-off', () => {
  it("linear is Flume's min(n × step, max)", () => {
    expect([1, 2, 3, 5, 6, 100].map((n) => backoffDelay(linear(1000, 5000), n))).toEqual([1000, 2000, 3000, 5000, 5000, 5000]);
    expect(backoffDelay(linear(1000, 5000), 0)).toBe(0);
  });

  it('exponential doubles from the base up to the max, without overflowing', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(exponential(1000, 10_000), n))).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(backoffDelay(exponential(1000, 30_000), 5000)).toBe(30_000);
  });

  it('a Backoff counts consecutive failures until reset', () => {
    const b = new Backoff(linear(100, 250));
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 250]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it("backoffOptions declare Flume's names and defaults once", () => {
    const schema = z.strictObject(backoffOptions('a nack'));
    const o = schema.parse({});
    expect(o).toEqual({ backoffSleepIncrementMs: 1000, maxBackoffSleepMs: 5000 });
    expect(backoffOf(o)).toEqual(linear(1000, 5000));
    expect(schema.shape.backoffSleepIncrementMs.description).toMatch(/^Back-off step after a nack: .*Flume backoffSleepIncrement/);
  });
});
