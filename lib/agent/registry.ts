import type { Component, ComponentKind } from '../core/config.js';

export type AnyComponent = Component<(...args: never[]) => unknown>;

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
  constructor(
    readonly components: readonly AnyComponent[],
    private readonly modules: ReadonlyMap<string, AnyComponent> = new Map(),
    private readonly failedModules: ReadonlySet<string> = new Set(),
  ) {
    for (const c of components) for (const t of c.spec.flumeTypes) this.byType.set(`${c.spec.kind}:${t.toLowerCase()}`, c);
  }

  /** This registry with components loaded from modules beside the built-in ones. */
  with(modules: ReadonlyMap<string, AnyComponent>, failedModules: ReadonlySet<string>): Registry {
    return modules.size === 0 && failedModules.size === 0 ? this : new Registry(this.components, modules, failedModules);
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
    return this.components.filter((c) => c.spec.kind === kind).flatMap((c) => c.spec.flumeTypes.slice(0, 1));
  }

  /** A Flume type of the kind that rxflume does not implement (yet). */
  isUnsupported(kind: ComponentKind, type: string): boolean {
    return UNSUPPORTED[kind]?.includes(type.toLowerCase()) ?? false;
  }
}
