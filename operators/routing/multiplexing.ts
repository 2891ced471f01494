import { z } from 'zod';
import { defineComponent, type FlumeMapped } from '../../lib/core/config.js';
import type { ConfigIssue } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { channelList, makeRoute, resolveRefs, selector, throwIfIssues, type Route } from './channelSelector.js';

const nonEmptyList = channelList.refine((list) => list.length > 0, { message: 'at least one channel' });

export const multiplexingOptions = z.strictObject({
  header: z.string().min(1).default('flume.selector.header').describe('The header whose value picks the channels (Flume selector.header).'),
  mapping: z
    .record(z.string(), nonEmptyList)
    .default({})
    .describe('Header value → required channels (Flume selector.mapping.<value> = c1 c2).'),
  optional: z
    .record(z.string(), channelList)
    .default({})
    .describe('Header value → best-effort channels; a channel also required for that value stays required (Flume selector.optional.<value>).'),
  default: channelList
    .default([])
    .describe('Required channels when the header is missing, blank or unmapped (Flume selector.default); none = such events are dropped.'),
});

export type MultiplexingOptions = z.input<typeof multiplexingOptions>;

export const multiplexingSpec = defineComponent({
  name: 'multiplexing',
  kind: 'selector',
  summary: "Routes each event by a header's value to its channels, with a default and optional channels (Flume multiplexing selector).",
  flumeTypes: ['multiplexing', 'org.apache.flume.channel.MultiplexingChannelSelector'],
  schema: multiplexingOptions,
  fromFlume: valuesFromFlume,
});

/**
 * Flume's `mapping.<value>` / `optional.<value>` keys as the `mapping` / `optional` records' entries,
 * the whole rest of the key being the value (`mapping.v1.2` maps the header value `v1.2`).
 */
function valuesFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const records: Record<string, Record<string, string>> = {};
  const consumed: string[] = [];
  for (const [key, channels] of props) {
    const m = /^(mapping|optional)\.(.+)$/.exec(key);
    if (!m) continue;
    (records[m[1]!] ??= Object.create(null) as Record<string, string>)[m[2]!] = channels;
    consumed.push(key);
  }
  return { options: records, consumed };
}

/**
 * Flume's multiplexing channel selector, for `fanOut`: each event goes to the channels mapped to the
 * value of its `header`; to `default` when the header is missing, blank or has no mapping. With no
 * default such an event goes to no required channel (only to optional ones, if any): it is dropped,
 * as in Flume, and counted by the fan-out as unrouted. `optional[value]` adds best-effort channels.
 * A source batch is split into one part per channel, each part keeping the source order.
 *
 * @example
 * const { us, eu, audit } = fanOut(
 *   source,
 *   multiplexing({ header: 'region', mapping: { us: ['us'], eu: ['eu'] }, optional: { eu: ['audit'] }, default: ['us'] }),
 *   ['us', 'eu', 'audit'],
 * );
 */
export const multiplexing = selector(multiplexingSpec, 'multiplexing', (opts, names) => {
  const issues: ConfigIssue[] = [];
  const defaults = resolveRefs('multiplexing.default', opts.default, names, issues);
  const mapped = new Map<string, number[]>();
  for (const [value, refs] of Object.entries(opts.mapping)) mapped.set(value, resolveRefs(`multiplexing.mapping.${value}`, refs, names, issues));
  const optional = new Map<string, number[]>();
  for (const [value, refs] of Object.entries(opts.optional)) optional.set(value, resolveRefs(`multiplexing.optional.${value}`, refs, names, issues));
  throwIfIssues('multiplexing', issues);

  // One precomputed route per known value: no allocation per event.
  const defaultRoute = makeRoute(defaults, []);
  const routes = new Map<string, Route>();
  for (const value of new Set([...mapped.keys(), ...optional.keys()])) {
    const required = isBlank(value) ? defaults : (mapped.get(value) ?? defaults);
    routes.set(value, makeRoute(required, optional.get(value) ?? []));
  }
  const header = opts.header;
  return {
    route(event: FlumeEvent): Route {
      const headers = event.headers;
      if (!Object.hasOwn(headers, header)) return defaultRoute;
      return routes.get(headers[header]!) ?? defaultRoute;
    },
  };
});

function isBlank(value: string): boolean {
  return value.trim().length === 0;
}
