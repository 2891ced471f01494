import { merge, Observable, Subject, takeUntil, type OperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { FlumeError } from '../core/errors.js';
import { metricsOf, type ComponentCounters, type MetricsSnapshot } from '../core/metrics.js';
import type { Sink } from '../core/sink.js';
import type { Planned, SourcePlan, Topology } from './build.js';

type Stage = OperatorFunction<Batch, Batch>;

/** How the agent fans one source out to several channels and groups sinks: supplied by the composition root. */
export interface Wiring {
  fanOut(source: Observable<Batch>, plan: SourcePlan): Record<string, Observable<Batch>>;
  group(sinks: { name: string; sink: Sink }[], processor: Topology['groups'][number]['processor'] | { type: 'competing' }, name: string): Sink;
}

export interface RunningAgent {
  /** Resolves when every sink closed after the sources ended or `stop()`; rejects on a fatal error. */
  readonly done: Promise<void>;
  /** Graceful: sources stop, channels drain to their sinks within `timeoutMs`, sinks close. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Flume's `/metrics` view: `SOURCE.r1`, `CHANNEL.c1`, `SINK.k1`, … */
  metrics(): Record<string, MetricsSnapshot>;
  /** Counters of every component, for the monitoring server. */
  readonly counters: readonly ComponentCounters[];
}

function instantiate<T>(p: Planned): T {
  return (p.factory as unknown as (options: Record<string, unknown>) => T)(p.options);
}

/**
 * Starts a validated topology: channels, then sinks, then sources, as Flume does. Each source runs
 * through its interceptors and selector into its channels; each channel feeds its sinks (one sink,
 * a sink group, or several sinks competing for its batches as several Flume sink runners would).
 */
export function runAgent(topology: Topology, wiring: Wiring): RunningAgent {
  const stop$ = new Subject<void>();
  const counters = new Map<string, ComponentCounters>();
  const track = (value: unknown) => {
    const c = metricsOf(value);
    if (!c) return;
    let key = `${c.type}.${c.name}`;
    for (let i = 2; counters.has(key) && counters.get(key) !== c; i++) key = `${c.type}.${c.name}-${i}`;
    counters.set(key, c);
  };

  const channelOps = new Map<string, Stage>();
  for (const p of topology.channels) {
    const op = instantiate<Stage>(p);
    track(op);
    channelOps.set(p.name, op);
  }

  const sinks = new Map<string, Sink>();
  for (const p of topology.sinks) {
    const sink = instantiate<Sink>(p);
    track(sink);
    sinks.set(p.name, sink);
  }

  // Consumers per channel: each group is one consumer; ungrouped sinks are one consumer each.
  const consumers = new Map<string, Sink[]>();
  const addConsumer = (channel: string, sink: Sink) => consumers.set(channel, [...(consumers.get(channel) ?? []), sink]);
  const grouped = new Set<string>();
  for (const g of topology.groups) {
    const members = g.sinks.filter((s) => sinks.has(s)).map((name) => ({ name, sink: sinks.get(name)! }));
    if (members.length === 0) continue;
    members.forEach((m) => grouped.add(m.name));
    const channel = topology.sinks.find((s) => s.name === members[0]!.name)!.channel;
    const group = wiring.group(members, g.processor, g.name);
    track(group);
    addConsumer(channel, group);
  }
  for (const p of topology.sinks) if (!grouped.has(p.name)) addConsumer(p.channel, sinks.get(p.name)!);

  const inputs = new Map<string, Observable<Batch>[]>();
  for (const p of topology.sources) {
    const source = instantiate<Observable<Batch>>(p);
    track(source);
    let chain = source.pipe(takeUntil(stop$));
    for (const i of p.interceptors) {
      const op = instantiate<Stage>(i);
      track(op);
      chain = chain.pipe(op);
    }
    const parts = p.channels.length === 1 && p.selector.type === 'replicating' ? { [p.channels[0]!]: chain } : wiring.fanOut(chain, p);
    for (const [channel, part] of Object.entries(parts)) inputs.set(channel, [...(inputs.get(channel) ?? []), part]);
  }

  const subscriptions: Subscription[] = [];
  const closed: Promise<void>[] = [];
  let fatal: unknown;
  for (const [channel, op] of channelOps) {
    const out = merge(...(inputs.get(channel) ?? [])).pipe(op);
    const list = consumers.get(channel) ?? [];
    const consumer = list.length === 1 ? list[0]! : list.length > 1 ? wiring.group(list.map((sink, i) => ({ name: `${channel}-${i}`, sink })), { type: 'competing' }, `${channel}-sinks`) : undefined;
    if (!consumer) {
      // A channel only sources write to: nothing takes from it, as in Flume; keep it subscribed so puts land.
      subscriptions.push(out.subscribe({ error: (e: unknown) => (fatal ??= e) }));
      continue;
    }
    subscriptions.push(
      out.subscribe({
        next: (b) => consumer.next(b),
        error: (e: unknown) => {
          fatal ??= e;
          consumer.error(e);
        },
        complete: () => consumer.complete(),
      }),
    );
    closed.push(consumer.closed);
  }

  const now = Date.now();
  for (const c of counters.values()) if (c.startTime === 0) c.startTime = now;

  const done = Promise.all(closed).then(() => {
    const end = Date.now();
    for (const c of counters.values()) if (c.stopTime === 0) c.stopTime = end;
    if (fatal !== undefined) throw fatal;
  });
  done.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  return {
    done,
    counters: [...counters.values()],
    metrics() {
      const out: Record<string, MetricsSnapshot> = {};
      for (const [key, c] of counters) out[key] = c.snapshot();
      return out;
    },
    stop({ timeoutMs = 30_000 } = {}) {
      if (stopping) return stopping;
      stop$.next();
      stop$.complete();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((_, reject) => {
        timer = setTimeout(() => {
          let left = 0;
          for (const c of counters.values()) if (c.type === 'CHANNEL') left += c.get('ChannelSize');
          for (const s of subscriptions) s.unsubscribe();
          reject(new FlumeError('FLUME_STOP_TIMEOUT', `channels did not drain within ${timeoutMs} ms; ${left} events were left in them`));
        }, timeoutMs);
      });
      stopping = Promise.race([done, timeout]).finally(() => clearTimeout(timer));
      return stopping;
    },
  };
}
