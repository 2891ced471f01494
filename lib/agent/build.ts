import { z } from 'zod';
import { closest, describeValue, pathProblems, schemaAt, toConfigIssues, unwrap, type ComponentKind, type ComponentSpec, type Component } from '../core/config.js';
import { displayValue } from '../core/secrets.js';
import type { ComponentConfig, Diagnostic, Located, AgentConfig } from './flumeConfig.js';

type AnyComponent = Component<(...args: never[]) => unknown>;

/** A component ready to instantiate: its spec, validated options and where it was configured. */
export interface Planned {
  name: string;
  spec: ComponentSpec;
  factory: AnyComponent;
  options: Record<string, unknown>;
  line: number;
  /** Option name → the property it came from, so a failure at start can name its key and line. */
  locations: ReadonlyMap<string, Located>;
}

export type SelectorPlan =
  | { type: 'replicating'; optional: string[] }
  | { type: 'multiplexing'; header: string; mapping: Record<string, string[]>; optional: Record<string, string[]>; default: string[] }
  | { type: 'load_balancing'; policy: 'round_robin' | 'random' };

export interface SourcePlan extends Planned {
  channels: string[];
  selector: SelectorPlan;
  interceptors: Planned[];
}

export interface SinkPlan extends Planned {
  channel: string;
}

export type ProcessorPlan =
  | { type: 'default' }
  | { type: 'failover'; priorities: Record<string, number>; maxPenaltyMs: number }
  | { type: 'load_balance'; selector: 'round_robin' | 'random'; backoff: boolean; maxTimeOutMs: number };

export interface GroupPlan {
  name: string;
  sinks: string[];
  processor: ProcessorPlan;
  line: number;
}

export interface Topology {
  agent: string;
  sources: SourcePlan[];
  channels: Planned[];
  sinks: SinkPlan[];
  groups: GroupPlan[];
}

/** Flume types rxflume knows of but does not implement: named as unsupported, never as unknown. */
const UNSUPPORTED: Record<'source' | 'channel' | 'sink' | 'interceptor', string[]> = {
  source: [
    'thrift',
    'jms',
    'org.apache.flume.source.thriftsource',
    'org.apache.flume.source.jms.jmssource',
    // Flume's own non-core sources (flume-sources, flume-legacy-sources), documented in its guide.
    'org.apache.flume.source.avrolegacy.avrolegacysource',
    'org.apache.flume.source.thriftlegacy.thriftlegacysource',
    'org.apache.flume.source.scribe.scribesource',
    'org.apache.flume.source.twitter.twittersource',
  ],
  channel: ['jdbc', 'org.apache.flume.channel.jdbc.jdbcchannel'],
  sink: [
    'hdfs',
    'irc',
    'thrift',
    'hbase',
    'hbase2',
    'asynchbase',
    'morphline_solr',
    'hive',
    'elasticsearch',
    'org.apache.flume.sink.hdfs.hdfseventsink',
    'org.apache.flume.sink.irc.ircsink',
    'org.apache.flume.sink.thriftsink',
    'org.apache.flume.sink.hbase.hbasesink',
    'org.apache.flume.sink.hbase2.hbase2sink',
    'org.apache.flume.sink.hbase.asynchbasesink',
    'org.apache.flume.sink.solr.morphline.morphlinesolrsink',
    'org.apache.flume.sink.hive.hivesink',
    'org.apache.flume.sink.elasticsearch.elasticsearchsink',
  ],
  interceptor: ['org.apache.flume.sink.solr.morphline.morphlineinterceptor$builder'],
};

const KIND_OF: Record<'sources' | 'channels' | 'sinks', 'source' | 'channel' | 'sink'> = { sources: 'source', channels: 'channel', sinks: 'sink' };

export class Registry {
  private readonly byType = new Map<string, AnyComponent>();

  constructor(readonly components: readonly AnyComponent[]) {
    for (const c of components) for (const t of c.spec.flumeTypes) this.byType.set(`${c.spec.kind}:${t.toLowerCase()}`, c);
  }

  find(kind: ComponentKind, type: string): AnyComponent | undefined {
    return this.byType.get(`${kind}:${type.toLowerCase()}`);
  }

  typesOf(kind: ComponentKind): string[] {
    return this.components.filter((c) => c.spec.kind === kind).flatMap((c) => c.spec.flumeTypes.slice(0, 1));
  }
}

