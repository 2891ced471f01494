/**
 * Custom components, as Flume users add their own classes: a `type` that names a JavaScript module —
 * a path relative to the configuration file (`./plugins/upper.js`), an absolute path, or an installed
 * package (`@acme/rxflume-s3`, `rxflume-plugin-x/sink`), with `#export` to pick one of its exports —
 * is imported before the configuration is planned, and the component it exports (made with
 * `component(defineComponent(…), factory)`, as the built-in ones) is planned like any other: its
 * options mapped from the properties and validated by its own schema, errors at their lines.
 *
 * The same goes for what a component option takes from a module — a serializer (file_roll's
 * `sink.serializer`, hdfs's `serializer`, made with `defineSerializer`) or an HTTP handler (http's
 * `handler`, made with `defineHttpHandler`): where such a property names a module, its definition is
 * given to the component, and the properties below it (`sink.serializer.*`, `handler.*`) are its
 * options, validated by its own schema at their lines. A component's schema marks such an option with
 * `.meta({ plugin, optionsIn })`, so the loader needs no list of the components that take one.
 *
 * A module that cannot be found or fails to load, or that exports nothing of the kind wanted, is a
 * configuration error at the line naming it. Node caches modules: a changed plugin takes effect on a
 * restart, not on a reload of the configuration.
 */
