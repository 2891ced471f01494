import { components } from './components.js';
import { buildTopology, Registry, type Topology } from './build.js';
import { formatDiagnostic, readAgentConfig, type ConfigText, type Diagnostic } from './flumeConfig.js';
import type { SubstitutionOptions } from './substitute.js';

export const registry = new Registry(components as never);

export interface LoadedConfig {
  topology: Topology;
  diagnostics: Diagnostic[];
  /** True when no diagnostic is an error: only then may anything start. */
  ok: boolean;
}

/** Resolves and validates one agent of several configuration texts merged in order (later keys win). */
export function loadAgentConfigTexts(texts: readonly ConfigText[], agent: string, substitution: SubstitutionOptions = {}): LoadedConfig {
  const first = texts[0]?.file ?? '(no configuration)';
  const read = readAgentConfig(texts, agent, first, substitution);
  const built = buildTopology(read.config, registry);
  const order = new Map(texts.map((t, i) => [t.file, i]));
  const diagnostics = [...read.diagnostics, ...built.diagnostics].sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
  return { topology: built.topology, diagnostics, ok: !diagnostics.some((d) => d.severity === 'error') };
}

export function describeTopology(t: Topology): string {
  const lines = [`agent ${t.agent}`];
  for (const s of t.sources) {
    const chain = [`${s.name} (${s.spec.flumeTypes[0]})`, ...s.interceptors.map((i) => `${i.name} (${i.spec.flumeTypes[0]})`)].join(' → ');
    const selector =
      s.selector.type === 'multiplexing'
        ? ` [multiplexing on ${s.selector.header}]`
        : s.selector.type === 'load_balancing'
          ? ` [load_balancing ${s.selector.policy}]`
          : s.channels.length > 1
            ? ' [replicating]'
            : '';
    lines.push(`  source  ${chain} → ${s.channels.join(', ')}${selector}`);
  }
  for (const c of t.channels) {
    const opts = ['capacity', 'transactionCapacity'].filter((k) => c.options[k] !== undefined).map((k) => `${k}=${String(c.options[k])}`);
    lines.push(`  channel ${c.name} (${c.spec.flumeTypes[0]})${opts.length ? ` ${opts.join(' ')}` : ''}`);
  }
  for (const k of t.sinks) lines.push(`  sink    ${k.channel} → ${k.name} (${k.spec.flumeTypes[0]})`);
  for (const g of t.groups) lines.push(`  group   ${g.name} (${g.processor.type}): ${g.sinks.join(', ')}`);
  return lines.join('\n');
}

export { formatDiagnostic };
