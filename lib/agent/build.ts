import { ConfigError } from '../core/errors.js';
import type { Sink } from '../core/sink.js';
import type { ChannelSelector } from '../../operators/routing/channelSelector.js';
import { reporter, type Diagnostic, type Report } from './diagnostic.js';
import type { AgentConfig, ComponentConfig, Located } from './flumeConfig.js';
import { planComponent, propsBelow, type Planned } from './plan.js';
import type { Registry } from './registry.js';

// The option mapping lives in mapOptions.ts; tests of other components reach it here.
export { coerce, mapOptions } from './mapOptions.js';

export interface SourcePlan extends Planned {
  channels: string[];
  /** Its channel selector (`selector.type`, replicating when not set). */
  selector: Planned;
  interceptors: Planned[];
}

export interface SinkPlan extends Planned {
  channel: string;
}

export interface GroupPlan {
  name: string;
  sinks: string[];
  /** Its sink processor (`processor.type`, Flume's `default` when not set). */
  processor: Planned;
  line: number;
}

export interface Topology {
  agent: string;
  sources: SourcePlan[];
  channels: Planned[];
  sinks: SinkPlan[];
  groups: GroupPlan[];
}

/** A selector factory, as registered. */
export type SelectorFactory = (options: Record<string, unknown>) => ChannelSelector;
/** A sink processor factory, as registered: the group's sinks by name, then its options. */
export type ProcessorFactory = (sinks: Record<string, Sink>, options: Record<string, unknown>) => Sink;

/**
 * Turns an agent's configuration into a topology: resolves every type (selectors and sink processors
 * included), maps Flume's keys onto each component's options through the component's own
 * declaration, validates them with its schema, and checks the wiring rules Flume checks. Every
 * problem is reported at once, each at its line.
 */
