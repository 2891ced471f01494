import { Observable, type OperatorFunction } from 'rxjs';
import { deriveBatch, type Batch } from '../../lib/core/batch.js';
import { ComponentError, FlumeError, toError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';

/**
 * Rewrites the events of one batch, called once per batch (so per-batch work — a clock read, a
 * lookup — is done once). Return `events` itself when the events were changed in place or not at
 * all, or a new array with the kept, replaced or added events; fewer events than given are counted
 * as dropped. Throw to fail the whole batch.
 */
export type Rewrite = (events: readonly FlumeEvent[]) => readonly FlumeEvent[];

/** An interceptor: an operator of batches carrying its `INTERCEPTOR` counters. */
export type Interceptor = OperatorFunction<Batch, Batch> & HasMetrics;

/**
 * The mechanism every interceptor shares: Flume's `Interceptor.intercept(List<Event>)` as an
 * operator of batches, passing the transaction on.
 *
 * ```
 * upstream:  --a---b---c--#      (b: every event dropped; c: rewrite throws)
 * result:    --a'-----------#    (b acked at once, c nacked, the error passes through)
 * ```
 *
 * - A batch whose events come back as the same array is passed on as is; a new array travels in a
 *   derived batch whose ack/nack settles the upstream batch.
 * - A batch whose events were all dropped is acked at once and not emitted: a dropped event is
 *   settled (`EventDroppedCount`).
 * - A throwing rewrite nacks the batch with `FLUME_INTERCEPTOR_FAILED` (`EventFailedCount`) and the
 *   stream goes on. It is not retriable: a rewrite is a function of the events, so redelivering
 *   the same events would fail again and again. A rewrite that knows better throws a `FlumeError`,
 *   whose `retriable` is kept (its `FLUME_INTERCEPTOR_FAILED` errors pass unwrapped).
 * - Empty batches pass through untouched. Errors and completion pass through; unsubscribing
 *   unsubscribes upstream.
 *
 * Events are rewritten in place, as Flume's interceptors do: a batch owns its events, and every
 * header change an interceptor makes is idempotent, so redelivering a nacked batch is safe. Each
 * event needs its own `headers` object (as `event()` gives it). Bodies are never mutated: a new body
 * means a new event object.
 */
export function interceptor(
  name: string,
  rewrite: Rewrite,
  counters: ComponentCounters = new ComponentCounters('INTERCEPTOR', name),
): Interceptor {
  const operator = (upstream: Observable<Batch>): Observable<Batch> =>
    new Observable<Batch>((subscriber) =>
      upstream.subscribe({
        next: (batch) => {
          const events = batch.events;
          const n = events.length;
          if (n === 0) return subscriber.next(batch);
          counters.inc('EventReceivedCount', n);
          let out: readonly FlumeEvent[];
          try {
            out = rewrite(events);
          } catch (error) {
            counters.inc('EventFailedCount', n);
            return batch.nack(interceptorError(name, n, error));
          }
          if (out.length < n) counters.inc('EventDroppedCount', n - out.length);
          if (out.length === 0) batch.ack();
          else subscriber.next(out === events ? batch : deriveBatch(batch, out));
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  return withMetrics(operator, counters);
}

function interceptorError(name: string, n: number, error: unknown): FlumeError {
  if (error instanceof FlumeError && error.code === 'FLUME_INTERCEPTOR_FAILED') return error;
  const cause = toError(error);
  return new ComponentError('FLUME_INTERCEPTOR_FAILED', `${name}: failed on a batch of ${n} events: ${cause.message}`, {
    component: name,
    retriable: error instanceof FlumeError ? error.retriable : false,
    cause,
  });
}

/** The events for which `keep` is true; `events` itself when all are kept, so nothing is copied. */
export function keepEvents(events: readonly FlumeEvent[], keep: (event: FlumeEvent) => boolean): readonly FlumeEvent[] {
  let out: FlumeEvent[] | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (keep(e)) out?.push(e);
    else out ??= events.slice(0, i);
  }
  return out ?? events;
}

/**
 * Each event replaced by what `fn` returns (`null`/`undefined` drops it, as Flume's `intercept(Event)`
 * returning null); `events` itself when `fn` returned every event unchanged.
 */
export function replaceEvents(
  events: readonly FlumeEvent[],
  fn: (event: FlumeEvent) => FlumeEvent | null | undefined,
): readonly FlumeEvent[] {
  let out: FlumeEvent[] | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const r = fn(e);
    if (r === e) out?.push(e);
    else {
      out ??= events.slice(0, i);
      if (r !== null && r !== undefined) out.push(r);
    }
  }
  return out ?? events;
}
