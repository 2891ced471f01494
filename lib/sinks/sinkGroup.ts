/**
 * What the sink groups (failoverSink, loadBalanceSink) share: naming their members and the group
 * lifecycle — counters, batches in flight, a batch offered to one member, complete/error forwarded
 * once idle, `closed`. Not a component, only their common mechanism: sinks still never import each
 * other, the two groups only import this. It imports only lib/core.
 */
import { asyncScheduler } from 'rxjs';
import { createBatch, type Batch } from '../core/batch.js';
import { ComponentError, ConfigError, isRetriable, toError, type ConfigIssue } from '../core/errors.js';
import { ComponentCounters, metricsOf, withMetrics, type HasMetrics } from '../core/metrics.js';
import { deferred } from '../core/deferred.js';
import type { Sink } from '../core/sink.js';

/** Sinks of a group: by name, or a list (named by their metrics name, else `sink1`, `sink2`, …). */
export type SinkMembers = readonly Sink[] | Readonly<Record<string, Sink>>;

/** A named member of a group; the groups extend it with their own failure bookkeeping. */
export interface GroupMember {
  name: string;
  sink: Sink;
}

/** Names the members: record keys, else their metrics names made unique, else `sink<i>`. */
export function memberList(group: string, sinks: SinkMembers): { name: string; sink: Sink }[] {
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

export interface SendHandlers {
  ok(): void;
  failed(error: Error): void;
}

/**
 * The sink-group lifecycle: counts (`SINK` counters, with `BatchAttemptCount.<member>` and
 * `BatchFailCount.<member>` per member, in member order), in-flight tracking, complete/error
 * forwarded once idle, closed.
 */
export function createGroup(name: string, members: readonly GroupMember[]) {
  const counters = new ComponentCounters('SINK', name);
  for (const m of members) {
    counters.set(`BatchAttemptCount.${m.name}`, 0);
    counters.set(`BatchFailCount.${m.name}`, 0);
  }
  let inFlight = 0;
  let ending: { error: unknown } | 'complete' | undefined;
  let forwarded = false;
  const { promise: closed, resolve: resolveClosed, reject: rejectClosed } = deferred();

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
      counters.stopTime = asyncScheduler.now();
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
    counters,
    send(m: GroupMember, batch: Batch, handlers: SendHandlers): void {
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
    /** Nacks the batch back to the channel (retriable unless the last member's error was not): every member failed, or none could be tried. */
    fail(batch: Batch, what: string, lastError: Error | undefined, noneTried: string): void {
      counters.inc('EventWriteFail', batch.events.length);
      const message = `${name}: ${what}${lastError ? `: ${lastError.message}` : ` (${noneTried})`}`;
      batch.nack(new ComponentError('FLUME_SINK_FAILED', message, { component: name, retriable: lastError === undefined || isRetriable(lastError), cause: lastError }));
      done();
    },
    sink(dispatch: (batch: Batch) => void): Sink & HasMetrics {
      const sink: Sink = {
        next(batch: Batch): void {
          if (counters.startTime === 0) counters.startTime = asyncScheduler.now();
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