export function buildTopology(config: AgentConfig, registry: Registry): { topology: Topology; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { file, agent } = config;
  const report = reporter(file, diagnostics);
  const keyOf = (c: ComponentConfig, prop: string) => `${agent}.${c.section}.${c.name}.${prop}`;
  const plan = (c: ComponentConfig, kind: 'source' | 'channel' | 'sink', structural: Set<string>) =>
    planComponent(registry, report, { kind, name: c.name, props: c.props, keyPrefix: keyOf(c, ''), line: c.line, structural });
  const topology: Topology = { agent, sources: [], channels: [], sinks: [], groups: [] };

  // Channels first: sources and sinks are checked against them.
  const channelPlans = new Map<string, Planned>();
  for (const c of config.components.channels.values()) {
    const p = plan(c, 'channel', new Set());
    if (p) channelPlans.set(c.name, p);
  }
  const channelNames = new Set(config.components.channels.keys());
  const used = new Set<string>();
  const unknownChannel = (name: string) => `unknown channel \`${name}\`; declared channels: ${[...channelNames].join(', ') || 'none'}`;

  /** An option's value and whether the configuration set it (else its default, or undefined when the options are invalid). */
  const valueOf = (p: Planned, option: string, withDefault: boolean): { value: unknown; explicit: boolean } =>
    p.options[option] !== undefined || !withDefault
      ? { value: p.options[option], explicit: true }
      : { value: (p.spec.schema.safeParse(p.options).data as Record<string, unknown> | undefined)?.[option], explicit: false };
  /**
   * batchSize ≤ the channel's transactionCapacity. Where Flume checks both classes (flumeChecksBatchSize)
   * defaults count too: Flume 1.11 drops such a source or sink at start, with an error in its log, and
   * the agent runs without it; rxflume refuses the configuration instead. Elsewhere only values the
   * configuration sets are compared (Flume runs such a pair; rxflume's channel would refuse every put).
   */
  const checkBatch = (owner: Planned, channel: string, at: { line: number; key: string }) => {
    const ch = channelPlans.get(channel);
    if (!ch) return;
    const flume = owner.spec.flumeChecksBatchSize === true && ch.spec.flumeChecksBatchSize === true;
    const batch = valueOf(owner, 'batchSize', flume);
    const txCap = valueOf(ch, 'transactionCapacity', flume);
    if (typeof batch.value !== 'number' || typeof txCap.value !== 'number' || batch.value <= txCap.value) return;
    const where = owner.locations.get('batchSize') ?? at;
    const dflt = (v: { explicit: boolean }) => (v.explicit ? '' : ' (its default)');
    const what = `batchSize ${batch.value}${dflt(batch)} exceeds channel \`${channel}\`'s transactionCapacity ${txCap.value}${dflt(txCap)}`;
    report(
      'error',
      where,
      flume
        ? `${what}: Flume 1.11 drops this ${owner.spec.kind} at start ("Incompatible ${owner.spec.kind} and channel settings") and runs without it; set batchSize ≤ ${txCap.value} or the channel's transactionCapacity ≥ ${batch.value}`
        : `${what}; batch size must be ≤ transactionCapacity (Flume's rule)`,
    );
  };

  for (const c of config.components.sources.values()) {
    const channelsAt = c.props.get('channels');
    const structural = new Set(['channels', 'interceptors']);
    for (const k of c.props.keys()) if (k.startsWith('selector.') || k.startsWith('interceptors.')) structural.add(k);
    const p = plan(c, 'source', structural);
    if (!channelsAt) {
      report('error', { line: c.line, key: keyOf(c, 'channels') }, 'a source needs `channels` (the channels it puts into)');
      continue;
    }
    const channels = channelsAt.value.split(/\s+/).filter(Boolean);
    for (const ch of channels) {
      if (!channelNames.has(ch)) report('error', channelsAt, unknownChannel(ch));
      else used.add(ch);
    }
    const selector = planSelector(registry, report, c, keyOf(c, 'selector.'), channels);
    const interceptors = planInterceptors(registry, report, c, keyOf);
    if (p && selector && interceptors) {
      for (const ch of channels) checkBatch(p, ch, channelsAt);
      limitRequestsToChannels(p, channels.map((ch) => channelPlans.get(ch)));
      topology.sources.push({ ...p, channels, selector, interceptors });
    }
  }

  for (const c of config.components.sinks.values()) {
    const channelAt = c.props.get('channel');
    const p = plan(c, 'sink', new Set(['channel']));
    if (!channelAt) {
      report('error', { line: c.line, key: keyOf(c, 'channel') }, 'a sink needs `channel` (the one channel it takes from)');
      continue;
    }
    if (!channelNames.has(channelAt.value)) {
      report('error', channelAt, unknownChannel(channelAt.value));
      continue;
    }
    used.add(channelAt.value);
    if (p) {
      checkBatch(p, channelAt.value, channelAt);
      if (p.spec.takesAhead) takeAheadFrom(channelPlans.get(channelAt.value), p.spec.takesAhead);
      topology.sinks.push({ ...p, channel: channelAt.value });
    }
  }

  for (const [name, p] of channelPlans) {
    if (used.has(name)) topology.channels.push(p);
    else report('warning', { line: p.line, key: `${agent}.channels.${name}` }, 'no source or sink uses this channel; it is dropped (as Flume does)');
  }

  const grouped = new Map<string, string>();
  for (const g of config.components.sinkgroups.values()) {
    const group = planGroup(registry, report, g, config, grouped, keyOf);
    if (group) topology.groups.push(group);
  }

  if (config.declared.channels.names.length === 0) report('error', { line: 0, key: `${agent}.channels` }, 'an agent needs at least one channel');
  if (config.declared.sources.names.length === 0 && config.declared.sinks.names.length === 0) {
    report('error', { line: 0, key: `${agent}.sources` }, 'an agent needs at least one source or sink');
  }
  return { topology, diagnostics };
}

/** The source's channel selector, bound to its channels here as fanOut will bind it at start. */
function planSelector(registry: Registry, report: Report, c: ComponentConfig, keyPrefix: string, channels: string[]): Planned | undefined {
  const props = propsBelow(c.props, 'selector.');
  const p = planComponent(registry, report, { kind: 'selector', name: c.name, props, keyPrefix, line: c.line, defaultType: 'replicating' });
  if (!p) return undefined;
  return refused(report, p, props, keyPrefix, () => (p.factory as unknown as SelectorFactory)(p.options).bind(channels)) ? undefined : p;
}

/** The group's sink processor, built here over stand-ins for its sinks as it will be at start. */
function planGroup(
  registry: Registry,
  report: Report,
  g: ComponentConfig,
  config: AgentConfig,
  grouped: Map<string, string>,
  keyOf: (c: ComponentConfig, p: string) => string,
): GroupPlan | undefined {
  const sinksAt = g.props.get('sinks');
  if (!sinksAt) {
    report('error', { line: g.line, key: keyOf(g, 'sinks') }, 'a sink group needs `sinks`');
    return undefined;
  }
  const sinks = sinksAt.value.split(/\s+/).filter(Boolean);
  for (const s of sinks) {
    if (!config.components.sinks.has(s)) report('error', sinksAt, `unknown sink \`${s}\``);
    else if (grouped.has(s)) report('error', sinksAt, `sink \`${s}\` is already in group \`${grouped.get(s)}\`; a sink belongs to one group at most`);
    else grouped.set(s, g.name);
  }
  for (const [k, at] of g.props) if (k !== 'sinks' && !k.startsWith('processor.')) report('error', at, `unknown sink group property \`${k}\`; a group has \`sinks\` and \`processor.…\``);
  const keyPrefix = keyOf(g, 'processor.');
  const props = propsBelow(g.props, 'processor.');
  const processor = planComponent(registry, report, { kind: 'sinkProcessor', name: g.name, props, keyPrefix, line: sinksAt.line, defaultType: 'default' });
  if (!processor) return undefined;
  const standIns = Object.fromEntries(sinks.map((s): [string, Sink] => [s, { next() {}, error() {}, complete() {}, closed: Promise.resolve() }]));
  if (refused(report, processor, props, keyPrefix, () => (processor.factory as unknown as ProcessorFactory)(standIns, processor.options))) return undefined;
  return { name: g.name, sinks, processor, line: sinksAt.line };
}

