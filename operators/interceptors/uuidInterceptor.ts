import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

// node:crypto loads on first use, not with `import 'rxflume'` (issue #15); looked up once, not per event.
let crypto: typeof import('node:crypto') | undefined;
const randomUUID = (): string => (crypto ??= process.getBuiltinModule('node:crypto')).randomUUID();

export const uuidInterceptorOptions = z.strictObject({
  ...nameOption('uuidInterceptor'),
  headerName: z.string().min(1).default('id').describe('Header set to the UUID.'),
  prefix: z.string().default('').describe('Text put before each UUID.'),
  preserveExisting: z.boolean().default(true).describe('Leave events that already have the header as they are.'),
});

export type UuidInterceptorOptions = z.input<typeof uuidInterceptorOptions>;

export const uuidInterceptorSpec = defineComponent({
  name: 'uuidInterceptor',
  kind: 'interceptor',
  summary: 'Sets a header to a random UUID per event (Flume UUIDInterceptor).',
  flumeTypes: ['org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder'],
  schema: uuidInterceptorOptions,
});

/**
 * Flume's UUID interceptor: sets `headerName` (default `id`) to `prefix` + a random version 4 UUID
 * (`crypto.randomUUID()`), one per event, unless the event already has the header
 * (`preserveExisting`, default true). With that default a redelivered event keeps the id it got the
 * first time, so a downstream store can drop the duplicate. Headers are set in place; nothing is
 * dropped.
 *
 * Delivery: the batch's transaction is passed on unchanged. Errors: none at run time.
 *
 * @example
 * pipe(source, uuidInterceptor({ headerName: 'eventId', prefix: 'web-' }), memoryChannel(), sink);
 */
export const uuidInterceptor = component(uuidInterceptorSpec, function uuidInterceptor(
  options?: UuidInterceptorOptions,
): Interceptor {
  const { name, headerName, prefix, preserveExisting } = parseOptions(uuidInterceptorSpec, options);
  return interceptor(name, (events) => {
    for (const e of events) {
      if (!(preserveExisting && Object.hasOwn(e.headers, headerName))) e.headers[headerName] = prefix + randomUUID();
    }
    return events;
  });
});
