import { mergeAll, Observable, Subject, takeUntil, tap, type OperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { ComponentError, FlumeError } from '../core/errors.js';
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
  /** Resolves once the agent stopped (or every source ended) and every channel drained to its sinks; rejects on a fatal error. */
  readonly done: Promise<void>;
  /** Graceful: sources stop, channels drain to their sinks within `timeoutMs`, sinks close. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Replaces the running topology, as Flume's reload: sources stop, then the new topology starts.
   * A channel whose type and options are unchanged keeps running with its content, and is handed to
   * the new sinks; a removed or changed channel drains to its old sinks and closes.
   */
  reload(topology: Topology): void;
  /** Flume's `/metrics` view: `SOURCE.r1`, `CHANNEL.c1`, `SINK.k1`, … */
  metrics(): Record<string, MetricsSnapshot>;
  /** Counters of every running component, for the monitoring server. */
  readonly counters: readonly ComponentCounters[];
}

function instantiate<T>(p: Planned): T {
  return (p.factory as unknown as (options: Record<string, unknown>) => T)(p.options);
}

/**
 * The sink end of a channel that outlives its sinks: batches go to the current sink; a new sink can
 * be swapped in (the old one completes once its batches settled); with no sink, batches wait.
 */
class SwitchSink implements Sink {
  private target: Sink | undefined;
  private readonly held: Batch[] = [];
  private readonly retired: Promise<void>[] = [];
  private ended = false;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  next(batch: Batch): void {
    if (this.target) this.target.next(batch);
    else this.held.push(batch);
  }

  swap(next: Sink | undefined): void {
    const old = this.target;
    this.target = next;
    if (old) {
      old.complete();
      this.retired.push(old.closed.catch(() => undefined));
    }
    if (next) for (const b of this.held.splice(0)) next.next(b);
  }

  error(error: unknown): void {
    this.end(() => this.target?.error(error), error);
  }

  complete(): void {
    this.end(() => this.target?.complete());
  }

  private end(notify: () => void, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    notify();
    for (const b of this.held.splice(0)) b.nack(error ?? new ComponentError('FLUME_CHANNEL_CLOSED', 'agent stopped before a sink took this batch', { retriable: true }));
    const last = this.target ? this.target.closed.catch(() => undefined) : Promise.resolve();
    void Promise.all([...this.retired, last]).then(() => this.resolveClosed());
  }
}

interface ChannelEntry {
  name: string;
  fingerprint: string;
  counters: ComponentCounters | undefined;
  inputs: Subject<Observable<Batch>>;
  sink: SwitchSink;
  subscription: Subscription;
}

/**
 * Runs a validated topology: channels, then sinks, then sources, as Flume starts them. Each source
 * runs through its interceptors and selector into its channels; each channel feeds its sinks (one
 * sink, a sink group, or several sinks competing for its batches as several Flume sink runners would).
 * With `finishWhenSourcesEnd`, the agent drains and finishes once every source has ended by itself.
 */
export interface RunAgentOptions {
  /**
   * Finish (drain and stop) once every source has ended by itself. Flume agents never do; it suits
   * runs without configuration reload, where nothing could start a new source.
   */
  finishWhenSourcesEnd?: boolean;
  /**
   * Called once, with the first error that ends a component (a source that cannot bind its port, a
   * channel that cannot open its directory), as soon as it happens; `done` rejects with it after the
   * stop. The CLI stops the agent then, rather than running on without that component.
   */
  onFatal?: (error: unknown) => void;
}