/**
 * Runs a dry build of a selector or processor against its channels or sinks, and reports what its
 * factory refused (an unknown channel, a priority for a sink not in the group) at the property it
 * came from. True when it refused.
 */
function refused(report: Report, p: Planned, props: ReadonlyMap<string, Located>, keyPrefix: string, build: () => unknown): boolean {
  try {
    build();
    return false;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) {
      // `multiplexing.mapping.CZ.0`: the component's name, then the option's path, then a list's index.
      const path = issue.path.split('.').slice(1);
      if (path.length > 1 && /^\d+$/.test(path.at(-1)!)) path.pop();
      const key = path.join('.');
      const at = props.get(key) ?? p.locations.get(key) ?? p.locations.get(path[0]!) ?? { line: p.line, key: `${keyPrefix}${key}` };
      report('error', at, `expected ${issue.expected}, received ${issue.received}${issue.suggestion ? ` (did you mean \`${issue.suggestion}\`?)` : ''}`);
    }
    return true;
  }
}

function planInterceptors(registry: Registry, report: Report, c: ComponentConfig, keyOf: (c: ComponentConfig, p: string) => string): Planned[] | undefined {
  const listAt = c.props.get('interceptors');
  const names = listAt ? listAt.value.split(/\s+/).filter(Boolean) : [];
  for (const [k, at] of c.props) {
    const name = k.split('.')[1];
    if (k.startsWith('interceptors.') && name !== undefined && !names.includes(name)) {
      report('warning', at, `interceptor \`${name}\` is not listed in \`${keyOf(c, 'interceptors')}\`; ignored`);
    }
  }
  const out: Planned[] = [];
  let ok = true;
  for (const name of names) {
    const prefix = `interceptors.${name}.`;
    const p = planComponent(registry, report, { kind: 'interceptor', name, props: propsBelow(c.props, prefix), keyPrefix: keyOf(c, prefix), line: listAt!.line });
    if (p) out.push(p);
    else ok = false;
  }
  return ok ? out : undefined;
}

/**
 * A sink that writes many batches per request gets `events` in hand (at most the channel's capacity) —
 * as batches of transactionCapacity — instead of one batch at a time, unless the user set maxInFlight:
 * one batch at a time would make every batch pay the request's fixed latency. Bounded in events, not
 * by the capacity alone: a file channel's million events must not all come into memory at once.
 */
function takeAheadFrom(channel: Planned | undefined, events: number): void {
  if (!channel || channel.options['maxInFlight'] !== undefined) return;
  const parsed = channel.spec.schema.safeParse(channel.options).data as { maxInFlight?: unknown; capacity?: unknown; transactionCapacity?: unknown } | undefined;
  const { maxInFlight, capacity, transactionCapacity } = parsed ?? {};
  if (typeof maxInFlight !== 'number' || typeof capacity !== 'number' || typeof transactionCapacity !== 'number') return;
  channel.options['maxInFlight'] = Math.max(maxInFlight, Math.ceil(Math.min(capacity, events) / transactionCapacity));
}

/**
 * A source that takes many events per request (http) is told what its channels can store in one
 * transaction, unless the user said otherwise: it then refuses a larger request while reading it
 * (503, as Flume's channel would), instead of parsing millions of events the channel must refuse.
 */
function limitRequestsToChannels(source: Planned, channels: readonly (Planned | undefined)[]): void {
  const shape = (source.spec.schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
  if (!('maxEventsPerRequest' in shape) || source.options['maxEventsPerRequest'] !== undefined) return;
  const capacities = channels.map((c) => (c ? (c.spec.schema.safeParse(c.options).data as { transactionCapacity?: unknown } | undefined)?.transactionCapacity : undefined));
  const numbers = capacities.filter((n): n is number => typeof n === 'number');
  if (numbers.length === 0) return;
  source.options['maxEventsPerRequest'] = Math.min(...numbers);
}
