import { z } from 'zod';
import { component, defineComponent, describeValue, parseOptions } from '../../lib/core/config.js';
import { ConfigError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { interceptor, keepEvents, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

export const filterEventsOptions = z.strictObject({
  ...nameOption('filterEvents'),
});

export type FilterEventsOptions = z.input<typeof filterEventsOptions>;

export const filterEventsSpec = defineComponent({
  name: 'filterEvents',
  kind: 'interceptor',
  summary: 'A custom interceptor keeping the events a predicate accepts; the others are dropped (acked, counted).',
  flumeTypes: [],
  schema: filterEventsOptions,
});

/**
 * A custom interceptor keeping the events for which `keep` returns true. Dropped events are settled
 * and counted (`EventDroppedCount`); a batch left empty is acked at once and not passed on. When
 * `keep` throws, the whole batch is nacked with a non-retriable `FLUME_INTERCEPTOR_FAILED`.
 *
 * @example
 * pipe(source, filterEvents((e) => e.headers['level'] !== 'DEBUG', { name: 'noDebug' }), memoryChannel(), sink);
 */
export const filterEvents = component(filterEventsSpec, function filterEvents(
  keep: (event: FlumeEvent) => boolean,
  options?: FilterEventsOptions,
): Interceptor {
  const opts = parseOptions(filterEventsSpec, options);
  if (typeof keep !== 'function') {
    throw new ConfigError([{ path: `${opts.name}.keep`, expected: 'a function', received: describeValue(keep) }], { component: opts.name });
  }
  return interceptor(opts.name, (events) => keepEvents(events, keep));
});
