import { asyncScheduler, isObservable, Observable, Subject, takeUntil, type Observer, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from './batch.js';
import { parseOptions } from './config.js';
import { deferred } from './deferred.js';
import { describeError, FlumeError } from './errors.js';
import { componentLogger, loggerOption } from './log.js';
import { mergedSources } from './mergeSources.js';
import { ComponentCounters, metricsOf, type MetricsSnapshot } from './metrics.js';
import { nameOption } from './options.js';
import { describeUnsettled, UnsettledTracker, type UnsettledStage } from './unsettled.js';

export type Stage = OperatorFunction<Batch, Batch>;
export type SinkLike = Partial<Observer<Batch>> & { readonly closed?: Promise<void> };

export interface StopOptions {
  /** How long channels may take to drain to their sinks before the pipeline is torn down. */
  timeoutMs?: number;
}

/**
 * How a graceful stop ended. A stop never rejects — a signal handler may call it and ignore the
 * promise — so what went wrong is told here (and logged); `done` is the promise that rejects.
 */
export interface StopResult {
  /** Every channel drained to its sink and the sink closed: nothing accepted was left behind. */
  readonly drained: boolean;
  /** The deadline passed first: the pipeline was torn down, `error` is the `FLUME_STOP_TIMEOUT`. */
  readonly timedOut: boolean;
  /** Events still in the channels when the stop ended (0 once drained). */
  readonly backlog: number;
  /** Why it did not drain: the `FLUME_STOP_TIMEOUT` (or what the teardown threw then), or the fatal error that ended the pipeline (`done`'s rejection). */
  readonly error?: unknown;
}

/** A pipeline's stop result also names the stages that held batches nobody settled. */
export interface PipelineStopResult extends StopResult {
  /** Stages holding unsettled batches when the pipeline ended (a bare RxJS `filter` that dropped one); empty normally. */
  readonly unsettled: readonly UnsettledStage[];
}

export const pipeOptions = z.strictObject({
  ...nameOption('pipeline'),
  watchdogMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Development check: every watchdogMs, warn (through logger) about batches unsettled for longer, naming the stage holding them. ' +
        'Off by default; the environment variable RXFLUME_DEBUG_UNSETTLED=<ms> (or =true: 10 s) turns it on for every pipeline.',
    ),
  ...loggerOption,
});

/** Options of `pipe`, given before the source: `pipe({ watchdogMs: 5000 }, source, channel, sink)`. */
export type PipeOptions = z.input<typeof pipeOptions>;

/** A running pipeline: source → stages (interceptors, channels) → sink. */
export interface Pipeline {
  /**
   * Resolves once the source completed, every channel drained and the sink closed; rejects on a fatal
   * error, or with `FLUME_STOP_TIMEOUT` after a stop that timed out. Once `stop()` was called, its
   * result reports that outcome too, so a `done` nobody awaits no longer makes an unhandled rejection.
   */
  readonly done: Promise<void>;
  /**
   * Graceful stop: the source stops reading, channels drain to the sink, the sink closes. After
   * `timeoutMs` (default 30 s) the pipeline is torn down, a warning is logged and the result says
   * `timedOut` with how many events were still in the channels. Never rejects, so
   * `process.on('SIGTERM', () => pipeline.stop())` is safe; a second call returns the same result.
   */
  stop(options?: StopOptions): Promise<PipelineStopResult>;
  /** Counters per component, keyed as Flume's `/metrics` JSON (`SOURCE.x`, `CHANNEL.y`, `SINK.z`). */
  metrics(): Record<string, MetricsSnapshot>;
}

/**
 * The counters of running components under Flume's `/metrics` keys (`SOURCE.r1`; a second component
 * of the same type and name is `SOURCE.r1-2`), shared by `pipe` and the agent.
 */
export class PipelineCounters {
  private readonly byKey = new Map<string, ComponentCounters>();

