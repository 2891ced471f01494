import { asyncScheduler, Observable, Subject, takeUntil, type Observer, type OperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from './batch.js';
import { deferred } from './deferred.js';
import { FlumeError } from './errors.js';
import { ComponentCounters, metricsOf, type MetricsSnapshot } from './metrics.js';

export type Stage = OperatorFunction<Batch, Batch>;
export type SinkLike = Partial<Observer<Batch>> & { readonly closed?: Promise<void> };

export interface StopOptions {
  /** How long channels may take to drain to their sinks before the pipeline is torn down. */
  timeoutMs?: number;
}

/** A running pipeline: source → stages (interceptors, channels) → sink. */
export interface Pipeline {
  /** Resolves once the source completed, every channel drained and the sink closed; rejects on a fatal error. */
  readonly done: Promise<void>;
  /**
   * Graceful stop: the source stops reading, channels drain to the sink, the sink closes. After
   * `timeoutMs` (default 30 s) the pipeline is torn down and `done` rejects with
   * `FLUME_STOP_TIMEOUT`, reporting how many events were still in the channels.
   */
  stop(options?: StopOptions): Promise<void>;
  /** Counters per component, keyed as Flume's `/metrics` JSON (`SOURCE.x`, `CHANNEL.y`, `SINK.z`). */
  metrics(): Record<string, MetricsSnapshot>;
}

/**
 * The counters of running components under Flume's `/metrics` keys (`SOURCE.r1`; a second component
 * of the same type and name is `SOURCE.r1-2`), shared by `pipe` and the agent.
 */
export class PipelineCounters {
  private readonly byKey = new Map<string, ComponentCounters>();

  /** Adds the counters of each part that has some (a component, or counters themselves); one added before keeps its key. */
  add(...parts: unknown[]): this {
    for (const part of parts) {
      const counters = part instanceof ComponentCounters ? part : metricsOf(part);
      if (!counters) continue;
      let key = `${counters.type}.${counters.name}`;
      for (let i = 2; this.byKey.has(key) && this.byKey.get(key) !== counters; i++) key = `${counters.type}.${counters.name}-${i}`;
      this.byKey.set(key, counters);
    }
    return this;
  }

  /** Stamps `StartTime` (scheduler time) on the components not started before. */
  started(now = asyncScheduler.now()): void {
    for (const c of this.byKey.values()) if (c.startTime === 0) c.startTime = now;
  }

  /** Stamps `StopTime` on the components not stopped before. */
  stopped(now = asyncScheduler.now()): void {
    for (const c of this.byKey.values()) if (c.stopTime === 0) c.stopTime = now;
  }

  /** Events still held by the channels. */
  backlog(): number {
    let n = 0;
    for (const c of this.byKey.values()) if (c.type === 'CHANNEL') n += c.get('ChannelSize');
    return n;
  }

  get all(): ComponentCounters[] {
    return [...this.byKey.values()];
  }

  snapshot(): Record<string, MetricsSnapshot> {
    const out: Record<string, MetricsSnapshot> = {};
    for (const [key, counters] of this.byKey) out[key] = counters.snapshot();
    return out;
  }
}

/**
 * The deadline of a graceful stop, shared by `pipe` and the agent: settles as `done` does, unless
 * `timeoutMs` (scheduler time) pass first; then `tearDown` runs with a `FLUME_STOP_TIMEOUT` naming
 * the events still in the channels, and the stop rejects with it.
 */
export function stopWithin(done: Promise<void>, timeoutMs: number, what: string, counters: () => PipelineCounters, tearDown: (error: FlumeError) => void): Promise<void> {
  let task: Subscription | undefined;
  const timeout = new Promise<never>((_, reject) => {
    task = asyncScheduler.schedule(() => {
      const error = new FlumeError('FLUME_STOP_TIMEOUT', `${what} did not drain within ${timeoutMs} ms; ${counters().backlog()} events were still in its channels`);
      tearDown(error);
      reject(error);
    }, timeoutMs);
  });
  return Promise.race([done, timeout]).finally(() => task?.unsubscribe());
}

/**
 * Subscribes `source` through `stages` into `sink` and returns the running pipeline. The same chain
 * works as plain RxJS (`source.pipe(...stages).subscribe(sink)`); `pipe` adds graceful stop, the
 * `done` promise and collected metrics.
 */
export function pipe(source: Observable<Batch>, ...rest: [...Stage[], SinkLike]): Pipeline {
  const sink = rest[rest.length - 1] as SinkLike;
  const stages = rest.slice(0, -1) as Stage[];
  if (typeof sink === 'function' || typeof sink !== 'object' || sink === null) {
    throw new TypeError('pipe(source, ...stages, sink): the last argument must be a sink (an observer of batches)');
  }

  const counters = new PipelineCounters().add(source, ...stages, sink);
  const stop$ = new Subject<void>();
  let finished = false;

  const { promise: done, resolve: resolveDone, reject: rejectDone } = deferred();
  const settle = (error?: unknown): void => {
    if (finished) return;
    finished = true;
    counters.stopped();
    if (error === undefined) resolveDone();
    else rejectDone(error);
  };
  // A chain that failed reports its own error; one that completed, the sink's close error if any.
  const afterClose = (failed: boolean, error?: unknown): void => {
    (sink.closed ?? Promise.resolve()).then(
      () => settle(error),
      (e: unknown) => settle(failed ? error : e),
    );
  };

  counters.started();
  const chain = stages.reduce<Observable<Batch>>((obs, stage) => obs.pipe(stage), source.pipe(takeUntil(stop$)));
  const subscription = chain.subscribe({
    next: (batch) => {
      if (sink.next) sink.next(batch);
      else batch.ack();
    },
    error: (error: unknown) => {
      sink.error?.(error);
      afterClose(true, error);
    },
    complete: () => {
      sink.complete?.();
      afterClose(false);
    },
  });

  let stopping: Promise<void> | undefined;
  return {
    done,
    stop(options: StopOptions = {}) {
      if (stopping) return stopping;
      stop$.next();
      stop$.complete();
      stopping = stopWithin(done, options.timeoutMs ?? 30_000, 'pipeline', () => counters, (error) => {
        subscription.unsubscribe();
        settle(error);
      });
      return stopping;
    },
    metrics: () => counters.snapshot(),
  };
}