/**
 * Turns an agent's configuration into a topology: resolves every type, maps Flume's keys onto each
 * component's options (through the component's own declaration), validates them with its schema,
 * and checks the wiring rules Flume checks. Every problem is reported at once, each at its line.
 */
export function buildTopology(config: AgentConfig, registry: Registry): { topology: Topology; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { file, agent } = config;
  const report = (severity: Diagnostic['severity'], at: { line: number; key: string; file?: string }, message: string) =>
    diagnostics.push({ severity, file: at.file ?? file, line: at.line, key: at.key, message });
  const keyOf = (c: ComponentConfig, prop: string) => `${agent}.${c.section}.${c.name}.${prop}`;
  const topology: Topology = { agent, sources: [], channels: [], sinks: [], groups: [] };

  const plan = (c: ComponentConfig, kind: ComponentKind, props: Map<string, Located>, structural: Set<string>, keyPrefix: string): Planned | undefined => {
    const typeAt = props.get('type');
    if (!typeAt) {
      report('error', { line: c.line, key: `${keyPrefix}type` }, `missing \`type\`; expected one of ${registry.typesOf(kind).join(', ')}`);
      return undefined;
    }
    const factory = registry.find(kind, typeAt.value);
    if (!factory) {
      const lower = typeAt.value.toLowerCase();
      if (UNSUPPORTED[kind as keyof typeof UNSUPPORTED]?.includes(lower)) {
        report('error', typeAt, `${kind} type \`${typeAt.value}\` is a Flume type rxflume does not support yet; supported: ${registry.typesOf(kind).join(', ')}`);
      } else {
        const suggestion = closest(typeAt.value, registry.typesOf(kind));
        report('error', typeAt, `unknown ${kind} type \`${typeAt.value}\`${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}; supported: ${registry.typesOf(kind).join(', ')}`);
      }
      return undefined;
    }
    const spec = factory.spec;
    const { options, locations, problems } = mapOptions(spec, props, new Set([...structural, 'type']));
    for (const p of problems) report(p.severity ?? 'error', p.at, p.message);
    options['name'] = c.name;
    const parsed = spec.schema.safeParse(options, { reportInput: true });
    if (!parsed.success) {
      const issues = toConfigIssues('', spec.schema, options, parsed.error.issues);
      parsed.error.issues.forEach((issue, i) => {
        const option = String(issue.path[0] ?? '');
        const at = locations.get(option) ?? { line: typeAt.line, key: `${keyPrefix}${option}` };
        const ci = issues[Math.min(i, issues.length - 1)]!;
        report('error', at, `expected ${ci.expected}, received ${ci.received}`);
      });
      return undefined;
    }
    // What can be checked without starting: the paths it names exist, with the right kind and permissions.
    const paths = pathProblems(spec.schema, parsed.data as Record<string, unknown>);
    for (const p of paths) report('error', locateOption(p.option, props, locations) ?? { line: typeAt.line, key: `${keyPrefix}${p.option}` }, p.message);
    if (paths.length > 0) return undefined;
    return { name: c.name, spec, factory, options, line: typeAt.line, locations };
  };

  // Channels first: sources and sinks are checked against them.
  const channelPlans = new Map<string, Planned>();
  for (const c of config.components.channels.values()) {
    const p = plan(c, 'channel', c.props, new Set(), `${agent}.channels.${c.name}.`);
    if (p) channelPlans.set(c.name, p);
  }
  const channelNames = new Set(config.components.channels.keys());
  const used = new Set<string>();

  const checkBatch = (owner: Planned, channel: string, at: { line: number; key: string }) => {
    const batch = owner.options['batchSize'];
    const txCap = channelPlans.get(channel)?.options['transactionCapacity'];
    if (typeof batch === 'number' && typeof txCap === 'number' && batch > txCap) {
      report('error', at, `batchSize ${batch} exceeds channel \`${channel}\`'s transactionCapacity ${txCap}; batch size must be ≤ transactionCapacity (Flume's rule)`);
    }
  };

  for (const c of config.components.sources.values()) {
    const channelsAt = c.props.get('channels');
    const structural = new Set(['channels', 'interceptors']);
    for (const k of c.props.keys()) if (k.startsWith('selector.') || k.startsWith('interceptors.')) structural.add(k);
    const p = plan(c, 'source', c.props, structural, `${agent}.sources.${c.name}.`);
    if (!channelsAt) {
      report('error', { line: c.line, key: keyOf(c, 'channels') }, 'a source needs `channels` (the channels it puts into)');
      continue;
    }
    const channels = channelsAt.value.split(/\s+/).filter(Boolean);
    for (const ch of channels) {
      if (!channelNames.has(ch)) report('error', channelsAt, `unknown channel \`${ch}\`; declared channels: ${[...channelNames].join(', ') || 'none'}`);
      else used.add(ch);
    }
    const selector = planSelector(c, channels, report, keyOf);
    const interceptors = planInterceptors(c, registry, plan, report, keyOf);
    if (p && selector && interceptors) {
      for (const ch of channels) checkBatch(p, ch, p.options['batchSize'] !== undefined ? (c.props.get('batchSize') ?? channelsAt) : channelsAt);
      topology.sources.push({ ...p, channels, selector, interceptors });
    }
  }

  const sinkNames = new Set<string>();
  for (const c of config.components.sinks.values()) {
    const channelAt = c.props.get('channel');
    const p = plan(c, 'sink', c.props, new Set(['channel']), `${agent}.sinks.${c.name}.`);
    if (!channelAt) {
      report('error', { line: c.line, key: keyOf(c, 'channel') }, 'a sink needs `channel` (the one channel it takes from)');
      continue;
    }
    if (!channelNames.has(channelAt.value)) {
      report('error', channelAt, `unknown channel \`${channelAt.value}\`; declared channels: ${[...channelNames].join(', ') || 'none'}`);
      continue;
    }
    used.add(channelAt.value);
    if (p) {
      checkBatch(p, channelAt.value, c.props.get('batchSize') ?? channelAt);
      topology.sinks.push({ ...p, channel: channelAt.value });
      sinkNames.add(c.name);
    }
  }

  for (const [name, p] of channelPlans) {
    if (used.has(name)) topology.channels.push(p);
    else report('warning', { line: p.line, key: `${agent}.channels.${name}` }, 'no source or sink uses this channel; it is dropped (as Flume does)');
  }

  const grouped = new Map<string, string>();
  for (const g of config.components.sinkgroups.values()) {
    const group = planGroup(g, config, grouped, report, keyOf);
    if (group) topology.groups.push(group);
  }

  if (config.declared.channels.names.length === 0) report('error', { line: 0, key: `${agent}.channels` }, 'an agent needs at least one channel');
  if (config.declared.sources.names.length === 0 && config.declared.sinks.names.length === 0) {
    report('error', { line: 0, key: `${agent}.sources` }, 'an agent needs at least one source or sink');
  }
  return { topology, diagnostics };
}

