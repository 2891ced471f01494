import { z } from 'zod';
import { defineComponent } from '../../lib/core/config.js';
import type { ConfigIssue } from '../../lib/core/errors.js';
import { channelList, makeRoute, resolveRefs, selector, throwIfIssues } from './channelSelector.js';

export const replicatingOptions = z.strictObject({
  optional: channelList
    .default([])
    .describe(
      'Channels written best-effort (names or indexes, or Flume\'s "c2 c3"): their failures never fail nor block the source batch (Flume selector.optional).',
    ),
});

export type ReplicatingOptions = z.input<typeof replicatingOptions>;

export const replicatingSpec = defineComponent({
  name: 'replicating',
  kind: 'selector',
  summary: "Every event to every channel; optional channels are best-effort (Flume's default channel selector).",
  flumeTypes: ['replicating', 'org.apache.flume.channel.ReplicatingChannelSelector'],
  schema: replicatingOptions,
});

/**
 * Flume's replicating channel selector, for `fanOut`: every event of a source batch goes to every
 * channel. The source batch is acked once every channel not listed in `optional` has stored its copy;
 * optional channels get theirs after that and never block nor fail the source (see `fanOut`).
 *
 * @example
 * const { c1, c2 } = fanOut(taildirSource({ ... }), replicating({ optional: ['c2'] }), ['c1', 'c2']);
 * pipe(c1, memoryChannel({ name: 'c1' }), kafkaSink({ ... }));
 * pipe(c2, memoryChannel({ name: 'c2' }), fileRollSink({ directory: '/var/log/copy' }));
 */
export const replicating = selector(replicatingSpec, 'replicating', (opts, names) => {
  const issues: ConfigIssue[] = [];
  const optional = resolveRefs('replicating.optional', opts.optional, names, issues);
  throwIfIssues('replicating', issues);
  const route = makeRoute(
    names.map((_, i) => i).filter((i) => !optional.includes(i)),
    optional,
  );
  return { constant: route, route: () => route };
});
