import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import { Backoff, exponential } from '../core/backoff.js';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import type { HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import type { Sink } from '../core/sink.js';
import { createGroup, memberList, type GroupMember, type SinkMembers } from './sinkGroup.js';

export const failoverSinkOptions = z.strictObject({
  ...nameOption('failoverSink'),
  maxPenaltyMs: z
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe('Longest time a failed sink is left out: after n consecutive failures it waits min(maxPenaltyMs, 2^n s) (Flume maxpenalty).'),
  priority: z
    .record(z.string(), z.number().int())
    .default({})
    .describe('Member name → priority, higher preferred (Flume priority.<sink>); unlisted members get -1, -2, … in member order.'),
});

export type FailoverSinkOptions = z.input<typeof failoverSinkOptions>;

export const failoverSinkSpec = defineComponent({
  name: 'failoverSink',
  kind: 'sinkProcessor',
  summary: 'Sink group: each batch to the highest-priority live sink; a failing sink is penalised and the next one takes over (Flume failover processor).',
  flumeTypes: ['failover', 'org.apache.flume.sink.FailoverSinkProcessor'],
  schema: failoverSinkOptions,
  // Flume's `priority.<sink>` keys are the `priority` record's entries.
  flumeKeys: { maxpenalty: 'maxPenaltyMs' },
});

export type { SinkMembers } from './sinkGroup.js';

interface Member extends GroupMember {
  priority: number;
  failed: boolean;
  /** Consecutive failures: the penalty after the n-th is min(maxPenaltyMs, 2^n s). */
  penalty: Backoff;
  refreshAt: number;
}

/** Flume's FailedSink: 2 s after the first failure, doubling. */
const FIRST_PENALTY_MS = 2000;

/**
 * Flume's failover sink processor as a sink. Each batch goes to the live member with the highest
 * priority. When that member nacks, it is penalised and **the same batch is offered at once to the
 * next member** in priority order — as in Flume, where the next sink takes the rolled-back events
 * within the same `process()` call. Only when every member failed (or all are penalised) is the
 * batch nacked, with a retriable `FLUME_SINK_FAILED` ("all sinks failed"), so the channel
 * redelivers it after its back-off.
 *
 * Penalty (Flume's `FailedSink`): after n consecutive failures a member is left out for
 * `min(maxPenaltyMs, 2^n × 1 s)` — 2 s after the first failure, then 4 s, 8 s… up to `maxPenaltyMs`.
 * When its penalty is over it is a candidate again at its own priority; the next batch it receives
 * is the probe: an ack restores it (fail-back: a recovered higher-priority sink takes the traffic
 * back), a nack doubles its penalty. Flume probes a recovered sink before the active one whatever
 * its priority; here a lower-priority recovered sink only sees traffic when every sink above it
 * fails, so traffic never goes to a worse sink while a better one is live. Timing follows the RxJS
 * `asyncScheduler` clock, so marble tests can drive it.
 *
 * Batches may be in flight on several members at once (a channel with `maxInFlight` > 1); a
 * failure seen while a member is already penalised does not lengthen its penalty.
 *
 * `complete`/`error` are forwarded to every member once no batch is in flight; `closed` resolves
 * when every member closed (rejects with the first member's error). Unlike Flume, two members with
 * the same priority are refused (`ConfigError`) rather than one silently dropped.
 *
 * Metrics (`SINK`): `EventDrainAttemptCount`, `EventDrainSuccessCount` (acked by a member),
 * `EventWriteFail` (events nacked back to the channel), `BatchEmptyCount`, and per member
 * `BatchAttemptCount.<member>` / `BatchFailCount.<member>`; `FailoverCount` counts batches
 * offered to another member after a failure.
 *
 * Delivery: at-least-once, as its members; a member that failed after partly writing a batch leaves
 * those events written there, and the next member writes them again.
 *
 * @example
 * pipe(source, memoryChannel(), failoverSink({ k1: kafkaSink({ ... }), k2: fileRollSink({ directory: '/spill' }) }, { priority: { k1: 10, k2: 5 } }));
 */
export const failoverSink = component(failoverSinkSpec, function failoverSink(
  sinks: SinkMembers,
  options?: FailoverSinkOptions,
): Sink & HasMetrics {
  const opts = parseOptions(failoverSinkSpec, options);
  const named = memberList(opts.name, sinks);
  const issues: ConfigIssue[] = [];
  const names = named.map((m) => m.name);
  for (const key of Object.keys(opts.priority)) {
    if (!names.includes(key)) issues.push({ path: `${opts.name}.priority.${key}`, expected: `a member of the group (${names.join(', ')})`, received: JSON.stringify(key) });
  }
  let next = 0;
  const policy = exponential(FIRST_PENALTY_MS, opts.maxPenaltyMs);
  const members: Member[] = named.map(({ name, sink }) => ({
    name,
    sink,
    priority: opts.priority[name] ?? --next,
    failed: false,
    penalty: new Backoff(policy),
    refreshAt: 0,
  }));
  const seen = new Map<number, string>();
  for (const m of members) {
    const other = seen.get(m.priority);
    if (other !== undefined) {
      issues.push({ path: `${opts.name}.priority.${m.name}`, expected: `a priority no other member has (${other} has ${m.priority})`, received: String(m.priority) });
    }
    seen.set(m.priority, m.name);
  }
  if (issues.length > 0) throw new ConfigError(issues, { component: opts.name });
  // Highest priority first; stable for equal values (impossible after the check above).
  members.sort((a, b) => b.priority - a.priority);

  const group = createGroup(opts.name, members);
  const { counters } = group;
  counters.set('FailoverCount', 0);

  const onFailure = (m: Member): void => {
    const now = asyncScheduler.now();
    if (!m.failed) {
      m.failed = true;
      m.penalty.reset();
    } else if (now < m.refreshAt) {
      return; // already penalised by a batch that failed concurrently
    } // else: the probe after a penalty failed again
    m.refreshAt = now + m.penalty.next();
  };

  const attempt = (batch: Batch, tried: Set<Member>, lastError: Error | undefined): void => {
    const now = asyncScheduler.now();
    const m = members.find((c) => !tried.has(c) && (!c.failed || now >= c.refreshAt));
    if (!m) return group.fail(batch, 'all sinks failed to process, nothing left to failover to', lastError, 'every sink is penalised');
    if (tried.size > 0) counters.inc('FailoverCount');
    tried.add(m);
    group.send(m, batch, {
      ok: () => {
        m.failed = false;
        m.penalty.reset();
      },
      failed: (error) => {
        onFailure(m);
        attempt(batch, tried, error);
      },
    });
  };

  return group.sink((batch) => attempt(batch, new Set(), undefined));
});
