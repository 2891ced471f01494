import { reporter, type Diagnostic } from './diagnostic.js';
import { parseProperties, PropertiesSyntaxError, type PropertyEntry } from './properties.js';
import { substitute, type SubstitutionOptions } from './substitute.js';

/** A value with the place it came from, so every diagnostic can say `file:line` and the key. */
export interface Located {
  key: string;
  value: string;
  line: number;
  /** Set when it came from another file than the configuration's first (several files merged). */
  file?: string;
}

export type SectionKind = 'sources' | 'channels' | 'sinks' | 'sinkgroups';

export interface ComponentConfig {
  section: SectionKind;
  name: string;
  /** Properties below `<agent>.<section>.<name>.`, keyed by the rest (`type`, `capacity`, `selector.header`, …). */
  props: Map<string, Located>;
  /** Line of the first property naming this component, or of the list that declares it. */
  line: number;
}

export interface AgentConfig {
  agent: string;
  file: string;
  /** Declared names per section, in declaration order, with where they were declared. */
  declared: Record<SectionKind, { names: string[]; at?: Located }>;
  components: Record<SectionKind, Map<string, ComponentConfig>>;
  /** Agents other than ours defined in the same file (Flume allows several per file). */
  otherAgents: string[];
}

const SECTIONS: readonly SectionKind[] = ['sources', 'channels', 'sinks', 'sinkgroups'];

/** One configuration text and the file (or URI) it came from. */
export interface ConfigText {
  text: string;
  file: string;
}

/**
 * Reads one agent's part of a Flume properties file into sections and components. Structural problems
 * (keys without an agent prefix, properties of undeclared components, empty values) are reported, never
 * thrown; the caller decides whether anything may start. Asynchronous because an external config
 * filter runs a command per key.
 */
export async function readAgentConfig(
  text: string | readonly ConfigText[],
  agent: string,
  file: string,
  substitution: SubstitutionOptions = {},
): Promise<{ config: AgentConfig; diagnostics: Diagnostic[]; agentMissing?: boolean }> {
  const texts = typeof text === 'string' ? [{ text, file }] : text;
  const diagnostics: Diagnostic[] = [];
  const config: AgentConfig = {
    agent,
    file,
    declared: { sources: { names: [] }, channels: { names: [] }, sinks: { names: [] }, sinkgroups: { names: [] } },
    components: { sources: new Map(), channels: new Map(), sinks: new Map(), sinkgroups: new Map() },
    otherAgents: [],
  };
  // Several files: later ones override earlier keys (Flume 1.10+), each entry keeping its own file.
  const merged = new Map<string, PropertyEntry>();
  for (const t of texts) {
    try {
      for (const e of parseProperties(t.text)) {
        merged.delete(e.key);
        merged.set(e.key, t.file === file ? e : { ...e, file: t.file });
      }
    } catch (error) {
      const line = error instanceof PropertiesSyntaxError ? error.line : 0;
      diagnostics.push({ severity: 'error', file: t.file, line, key: '', message: (error as Error).message });
    }
  }
  if (diagnostics.length > 0) return { config, diagnostics };
  let entries = [...merged.values()];
  const substituted = await substitute(entries, agent, file, substitution);
  entries = substituted.entries;
  diagnostics.push(...substituted.diagnostics);
  const others = new Set<string>();
  const report = reporter(file, diagnostics);
  const error = (e: Located, message: string) => report('error', e, message);

  for (const entry of entries) {
    const dot = entry.key.indexOf('.');
    if (dot <= 0) {
      error(entry, 'every key must start with the agent name and a dot (`<agent>.sources = …`)');
      continue;
    }
    const owner = entry.key.slice(0, dot);
    if (owner !== agent) {
      others.add(owner);
      continue;
    }
    const rest = entry.key.slice(dot + 1);
    const [section, name, ...propPath] = rest.split('.');
    if (!SECTIONS.includes(section as SectionKind)) {
      error(entry, `unknown section \`${section}\`; expected one of ${SECTIONS.join(', ')}`);
      continue;
    }
    const kind = section as SectionKind;
    if (name === undefined) {
      config.declared[kind] = { names: entry.value.split(/\s+/).filter(Boolean), at: entry };
      continue;
    }
    if (propPath.length === 0 || name === '') {
      error(entry, `expected \`${agent}.${kind}.<name>.<property>\``);
      continue;
    }
    if (entry.value === '') {
      // Flume drops such a key with a warning and the component sees its default (search_replace: replace with "").
      report('warning', entry, 'empty value: ignored, as Flume does; the default applies');
      continue;
    }
    let component = config.components[kind].get(name);
    if (!component) {
      component = { section: kind, name, props: new Map(), line: entry.line };
      config.components[kind].set(name, component);
    }
    component.props.set(propPath.join('.'), entry);
  }
  config.otherAgents = [...others];

  for (const kind of SECTIONS) {
    const declared = new Set(config.declared[kind].names);
    for (const [name, component] of config.components[kind]) {
      if (!declared.has(name)) {
        const first = component.props.values().next().value as Located;
        report('warning', first, `\`${name}\` is not listed in \`${agent}.${kind}\`; its properties are ignored (as Flume does)`);
        config.components[kind].delete(name);
      }
    }
    for (const name of declared) {
      if (!config.components[kind].has(name)) {
        const at = config.declared[kind].at!;
        config.components[kind].set(name, { section: kind, name, props: new Map(), line: at.line });
      }
    }
  }
  if (entries.every((e) => !e.key.startsWith(`${agent}.`))) {
    const hint = config.otherAgents.length ? `; the file defines ${config.otherAgents.map((a) => `\`${a}\``).join(', ')}` : '';
    diagnostics.push({ severity: 'error', file, line: 0, key: '', message: `no configuration for agent \`${agent}\`${hint}` });
    return { config, diagnostics, agentMissing: true };
  }
  return { config, diagnostics };
}
