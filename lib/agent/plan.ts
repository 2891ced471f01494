import { z } from 'zod';
import { closest, pathProblems, toConfigIssues, unwrap, type ComponentKind, type ComponentSpec } from '../core/config.js';
import type { Report } from './diagnostic.js';
import type { Located } from './flumeConfig.js';
import { mapOptions } from './mapOptions.js';
import type { AnyComponent, Registry } from './registry.js';

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

export interface PlanRequest {
  kind: ComponentKind;
  /** The component's name in the configuration (`c1`, `i1`, the sink group's or the source's name). */
  name: string;
  /** Its properties, keyed below `keyPrefix` (`type`, `capacity`, …). */
  props: ReadonlyMap<string, Located>;
  /** The full key of its properties up to the property (`a1.channels.c1.`). */
  keyPrefix: string;
  /** Where to report what concerns no property of its own. */
  line: number;
  /** Keys the caller reads itself (`channels`, `selector.*`, …). */
  structural?: ReadonlySet<string>;
  /** Its type when it has no `type` property (Flume's default selector and sink processor). */
  defaultType?: string;
}

const NOUN: Partial<Record<ComponentKind, string>> = { sinkProcessor: 'sink processor' };

/**
 * Resolves a component's type in the registry, maps its Flume properties onto its options through
 * its own declaration, validates them with its schema and checks the paths they name. Every problem
 * is reported at its property's line; undefined when there was one.
 */
export function planComponent(registry: Registry, report: Report, r: PlanRequest): Planned | undefined {
  const noun = NOUN[r.kind] ?? r.kind;
  const supported = () => registry.typesOf(r.kind).join(', ');
  const typeAt = r.props.get('type');
  const type = typeAt?.value ?? r.defaultType;
  const typeLine = typeAt?.line ?? r.line;
  if (type === undefined) {
    report('error', { line: r.line, key: `${r.keyPrefix}type` }, `missing \`type\`; expected one of ${supported()}`);
    return undefined;
  }
  const factory = registry.find(r.kind, type);
  if (!factory && registry.isFailedModule(r.kind, type)) return undefined;
  if (!factory) {
    const at = typeAt ?? { line: typeLine, key: `${r.keyPrefix}type` };
    if (registry.isUnsupported(r.kind, type)) {
      report('error', at, `${noun} type \`${type}\` is a Flume type rxflume does not support yet; supported: ${supported()}`);
    } else {
      const suggestion = closest(type, registry.typesOf(r.kind));
      report('error', at, `unknown ${noun} type \`${type}\`${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}; supported: ${supported()}`);
    }
    return undefined;
  }
  const spec = factory.spec;
  const { options, locations, problems } = mapOptions(spec, new Map(r.props), new Set([...(r.structural ?? []), 'type']));
  for (const p of problems) report(p.severity ?? 'error', p.at, p.message);
  if ('name' in ((unwrap(spec.schema) as z.ZodObject | undefined)?.shape ?? {})) options['name'] = r.name;
  const parsed = spec.schema.safeParse(options, { reportInput: true });
  if (!parsed.success) {
    const issues = toConfigIssues('', spec.schema, options, parsed.error.issues);
    parsed.error.issues.forEach((issue, i) => {
      const option = String(issue.path[0] ?? '');
      const at = locations.get(issue.path.map(String).join('.')) ?? locations.get(option) ?? { line: typeLine, key: `${r.keyPrefix}${option}` };
      const ci = issues[Math.min(i, issues.length - 1)]!;
      report('error', at, `expected ${ci.expected}, received ${ci.received}`);
    });
    return undefined;
  }
  // What can be checked without starting: the paths it names exist, with the right kind and permissions.
  const paths = pathProblems(spec.schema, parsed.data as Record<string, unknown>);
  for (const p of paths) report('error', locateOption(p.option, r.props, locations) ?? { line: typeLine, key: `${r.keyPrefix}${p.option}` }, p.message);
  if (paths.length > 0) return undefined;
  return { name: r.name, spec, factory, options, line: typeLine, locations };
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

/** The properties below `prefix` (`selector.`), keyed by the rest. */
export function propsBelow(props: ReadonlyMap<string, Located>, prefix: string): Map<string, Located> {
  const out = new Map<string, Located>();
  for (const [k, at] of props) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), at);
  return out;
}

/** Calls the planned component's factory with its options. */
export function instantiate<T>(p: Planned): T {
  return (p.factory as unknown as (options: Record<string, unknown>) => T)(p.options);
}
