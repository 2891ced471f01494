import { asyncScheduler } from 'rxjs';
import { backoffDelay, exponential } from './backoff.js';

/**
 * Flume's OrderSelector (flume-ng-sdk util), once: the order in which a load-balancing sink group
 * (loadBalanceSink) or the load-balancing RPC client (lib/client) tries its members, and the back-off
 * of a member that failed. Timing follows the RxJS asyncScheduler clock.
 */
export interface OrderSelectorOptions {
  /** `round_robin` starts one member further each time, `random` shuffles them. */
  selector: 'round_robin' | 'random';
  /** Leave a failed member out for min(maxTimeOutMs, 2^n s) after n consecutive failures. */
  backoff: boolean;
  maxTimeOutMs: number;
}

interface FailureState {
  sequentialFails: number;
  lastFail: number;
  restoreAt: number;
}

// min(maxTimeOut, 1 s × 2^n) after n consecutive failures, n at most 16.
const EXP_BACKOFF_COUNTER_LIMIT = 16;
// CONSIDER_SEQUENTIAL_RANGE: a failure within an hour (plus the last back-off) of the previous one
// escalates the back-off, whatever succeeded in between.
const CONSIDER_SEQUENTIAL_RANGE_MS = 3_600_000;
const FIRST_BACKOFF_MS = 2000;

export class OrderSelector<T> {
  private readonly states: Map<T, FailureState>;
  private readonly policy;
  private nextHead = 0;

  constructor(
    readonly members: readonly T[],
    private readonly opts: OrderSelectorOptions,
  ) {
    this.states = new Map(members.map((m) => [m, { sequentialFails: 0, lastFail: -Infinity, restoreAt: -Infinity }]));
    this.policy = exponential(FIRST_BACKOFF_MS, opts.maxTimeOutMs);
  }

  /** The members to try, in order, leaving out those backed off. */
  order(): T[] {
    const now = asyncScheduler.now();
    const active = this.opts.backoff ? this.members.filter((m) => this.states.get(m)!.restoreAt <= now) : this.members.slice();
    const size = active.length;
    if (size === 0) return active;
    if (this.opts.selector === 'random') {
      for (let i = size - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [active[i], active[j]] = [active[j]!, active[i]!];
      }
      return active;
    }
    // RoundRobinOrderSelector: the head advances by one per call over the active members.
    if (this.nextHead >= size) this.nextHead = 0;
    const begin = this.nextHead++;
    if (this.nextHead === size) this.nextHead = 0;
    return active.map((_, i) => active[(begin + i) % size]!);
  }

  /** A member failed: with back-off, it is left out until now + min(maxTimeOutMs, 2^n s). */
  informFailure(member: T): void {
    if (!this.opts.backoff) return;
    const s = this.states.get(member);
    if (!s) return;
    const now = asyncScheduler.now();
    // A failure within the last back-off + 1 h is consecutive (a first failure never is: lastFail is -∞).
    if (backoffDelay(this.policy, s.sequentialFails) + CONSIDER_SEQUENTIAL_RANGE_MS > now - s.lastFail) {
      if (s.sequentialFails < EXP_BACKOFF_COUNTER_LIMIT) s.sequentialFails++;
    } else {
      s.sequentialFails = 1;
    }
    s.lastFail = now;
    s.restoreAt = now + backoffDelay(this.policy, s.sequentialFails);
  }
}