/**
 * The property an option came from: directly mapped, or for a nested option built by a `fromFlume`
 * (`sslStores.truststore.location`) the property whose key ends as the option's last two names do.
 */
function locateOption(option: string, props: ReadonlyMap<string, Located>, locations: ReadonlyMap<string, Located>): Located | undefined {
  const direct = locations.get(option);
  if (direct) return direct;
  const squash = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');
  const tail = squash(option.split('.').slice(-2).join(''));
  for (const at of props.values()) if (squash(at.key).endsWith(tail)) return at;
  return locations.get(option.split('.')[0]!);
}

type Report = (severity: Diagnostic['severity'], at: { line: number; key: string }, message: string) => void;
type PlanFn = (c: ComponentConfig, kind: ComponentKind, props: Map<string, Located>, structural: Set<string>, keyPrefix: string) => Planned | undefined;

function planSelector(c: ComponentConfig, channels: string[], report: Report, keyOf: (c: ComponentConfig, p: string) => string): SelectorPlan | undefined {
  const typeAt = c.props.get('selector.type');
  const type = (typeAt?.value ?? 'replicating').toLowerCase();
  const list = (at: Located | undefined) => {
    const names = at ? at.value.split(/\s+/).filter(Boolean) : [];
    for (const n of names) if (!channels.includes(n)) report('error', at!, `channel \`${n}\` is not one of this source's channels (${channels.join(', ')})`);
    return names;
  };
  const known = new Set(['selector.type']);
  let result: SelectorPlan | undefined;
  if (type === 'replicating' || type === 'org.apache.flume.channel.replicatingchannelselector') {
    known.add('selector.optional');
    result = { type: 'replicating', optional: list(c.props.get('selector.optional')) };
  } else if (type === 'multiplexing' || type === 'org.apache.flume.channel.multiplexingchannelselector') {
    const headerAt = c.props.get('selector.header');
    known.add('selector.header').add('selector.default');
    const mapping: Record<string, string[]> = {};
    const optional: Record<string, string[]> = {};
    for (const [k, at] of c.props) {
      if (k.startsWith('selector.mapping.')) (known.add(k), (mapping[k.slice('selector.mapping.'.length)] = list(at)));
      else if (k.startsWith('selector.optional.')) (known.add(k), (optional[k.slice('selector.optional.'.length)] = list(at)));
    }
    // Flume's multiplexing selector defaults its header to `flume.selector.header`.
    result = { type: 'multiplexing', header: headerAt?.value ?? 'flume.selector.header', mapping, optional, default: list(c.props.get('selector.default')) };
  } else if (type === 'load_balancing' || type === 'org.apache.flume.channel.loadbalancingchannelselector') {
    known.add('selector.policy');
    const policyAt = c.props.get('selector.policy');
    const policy = (policyAt?.value ?? 'round_robin').toLowerCase();
    if (policy !== 'round_robin' && policy !== 'random') report('error', policyAt!, `expected round_robin or random, received ${describeValue(policyAt!.value)}`);
    result = { type: 'load_balancing', policy: policy === 'random' ? 'random' : 'round_robin' };
  } else {
    report('error', typeAt!, `selector type \`${typeAt!.value}\` is not supported; expected replicating, multiplexing or load_balancing`);
    return undefined;
  }
  for (const [k, at] of c.props) {
    if (k.startsWith('selector.') && !known.has(k)) report('error', at, `unknown selector property \`${k}\` for a ${result.type} selector`);
  }
  void keyOf;
  return result;
}

