import { z } from 'zod';
import { defineComponent } from '../../lib/core/config.js';
import { selector, type Route } from './channelSelector.js';

export const loadBalancingOptions = z.strictObject({
  policy: z
    .enum(['round_robin', 'random'])
    .default('round_robin')
    .describe("How each event's channel is picked: in turn, or at random (Flume selector.policy)."),
});

export type LoadBalancingOptions = z.input<typeof loadBalancingOptions>;

export const loadBalancingSpec = defineComponent({
  name: 'loadBalancing',
  kind: 'selector',
  summary: 'Each event to one channel, in turn or at random (Flume 1.10 load_balancing channel selector).',
  flumeTypes: ['load_balancing', 'org.apache.flume.channel.LoadBalancingChannelSelector'],
  schema: loadBalancingOptions,
});

/**
 * Flume's load-balancing channel selector, for `fanOut`: every event goes to exactly one of the
 * source's channels, the next in turn (`round_robin`) or one at random. A source batch is split into
 * one part per channel and acked once every part is stored, so a full channel pushes back on the
 * source as with the other selectors — events are not moved to another channel.
 *
 * @example
 * const { c1, c2 } = fanOut(netcatSource({ ... }), loadBalancing(), ['c1', 'c2']);
 */
export const loadBalancing = selector(loadBalancingSpec, 'load_balancing', (opts, names) => {
  const routes: Route[] = names.map((_, i) => ({ required: [i], optional: [] }));
  const none: Route = { required: [], optional: [] };
  let turn = 0;
  const pick = opts.policy === 'random' ? () => Math.floor(Math.random() * routes.length) : () => turn++ % routes.length;
  return { route: () => routes[pick()] ?? none };
});
