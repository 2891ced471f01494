import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { interceptor, replaceEvents, type Interceptor } from './interceptor.js';
import { javaRegex, javaRegexOption, type JavaRegex } from '../../lib/text/javaRegex.js';
import { nameOption } from '../../lib/core/options.js';

/** Java charset names (any case, as Flume takes them) and Node's names for the same encodings. */
const CHARSETS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'utf-16le': 'utf16le',
  utf16le: 'utf16le',
  'iso-8859-1': 'latin1',
  'iso8859_1': 'latin1',
  latin1: 'latin1',
  'us-ascii': 'ascii',
  ascii: 'ascii',
};

export const searchReplaceInterceptorOptions = z
  .strictObject({
    ...nameOption('searchReplaceInterceptor'),
    searchPattern: javaRegexOption().min(1).describe('Java regex searched for in the body, every match replaced.'),
    replaceString: z
      .string()
      .default('')
      .describe('Replacement, as Java `Matcher.replaceAll`: `$1`/`${name}` insert groups, `\\$` and `\\\\` are literal.'),
    charset: z
      .string()
      .default('UTF-8')
      .describe('Body encoding: UTF-8, UTF-16LE, ISO-8859-1 or US-ASCII (Java or Node names).')
      .check((ctx) => {
        if (CHARSETS[ctx.value.toLowerCase()] === undefined) {
          ctx.issues.push({ code: 'custom', message: 'one of UTF-8, UTF-16LE, ISO-8859-1, US-ASCII', input: ctx.value });
        }
      }),
  })
  .check((ctx) => {
    const { searchPattern, replaceString } = ctx.value;
    let search: JavaRegex;
    try {
      search = javaRegex(searchPattern);
    } catch {
      return; // searchPattern's own check names the problem
    }
    try {
      parseReplacement(replaceString, search);
    } catch (error) {
      ctx.issues.push({
        code: 'custom',
        path: ['replaceString'],
        message: `a valid replacement for the search pattern (${(error as Error).message})`,
        input: replaceString,
      });
    }
  });

export type SearchReplaceInterceptorOptions = z.input<typeof searchReplaceInterceptorOptions>;

export const searchReplaceInterceptorSpec = defineComponent({
  name: 'searchReplaceInterceptor',
  kind: 'interceptor',
  summary: 'Replaces every match of a regex in the body (Flume search_replace interceptor).',
  flumeTypes: ['search_replace', 'org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder'],
  schema: searchReplaceInterceptorOptions,
});

/**
 * Flume's search_replace interceptor: decodes the body with `charset`, replaces every match of the
 * Java regex `searchPattern` with `replaceString` (Java `Matcher.replaceAll`: `$n` and `${name}` insert
 * groups, `\x` is a literal x — unlike JavaScript, where `$$` would be), and encodes it back. A body
 * without a match keeps its exact bytes; a rewritten one becomes a new event (same headers object),
 * never a mutated Buffer. Group references are checked against the pattern when the interceptor is
 * made, not on the first event as in Java.
 *
 * Delivery: a batch with rewritten bodies travels as a derived batch settling the upstream one.
 * Errors: invalid pattern, replacement or charset are a `ConfigError` naming the option; none at run time.
 *
 * @example
 * // "2024-05-01 INFO: started" → "2024-05-01 [INFO] started"
 * pipe(source, searchReplaceInterceptor({ searchPattern: '(\\w+): ', replaceString: '[$1] ' }), memoryChannel(), sink);
 */
export const searchReplaceInterceptor = component(searchReplaceInterceptorSpec, function searchReplaceInterceptor(
  options?: SearchReplaceInterceptorOptions,
): Interceptor {
  const opts = parseOptions(searchReplaceInterceptorSpec, options);
  const encoding = CHARSETS[opts.charset.toLowerCase()]!;
  const search = javaRegex(opts.searchPattern, { global: true });
  const parts = parseReplacement(opts.replaceString, search);
  const rewrite = (e: FlumeEvent): FlumeEvent => {
    const before = e.body.toString(encoding);
    const after = replaceAll(before, search, parts);
    return after === undefined ? e : { headers: e.headers, body: Buffer.from(after, encoding) };
  };
  return interceptor(opts.name, (events) => replaceEvents(events, rewrite));
});

type ReplacementPart = string | number;

/**
 * Java's `Matcher.replaceAll`: every `find()` from the end of the previous match (one UTF-16 unit
 * further after an empty match), each replaced by `parts`; undefined when nothing matched. Unlike
 * Java, an empty match never splits a surrogate pair.
 */
export function replaceAll(text: string, search: JavaRegex, parts: readonly ReplacementPart[]): string | undefined {
  const re = search.regex;
  let out = '';
  let last = 0;
  let from = 0;
  let matched = false;
  while (from <= text.length) {
    re.lastIndex = from;
    const m = re.exec(text);
    if (m === null) break;
    if (m.index < from || (m[0] === '' && isLowSurrogate(text, m.index))) {
      // An empty match inside a surrogate pair: Java matches there and splits the pair (each half
      // written as '?'); JavaScript steps back to the pair's start. Neither: go on after the pair.
      from = Math.max(from, m.index) + 1;
      continue;
    }
    matched = true;
    const end = m.index + m[0].length;
    out += text.slice(last, m.index);
    for (const part of parts) out += typeof part === 'string' ? part : (search.group(m, part) ?? '');
    last = end;
    from = end === m.index ? end + 1 : end;
  }
  return matched ? out + text.slice(last) : undefined;
}

/**
 * Java's `Matcher.appendReplacement` syntax: `\x` is the literal x, `$n` a group (digits are taken
 * while they still name an existing group), `${name}` a named group. Throws on what Java rejects.
 */
export function parseReplacement(replacement: string, search: JavaRegex): ReplacementPart[] {
  const count = search.groupCount;
  const parts: ReplacementPart[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal) parts.push(literal);
    literal = '';
  };
  for (let i = 0; i < replacement.length; ) {
    const c = replacement[i]!;
    if (c === '\\') {
      if (i + 1 >= replacement.length) throw new Error('character to be escaped is missing');
      literal += replacement[i + 1];
      i += 2;
    } else if (c === '$') {
      i++;
      if (i >= replacement.length) throw new Error('illegal group reference: group index is missing');
      if (replacement[i] === '{') {
        const end = replacement.indexOf('}', i);
        if (end < 0) throw new Error("named capturing group is missing trailing '}'");
        const name = replacement.slice(i + 1, end);
        const n = search.groupNames.get(name);
        if (n === undefined) throw new Error(`no group with name {${name}}`);
        flush();
        parts.push(n);
        i = end + 1;
        continue;
      }
      let ref = digit(replacement[i]);
      if (ref < 0) throw new Error(`illegal group reference $${replacement[i]}`);
      i++;
      for (let d = digit(replacement[i]); d >= 0 && ref * 10 + d <= count; d = digit(replacement[i])) {
        ref = ref * 10 + d;
        i++;
      }
      if (ref > count) throw new Error(`no group ${ref}`);
      flush();
      parts.push(ref);
    } else {
      literal += c;
      i++;
    }
  }
  flush();
  return parts;
}

function isLowSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  const before = text.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && before >= 0xd800 && before <= 0xdbff;
}

function digit(c: string | undefined): number {
  return c !== undefined && c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : -1;
}
