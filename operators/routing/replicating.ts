import { z } from 'zod';
import { parseOptions } from '../../lib/core/config.js';
import type { ConfigIssue } from '../../lib/core/errors.js';
import {
  channelList,
  makeRoute,
  resolveRefs,
  throwIfIssues,
  type ChannelSelector,
  type SelectorSpec,
} from './channelSelector.js';

export const replicatingOptions = z.strictObject({
  optional: channelList
    .default([])
    .describe(
      'Channels written best-effort (names or indexes, or Flume\'s "c2 c3"): their failures never fail nor block the source batch (Flume selector.optional).',
    ),
});

export type ReplicatingOptions = z.input<typeof replicatingOptions>;

export const replicatingSpec: SelectorSpec<typeof replicatingOptions> = {
  name: 'replicating',
  kind: 'selector',
  summary: "Every event to every channel; optional channels are best-effort (Flume's default channel selector).",
  flumeTypes: ['replicating', 'org.apache.flume.channel.ReplicatingChannelSelector'],
  schema: replicatingOptions,
};

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
export const replicating = Object.assign(
  function replicating(options?: ReplicatingOptions): ChannelSelector {
    const opts = parseOptions(replicatingSpec, options);
    return {
      type: 'replicating',
      bind(names) {
        const issues: ConfigIssue[] = [];
        const optional = resolveRefs('replicating.optional', opts.optional, names, issues);
        throwIfIssues('replicating', issues);
        const all = names.map((_, i) => i);
        const route = makeRoute(
          all.filter((i) => !optional.includes(i)),
          optional,
        );
        return { constant: route, route: () => route };
      },
    };
  },
  { spec: replicatingSpec },
);
