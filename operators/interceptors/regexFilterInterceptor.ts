import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { interceptor, keepEvents, type Interceptor } from './interceptor.js';
import { javaRegex, javaRegexOption } from '../../lib/text/javaRegex.js';
import { nameOption } from '../../lib/core/options.js';

export const regexFilterInterceptorOptions = z.strictObject({
  ...nameOption('regexFilterInterceptor'),
  regex: javaRegexOption().default('.*').describe('Java regex searched for anywhere in the body (UTF-8 text).'),
  excludeEvents: z.boolean().default(false).describe('Drop the matching events instead of keeping only them.'),
});

export type RegexFilterInterceptorOptions = z.input<typeof regexFilterInterceptorOptions>;

export const regexFilterInterceptorSpec = defineComponent({
  name: 'regexFilterInterceptor',
  kind: 'interceptor',
  summary: 'Keeps (or drops) the events whose body matches a regex (Flume regex_filter interceptor).',
  flumeTypes: ['regex_filter', 'org.apache.flume.interceptor.RegexFilteringInterceptor$Builder'],
  schema: regexFilterInterceptorOptions,
});

/**
 * Flume's regex_filter interceptor: keeps the events whose body, read as UTF-8, contains a match of
 * the Java regex `regex` (Java `find()`: anywhere in the body; anchor with `^…$` for a whole-body
 * match); with `excludeEvents` it drops them instead. The default `.*` matches every body.
 *
 * Delivery: dropped events are settled — counted in `EventDroppedCount`, and a batch left empty is
 * acked at once; the kept events travel in a derived batch settling the upstream one. Errors: an
 * invalid regex is a `ConfigError` naming `regex`; none at run time.
 *
 * @example
 * pipe(source, regexFilterInterceptor({ regex: '^DEBUG\\b', excludeEvents: true }), memoryChannel(), sink);
 */
export const regexFilterInterceptor = component(regexFilterInterceptorSpec, function regexFilterInterceptor(
  options?: RegexFilterInterceptorOptions,
): Interceptor {
  const { name, regex, excludeEvents } = parseOptions(regexFilterInterceptorSpec, options);
  if (regex === '.*' || regex === '') {
    // Matches every body: no need to decode one.
    return interceptor(name, (events) => (excludeEvents ? [] : events));
  }
  const re = javaRegex(regex).regex;
  const keep = !excludeEvents;
  return interceptor(name, (events) => keepEvents(events, (e) => re.test(e.body.toString('utf8')) === keep));
});
