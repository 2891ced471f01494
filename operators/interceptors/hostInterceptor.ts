import os from 'node:os';
import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

export const hostInterceptorOptions = z.strictObject({
  ...nameOption('hostInterceptor'),
  hostHeader: z.string().min(1).default('host').describe('Header set to this host.'),
  useIP: z.boolean().default(true).describe('Use the IPv4 address (true) or the host name (false).'),
  preserveExisting: z.boolean().default(false).describe('Leave events that already have the header as they are.'),
});

export type HostInterceptorOptions = z.input<typeof hostInterceptorOptions>;

export const hostInterceptorSpec = defineComponent({
  name: 'hostInterceptor',
  kind: 'interceptor',
  summary: "Sets a header to this host's IP address or name (Flume host interceptor).",
  flumeTypes: ['host', 'org.apache.flume.interceptor.HostInterceptor$Builder'],
  schema: hostInterceptorOptions,
});

/**
 * Flume's host interceptor: sets `hostHeader` (default `host`) to this machine's address, unless
 * `preserveExisting` and the header is already there. The value is resolved once, when the
 * interceptor is made: with `useIP` (the default) the first non-internal IPv4 address of
 * `os.networkInterfaces()` (127.0.0.1 when there is none), otherwise `os.hostname()` — Flume's
 * `getCanonicalHostName()` would need a reverse DNS look-up, which this does not do. Headers are set
 * in place; nothing is dropped.
 *
 * Delivery: the batch's transaction is passed on unchanged. Errors: none at run time.
 *
 * @example
 * pipe(source, hostInterceptor({ useIP: false, hostHeader: 'hostname' }), memoryChannel(), sink);
 */
export const hostInterceptor = component(hostInterceptorSpec, function hostInterceptor(
  options?: HostInterceptorOptions,
): Interceptor {
  const { name, hostHeader, useIP, preserveExisting } = parseOptions(hostInterceptorSpec, options);
  const host = useIP ? localIPv4() : os.hostname();
  return interceptor(name, (events) => {
    for (const e of events) {
      if (!(preserveExisting && Object.hasOwn(e.headers, hostHeader))) e.headers[hostHeader] = host;
    }
    return events;
  });
});

function localIPv4(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      // Node 18.0–18.3 reported the family as the number 4.
      if ((a.family === 'IPv4' || (a.family as unknown) === 4) && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
