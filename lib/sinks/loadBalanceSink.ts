import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { OrderSelector } from '../core/orderSelector.js';
import type { Sink } from '../core/sink.js';
import { createGroup, memberList, type GroupMember, type SinkMembers } from './sinkGroup.js';

const lowerCase = (value: string): string => value.trim().toLowerCase();
const javaBoolean = (value: string): boolean => value.trim().toLowerCase() === 'true';

export const loadBalanceSinkOptions = z.strictObject({
  ...nameOption('loadBalanceSink'),
  selector: z
    .enum(['round_robin', 'random'])
    .default('round_robin')
    .describe('Order in which members are tried for each batch (Flume processor.selector).'),
  backoff: z
    .boolean()
    .default(false)
    .describe('Leave a failed member out for min(maxTimeOutMs, 2^n s) after n consecutive failures (Flume processor.backoff).'),
  maxTimeOutMs: z.number().int().min(0).default(30_000).describe('Longest back-off of a failed member (Flume processor.selector.maxTimeOut).'),
});

export type LoadBalanceSinkOptions = z.input<typeof loadBalanceSinkOptions>;

export const loadBalanceSinkSpec = defineComponent({
  name: 'loadBalanceSink',
  kind: 'sinkProcessor',
  summary: 'Sink group: spreads batches over its sinks (round robin or random), trying the next on failure, with optional back-off (Flume load_balance processor).',
  flumeTypes: ['load_balance', 'org.apache.flume.sink.LoadBalancingSinkProcessor'],
  schema: loadBalanceSinkOptions,
  flumeKeys: {
    selector: { option: 'selector', convert: lowerCase },
    backoff: { option: 'backoff', convert: javaBoolean },
    'selector.maxTimeOut': 'maxTimeOutMs',
  },
});

export type { SinkMembers } from './sinkGroup.js';

/**
 * Flume's load-balancing sink processor as a sink. For each batch the selector orders the members —
 * `round_robin` starts one member further each batch, `random` shuffles them — and the batch goes
 * to the first; **when it nacks, the same batch is offered at once to the next in that order**
 * (Flume tries every sink within one `process()`). When all failed the batch is nacked with a
 * retriable `FLUME_SINK_FAILED` ("all configured sinks have failed") and the channel redelivers it.
 *
 * With `backoff`, a failed member is left out of the order until `now + min(maxTimeOutMs, 2^n s)`,
 * n counting its consecutive failures (Flume's `OrderSelector`: a failure within the last back-off
 * + 1 hour counts as consecutive, successes in between or not; n is capped at 16, otherwise n
 * restarts at 1). When every member is
 * backed off, a batch is nacked at once. Without `backoff` every member is always tried. Timing
 * follows the RxJS `asyncScheduler` clock.
 *
 * Unlike Flume, whose sink group runs on one thread (a long-standing complaint: a load-balancing
 * group writes one batch at a time), batches are spread in parallel when the channel has
 * `maxInFlight` > 1: each unsettled batch is on its own member.
 *
 * `complete`/`error` are forwarded to every member once no batch is in flight; `closed` resolves
 * when every member closed (rejects with the first member's error).
 *
 * Metrics (`SINK`): `EventDrainAttemptCount`, `EventDrainSuccessCount`, `EventWriteFail` (events
 * nacked back to the channel), `BatchEmptyCount`, and per member `BatchAttemptCount.<member>` /
 * `BatchFailCount.<member>`.
 *
 * Delivery: at-least-once, as its members; a member that failed after partly writing a batch leaves
 * those events written there, and the next member writes them again.
 *
 * @example
 * pipe(source, memoryChannel({ maxInFlight: 2 }), loadBalanceSink([kafkaSink({ ... }), kafkaSink({ ... })], { backoff: true }));
 */
export const loadBalanceSink = component(loadBalanceSinkSpec, function loadBalanceSink(
  sinks: SinkMembers,
  options?: LoadBalanceSinkOptions,
): Sink & HasMetrics {
  const opts = parseOptions(loadBalanceSinkSpec, options);
  const members: GroupMember[] = memberList(opts.name, sinks);
  const group = createGroup(opts.name, members);
  const selector = new OrderSelector(members, opts);

  const attempt = (batch: Batch, candidates: GroupMember[], k: number, lastError: Error | undefined): void => {
    const m = candidates[k];
    if (!m) return group.fail(batch, 'all configured sinks have failed', lastError, 'every sink is backed off');
    group.send(m, batch, {
      ok: () => undefined,
      failed: (error) => {
        selector.informFailure(m);
        attempt(batch, candidates, k + 1, error);
      },
    });
  };

  return group.sink((batch) => attempt(batch, selector.order(), 0, undefined));
});
