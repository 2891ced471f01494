import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { javaRegex, javaRegexOption } from '../../lib/text/javaRegex.js';
import { nameOption } from '../../lib/core/options.js';

export const removeHeaderInterceptorOptions = z.strictObject({
  ...nameOption('removeHeaderInterceptor'),
  withName: z.string().min(1).optional().describe('One header to remove.'),
  fromList: z.string().optional().describe('Headers to remove, separated by `fromListSeparator`.'),
  fromListSeparator: javaRegexOption().default('\\s*,\\s*').describe('Java regex separating the names of `fromList`.'),
  matching: javaRegexOption().optional().describe('Java regex: remove every header whose whole name matches it.'),
});

export type RemoveHeaderInterceptorOptions = z.input<typeof removeHeaderInterceptorOptions>;

export const removeHeaderInterceptorSpec = defineComponent({
  name: 'removeHeaderInterceptor',
  kind: 'interceptor',
  summary: 'Removes headers by name, by list or by a regex over their names (Flume remove_header interceptor).',
  flumeTypes: ['remove_header', 'org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder'],
  schema: removeHeaderInterceptorOptions,
});

/**
 * Flume's remove_header interceptor: removes the header `withName`, every header named in `fromList`
 * (split on the Java regex `fromListSeparator`, default `\s*,\s*`; empty names are ignored), and
 * every header whose whole name matches the Java regex `matching` (Java `Matcher.matches()`). With
 * none of the three set, events pass unchanged. Headers are removed in place; nothing is dropped.
 *
 * Delivery: the batch's transaction is passed on unchanged. Errors: an invalid regex is a
 * `ConfigError` naming the option; none at run time.
 *
 * @example
 * pipe(source, removeHeaderInterceptor({ fromList: 'password, token', matching: 'tmp\\..*' }), memoryChannel(), sink);
 */
export const removeHeaderInterceptor = component(removeHeaderInterceptorSpec, function removeHeaderInterceptor(
  options?: RemoveHeaderInterceptorOptions,
): Interceptor {
  const opts = parseOptions(removeHeaderInterceptorSpec, options);
  const { withName } = opts;
  const list = opts.fromList === undefined ? undefined : new Set(split(opts.fromList, javaRegex(opts.fromListSeparator, { global: true }).regex));
  const matching = opts.matching === undefined ? undefined : javaRegex(opts.matching, { whole: true }).regex;

  const remove = (e: FlumeEvent): void => {
    const headers = e.headers;
    if (withName !== undefined && Object.hasOwn(headers, withName)) delete headers[withName];
    if (list === undefined && matching === undefined) return;
    for (const key of Object.keys(headers)) {
      if (list?.has(key) || matching?.test(key)) delete headers[key];
    }
  };
  return interceptor(opts.name, (events) => {
    for (const e of events) remove(e);
    return events;
  });
});

/** `text` split on every match of the global regex `separator`, without its groups (unlike String.split). */
function split(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let from = 0;
  for (const m of text.matchAll(separator)) {
    if (m[0].length === 0 && (m.index === 0 || m.index === text.length)) continue;
    parts.push(text.slice(from, m.index));
    from = m.index + m[0].length;
  }
  parts.push(text.slice(from));
  return parts.filter((p) => p.length > 0);
}
