import { Observable, type OperatorFunction, type Subscriber, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../../lib/core/batch.js';
import { parseOptions } from '../../lib/core/config.js';
import { ComponentError, ConfigError, toError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { metricsOf } from '../../lib/core/metrics.js';
import type { BoundSelector, ChannelSelector } from './channelSelector.js';

/** Called when an optional channel refused its part (Flume logs it and goes on). */
export type OptionalFailureHandler = (failure: { channel: number; name: string | undefined; events: number; error: Error }) => void;

export const fanOutOptions = z.strictObject({
  name: z.string().min(1).default('fanOut').describe('Name used in errors.'),
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

const fanOutSpec = { name: 'fanOut', schema: fanOutOptions };

/** Counters of one fan-out, read with `fanOutStats(branches)`. */
export interface FanOutStats {
  BatchReceivedCount: number;
  EventReceivedCount: number;
  /** Events no channel takes (multiplexing without default): acked and dropped, as in Flume. */
  EventUnroutedCount: number;
  /** Required parts a channel nacked (their source batch was nacked). */
  RequiredPutFailCount: number;
  /** Optional parts a channel nacked, and their events. */
  OptionalPutFailCount: number;
  OptionalEventFailCount: number;
  /** Events of optional parts never offered: their channel had `maxPendingOptional` parts unsettled. */
  OptionalEventSkippedCount: number;
}

const STATS: unique symbol = Symbol.for('rxflume.fanOutStats');

/** The counters of the fan-out that returned `branches`. */
export function fanOutStats(branches: object): FanOutStats {
  const stats = (branches as { [STATS]?: FanOutStats })[STATS];
  if (!stats) throw new TypeError('fanOutStats: not the result of fanOut()');
  return { ...stats };
}

type Stage = OperatorFunction<Batch, Batch>;

interface Part {
  branch: number;
  events: FlumeEvent[];
}

/** A source batch between its split and its settlement. */
interface Pending {
  parent: Batch;
  left: number;
  error: Error | undefined;
  optional: Part[];
  done: boolean;
}

interface BranchRun {
  /** Parts not yet handed to the branch's subscriber (not subscribed, or a hand-over under way). */
  queue: Batch[];
  flushing: boolean;
  pendingOptional: number;
  ended: boolean;
}

/** One subscription of the source, from the moment every branch is subscribed until none is. */
interface Run {
  closed: boolean;
  sub: Subscription | undefined;
  branches: BranchRun[];
  incoming: Batch[];
  routing: boolean;
  /** Batches with optional parts, in source order, waiting for their required outcome. */
  fifo: Pending[];
  pumping: boolean;
  end: 'complete' | { error: unknown } | undefined;
}

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
  const bound = selector.bind(shape.names);
  const branches = fanOutBranches(source, bound, shape.names, opts);
  const outputs = branches.map((b, i) => (shape.stages ? b.pipe(shape.stages[i]!) : b));
  const result: Observable<Batch>[] | Record<string, Observable<Batch>> = shape.keyed
    ? Object.fromEntries(shape.names.map((name, i) => [name!, outputs[i]!]))
    : outputs;
  Object.defineProperty(result, STATS, { value: branches.stats, enumerable: false });
  return result;
}

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

type Options = z.output<typeof fanOutOptions>;

function fanOutBranches(
  source: Observable<Batch>,
  bound: BoundSelector,
  names: readonly (string | undefined)[],
  opts: Options,
): Observable<Batch>[] & { stats: FanOutStats } {
  const width = names.length;
  const stats: FanOutStats = {
    BatchReceivedCount: 0,
    EventReceivedCount: 0,
    EventUnroutedCount: 0,
    RequiredPutFailCount: 0,
    OptionalPutFailCount: 0,
    OptionalEventFailCount: 0,
    OptionalEventSkippedCount: 0,
  };
  const subscribers: (Subscriber<Batch> | undefined)[] = new Array(width).fill(undefined);
  let subscribed = 0;
  let run: Run | undefined;

  const label = (i: number): string => (names[i] !== undefined ? `${names[i]} (#${i})` : `#${i}`);
  const closedError = (i: number): ComponentError =>
    new ComponentError('FLUME_CHANNEL_CLOSED', `${opts.name}: channel ${label(i)} was unsubscribed before it took its part of the batch`, {
      component: opts.name,
      retriable: true,
    });
  const sourceClosedError = (): ComponentError =>
    new ComponentError('FLUME_CHANNEL_CLOSED', `${opts.name}: every channel was unsubscribed`, { component: opts.name, retriable: true });

  const connect = (): void => {
    const r: Run = {
      closed: false,
      sub: undefined,
      branches: names.map(() => ({ queue: [], flushing: false, pendingOptional: 0, ended: false })),
      incoming: [],
      routing: false,
      fifo: [],
      pumping: false,
      end: undefined,
    };
    run = r;
    const sub = source.subscribe({
      next: (batch) => accept(r, batch),
      error: (error: unknown) => finish(r, { error }),
      complete: () => finish(r, 'complete'),
    });
    // Every branch may have ended and unsubscribed while the source emitted synchronously.
    if (r.closed) sub.unsubscribe();
    else r.sub = sub;
  };

  const disconnect = (r: Run): void => {
    r.closed = true;
    if (run === r) run = undefined;
    r.sub?.unsubscribe();
    r.fifo.length = 0;
    for (const batch of r.incoming.splice(0)) batch.nack(sourceClosedError());
    r.branches.forEach((br, i) => {
      for (const part of br.queue.splice(0)) part.nack(closedError(i));
    });
  };

  const accept = (r: Run, batch: Batch): void => {
    if (r.closed) return batch.nack(sourceClosedError());
    r.incoming.push(batch);
    // Trampolined: a batch settled synchronously can make the source emit the next one from inside
    // route(); it waits here so every branch sees batches in source order.
    if (r.routing) return;
    r.routing = true;
    try {
      while (r.incoming.length > 0 && !r.closed) route(r, r.incoming.shift()!);
    } finally {
      r.routing = false;
    }
    // The source may have ended while batches waited here: the end goes out after them.
    if (r.end) flushAll(r);
  };

  const route = (r: Run, batch: Batch): void => {
    const events = batch.events as FlumeEvent[];
    const n = events.length;
    stats.BatchReceivedCount++;
    stats.EventReceivedCount += n;
    if (n === 0) return batch.ack();
    const required: (FlumeEvent[] | undefined)[] = new Array(width);
    const optional: (FlumeEvent[] | undefined)[] = new Array(width);
    try {
      const constant = bound.constant;
      if (constant) {
        let first = true;
        for (const i of constant.required) {
          required[i] = first ? events : events.map(copyEvent);
          first = false;
        }
        for (const i of constant.optional) {
          optional[i] = first ? events : events.map(copyEvent);
          first = false;
        }
        if (first) stats.EventUnroutedCount += n;
      } else {
        for (let k = 0; k < n; k++) {
          const e = events[k]!;
          const { required: req, optional: opt } = bound.route(e);
          let first = true;
          for (const i of req) {
            (required[i] ??= []).push(first ? e : copyEvent(e));
            first = false;
          }
          for (const i of opt) {
            (optional[i] ??= []).push(first ? e : copyEvent(e));
            first = false;
          }
          if (first) stats.EventUnroutedCount++;
        }
      }
    } catch (error) {
      return batch.nack(toError(error));
    }

    const p: Pending = { parent: batch, left: 0, error: undefined, optional: [], done: false };
    for (let i = 0; i < width; i++) {
      if (required[i]) p.left++;
      if (optional[i]) p.optional.push({ branch: i, events: optional[i]! });
    }
    if (p.optional.length > 0) r.fifo.push(p);
    if (p.left === 0) return requiredDone(r, p);
    for (let i = 0; i < width; i++) {
      const events = required[i];
      if (!events) continue;
      offer(
        r,
        i,
        createBatch(events, {
          onAck: () => childSettled(r, p),
          onNack: (error) => {
            stats.RequiredPutFailCount++;
            p.error ??= error;
            childSettled(r, p);
          },
        }),
      );
    }
  };

  const childSettled = (r: Run, p: Pending): void => {
    if (--p.left === 0) requiredDone(r, p);
  };

  const requiredDone = (r: Run, p: Pending): void => {
    p.done = true;
    if (p.optional.length > 0) pump(r);
    if (p.error) p.parent.nack(p.error);
    else p.parent.ack();
  };

  /** Offers the optional parts of settled batches at the head of the FIFO. */
  const pump = (r: Run): void => {
    if (r.pumping || r.closed) return;
    r.pumping = true;
    try {
      while (r.fifo.length > 0 && r.fifo[0]!.done && !r.closed) {
        const p = r.fifo.shift()!;
        if (p.error === undefined) for (const part of p.optional) offerOptional(r, part);
      }
    } finally {
      r.pumping = false;
    }
    if (r.end && r.fifo.length === 0) flushAll(r);
  };

  const offerOptional = (r: Run, part: Part): void => {
    const br = r.branches[part.branch]!;
    const n = part.events.length;
    if (br.pendingOptional >= opts.maxPendingOptional) {
      stats.OptionalEventSkippedCount += n;
      return;
    }
    br.pendingOptional++;
    offer(
      r,
      part.branch,
      createBatch(part.events, {
        onAck: () => {
          br.pendingOptional--;
        },
        onNack: (error) => {
          br.pendingOptional--;
          stats.OptionalPutFailCount++;
          stats.OptionalEventFailCount += n;
          try {
            opts.onOptionalFailure?.({ channel: part.branch, name: names[part.branch], events: n, error });
          } catch {
            // A reporting hook must not break the channel that called us; the failure is counted.
          }
        },
      }),
    );
  };

  const offer = (r: Run, i: number, part: Batch): void => {
    r.branches[i]!.queue.push(part);
    flush(r, i);
  };

  /** Hands queued parts, then the end once nothing more can come, to branch i's subscriber. */
  const flush = (r: Run, i: number): void => {
    const br = r.branches[i]!;
    const sub = subscribers[i];
    if (!sub || br.flushing || br.ended) return;
    br.flushing = true;
    try {
      while (br.queue.length > 0 && subscribers[i] === sub && !r.closed) sub.next(br.queue.shift()!);
      if (r.end && !r.routing && r.fifo.length === 0 && br.queue.length === 0 && subscribers[i] === sub && !r.closed) {
        br.ended = true;
        if (r.end === 'complete') sub.complete();
        else sub.error(r.end.error);
      }
    } finally {
      br.flushing = false;
    }
  };

  const flushAll = (r: Run): void => {
    for (let i = 0; i < width && !r.closed; i++) flush(r, i);
  };

  const finish = (r: Run, end: 'complete' | { error: unknown }): void => {
    if (r.closed || r.end) return;
    r.end = end;
    flushAll(r);
  };

  const branch = (i: number): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      if (subscribers[i]) {
        subscriber.error(
          new ComponentError('FLUME_CONFIG', `${opts.name}: channel ${label(i)} is already subscribed; a fan-out branch takes one subscriber`, {
            component: opts.name,
          }),
        );
        return;
      }
      subscribers[i] = subscriber;
      subscribed++;
      if (run) {
        run.branches[i]!.ended = false;
        flush(run, i);
      } else if (subscribed === width) {
        connect();
      }
      return () => {
        if (subscribers[i] !== subscriber) return;
        subscribers[i] = undefined;
        subscribed--;
        if (subscribed === 0 && run) disconnect(run);
      };
    });

  return Object.assign(
    names.map((_, i) => branch(i)),
    { stats },
  );
}

function copyEvent(e: FlumeEvent): FlumeEvent {
  return { headers: { ...e.headers }, body: e.body };
}