export function runAgent(initial: Topology, wiring: Wiring, options: RunAgentOptions = {}): RunningAgent {
  const channels = new Map<string, ChannelEntry>();
  const closed: Promise<void>[] = [];
  let counters = new Map<string, ComponentCounters>();
  let fatal: unknown;
  let stopSources = new Subject<void>();
  let liveSources = 0;
  let replacing = false;
  let finished = false;
  const fail = (e: unknown): void => {
    if (fatal !== undefined) return;
    fatal = e;
    options.onFatal?.(e);
  };

  let resolveFinished!: () => void;
  const allInputsClosed = new Promise<void>((resolve) => (resolveFinished = resolve));
  const done = allInputsClosed
    .then(() => Promise.all(closed))
    .then(() => {
      const end = Date.now();
      for (const c of counters.values()) if (c.stopTime === 0) c.stopTime = end;
      if (fatal !== undefined) throw fatal;
    });
  done.catch(() => undefined);

  /** Closes every channel's input: they drain to their sinks and complete. */
  const finish = () => {
    if (finished) return;
    finished = true;
    stopSources.next();
    for (const entry of channels.values()) entry.inputs.complete();
    resolveFinished();
  };

  const openChannel = (p: Planned, fingerprint: string): ChannelEntry => {
    const op = instantiate<Stage>(p);
    const inputs = new Subject<Observable<Batch>>();
    const sink = new SwitchSink();
    const subscription = inputs.pipe(mergeAll(), op).subscribe({
      next: (b) => sink.next(b),
      error: (e: unknown) => {
        fail(e);
        sink.error(e);
      },
      complete: () => sink.complete(),
    });
    closed.push(sink.closed);
    return { name: p.name, fingerprint, counters: metricsOf(op), inputs, sink, subscription };
  };

  const start = (topology: Topology) => {
    const next = new Map<string, ComponentCounters>();
    const track = (value: unknown) => trackCounters(metricsOf(value));
    const trackCounters = (c: ComponentCounters | undefined) => {
      if (!c) return;
      let key = `${c.type}.${c.name}`;
      for (let i = 2; next.has(key) && next.get(key) !== c; i++) key = `${c.type}.${c.name}-${i}`;
      next.set(key, c);
    };

    // Channels: keep the unchanged ones with their content; drain and close the others.
    const wanted = new Map(topology.channels.map((p) => [p.name, p]));
    for (const [name, entry] of channels) {
      const p = wanted.get(name);
      if (!p || fingerprintOf(p) !== entry.fingerprint) {
        entry.inputs.complete();
        channels.delete(name);
      }
    }
    for (const p of topology.channels) {
      if (!channels.has(p.name)) channels.set(p.name, openChannel(p, fingerprintOf(p)));
      trackCounters(channels.get(p.name)!.counters);
    }

    // Sinks: one consumer per channel (a group, a single sink, or competing sinks), swapped in.
    const sinks = new Map<string, Sink>();
    for (const p of topology.sinks) {
      const sink = instantiate<Sink>(p);
      track(sink);
      sinks.set(p.name, sink);
    }
    const consumers = new Map<string, Sink[]>();
    const add = (channel: string, sink: Sink) => consumers.set(channel, [...(consumers.get(channel) ?? []), sink]);
    const grouped = new Set<string>();
    for (const g of topology.groups) {
      const members = g.sinks.filter((s) => sinks.has(s)).map((name) => ({ name, sink: sinks.get(name)! }));
      if (members.length === 0) continue;
      members.forEach((m) => grouped.add(m.name));
      const group = wiring.group(members, g.processor, g.name);
      track(group);
      add(topology.sinks.find((s) => s.name === members[0]!.name)!.channel, group);
    }
    for (const p of topology.sinks) if (!grouped.has(p.name)) add(p.channel, sinks.get(p.name)!);
    for (const [name, entry] of channels) {
      const list = consumers.get(name) ?? [];
      entry.sink.swap(list.length <= 1 ? list[0] : wiring.group(list.map((sink, i) => ({ name: `${name}-${i}`, sink })), { type: 'competing' }, `${name}-sinks`));
    }

    // Sources last, into the channels' inputs.
    const stop$ = stopSources;
    liveSources = 0;
    for (const p of topology.sources) {
      const source = instantiate<Observable<Batch>>(p);
      track(source);
      liveSources++;
      let chain = source.pipe(
        takeUntil(stop$),
        tap({
          error: fail,
          finalize: () => {
            // A source that ended by itself (not stopped for a reload or a stop) counts towards finishing.
            if (stop$ !== stopSources || replacing) return;
            if (--liveSources === 0 && options.finishWhenSourcesEnd) finish();
          },
        }),
      );
      for (const i of p.interceptors) {
        const op = instantiate<Stage>(i);
        track(op);
        chain = chain.pipe(op);
      }
      const parts = p.channels.length === 1 && p.selector.type === 'replicating' ? { [p.channels[0]!]: chain } : wiring.fanOut(chain, p);
      for (const [channel, part] of Object.entries(parts)) channels.get(channel)!.inputs.next(part);
    }

    const now = Date.now();
    for (const c of next.values()) if (c.startTime === 0) c.startTime = now;
    counters = next;
  };

  start(initial);

  let stopping: Promise<void> | undefined;
  return {
    done,
    get counters() {
      return [...counters.values()];
    },
    metrics() {
      const out: Record<string, MetricsSnapshot> = {};
      for (const [key, c] of counters) out[key] = c.snapshot();
      return out;
    },
    reload(topology: Topology) {
      if (finished) throw new FlumeError('FLUME_CONFIG', 'the agent has stopped; it cannot be reloaded');
      replacing = true;
      stopSources.next();
      stopSources.complete();
      stopSources = new Subject<void>();
      replacing = false;
      start(topology);
    },
    stop({ timeoutMs = 30_000 } = {}) {
      if (stopping) return stopping;
      finish();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((_, reject) => {
        timer = setTimeout(() => {
          let left = 0;
          for (const c of counters.values()) if (c.type === 'CHANNEL') left += c.get('ChannelSize');
          for (const entry of channels.values()) entry.subscription.unsubscribe();
          reject(new FlumeError('FLUME_STOP_TIMEOUT', `channels did not drain within ${timeoutMs} ms; ${left} events were left in them`));
        }, timeoutMs);
      });
      stopping = Promise.race([done, timeout]).finally(() => clearTimeout(timer));
      return stopping;
    },
  };
}

/** Same type and options: the same channel, kept across a reload. */
function fingerprintOf(p: Planned): string {
  return JSON.stringify([p.spec.name, p.options]);
}
