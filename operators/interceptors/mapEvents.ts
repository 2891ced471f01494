import { z } from 'zod';
import { component, defineComponent, describeValue, parseOptions } from '../../lib/core/config.js';
import { ConfigError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { interceptor, replaceEvents, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

export const mapEventsOptions = z.strictObject({
  ...nameOption('mapEvents'),
});

export type MapEventsOptions = z.input<typeof mapEventsOptions>;

export const mapEventsSpec = defineComponent({
  name: 'mapEvents',
  kind: 'interceptor',
  summary: 'A custom interceptor from a function of one event: rewrite it, replace it, or drop it (null).',
  flumeTypes: [],
  schema: mapEventsOptions,
});

/**
 * A custom interceptor from `fn`, Flume's `Interceptor.intercept(Event)`: it may change the event in
 * place and return it, return another event, or return `null`/`undefined` to drop it. Dropped events
 * are settled: a batch left empty is acked at once. When `fn` throws, the whole batch is nacked with
 * a non-retriable `FLUME_INTERCEPTOR_FAILED` (throw a retriable `FlumeError` for a transient failure).
 * Never mutate `event.body` in place: return a new event with a new body.
 *
 * Counters: `EventReceivedCount`, `EventDroppedCount`, `EventFailedCount`. For per-batch work, use
 * `interceptor(name, rewrite)`.
 *
 * @example
 * pipe(
 *   source,
 *   mapEvents((e) => (text(e).startsWith('#') ? null : event(text(e).toUpperCase(), e.headers)), { name: 'upper' }),
 *   memoryChannel(),
 *   sink,
 * );
 */
export const mapEvents = component(mapEventsSpec, function mapEvents(
  fn: (event: FlumeEvent) => FlumeEvent | null | undefined,
  options?: MapEventsOptions,
): Interceptor {
  const opts = parseOptions(mapEventsSpec, options);
  if (typeof fn !== 'function') {
    throw new ConfigError([{ path: `${opts.name}.fn`, expected: 'a function', received: describeValue(fn) }], { component: opts.name });
  }
  return interceptor(opts.name, (events) => replaceEvents(events, fn));
});
