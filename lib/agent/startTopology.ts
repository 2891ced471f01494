import { asyncScheduler, takeUntil, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { metricsOf } from '../core/metrics.js';
import type { PipelineCounters } from '../core/pipe.js';
import type { Sink } from '../core/sink.js';
import type { ChannelSelector } from '../../operators/routing/channelSelector.js';
import { fanOut } from '../../operators/routing/fanOut.js';
import type { ProcessorFactory, Topology } from './build.js';
import type { ChannelSet } from './channelSet.js';
import { competingSinks } from './competingSinks.js';
import { instantiate } from './plan.js';

export interface StartHooks {
  /** Where each started component's counters go. */
  counters: PipelineCounters;
  /** Stops the sources (a reload or a stop). */
  stop$: Observable<void>;
  /** A source's chain failed. */
  fail(error: unknown): void;
  /** A source ended: by itself, or through `stop$`. */
  sourceEnded(): void;
  /** A network source is listening (multiport_syslogtcp: once per port). */
  listening?(source: string, address: { address: string; port: number }): void;
}

/** How many times a planned source will say it listens: 0 for one that does not listen. */
export function listenersOf(p: { spec: { schema: unknown }; options: Record<string, unknown> }): number {
  const shape = (p.spec.schema as { shape?: Record<string, unknown> }).shape ?? {};
  if (!('onListening' in shape)) return 0;
  return Array.isArray(p.options['ports']) ? p.options['ports'].length : 1;
}

/**
 * Starts a topology's sinks, then its sources, on the running channels, as Flume starts them: each
 * channel gets one consumer (a sink, its group's processor, or several sinks competing as several
 * Flume sink runners would), swapped in; each source runs through its interceptors, and through its
 * selector when it has several channels, into the channels' inputs.
 */
export function startTopology(topology: Topology, channels: ChannelSet, hooks: StartHooks): void {
  const { counters } = hooks;
  const sinks = new Map<string, Sink>();
  for (const p of topology.sinks) {
    const sink = instantiate<Sink>(p);
    counters.add(sink);
    sinks.set(p.name, sink);
  }
  const consumers = new Map<string, Sink[]>();
  const add = (channel: string, sink: Sink) => consumers.set(channel, [...(consumers.get(channel) ?? []), sink]);
  const grouped = new Set<string>();
  for (const g of topology.groups) {
    const members = g.sinks.filter((s) => sinks.has(s));
    if (members.length === 0) continue;
    members.forEach((m) => grouped.add(m));
    const group = (g.processor.factory as unknown as ProcessorFactory)(Object.fromEntries(members.map((m) => [m, sinks.get(m)!])), g.processor.options);
    counters.add(group);
    add(topology.sinks.find((s) => s.name === members[0])!.channel, group);
  }
  for (const p of topology.sinks) if (!grouped.has(p.name)) add(p.channel, sinks.get(p.name)!);
  for (const name of channels.names()) {
    const list = consumers.get(name) ?? [];
    channels.connect(name, list.length <= 1 ? list[0] : competingSinks(list, { name: `${name}-sinks` }));
  }

  for (const p of topology.sources) {
    // Network sources report their bound address, so the agent can say when it is ready for clients.
    const listens = hooks.listening !== undefined && listenersOf(p) > 0;
    const source = instantiate<Observable<Batch>>(listens ? { ...p, options: { ...p.options, onListening: (a: { address: string; port: number }) => hooks.listening!(p.name, a) } } : p);
    counters.add(source);
    // A source that ended says so in its counters (StopTime), for the status line and /metrics.
    const ended = () => {
      const c = metricsOf(source);
      // One that ended while the topology was still being started has started all the same.
      if (c && c.startTime === 0) c.startTime = asyncScheduler.now();
      if (c && c.stopTime === 0) c.stopTime = asyncScheduler.now();
      hooks.sourceEnded();
    };
    let chain = source.pipe(takeUntil(hooks.stop$), tap({ error: hooks.fail, finalize: ended }));
    for (const i of p.interceptors) {
      const op = instantiate<OperatorFunction<Batch, Batch>>(i);
      counters.add(op);
      chain = chain.pipe(op);
    }
    const selector = instantiate<ChannelSelector>(p.selector);
    const parts = p.channels.length === 1 && selector.type === 'replicating' ? { [p.channels[0]!]: chain } : fanOut(chain, selector, p.channels, { name: p.name });
    for (const [channel, part] of Object.entries(parts)) channels.feed(channel, part);
  }
}