  /**
   * Adds the counters of each part that has some (a component, or counters themselves; each source
   * of a `mergeSources`); one added before keeps its key.
   */
  add(...parts: unknown[]): this {
    for (const part of parts) {
      const merged = mergedSources(part);
      if (merged) {
        this.add(...merged);
        continue;
      }
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

  /** The `/metrics` key of a component (or counters) added before. */
  keyOf(part: unknown): string | undefined {
    const counters = part instanceof ComponentCounters ? part : metricsOf(part);
    for (const [key, c] of this.byKey) if (c === counters) return key;
    return undefined;
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
 * The deadline of a graceful stop, shared by `pipe` and the agent: resolves as `done` settles, unless
 * `timeoutMs` (scheduler time) pass first; then `tearDown` runs with a `FLUME_STOP_TIMEOUT` naming
 * the events still in the channels. Never rejects: a rejection of `done` becomes the result's `error`
 * (and is thereby handled: whoever only stops a pipeline gets no unhandled rejection).
 */
export function stopWithin(done: Promise<void>, timeoutMs: number, what: string, counters: () => PipelineCounters, tearDown: (error: FlumeError) => void): Promise<StopResult> {
  return new Promise<StopResult>((resolve) => {
    const task: Subscription = asyncScheduler.schedule(() => {
      const backlog = counters().backlog();
      const error = new FlumeError('FLUME_STOP_TIMEOUT', `${what} did not drain within ${timeoutMs} ms; ${backlog} events were still in its channels`);
      try {
        tearDown(error);
        resolve({ drained: false, timedOut: true, backlog, error });
      } catch (failure) {
        // Thrown here it would be an uncaught exception in a timer: the result carries it instead.
        resolve({ drained: false, timedOut: true, backlog, error: failure });
      }
    }, timeoutMs);
    done.then(
      () => {
        task.unsubscribe();
        resolve({ drained: true, timedOut: false, backlog: 0 });
      },
      (error: unknown) => {
        task.unsubscribe();
        resolve({ drained: false, timedOut: false, backlog: counters().backlog(), error });
      },
    );
  });
}

/** RXFLUME_DEBUG_UNSETTLED=<ms> (a word such as `true`: 10 s; 0 or `false`: off): the watchdog for every pipeline, while developing. */
function watchdogFromEnv(): number | undefined {
  const value = process.env['RXFLUME_DEBUG_UNSETTLED']?.trim().toLowerCase();
  if (value === undefined || value === '' || value === '0' || value === 'false') return undefined;
  const ms = Number(value);
  return Number.isInteger(ms) && ms > 0 ? ms : 10_000;
}

/**
 * Subscribes `source` through `stages` into `sink` and returns the running pipeline. The same chain
 * works as plain RxJS (`source.pipe(...stages).subscribe(sink)`); `pipe` adds graceful stop, the
 * `done` promise, collected metrics and the check for batches nobody settled. Options, when given,
 * come first: `pipe({ name, watchdogMs, logger }, source, ...stages, sink)`.
 *
 * Every batch a stage receives must end up settled (acked, nacked, or passed on to a stage that
 * settles it). `pipe` watches what enters each stage and the sink: when the pipeline ends or a stop
 * times out with batches unsettled, it warns through `logger` naming the stage that held them, and a
 * stop's result lists them; `watchdogMs` warns while running, as soon as a batch waits longer.
 */
export function pipe(source: Observable<Batch>, ...rest: [...Stage[], SinkLike]): Pipeline;
export function pipe(options: PipeOptions, source: Observable<Batch>, ...rest: [...Stage[], SinkLike]): Pipeline;
export function pipe(...args: unknown[]): Pipeline {
  // The options are told apart from a source by not being an Observable: a sink may be any object, a source may not.
  const given = isObservable(args[0]) ? undefined : args.shift();
  const opts = parseOptions({ name: 'pipe', schema: pipeOptions }, given);
  const source = args[0] as Observable<Batch>;
  const rest = args.slice(1);
  if (!isObservable(source)) throw new TypeError('pipe(source, ...stages, sink): the source must be an Observable of batches');
  const sink = rest[rest.length - 1] as SinkLike;
  const stages = rest.slice(0, -1) as Stage[];
  if (rest.length === 0 || typeof sink === 'function' || typeof sink !== 'object' || sink === null) {
    throw new TypeError('pipe(source, ...stages, sink): the last argument must be a sink (an observer of batches)');
  }

  const log = componentLogger(opts.name, opts.logger);
  const counters = new PipelineCounters().add(source, ...stages, sink);
  const tracker = new UnsettledTracker([
    ...stages.map((stage) => counters.keyOf(stage) ?? (stage.name || 'an unnamed operator')),
    counters.keyOf(sink) ?? 'sink',
  ]);
  const stop$ = new Subject<void>();
  let finished = false;
  let unsettled: readonly UnsettledStage[] = [];

  const watchdogMs = opts.watchdogMs ?? watchdogFromEnv();
  const watchdog =
    watchdogMs === undefined
      ? undefined
      : asyncScheduler.schedule(function () {
          const held = tracker.report(watchdogMs, true);
          if (held.length > 0) log('warn', describeUnsettled(held, stages.length, `unsettled for over ${watchdogMs} ms`), { unsettled: held });
          this.schedule(undefined, watchdogMs);
        }, watchdogMs);

  const { promise: done, resolve: resolveDone, reject: rejectDone } = deferred();
  const settle = (error?: unknown): void => {
    if (finished) return;
    finished = true;
    watchdog?.unsubscribe();
    counters.stopped();
    unsettled = tracker.report();
    // After a fatal error, batches in flight may be left by the failure itself: only a clean end or a timed-out stop is checked.
    const timedOut = error instanceof FlumeError && error.code === 'FLUME_STOP_TIMEOUT';
    if (unsettled.length > 0 && (error === undefined || timedOut)) {
      log('warn', describeUnsettled(unsettled, stages.length, timedOut ? 'still unsettled at the stop deadline' : 'never settled'), { unsettled });
    }
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
  const chain = stages
    .reduce<Observable<Batch>>((obs, stage, i) => obs.pipe(tracker.before(i), stage), source.pipe(takeUntil(stop$)))
    .pipe(tracker.before(stages.length));
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

  let stopping: Promise<PipelineStopResult> | undefined;
  return {
    done,
    stop(options: StopOptions = {}) {
      if (stopping) return stopping;
      stop$.next();
      stop$.complete();
      stopping = stopWithin(done, options.timeoutMs ?? 30_000, opts.name, () => counters, (error) => {
        log('warn', `stop incomplete: ${describeError(error)}`, { backlog: counters.backlog() });
        subscription.unsubscribe();
        settle(error);
      }).then((result) => ({ ...result, unsettled }));
      return stopping;
    },
    metrics: () => counters.snapshot(),
  };
}
