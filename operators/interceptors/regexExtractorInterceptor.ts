import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { ComponentError } from '../../lib/core/errors.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { jodaDateParser } from './jodaDateParser.js';
import { javaRegex, javaRegexOption } from '../../lib/text/javaRegex.js';
import { nameOption } from '../../lib/core/options.js';

const MILLIS_CLASS = 'org.apache.flume.interceptor.regexextractorinterceptormillisserializer';
const DEFAULT_CLASS = 'org.apache.flume.interceptor.regexextractorinterceptorpassthroughserializer';

export const regexExtractorSerializer = z
  .strictObject({
    name: z.string().min(1).describe('Header set to this group.'),
    type: z
      .string()
      .default('default')
      .describe("'default' (the group's text) or 'millis' (a date parsed with `pattern`, as epoch ms); Flume's class names too.")
      .transform((value, ctx): 'default' | 'millis' => {
        const v = value.toLowerCase();
        if (v === 'default' || v === DEFAULT_CLASS) return 'default';
        if (v === 'millis' || v === MILLIS_CLASS) return 'millis';
        ctx.issues.push({ code: 'custom', message: `"default" or "millis"`, input: value });
        return z.NEVER;
      }),
    pattern: z.string().min(1).optional().describe("Joda date pattern of the 'millis' serializer, e.g. yyyy-MM-dd HH:mm:ss.SSS."),
  })
  .check((ctx) => {
    const { type, pattern } = ctx.value;
    if (type !== 'millis') return;
    if (pattern === undefined) {
      ctx.issues.push({ code: 'custom', path: ['pattern'], message: "a Joda date pattern for the 'millis' serializer", input: pattern });
      return;
    }
    try {
      jodaDateParser(pattern);
    } catch (error) {
      ctx.issues.push({ code: 'custom', path: ['pattern'], message: `a supported date pattern (${(error as Error).message})`, input: pattern });
    }
  });

export const regexExtractorInterceptorOptions = z.strictObject({
  ...nameOption('regexExtractorInterceptor'),
  regex: javaRegexOption().min(1).describe('Java regex searched for in the body (UTF-8 text); its groups feed the serializers.'),
  serializers: z
    .array(regexExtractorSerializer)
    .min(1)
    .describe('One per group, in group order (Flume `serializers` and `serializers.<s>.name|type|pattern`).'),
});

export type RegexExtractorInterceptorOptions = z.input<typeof regexExtractorInterceptorOptions>;

export const regexExtractorInterceptorSpec = defineComponent({
  name: 'regexExtractorInterceptor',
  kind: 'interceptor',
  summary: 'Sets headers from the groups of a regex matched in the body (Flume regex_extractor interceptor).',
  flumeTypes: ['regex_extractor', 'org.apache.flume.interceptor.RegexExtractorInterceptor$Builder'],
  schema: regexExtractorInterceptorOptions,
  // Flume: `serializers = s1 s2`, then `serializers.s1.name|type|pattern` per serializer.
  fromFlume: (props) => {
    const names = (props.get('serializers') ?? '').split(/\s+/).filter(Boolean);
    const consumed = ['serializers'];
    const serializers = names.map((s) => {
      const entry: Record<string, string> = {};
      for (const field of ['name', 'type', 'pattern']) {
        const value = props.get(`serializers.${s}.${field}`);
        if (value !== undefined) {
          entry[field] = field === 'type' && value.toLowerCase() === 'default' ? 'default' : value;
          consumed.push(`serializers.${s}.${field}`);
        }
      }
      return entry;
    });
    return { options: names.length ? { serializers } : {}, consumed };
  },
});

/**
 * Flume's regex_extractor interceptor: finds the first match of the Java regex `regex` in the body
 * (read as UTF-8) and sets one header per group: group n goes through `serializers[n-1]` into the
 * header it names. The `default` serializer copies the group's text; `millis` parses it with the Joda
 * date pattern `pattern` (see `jodaDateParser`) into epoch milliseconds. Groups past the last
 * serializer are ignored, as are serializers past the last group (Flume accepts both). A group that
 * did not take part in the match (an optional group) is null in Java, and Flume stores that null as
 * the header's value: rxflume removes the header instead (a header value is a string), so an earlier
 * value is gone in both. A body without a match is left as it is. Headers are set in place; nothing
 * is dropped. The regex is translated from Java's dialect by `javaRegex` (lib/text/javaRegex.ts).
 *
 * Delivery: the batch's transaction is passed on. Errors: an invalid regex, an unsupported date
 * pattern or a `millis` serializer without one is a `ConfigError`. A group text the date pattern
 * cannot parse fails the batch, as in Flume: it is nacked with a non-retriable
 * `FLUME_INTERCEPTOR_FAILED` naming the header, the text and the pattern.
 *
 * @example
 * // "2024-05-01 12:00:00 ERROR disk full" → headers ts=<epoch ms>, level=ERROR
 * pipe(
 *   source,
 *   regexExtractorInterceptor({
 *     regex: '^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d) (\\w+)',
 *     serializers: [{ name: 'ts', type: 'millis', pattern: 'yyyy-MM-dd HH:mm:ss' }, { name: 'level' }],
 *   }),
 *   memoryChannel(),
 *   sink,
 * );
 */
export const regexExtractorInterceptor = component(regexExtractorInterceptorSpec, function regexExtractorInterceptor(
  options?: RegexExtractorInterceptorOptions,
): Interceptor {
  const opts = parseOptions(regexExtractorInterceptorSpec, options);
  const java = javaRegex(opts.regex);
  const re = java.regex;
  const serializers = opts.serializers.slice(0, java.groupCount).map(({ name: header, type, pattern }) => {
    if (type === 'default') return { header, serialize: (s: string) => s };
    const parse = jodaDateParser(pattern!);
    return {
      header,
      serialize: (s: string): string => {
        try {
          return String(parse(s));
        } catch (error) {
          throw new ComponentError('FLUME_INTERCEPTOR_FAILED', `${opts.name}: header ${JSON.stringify(header)}: ${(error as Error).message}`, {
            component: opts.name,
            retriable: false,
            cause: error,
          });
        }
      },
    };
  });

  return interceptor(opts.name, (events) => {
    if (serializers.length === 0) return events;
    for (const e of events) {
      const m = re.exec(e.body.toString('utf8'));
      if (m === null) continue;
      for (let g = 0; g < serializers.length; g++) {
        const { header, serialize } = serializers[g]!;
        const value = java.group(m, g + 1);
        // Java's group() is null for a group that did not take part, and Flume puts that null in the
        // header map, replacing any earlier value: a string map can only drop the header.
        if (value === undefined) delete e.headers[header];
        else e.headers[header] = serialize(value);
      }
    }
    return events;
  });
});
