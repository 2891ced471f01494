import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

export const timestampInterceptorOptions = z.strictObject({
  ...nameOption('timestampInterceptor'),
  header: z.string().min(1).default('timestamp').describe('Header set to the epoch milliseconds (Flume `headerName`).'),
  preserveExisting: z.boolean().default(false).describe('Leave events that already have the header as they are.'),
});

export type TimestampInterceptorOptions = z.input<typeof timestampInterceptorOptions>;

export const timestampInterceptorSpec = defineComponent({
  name: 'timestampInterceptor',
  kind: 'interceptor',
  summary: 'Sets a header to the current time in epoch milliseconds (Flume timestamp interceptor).',
  flumeTypes: ['timestamp', 'org.apache.flume.interceptor.TimestampInterceptor$Builder'],
  schema: timestampInterceptorOptions,
  flumeKeys: { headerName: 'header' },
});

/**
 * Flume's timestamp interceptor: sets `header` (default `timestamp`) to the current epoch
 * milliseconds as a decimal string, unless `preserveExisting` and the header is already there. The
 * clock is read once per batch, through `asyncScheduler` (so virtual time in marble tests): every
 * event of a batch gets the same value. Headers are set in place; nothing is dropped.
 *
 * Delivery: the batch's transaction is passed on unchanged. Errors: none at run time.
 *
 * @example
 * pipe(source, timestampInterceptor({ header: 'ts', preserveExisting: true }), memoryChannel(), sink);
 */
export const timestampInterceptor = component(timestampInterceptorSpec, function timestampInterceptor(
  options?: TimestampInterceptorOptions,
): Interceptor {
  const { name, header, preserveExisting } = parseOptions(timestampInterceptorSpec, options);
  return interceptor(name, (events) => {
    const now = String(asyncScheduler.now());
    for (const e of events) {
      if (!(preserveExisting && Object.hasOwn(e.headers, header))) e.headers[header] = now;
    }
    return events;
  });
});
