import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { defineComponent, parseOptions } from '../../lib/core/config.js';
import { ComponentError, ConfigError } from '../../lib/core/errors.js';
import { metricsOf } from '../../lib/core/metrics.js';
import { nameOption } from '../../lib/core/options.js';
import type { BoundSelector, ChannelSelector } from './channelSelector.js';
import { channelLabel, FanOutRun, newFanOutStats, type FanOutStats, type OptionalFailureHandler } from './fanOutRun.js';

export type { FanOutStats, OptionalFailureHandler } from './fanOutRun.js';

export const fanOutOptions = z.strictObject({
  ...nameOption('fanOut'),
  maxPendingOptional: z
    .number()
    .int()
    .min(1)
    .default(20)
    .describe(
      'Unsettled parts per optional channel; past this an optional part is skipped and counted, so a stuck optional channel holds bounded memory (Flume pendingTransactions).',
    ),
  onOptionalFailure: z
    .custom<OptionalFailureHandler>((v) => typeof v === 'function', { message: 'a function' })
    .optional()
    .describe('Called with the channel and error when an optional channel nacks its part.'),
});

export type FanOutOptions = z.input<typeof fanOutOptions>;

export const fanOutSpec = defineComponent({
  name: 'fanOut',
  kind: 'router',
  summary: "Fans one source out to several channels through a channel selector, with Flume's transaction rules (Flume's channel processor).",
  flumeTypes: [],
  schema: fanOutOptions,
});

const STATS: unique symbol = Symbol.for('rxflume.fanOutStats');

/** The counters of the fan-out that returned `branches`. */
export function fanOutStats(branches: object): FanOutStats {
  const stats = (branches as { [STATS]?: FanOutStats })[STATS];
  if (!stats) throw new TypeError('fanOutStats: not the result of fanOut()');
  return { ...stats };
}

type Stage = OperatorFunction<Batch, Batch>;

/**
 * Flume's channel processor: fans ONE source out to several channels through a channel selector
 * (`replicating`, `multiplexing`). Each source batch is split into one part per channel (a
 * multiplexed part keeps the source order of its events); each part travels as its own batch, the
 * put transaction of that channel.
 *
 * ```
 * source:     --a-----b--|        replicating({ optional: [1] }), channels [c0, c1]
 * branch c0:  --a0----b0--|       a is acked once c0 acked a0 (c1 is optional)
 * branch c1:  --a1----b1--|       a1 offered after a0 was stored; its failure is only counted
 * ```
 *
 * - **Ack**: a source batch is acked once every *required* part is acked (stored by its channel),
 *   and nacked with the first error once every required part settled and one was nacked. Waiting
 *   for all of them keeps the source's in-flight limit true for every channel: the source is never
 *   read faster than the slowest required channel stores. A batch with no required part (no
 *   default, unmapped header) is acked at once; its events are dropped (`EventUnroutedCount`).
 * - **Optional parts** are offered only after the batch's required parts were all stored (Flume
 *   writes optional channels after the required commits, and not at all when one failed), in
 *   source order. They never block nor fail the source batch; a nack is counted and reported to
 *   `onOptionalFailure`. A channel with `maxPendingOptional` unsettled optional parts gets no more
 *   until it settles some: the skipped events are counted, never buffered without bound.
 * - **Not atomic, as in Flume**: when one required channel nacks, the channels that already stored
 *   their part keep it, and the source's retry stores it there again — duplicates, bounded by the
 *   retries. (Flume writes the required channels one after another and stops at the first failure;
 *   here they are all offered at once, so every other required channel may hold a copy.)
 * - **Two parts per channel** when a multiplexed channel is required for some events of a batch and
 *   optional for others: the required part first, as Flume's two transactions.
 * - **Events** are shared with the first channel they go to; every further channel gets a copy with
 *   its own `headers` object (bodies are shared, never mutated), so an interceptor after one channel
 *   cannot change what another channel sees.
 * - **Subscription**: each branch takes one subscriber (its channel). The source is subscribed once,
 *   when the last branch is subscribed — a branch subscribed late misses nothing — and unsubscribed
 *   when every branch has unsubscribed; parts not yet handed to a branch are then nacked with a
 *   retriable `FLUME_CHANNEL_CLOSED`. A branch that unsubscribes while others run keeps its parts
 *   queued (its source batches stay unsettled, so the source waits) until it is subscribed again.
 * - **Completion and errors** reach every branch after its queued parts and after the optional
 *   parts still waiting for their required outcome.
 *
 * `channels` is a count or a list of channel names (raw branches, to wire as
 * `pipe(branch, channel, sink)` so that `pipe`'s graceful stop drains each channel), or the channel
 * operators themselves, by list or by name (each branch already piped through its channel).
 *
 * @example
 * const { c1, c2 } = fanOut(taildirSource({ ... }), multiplexing({ header: 'type', mapping: { audit: ['c2'] }, default: ['c1'] }), ['c1', 'c2']);
 * const p1 = pipe(c1, memoryChannel({ name: 'c1' }), kafkaSink({ ... }));
 * const p2 = pipe(c2, memoryChannel({ name: 'c2' }), fileRollSink({ directory: '/var/audit' }));
 * await Promise.all([p1.done, p2.done]);
 */