import { isAbsolute, resolve as resolvePath, dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { combineFromFlume, schemaAt, toConfigIssues, type ComponentKind, type ComponentSpec, type FlumeMapped, type FlumeProblem } from '../core/config.js';
import { describeError } from '../core/errors.js';
import { isSerializerDefinition } from '../serializers/eventSerializer.js';
import { isHttpHandlerDefinition } from '../sources/http/handlers.js';
import type { Diagnostic } from './diagnostic.js';
import type { AgentConfig, Located } from './flumeConfig.js';
import { coerce } from './mapOptions.js';
import type { AnyComponent, Registry } from './registry.js';

const KINDS: readonly ComponentKind[] = ['source', 'channel', 'sink', 'interceptor', 'selector', 'sinkProcessor'];

/** A path (`./x.js`, `../x.mjs`, `/opt/x.js`) or a scoped package: never a built-in or Java type name. */
const PATH_OR_SCOPE = /^(\.{1,2}\/|\/|@[\w.-]+\/)/;

/** Where each `type` property of the configuration sits, with the kind of component it names. */
export function typeProperties(config: AgentConfig): { kind: ComponentKind; at: Located }[] {
  const out: { kind: ComponentKind; at: Located }[] = [];
  const add = (kind: ComponentKind, at: Located | undefined) => at && out.push({ kind, at });
  for (const c of config.components.sources.values()) {
    add('source', c.props.get('type'));
    add('selector', c.props.get('selector.type'));
    for (const [k, at] of c.props) if (/^interceptors\.[^.]+\.type$/.test(k)) add('interceptor', at);
  }
  for (const c of config.components.channels.values()) add('channel', c.props.get('type'));
  for (const c of config.components.sinks.values()) add('sink', c.props.get('type'));
  for (const c of config.components.sinkgroups.values()) add('sinkProcessor', c.props.get('processor.type'));
  return out;
}

function isComponent(value: unknown): value is AnyComponent {
  if (typeof value !== 'function') return false;
  const spec = (value as Partial<AnyComponent>).spec as Partial<AnyComponent['spec']> | undefined;
  return (
    typeof spec === 'object' &&
    spec !== null &&
    typeof spec.name === 'string' &&
    KINDS.includes(spec.kind as ComponentKind) &&
    Array.isArray(spec.flumeTypes) &&
    typeof (spec.schema as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}

/** The module's component of `kind`: the named export, else the default export, else its only one of that kind. */
function pick(mod: Record<string, unknown>, kind: ComponentKind, exportName: string | undefined): AnyComponent | string {
  const components = Object.entries(mod).filter((e): e is [string, AnyComponent] => isComponent(e[1]));
  const describe = () => (components.length ? components.map(([n, c]) => `${n} (${c.spec.kind})`).join(', ') : 'none');
  if (exportName !== undefined) {
    const c = mod[exportName];
    if (!isComponent(c)) return `has no component exported as \`${exportName}\`; its components: ${describe()}`;
    return c.spec.kind === kind ? c : `exports \`${exportName}\` as a ${c.spec.kind}, not a ${kind}`;
  }
  const def = mod['default'];
  if (isComponent(def) && def.spec.kind === kind) return def;
  const ofKind = components.filter(([, c]) => c.spec.kind === kind);
  if (ofKind.length === 1) return ofKind[0]![1];
  if (ofKind.length > 1) return `exports several ${kind} components (${ofKind.map(([n]) => n).join(', ')}); name one as \`type = <module>#<export>\``;
  return `exports no ${kind} component made with component(defineComponent(…), factory); its components: ${describe()}`;
}

const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);

/**
 * Imports a module reference: a path from `baseFile`'s folder, an absolute path, or a package — found
 * as rxflume's own imports are (installed beside it), else from the configuration's folder. Resolves
 * undefined when no such module exists; rejects when it exists and fails to load.
 */
async function importModule(spec: string, baseFile: string): Promise<{ module: Record<string, unknown>; where: string } | undefined> {
  const load = async (url: string) => ({ module: (await import(url)) as Record<string, unknown>, where: url.startsWith('file:') ? fileURLToPath(url) : url });
  const missing = (error: unknown) => NOT_FOUND.has((error as NodeJS.ErrnoException).code ?? '');
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  if (isPath) {
    if (!isAbsolute(spec) && /^[a-z][a-z0-9+.-]*:\/\//i.test(baseFile)) {
      throw new Error(`a module path relative to a configuration read from ${baseFile} has no folder to start from; give an absolute path or a package`);
    }
    const path = isAbsolute(spec) ? spec : resolvePath(dirname(resolvePath(baseFile)), spec);
    return existsSync(path) ? load(pathToFileURL(path).href) : undefined;
  }
  try {
    return { module: (await import(spec)) as Record<string, unknown>, where: spec };
  } catch (error) {
    if (!missing(error)) throw error;
  }
  let file: string;
  try {
    file = createRequire(resolvePath(baseFile)).resolve(spec);
  } catch (error) {
    if (missing(error)) return undefined;
    throw error;
  }
  return load(pathToFileURL(file).href);
}

/**
 * Imports every module a `type` names and returns a registry that finds them (by the exact `type`
 * text) beside the built-in components, with a diagnostic per module that could not serve. A bare
 * name that is neither a built-in type nor an installed package is left to the planner, which reports
 * it as an unknown type with its suggestions.
 */
export async function withPlugins(registry: Registry, config: AgentConfig): Promise<{ registry: Registry; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const found = new Map<string, AnyComponent>();
  const failed = new Set<string>();
  const loadAt = <T>(at: Located, noun: string, key: string, pickFrom: (mod: Record<string, unknown>, exportName: string | undefined) => T | string) =>
    loadReference(at, config.file, noun, pickFrom, (message) => {
      failed.add(key);
      diagnostics.push({ severity: 'error', file: at.file ?? config.file, line: at.line, key: at.key, message });
    });
  for (const { kind, at } of typeProperties(config)) {
    const type = at.value.trim();
    const key = `${kind}:${type}`;
    if (registry.find(kind, type) || registry.isUnsupported(kind, type) || found.has(key) || failed.has(key)) continue;
    const picked = await loadAt(at, kind, key, (mod, exportName) => pick(mod, kind, exportName));
    if (picked) found.set(key, picked);
  }
  // What component options take from modules: a serializer, an HTTP handler.
  const definitions = new Map<string, Definition>();
  for (const { component, at, slot } of slotProperties(config, (kind, type) => registry.find(kind, type) ?? found.get(`${kind}:${type.trim()}`))) {
    const key = `${slot.plugin}:${at.value.trim()}`;
    if (definitions.has(key) || failed.has(key) || slot.builtIn(at.value)) continue;
    const picked = await loadAt(at, `${DEFINITIONS[slot.plugin].noun} (${component.spec.name}'s \`${slot.flumeKey}\`)`, key, (mod, exportName) =>
      pickDefinition(mod, slot.plugin, exportName),
    );
    if (picked) definitions.set(key, picked);
  }
  if (definitions.size === 0 && ![...failed].some((k) => k.split(':')[0]! in DEFINITIONS)) return { registry: registry.with(found, failed), diagnostics };
  // Components with such an option read it, and the properties below it, through one more fromFlume step.
  const wrap = (c: AnyComponent): AnyComponent => {
    const slots = slotsOf(c.spec);
    return slots.length ? withSlots(c, slots, definitions, failed) : c;
  };
  return { registry: registry.mapped(wrap, found, failed), diagnostics };
}

/**
 * Imports what a property names (`./plugins/x.js#name`, a package) and picks the export wanted; a
 * failure is passed to `fail` with the module named. Undefined when the value is no module reference
 * (a plain word or a Java class name, unless a package of that name is installed) or it failed.
 */
async function loadReference<T>(
  at: Located,
  configFile: string,
  noun: string,
  pickFrom: (mod: Record<string, unknown>, exportName: string | undefined) => T | string,
  fail: (message: string) => void,
): Promise<T | undefined> {
  const [spec, exportName] = at.value.trim().split('#', 2) as [string, string | undefined];
  const explicit = PATH_OR_SCOPE.test(spec) || /\.[cm]?js$/.test(spec);
  // A plain word or a Java class name is a type, not a package, unless such a package is installed.
  if (!explicit && !/^[a-z0-9][\w.-]*(\/[\w.-]+)*$/.test(spec)) return undefined;
  const file = at.file ?? configFile;
  let loaded: Awaited<ReturnType<typeof importModule>>;
  try {
    loaded = await importModule(spec, file);
  } catch (error) {
    fail(`${noun} module \`${spec}\` failed to load: ${describeError(error)}`);
    return undefined;
  }
  if (!loaded) {
    if (explicit) fail(`${noun} module \`${spec}\` not found${spec.startsWith('.') ? ` (looked for ${resolvePath(dirname(resolvePath(file)), spec)})` : ''}`);
    return undefined;
  }
  const picked = pickFrom(loaded.module, exportName);
  if (typeof picked !== 'string') return picked;
  fail(`${noun} module \`${spec}\` (${loaded.where}) ${picked}`);
  return undefined;
}

/** What a module may export for a component's option, by the `plugin` its schema names, and the definer that makes it. */
const DEFINITIONS = {
  serializer: { noun: 'serializer', a: 'a', definer: 'defineSerializer', is: isSerializerDefinition },
  httpHandler: { noun: 'HTTP handler', a: 'an', definer: 'defineHttpHandler', is: isHttpHandlerDefinition },
} as const;

type DefinitionKind = keyof typeof DEFINITIONS;

/** A definition as the definers make it: a name, an options schema and what it creates. */
interface Definition {
  kind: DefinitionKind;
  name: string;
  schema: z.ZodType;
}

/** An option whose schema says it takes a definition: where it is read from, and where its options go. */
interface Slot {
  plugin: DefinitionKind;
  option: string;
  optionsIn: string;
  /** The Flume property naming it (file_roll's `sink.serializer`); its options are the properties below. */
  flumeKey: string;
  /** Whether a property value names one of the component's own choices (`TEXT`, `JSON`), which the component maps itself. */
  builtIn: (value: string) => boolean;
}

function slotsOf(spec: ComponentSpec): Slot[] {
  const shape = (spec.schema as { shape?: Record<string, z.ZodType> }).shape ?? {};
  const slots: Slot[] = [];
  for (const [option, field] of Object.entries(shape)) {
    const meta = field.meta() as { plugin?: unknown; optionsIn?: unknown } | undefined;
    if (typeof meta?.plugin !== 'string' || !(meta.plugin in DEFINITIONS) || typeof meta.optionsIn !== 'string') continue;
    const mapped = Object.entries(spec.flumeKeys ?? {}).find(([, m]) => (typeof m === 'string' ? m : m.option) === option);
    const convert = mapped && typeof mapped[1] !== 'string' ? mapped[1].convert : (v: string) => v;
    slots.push({
      plugin: meta.plugin as DefinitionKind,
      option,
      optionsIn: meta.optionsIn,
      flumeKey: mapped?.[0] ?? option,
      builtIn: (value) => field.safeParse(convert(value)).success,
    });
  }
  return slots;
}

/** Where each property naming what a component option takes sits, with the component and the option. */
function slotProperties(config: AgentConfig, find: (kind: ComponentKind, type: string) => AnyComponent | undefined) {
  const out: { component: AnyComponent; at: Located; slot: Slot }[] = [];
  const sections = [
    ['source', config.components.sources],
    ['sink', config.components.sinks],
  ] as const;
  for (const [kind, section] of sections) {
    for (const c of section.values()) {
      const type = c.props.get('type')?.value;
      const component = type === undefined ? undefined : find(kind, type);
      if (!component) continue;
      for (const slot of slotsOf(component.spec)) {
        const at = c.props.get(slot.flumeKey);
        if (at) out.push({ component, at, slot });
      }
    }
  }
  return out;
}

/** The module's definition of `kind`: the named export, else the default export, else its only one of that kind. */
function pickDefinition(mod: Record<string, unknown>, kind: DefinitionKind, exportName: string | undefined): Definition | string {
  const { noun, a, definer, is } = DEFINITIONS[kind];
  const ofKind = Object.entries(mod).filter(([, v]) => is(v)) as [string, Definition][];
  const exports = () => Object.keys(mod).join(', ') || 'none';
  if (exportName !== undefined) {
    if (!(exportName in mod)) return `has no export \`${exportName}\`; its exports: ${exports()}`;
    return is(mod[exportName]) ? (mod[exportName] as Definition) : `exports \`${exportName}\`, which is not ${a} ${noun} made with ${definer}({ name, schema, create })`;
  }
  if (is(mod['default'])) return mod['default'] as Definition;
  if (ofKind.length === 1) return ofKind[0]![1];
  if (ofKind.length > 1) return `exports several ${noun}s (${ofKind.map(([n]) => n).join(', ')}); name one as \`<module>#<export>\``;
  return `exports no ${noun} made with ${definer}({ name, schema, create }); its exports: ${exports()}`;
}

/**
 * The component with one more `fromFlume` step per option that takes a definition: where its
 * property names a loaded module, the definition is the option's value and the properties below it
 * are the definition's options — coerced by its schema and checked there, each problem at its line.
 */
function withSlots(c: AnyComponent, slots: Slot[], definitions: ReadonlyMap<string, Definition>, failed: ReadonlySet<string>): AnyComponent {
  const steps = slots.map((slot) => (props: ReadonlyMap<string, string>): FlumeMapped => {
    const value = props.get(slot.flumeKey);
    const key = `${slot.plugin}:${value?.trim()}`;
    const def = definitions.get(key);
    if (value === undefined || (!def && !failed.has(key))) return { options: {}, consumed: [] };
    const prefix = `${slot.flumeKey}.`;
    const below = [...props.keys()].filter((k) => k.startsWith(prefix));
    // A module that could not serve is reported at its line already: its options are not judged.
    if (!def) return { options: {}, consumed: [slot.flumeKey, ...below] };
    const input: Record<string, unknown> = {};
    for (const k of below) {
      const path = k.slice(prefix.length).split('.');
      let at = input;
      for (const p of path.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
      at[path[path.length - 1]!] = coerce(schemaAt(def.schema, path), props.get(k)!);
    }
    const problems: FlumeProblem[] = [];
    const parsed = def.schema.safeParse(input, { reportInput: true });
    if (!parsed.success) {
      for (const issue of toConfigIssues('', def.schema, input, parsed.error.issues)) {
        const option = issue.path.replace(/^\./, '');
        const own = props.has(prefix + option);
        const did = issue.suggestion ? ` (did you mean \`${prefix}${issue.suggestion}\`?)` : '';
        problems.push({
          key: own ? prefix + option : slot.flumeKey,
          message: `${own ? '' : `${def.name} option \`${prefix}${option}\`: `}expected ${issue.expected}, received ${issue.received}${did}`,
        });
      }
    }
    return { options: { [slot.option]: def, [slot.optionsIn]: input }, consumed: [slot.flumeKey, ...below], problems };
  });
  const own = c.spec.fromFlume;
  const spec: ComponentSpec = { ...c.spec, fromFlume: (props) => combineFromFlume(props, ...steps, ...(own ? [own] : [])) };
  return Object.assign((...args: never[]) => c(...args), { spec }) as AnyComponent;
}

/**
 * What a planned component takes from modules, for `rxflume validate`: `serializer csvLine`,
 * `HTTP handler lines`; empty when it takes none (a built-in named by its name is the component's own).
 */
export function pluginsOf(spec: ComponentSpec, options: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  const parsed = spec.schema.safeParse(options).data as Record<string, unknown> | undefined;
  for (const slot of slotsOf(spec)) {
    const v = parsed?.[slot.option] ?? options[slot.option];
    if (DEFINITIONS[slot.plugin].is(v)) out.push(`${DEFINITIONS[slot.plugin].noun} ${(v as Definition).name}`);
  }
  return out;
}
