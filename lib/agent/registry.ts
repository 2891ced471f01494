import type { Component, ComponentKind } from '../core/config.js';

export type AnyComponent = Component<(...args: never[]) => unknown>;

/** A component as the agent's catalog knows it before loading it (lib/agent/catalog.ts, generated). */
export interface CatalogEntry {
  readonly kind: ComponentKind;
  readonly name: string;
  readonly flumeTypes: readonly string[];
  load(): Promise<unknown>;
}

/**
 * The built-in components of `kind:type` pairs, loaded from the catalog: what a configuration names, and the
 * selector and sink processor its defaults stand for. Other types stay unloaded (the agent's start-up time and
 * memory pay only for what it runs); a registry of these still lists every type in its messages.
 */
export async function loadFromCatalog(catalog: readonly CatalogEntry[], wanted: Iterable<readonly [ComponentKind, string]>): Promise<Registry> {
  const byType = new Map<string, CatalogEntry>();
  for (const e of catalog) for (const t of e.flumeTypes) byType.set(`${e.kind}:${t.toLowerCase()}`, e);
  const needed = new Set<CatalogEntry>();
  for (const [kind, type] of [...wanted, ['selector', 'replicating'], ['sinkProcessor', 'default']] as const) {
    const e = byType.get(`${kind}:${type.trim().toLowerCase()}`);
    if (e) needed.add(e);
  }
  const loaded = await Promise.all([...needed].map(async (e) => (await e.load()) as AnyComponent));
  const types = new Map<ComponentKind, string[]>();
  for (const e of catalog) if (e.flumeTypes[0] !== undefined) types.set(e.kind, [...(types.get(e.kind) ?? []), e.flumeTypes[0]]);
  return new Registry(loaded, new Map(), new Set(), (kind) => types.get(kind) ?? []);
}

/** Flume types rxflume knows of but does not implement: named as unsupported, never as unknown. */
const UNSUPPORTED: Partial<Record<ComponentKind, readonly string[]>> = {
  source: [
    // Flume's own non-core sources (flume-sources, flume-legacy-sources), documented in its guide.
    'org.apache.flume.source.avrolegacy.avrolegacysource',
    'org.apache.flume.source.thriftlegacy.thriftlegacysource',
    'org.apache.flume.source.twitter.twittersource',
  ],
  channel: ['jdbc', 'org.apache.flume.channel.jdbc.jdbcchannel'],
  sink: [
    'hbase',
    'hbase2',
    'asynchbase',
    'morphline_solr',
    'hive',
    'elasticsearch',
    'org.apache.flume.sink.hbase.hbasesink',
    'org.apache.flume.sink.hbase2.hbase2sink',
    'org.apache.flume.sink.hbase.asynchbasesink',
    'org.apache.flume.sink.solr.morphline.morphlinesolrsink',
    'org.apache.flume.sink.hive.hivesink',
    'org.apache.flume.sink.elasticsearch.elasticsearchsink',
  ],
  interceptor: ['org.apache.flume.sink.solr.morphline.morphlineinterceptor$builder'],
};

/** Every component the agent can build — sources to sink processors — by kind and Flume type name (case-insensitive). */
export class Registry {
  private readonly byType = new Map<string, AnyComponent>();

  /**
   * @param modules Components loaded from modules (plugins.ts), by `kind:type` as written.
   * @param failedModules `kind:type` of modules that could not serve, already reported.
   */
  /**
   * @param components The built-in components it can find (all of them, or those a configuration needs).
   * @param modules Components loaded from modules (plugins.ts), by `kind:type` as written.
   * @param failedModules `kind:type` of modules that could not serve, already reported.
   * @param allTypes The first type of each built-in component of a kind, loaded or not (for messages).
   */
  constructor(
    readonly components: readonly AnyComponent[],
    private readonly modules: ReadonlyMap<string, AnyComponent> = new Map(),
    private readonly failedModules: ReadonlySet<string> = new Set(),
    private readonly allTypes?: (kind: ComponentKind) => string[],
  ) {
    for (const c of components) for (const t of c.spec.flumeTypes) this.byType.set(`${c.spec.kind}:${t.toLowerCase()}`, c);
  }

  /** This registry with components loaded from modules beside the built-in ones. */
  with(modules: ReadonlyMap<string, AnyComponent>, failedModules: ReadonlySet<string>): Registry {
    return modules.size === 0 && failedModules.size === 0 ? this : new Registry(this.components, modules, failedModules, this.allTypes);
  }

  /** This registry with each built-in component and each module's replaced by `wrap(component)`. */
  mapped(wrap: (c: AnyComponent) => AnyComponent, modules: ReadonlyMap<string, AnyComponent>, failedModules: ReadonlySet<string>): Registry {
    return new Registry(this.components.map(wrap), new Map([...modules].map(([k, c]) => [k, wrap(c)])), failedModules, this.allTypes);
  }

  find(kind: ComponentKind, type: string): AnyComponent | undefined {
    return this.byType.get(`${kind}:${type.toLowerCase()}`) ?? this.modules.get(`${kind}:${type.trim()}`);
  }

  /** A module `type` that failed to load or export a component: reported already, nothing more to say. */
  isFailedModule(kind: ComponentKind, type: string): boolean {
    return this.failedModules.has(`${kind}:${type.trim()}`);
  }

  /** The first Flume type name of each component of the kind, in registry order. */
  typesOf(kind: ComponentKind): string[] {
    return this.allTypes?.(kind) ?? this.components.filter((c) => c.spec.kind === kind).flatMap((c) => c.spec.flumeTypes.slice(0, 1));
  }

  /** A Flume type of the kind that rxflume does not implement (yet). */
  isUnsupported(kind: ComponentKind, type: string): boolean {
    return UNSUPPORTED[kind]?.includes(type.toLowerCase()) ?? false;
  }
}
