import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

export const staticInterceptorOptions = z.strictObject({
  ...nameOption('staticInterceptor'),
  key: z.string().min(1).default('key').describe('Header name.'),
  value: z.string().default('value').describe('Header value.'),
  preserveExisting: z.boolean().default(true).describe('Leave events that already have the header as they are.'),
});

export type StaticInterceptorOptions = z.input<typeof staticInterceptorOptions>;

export const staticInterceptorSpec = defineComponent({
  name: 'staticInterceptor',
  kind: 'interceptor',
  summary: 'Sets one fixed header on every event (Flume static interceptor).',
  flumeTypes: ['static', 'org.apache.flume.interceptor.StaticInterceptor$Builder'],
  schema: staticInterceptorOptions,
});

/**
 * Flume's static interceptor: sets header `key` to `value` on every event — unless the event already
 * has it, since `preserveExisting` defaults to **true** here, as in Flume. One header per
 * interceptor; chain several for more. Headers are set in place; nothing is dropped.
 *
 * Delivery: the batch's transaction is passed on unchanged. Errors: none at run time.
 *
 * @example
 * pipe(source, staticInterceptor({ key: 'datacenter', value: 'NEW_YORK' }), memoryChannel(), sink);
 */
export const staticInterceptor = component(staticInterceptorSpec, function staticInterceptor(
  options?: StaticInterceptorOptions,
): Interceptor {
  const { name, key, value, preserveExisting } = parseOptions(staticInterceptorSpec, options);
  return interceptor(name, (events) => {
    for (const e of events) {
      if (!(preserveExisting && Object.hasOwn(e.headers, key))) e.headers[key] = value;
    }
    return events;
  });
});
