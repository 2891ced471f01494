import { ConfigError, describeError, FlumeError } from '../core/errors.js';
import { isSecretKey, secretsIn } from '../core/secrets.js';
import { buildTopology, type Topology } from './build.js';
import { catalog } from './catalog.js';
import { formatDiagnostic, type Diagnostic } from './diagnostic.js';
import { readAgentConfig, type ConfigText } from './flumeConfig.js';
import type { Planned } from './plan.js';
import { parseProperties } from './properties.js';
import { pluginsOf, typeProperties, withPlugins } from './plugins.js';
import { loadFromCatalog } from './registry.js';
import type { SubstitutionOptions } from './substitute.js';


export interface LoadedConfig {
  topology: Topology;
  diagnostics: Diagnostic[];
  /** True when no diagnostic is an error: only then may anything start. */
  ok: boolean;
  /** Secret values the configuration holds (as written and as substituted), to be scrubbed from all output. */
  secrets: string[];
}

/** Resolves and validates one agent of several configuration texts merged in order (later keys win). */
export async function loadAgentConfigTexts(texts: readonly ConfigText[], agent: string, substitution: SubstitutionOptions = {}): Promise<LoadedConfig> {
  const first = texts[0]?.file ?? '(no configuration)';
  const read = await readAgentConfig(texts, agent, first, substitution);
  // Only the components this configuration names are loaded (and their modules' dependencies).
  const registry = await loadFromCatalog(catalog, typeProperties(read.config).map(({ kind, at }) => [kind, at.value] as const));
  const plugins = await withPlugins(registry, read.config);
  const built = buildTopology(read.config, plugins.registry);
  const order = new Map(texts.map((t, i) => [t.file, i]));
  // A wrong -n is the one cause: what its empty topology lacks (channels, sources) would only repeat it.
  const diagnostics = [...read.diagnostics, ...(read.agentMissing ? [] : [...plugins.diagnostics, ...built.diagnostics])].sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
  const secrets: string[] = [];
  // A reference naming a secret (`${env:DB_PASSWORD}`, `${f1['kafka_token']}`) makes its substituted value one, whatever key holds it.
  const secretRefs = new Set<string>();
  for (const t of texts) {
    try {
      for (const e of parseProperties(t.text)) {
        secrets.push(...secretsIn(e.key, e.value));
        if ([...e.value.matchAll(/\$\{([^}]*)\}/g)].some((m) => isSecretKey(m[1]!))) secretRefs.add(e.key);
      }
    } catch {
      // reported as a diagnostic already
    }
  }
  for (const section of Object.values(read.config.components))
    for (const c of section.values())
      for (const at of c.props.values()) secrets.push(...(secretRefs.has(at.key) ? [at.value] : []), ...secretsIn(at.key, at.value));
  return { topology: built.topology, diagnostics, ok: !diagnostics.some((d) => d.severity === 'error'), secrets };
}

/**
 * A component's failure at run time as one diagnostic at the property that caused it: the option
 * whose value is the path a file-system error names, `port`/`bind` for a listen error, else the
 * component's `type` line (in `file`, the configuration's first). Undefined when no component of the topology raised it.
 */
export function locateFailure(t: Topology, error: unknown, file: string): Diagnostic | undefined {
  const name = error instanceof FlumeError ? error.component : undefined;
  if (name === undefined) return undefined;
  const sections: [string, Planned[]][] = [
    ['sources', t.sources],
    ['channels', t.channels],
    ['sinks', t.sinks],
    ['sources', t.sources.flatMap((s) => s.interceptors)],
  ];
  for (const [section, planned] of sections) {
    const p = planned.find((c) => c.name === name);
    if (!p) continue;
    const option = optionOf(p, error);
    const at = option === undefined ? undefined : p.locations.get(option);
    return {
      severity: 'error',
      file: at?.file ?? file,
      line: at?.line ?? p.line,
      key: at?.key ?? `${t.agent}.${section}.${p.name}${option ? `.${option}` : ''}`,
      message: describeError(error),
    };
  }
  return undefined;
}

function optionOf(p: Planned, error: unknown): string | undefined {
  // A component that refused its options when built names them: `r1.keystore`.
  if (error instanceof ConfigError) return error.issues[0]?.path.split('.')[1];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const { path: failedPath, code } = e as NodeJS.ErrnoException;
    if (typeof failedPath === 'string') {
      for (const [option, value] of Object.entries(p.options)) {
        const values = Array.isArray(value) ? value : [value];
        if (values.some((v) => typeof v === 'string' && v !== '' && (failedPath === v || failedPath.startsWith(`${v.replace(/\/$/, '')}/`)))) return option;
      }
    }
    if ((code === 'EADDRINUSE' || code === 'EACCES') && 'port' in p.options) return 'port';
    if (code === 'EADDRNOTAVAIL' && 'bind' in p.options) return 'bind';
  }
  return undefined;
}

/** A component's Flume type (for a module's component without one, its name), then the serializers or handlers it loads from modules. */
const typeOf = (p: Planned): string => [p.spec.flumeTypes[0] ?? p.spec.name, ...pluginsOf(p.spec, p.options)].join(', ');

export function describeTopology(t: Topology): string {
  const lines = [`agent ${t.agent}`];
  for (const s of t.sources) {
    const chain = [`${s.name} (${typeOf(s)})`, ...s.interceptors.map((i) => `${i.name} (${typeOf(i)})`)].join(' → ');
    const type = typeOf(s.selector);
    const o = s.selector.spec.schema.parse(s.selector.options) as { header?: string; policy?: string };
    const selector = type === 'multiplexing' ? ` [multiplexing on ${o.header}]` : type === 'load_balancing' ? ` [load_balancing ${o.policy}]` : s.channels.length > 1 ? ` [${type}]` : '';
    lines.push(`  source  ${chain} → ${s.channels.join(', ')}${selector}`);
  }
  for (const c of t.channels) {
    const opts = ['capacity', 'transactionCapacity'].filter((k) => c.options[k] !== undefined).map((k) => `${k}=${String(c.options[k])}`);
    lines.push(`  channel ${c.name} (${typeOf(c)})${opts.length ? ` ${opts.join(' ')}` : ''}`);
  }
  for (const k of t.sinks) lines.push(`  sink    ${k.channel} → ${k.name} (${typeOf(k)})`);
  for (const g of t.groups) lines.push(`  group   ${g.name} (${typeOf(g.processor)}): ${g.sinks.join(', ')}`);
  return lines.join('\n');
}

export { formatDiagnostic };