export function fanOut(source: Observable<Batch>, selector: ChannelSelector, channels: number, options?: FanOutOptions): Observable<Batch>[];
export function fanOut<K extends string>(
  source: Observable<Batch>,
  selector: ChannelSelector,
  channels: readonly K[],
  options?: FanOutOptions,
): Record<K, Observable<Batch>>;
export function fanOut(source: Observable<Batch>, selector: ChannelSelector, channels: readonly Stage[], options?: FanOutOptions): Observable<Batch>[];
export function fanOut<K extends string>(
  source: Observable<Batch>,
  selector: ChannelSelector,
  channels: Readonly<Record<K, Stage>>,
  options?: FanOutOptions,
): Record<K, Observable<Batch>>;
export function fanOut(
  source: Observable<Batch>,
  selector: ChannelSelector,
  channels: number | readonly string[] | readonly Stage[] | Readonly<Record<string, Stage>>,
  options?: FanOutOptions,
): Observable<Batch>[] | Record<string, Observable<Batch>> {
  const opts = parseOptions(fanOutSpec, options);
  const shape = normalise(opts.name, channels);
  const stats = newFanOutStats();
  const branches = fanOutBranches(source, selector.bind(shape.names), shape.names, opts, stats);
  const outputs = branches.map((b, i) => (shape.stages ? b.pipe(shape.stages[i]!) : b));
  const result: Observable<Batch>[] | Record<string, Observable<Batch>> = shape.keyed
    ? Object.fromEntries(shape.names.map((name, i) => [name!, outputs[i]!]))
    : outputs;
  Object.defineProperty(result, STATS, { value: stats, enumerable: false });
  return result;
}

/** Its spec, as every component's: docs and `rxflume components` list it (the agent configures it through its selector). */
fanOut.spec = fanOutSpec;

interface Shape {
  names: (string | undefined)[];
  stages: Stage[] | undefined;
  keyed: boolean;
}

function normalise(name: string, channels: unknown): Shape {
  const bad = (received: string): never => {
    throw new ConfigError([{ path: `${name}.channels`, expected: 'a count ≥ 1, a list of channel names, or channel operators', received }], {
      component: name,
    });
  };
  if (typeof channels === 'number') {
    if (!Number.isInteger(channels) || channels < 1) bad(String(channels));
    return { names: Array.from({ length: channels }, () => undefined), stages: undefined, keyed: false };
  }
  if (Array.isArray(channels)) {
    if (channels.length === 0) bad('an empty list');
    if (channels.every((c) => typeof c === 'string' && c.length > 0)) {
      const names = channels as string[];
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) bad(`the name ${JSON.stringify(dup)} twice`);
      return { names, stages: undefined, keyed: true };
    }
    if (channels.every((c) => typeof c === 'function')) {
      const stages = channels as Stage[];
      return { names: stages.map((s) => metricsOf(s)?.name), stages, keyed: false };
    }
    return bad('a list mixing names and operators');
  }
  if (typeof channels === 'object' && channels !== null) {
    const entries = Object.entries(channels as Record<string, unknown>);
    if (entries.length === 0) bad('an empty record');
    if (!entries.every(([, s]) => typeof s === 'function')) bad('a record whose values are not all operators');
    return { names: entries.map(([k]) => k), stages: entries.map(([, s]) => s as Stage), keyed: true };
  }
  return bad(typeof channels);
}

/**
 * The branches: each takes one subscriber; the source is subscribed (a `FanOutRun`) when the last
 * branch is, and unsubscribed when none is left.
 */
function fanOutBranches(
  source: Observable<Batch>,
  bound: BoundSelector,
  names: readonly (string | undefined)[],
  opts: z.output<typeof fanOutOptions>,
  stats: FanOutStats,
): Observable<Batch>[] {
  const subscribers: (Subscriber<Batch> | undefined)[] = names.map(() => undefined);
  let subscribed = 0;
  let run: FanOutRun | undefined;

  const connect = (): void => {
    const r = new FanOutRun({
      name: opts.name,
      names,
      bound,
      maxPendingOptional: opts.maxPendingOptional,
      onOptionalFailure: opts.onOptionalFailure,
      stats,
      subscriber: (i) => subscribers[i],
    });
    run = r;
    const sub = source.subscribe({
      next: (batch) => r.accept(batch),
      error: (error: unknown) => r.finish({ error }),
      complete: () => r.finish('complete'),
    });
    // Every branch may have ended and unsubscribed while the source emitted synchronously.
    if (r.closed) sub.unsubscribe();
    else r.sub = sub;
  };

  const branch = (i: number): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      if (subscribers[i]) {
        const message = `${opts.name}: channel ${channelLabel(names, i)} is already subscribed; a fan-out branch takes one subscriber`;
        subscriber.error(new ComponentError('FLUME_CONFIG', message, { component: opts.name }));
        return;
      }
      subscribers[i] = subscriber;
      subscribed++;
      if (run) run.resume(i);
      else if (subscribed === names.length) connect();
      return () => {
        if (subscribers[i] !== subscriber) return;
        subscribers[i] = undefined;
        subscribed--;
        if (subscribed === 0 && run) {
          const r = run;
          run = undefined;
          r.close();
        }
      };
    });

  return names.map((_, i) => branch(i));
}