function planInterceptors(c: ComponentConfig, registry: Registry, plan: PlanFn, report: Report, keyOf: (c: ComponentConfig, p: string) => string): Planned[] | undefined {
  const listAt = c.props.get('interceptors');
  const names = listAt ? listAt.value.split(/\s+/).filter(Boolean) : [];
  const out: Planned[] = [];
  let ok = true;
  for (const [k, at] of c.props) {
    const name = k.split('.')[1];
    if (k.startsWith('interceptors.') && name !== undefined && !names.includes(name)) {
      report('warning', at, `interceptor \`${name}\` is not listed in \`${keyOf(c, 'interceptors')}\`; ignored`);
    }
  }
  for (const name of names) {
    const prefix = `interceptors.${name}.`;
    const props = new Map<string, Located>();
    for (const [k, at] of c.props) if (k.startsWith(prefix)) props.set(k.slice(prefix.length), at);
    const p = plan({ section: 'sources', name, props, line: listAt!.line }, 'interceptor', props, new Set(), `${keyOf(c, prefix)}`);
    void registry;
    if (p) out.push(p);
    else ok = false;
  }
  return ok ? out : undefined;
}

function planGroup(
  g: ComponentConfig,
  config: AgentConfig,
  grouped: Map<string, string>,
  report: Report,
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
  const typeAt = g.props.get('processor.type');
  const type = (typeAt?.value ?? 'default').toLowerCase();
  const num = (key: string, dflt: number) => {
    const at = g.props.get(key);
    if (!at) return dflt;
    const n = Number(at.value);
    if (!Number.isFinite(n) || n < 0) report('error', at, `expected a number ≥ 0, received ${describeValue(at.value)}`);
    return n;
  };
  const known = new Set(['sinks', 'processor.type']);
  let processor: ProcessorPlan;
  if (type === 'default') processor = { type: 'default' };
  else if (type === 'failover') {
    const priorities: Record<string, number> = {};
    for (const [k] of g.props) {
      if (k.startsWith('processor.priority.')) {
        known.add(k);
        const sink = k.slice('processor.priority.'.length);
        if (!sinks.includes(sink)) report('error', g.props.get(k)!, `sink \`${sink}\` is not in this group (${sinks.join(', ')})`);
        priorities[sink] = num(k, 0);
      }
    }
    known.add('processor.maxpenalty');
    processor = { type: 'failover', priorities, maxPenaltyMs: num('processor.maxpenalty', 30_000) };
  } else if (type === 'load_balance') {
    known.add('processor.selector').add('processor.backoff').add('processor.selector.maxTimeOut');
    const selAt = g.props.get('processor.selector');
    const selector = (selAt?.value ?? 'round_robin').toLowerCase();
    if (selector !== 'round_robin' && selector !== 'random') report('error', selAt!, `expected round_robin or random, received ${describeValue(selAt!.value)}`);
    const backoffAt = g.props.get('processor.backoff');
    processor = {
      type: 'load_balance',
      selector: selector === 'random' ? 'random' : 'round_robin',
      backoff: (backoffAt?.value ?? 'false').toLowerCase() === 'true',
      maxTimeOutMs: num('processor.selector.maxTimeOut', 30_000),
    };
  } else {
    report('error', typeAt!, `expected processor type default, failover or load_balance, received ${describeValue(typeAt!.value)}`);
    return undefined;
  }
  for (const [k, at] of g.props) if (!known.has(k)) report('error', at, `unknown sink group property \`${k}\` for a ${type} processor`);
  return { name: g.name, sinks, processor, line: sinksAt.line };
}

