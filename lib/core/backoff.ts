import { z } from 'zod';
import type { FlumeKeyMapping } from './config.js';

/**
 * Flume's back-off, once. Flume waits `min(n × backoffSleepIncrement, maxBackoffSleep)` after the n-th
 * consecutive empty poll, failed poll or rolled-back batch (PollableSourceRunner, SinkRunner: 1 s
 * steps up to 5 s); reconnecting clients and sink groups double instead, `min(base × 2^(n-1), max)`.
 * Components keep a `Backoff` per thing that fails and call `next()` on a failure, `reset()` on success.
 */
export interface BackoffPolicy {
  readonly kind: 'linear' | 'exponential';
  readonly stepMs: number;
  readonly maxMs: number;
}

/** The wait after the n-th consecutive failure (n ≥ 1). */
export function backoffDelay(policy: BackoffPolicy, n: number): number {
  if (n <= 0) return 0;
  const raw = policy.kind === 'linear' ? n * policy.stepMs : policy.stepMs * 2 ** Math.min(n - 1, 40);
  return Math.min(raw, policy.maxMs);
}

export class Backoff {
  private failures = 0;

  constructor(readonly policy: BackoffPolicy) {}

  /** Counts a failure and returns how long to wait before the next attempt. */
  next(): number {
    this.failures++;
    return backoffDelay(this.policy, this.failures);
  }

  reset(): void {
    this.failures = 0;
  }

  /** Consecutive failures so far. */
  get attempts(): number {
    return this.failures;
  }
}

export const linear = (stepMs: number, maxMs: number): BackoffPolicy => ({ kind: 'linear', stepMs, maxMs });
export const exponential = (baseMs: number, maxMs: number): BackoffPolicy => ({ kind: 'exponential', stepMs: baseMs, maxMs });

/**
 * The options of Flume's linear back-off, spread into a schema: sources back off after an empty poll or
 * a nack, channels before offering a rolled-back batch again (as Flume's SinkRunner). `what` completes
 * the sentence "Back-off step after …".
 */
export function backoffOptions(what: string, defaults: { stepMs?: number; maxMs?: number } = {}) {
  return {
    backoffSleepIncrementMs: z
      .number()
      .int()
      .min(0)
      .default(defaults.stepMs ?? 1000)
      .describe(`Back-off step after ${what}: the wait is min(n × this, maxBackoffSleepMs) after the n-th in a row (Flume backoffSleepIncrement).`),
    maxBackoffSleepMs: z
      .number()
      .int()
      .min(0)
      .default(defaults.maxMs ?? 5000)
      .describe('Longest back-off (Flume maxBackoffSleep).'),
  };
}

/** Flume's keys for `backoffOptions`, for a spec's flumeKeys. */
export const backoffFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = {
  backoffSleepIncrement: 'backoffSleepIncrementMs',
  maxBackoffSleep: 'maxBackoffSleepMs',
};

/** The linear policy of options declared with `backoffOptions`. */
export const backoffOf = (o: { backoffSleepIncrementMs: number; maxBackoffSleepMs: number }): BackoffPolicy => linear(o.backoffSleepIncrementMs, o.maxBackoffSleepMs);
