import { Observable, Subject, takeUntil, type Observer, type OperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from './batch.js';
import { FlumeError } from './errors.js';
import { metricsOf, type ComponentCounters, type MetricsSnapshot } from './metrics.js';

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

  const components = collectCounters([source, ...stages, sink]);
  const stop$ = new Subject<void>();
  let subscription: Subscription | undefined;
  let finished = false;

  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined);
  const settle = (error?: unknown): void => {
    if (finished) return;
    finished = true;
    const now = Date.now();
    for (const c of components.values()) if (c.stopTime === 0) c.stopTime = now;
    if (error === undefined) resolveDone();
    else rejectDone(error);
  };

  const now = Date.now();
  for (const c of components.values()) if (c.startTime === 0) c.startTime = now;

  const chain = stages.reduce<Observable<Batch>>((obs, stage) => obs.pipe(stage), source.pipe(takeUntil(stop$)));
  subscription = chain.subscribe({
    next: (batch) => {
      if (sink.next) sink.next(batch);
      else batch.ack();
    },
    error: (error: unknown) => {
      sink.error?.(error);
      const after = sink.closed ?? Promise.resolve();
      after.then(
        () => settle(error),
        () => settle(error),
      );
    },
    complete: () => {
      sink.complete?.();
      (sink.closed ?? Promise.resolve()).then(
        () => settle(),
        (e: unknown) => settle(e),
      );
    },
  });

  let stopping: Promise<void> | undefined;
  const pipeline: Pipeline = {
    done,
    stop(options: StopOptions = {}) {
      if (stopping) return stopping;
      const timeoutMs = options.timeoutMs ?? 30_000;
      stop$.next();
      stop$.complete();
      const timer = setTimeout(() => {
        const left = remainingEvents(components);
        subscription?.unsubscribe();
        settle(
          new FlumeError('FLUME_STOP_TIMEOUT', `pipeline did not drain within ${timeoutMs} ms; ${left} events were still in its channels`),
        );
      }, timeoutMs);
      stopping = done.finally(() => clearTimeout(timer));
      return stopping;
    },
    metrics() {
      const out: Record<string, MetricsSnapshot> = {};
      for (const [key, counters] of components) out[key] = counters.snapshot();
      return out;
    },
  };
  return pipeline;
}

function collectCounters(parts: readonly unknown[]): Map<string, ComponentCounters> {
  const byKey = new Map<string, ComponentCounters>();
  for (const part of parts) {
    const counters = metricsOf(part);
    if (!counters) continue;
    let key = `${counters.type}.${counters.name}`;
    for (let i = 2; byKey.has(key) && byKey.get(key) !== counters; i++) key = `${counters.type}.${counters.name}-${i}`;
    byKey.set(key, counters);
  }
  return byKey;
}

function remainingEvents(components: Map<string, ComponentCounters>): number {
  let n = 0;
  for (const c of components.values()) if (c.type === 'CHANNEL') n += c.get('ChannelSize');
  return n;
}