interface Mapped {
  options: Record<string, unknown>;
  /** Option name → where its value came from. */
  locations: Map<string, Located>;
  problems: { at: Located; message: string; severity?: 'error' | 'warning' }[];
}

/** Maps a component's Flume properties onto its options, coercing strings by the schema's types. */
export function mapOptions(spec: ComponentSpec, props: Map<string, Located>, structural: Set<string>): Mapped {
  const options: Record<string, unknown> = {};
  const locations = new Map<string, Located>();
  const problems: Mapped['problems'] = [];
  const shape = (unwrap(spec.schema) as z.ZodObject | undefined)?.shape ?? {};
  const optionNames = Object.keys(shape).filter((k) => k !== 'name');
  const remaining = new Map<string, string>();
  for (const [k, at] of props) if (!structural.has(k)) remaining.set(k, at.value);

  if (spec.fromFlume) {
    const { options: special, consumed, problems: found = [] } = spec.fromFlume(remaining);
    for (const p of found) {
      const at = props.get(p.key) ?? props.values().next().value;
      if (at) problems.push({ at, message: `\`${p.key}\` = ${JSON.stringify(displayValue(p.key, at.value))}: ${p.message}`, severity: p.severity ?? 'error' });
    }
    for (const [k, v] of Object.entries(special)) {
      options[k] = v;
      const at = props.get(consumed[0] ?? k);
      if (at) locations.set(k, at);
    }
    for (const k of consumed) remaining.delete(k);
  }

  for (const [key] of remaining) {
    const at = props.get(key)!;
    const mapping = spec.flumeKeys?.[key];
    let option: string;
    let value: unknown = at.value;
    let path: string[];
    if (mapping !== undefined) {
      option = typeof mapping === 'string' ? mapping : mapping.option;
      path = option.split('.');
      if (typeof mapping !== 'string') value = mapping.convert(at.value);
      else value = coerce(schemaAt(spec.schema, path), at.value);
    } else {
      path = key.split('.');
      option = path[0]!;
      if (!(option in shape) || option === 'name') {
        const suggestion = closest(key, [...optionNames, ...Object.keys(spec.flumeKeys ?? {})]);
        problems.push({
          at,
          message: `unknown property \`${key}\` for ${spec.name}${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}; known: ${[...Object.keys(spec.flumeKeys ?? {}), ...optionNames].join(', ')}`,
        });
        continue;
      }
      value = coerce(schemaAt(spec.schema, path), at.value);
    }
    setPath(options, path, value);
    locations.set(path[0]!, at);
  }
  return { options, locations, problems };
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at = target;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1]!] = value;
}

/** A property string as the option's type wants it; left as a string when it cannot be, so the schema reports it. */
export function coerce(schema: z.ZodType | undefined, raw: string): unknown {
  if (!schema) return raw;
  if (schema instanceof z.ZodNumber) return numeric(raw);
  if (schema instanceof z.ZodBoolean) {
    const v = raw.toLowerCase();
    return v === 'true' ? true : v === 'false' ? false : raw;
  }
  if (schema instanceof z.ZodEnum) {
    const match = (schema.options as string[]).find((o) => o.toLowerCase() === raw.toLowerCase());
    return match ?? raw;
  }
  if (schema instanceof z.ZodArray) return raw.split(/[\s,]+/).filter(Boolean).map((v) => coerce(unwrap(schema.element as z.ZodType), v));
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as z.ZodType[]) {
      const c = coerce(unwrap(option), raw);
      if (option.safeParse(c).success) return c;
    }
  }
  return raw;
}

function numeric(raw: string): unknown {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) return Number(raw);
  if (raw.trim() === 'Infinity') return Infinity;
  return raw;
}
