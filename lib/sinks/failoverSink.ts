import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, ConfigError, isRetriable, toError, type ConfigIssue } from '../core/errors.js';
import { ComponentCounters, metricsOf, withMetrics, type HasMetrics } from '../core/metrics.js';
import type { Sink } from '../core/sink.js';

export const failoverSinkOptions = z.strictObject({
  name: z.string().min(1).default('failoverSink').describe('Component name in metrics (the Flume sink group name).'),
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

/** Sinks of a group: by name, or a list (named by their metrics name, else `sink1`, `sink2`, …). */
export type SinkMembers = readonly Sink[] | Readonly<Record<string, Sink>>;

interface Member {
  name: string;
  sink: Sink;
  priority: number;
  failed: boolean;
  failures: number;
  refreshAt: number;
}

const FAILURE_PENALTY_MS = 1000;

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
  for (const [key, value] of Object.entries(opts.priority)) {
    if (!names.includes(key)) issues.push({ path: `${opts.name}.priority.${key}`, expected: `a member name (${names.join(', ')})`, received: String(value) });
  }
  let next = 0;
  const members: Member[] = named.map(({ name, sink }) => ({
    name,
    sink,
    priority: opts.priority[name] ?? --next,
    failed: false,
    failures: 0,
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

  const counters = new ComponentCounters('SINK', opts.name);
  for (const m of members) {
    counters.set(`BatchAttemptCount.${m.name}`, 0);
    counters.set(`BatchFailCount.${m.name}`, 0);
  }
  counters.set('FailoverCount', 0);

  const group = createGroup(opts.name, members, counters);

  const onFailure = (m: Member): void => {
    const now = asyncScheduler.now();
    if (!m.failed) {
      m.failed = true;
      m.failures = 1;
    } else if (now >= m.refreshAt) {
      m.failures++; // the probe after a penalty failed again
    } else {
      return; // already penalised by a batch that failed concurrently
    }
    m.refreshAt = now + Math.min(opts.maxPenaltyMs, 2 ** Math.min(m.failures, 30) * FAILURE_PENALTY_MS);
  };

  const attempt = (batch: Batch, tried: Set<Member>, lastError: Error | undefined): void => {
    const now = asyncScheduler.now();
    const m = members.find((c) => !tried.has(c) && (!c.failed || now >= c.refreshAt));
    if (!m) {
      group.fail(
        batch,
        new ComponentError(
          'FLUME_SINK_FAILED',
          `${opts.name}: all sinks failed to process, nothing left to failover to` + (lastError ? `: ${lastError.message}` : ' (every sink is penalised)'),
          { component: opts.name, retriable: lastError === undefined || isRetriable(lastError), cause: lastError },
        ),
      );
      return;
    }
    if (tried.size > 0) counters.inc('FailoverCount');
    tried.add(m);
    group.send(m, batch, {
      ok: () => {
        m.failed = false;
        m.failures = 0;
      },
      failed: (error) => {
        onFailure(m);
        attempt(batch, tried, error);
      },
    });
  };

  return group.sink((batch) => attempt(batch, new Set(), undefined));
});

/** Names the members: record keys, else their metrics names made unique, else `sink<i>`. */
function memberList(group: string, sinks: SinkMembers): { name: string; sink: Sink }[] {
  const entries: [string, unknown][] = Array.isArray(sinks)
    ? (sinks as readonly Sink[]).map((s, i) => [metricsOf(s)?.name ?? `sink${i + 1}`, s])
    : typeof sinks === 'object' && sinks !== null
      ? Object.entries(sinks)
      : [];
  const issues: ConfigIssue[] = [];
  if (entries.length === 0) issues.push({ path: `${group}.sinks`, expected: 'at least one sink', received: Array.isArray(sinks) ? 'an empty list' : typeof sinks });
  const out: { name: string; sink: Sink }[] = [];
  for (const [key, sink] of entries) {
    if (typeof sink !== 'object' || sink === null || typeof (sink as Sink).next !== 'function') {
      issues.push({ path: `${group}.sinks.${key}`, expected: 'a sink (an observer of batches)', received: typeof sink });
      continue;
    }
    let name = key;
    for (let i = 2; out.some((o) => o.name === name); i++) name = `${key}-${i}`;
    out.push({ name, sink: sink as Sink });
  }
  if (issues.length > 0) throw new ConfigError(issues, { component: group });
  return out;
}

interface SendHandlers {
  ok(): void;
  failed(error: Error): void;
}

/** The sink-group lifecycle: counts, in-flight tracking, complete/error forwarded once idle, closed. */
function createGroup(name: string, members: readonly Member[], counters: ComponentCounters) {
  let inFlight = 0;
  let ending: { error: unknown } | 'complete' | undefined;
  let forwarded = false;
  let resolveClosed!: () => void;
  let rejectClosed!: (e: unknown) => void;
  const closed = new Promise<void>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  closed.catch(() => undefined);

  const forwardIfIdle = (): void => {
    if (!ending || forwarded || inFlight > 0) return;
    forwarded = true;
    for (const m of members) {
      try {
        if (ending === 'complete') m.sink.complete();
        else m.sink.error(ending.error);
      } catch {
        // A member throwing on complete must not keep the others open; its `closed` reports it.
      }
    }
    Promise.allSettled(members.map((m) => m.sink.closed)).then((results) => {
      counters.stopTime = Date.now();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) rejectClosed(failed.reason);
      else resolveClosed();
    });
  };

  const done = (): void => {
    inFlight--;
    forwardIfIdle();
  };

  return {
    send(m: Member, batch: Batch, handlers: SendHandlers): void {
      counters.inc(`BatchAttemptCount.${m.name}`);
      const part = createBatch(batch.events, {
        onAck: () => {
          handlers.ok();
          counters.inc('EventDrainSuccessCount', batch.events.length);
          batch.ack();
          done();
        },
        onNack: (error) => {
          counters.inc(`BatchFailCount.${m.name}`);
          handlers.failed(error);
        },
      });
      try {
        m.sink.next(part);
      } catch (error) {
        if (!part.settled) part.nack(toError(error));
      }
    },
    fail(batch: Batch, error: Error): void {
      counters.inc('EventWriteFail', batch.events.length);
      batch.nack(error);
      done();
    },
    sink(dispatch: (batch: Batch) => void): Sink & HasMetrics {
      const sink: Sink = {
        next(batch: Batch): void {
          if (counters.startTime === 0) counters.startTime = Date.now();
          if (ending) {
            batch.nack(new ComponentError('FLUME_SINK_FAILED', `${name}: the sink group is closing`, { component: name, retriable: true }));
            return;
          }
          if (batch.events.length === 0) {
            counters.inc('BatchEmptyCount');
            batch.ack();
            return;
          }
          counters.inc('EventDrainAttemptCount', batch.events.length);
          inFlight++;
          dispatch(batch);
        },
        error(error: unknown): void {
          ending ??= { error };
          forwardIfIdle();
        },
        complete(): void {
          ending ??= 'complete';
          forwardIfIdle();
        },
        closed,
      };
      return withMetrics(sink, counters);
    },
  };
}
