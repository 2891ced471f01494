/**
 * Real Apache Flume 1.11.0 agents from Maven Central jars, for the interoperability tests and the
 * network bench.
 *
 *   npm run flume:fetch   (node dist/scripts/flume.js fetch) only fetches the jars (the agent's, the
 *                         agent's with the HDFS sink and Hadoop's client, and the UUID interceptor's);
 *                         CI does this first
 *
 *   const agent = await startFlumeAgent({ conf: 'a1.sources = r1 …' });
 *   await agent.waitForLog(/Avro source r1 started/);
 *   …
 *   await agent.stop();
 *
 * The jars are fetched and cached by scripts/maven.ts (`$RXFLUME_FLUME_CACHE`, else
 * ~/.cache/rxflume/flume/1.11.0/libs). An agent runs as `java -cp flume/:<libs>/*
 * org.apache.flume.node.Application -n a1 -f <conf> --no-reload-conf` under scripts/service.ts; Flume
 * 1.11.0 starts on JDK 17 without extra flags, and flume/log4j2.xml logs its lifecycle lines to stdout.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HADOOP_VERSION } from './hdfs.js';
import { fetchedLine, fetchJars, isCached, libsDirOf, type MavenSet } from './maven.js';
import { checkTools, dataDir, findUp, runMain, startJava } from './service.js';

export const FLUME_VERSION = '1.11.0';
const LOG4J_VERSION = '2.18.0';

/**
 * The agent (flume-ng-node pulls sdk, configuration and core: avro, seq, file_roll, memory; Hadoop stays
 * out, optional in flume-hdfs-sink) plus the log4j2 backend that Flume's binary distribution adds.
 */
export const FLUME_JARS: MavenSet = {
  service: 'flume',
  version: FLUME_VERSION,
  title: `Flume ${FLUME_VERSION}`,
  artifacts: [
    `org.apache.flume:flume-ng-node:${FLUME_VERSION}`,
    ...['log4j-api', 'log4j-core', 'log4j-slf4j-impl', 'log4j-1.2-api'].map((a) => `org.apache.logging.log4j:${a}:${LOG4J_VERSION}`),
  ],
  // Curator and ZooKeeper drag older netty jars in beside Flume's 4.1.72: pin every netty module to it.
  boms: ['io.netty:netty-bom:4.1.72.Final'],
};

/**
 * The agent with Flume's HDFS sink: `flume-hdfs-sink` (its Hadoop dependencies are optional, so Hadoop's
 * shaded client jars of the test cluster's version come beside it: hadoop-client-api has FileSystem,
 * SequenceFile and the codecs, hadoop-client-runtime their dependencies). A set of its own, cached apart,
 * so the plain agent's cache stays valid.
 */
export const FLUME_HDFS_JARS: MavenSet = {
  ...FLUME_JARS,
  version: `${FLUME_VERSION}-hdfs-${HADOOP_VERSION}`,
  title: `Flume ${FLUME_VERSION} with its HDFS sink (Hadoop ${HADOOP_VERSION} client)`,
  artifacts: [
    ...FLUME_JARS.artifacts,
    `org.apache.flume.flume-ng-sinks:flume-hdfs-sink:${FLUME_VERSION}`,
    `org.apache.hadoop:hadoop-client-api:${HADOOP_VERSION}`,
    `org.apache.hadoop:hadoop-client-runtime:${HADOOP_VERSION}`,
  ],
};

/**
 * Flume's UUID interceptor (`org.apache.flume.sink.solr.morphline.UUIDInterceptor`) ships in the
 * morphline Solr sink's jar, which the agent's jars leave out. The class needs only flume-ng-core, so the
 * jar alone goes on an agent's classpath, without the sink's Kite/Solr dependencies.
 */
export const FLUME_UUID_INTERCEPTOR_JAR: MavenSet = {
  service: 'flume',
  version: `${FLUME_VERSION}-morphline`,
  title: `Flume ${FLUME_VERSION} UUID interceptor`,
  artifacts: [`org.apache.flume.flume-ng-sinks:flume-ng-morphline-solr-sink:${FLUME_VERSION}`],
  intransitive: true,
};

/**
 * Flume's taildir source ships in its own jar (`flume-taildir-source`), which the agent's jars leave
 * out; it needs only flume-ng-core's classes (Gson and Guava come with them), so the jar alone goes on
 * an agent's classpath.
 */
export const FLUME_TAILDIR_JAR: MavenSet = {
  service: 'flume',
  version: `${FLUME_VERSION}-taildir`,
  title: `Flume ${FLUME_VERSION} taildir source`,
  artifacts: [`org.apache.flume.flume-ng-sources:flume-taildir-source:${FLUME_VERSION}`],
  intransitive: true,
};

/**
 * Flume's HTTP sink and Kafka source and sink, which the agent's jars leave out: fetched with their
 * dependencies (kafka-clients 2.7.2 and its codecs) into a cache of their own; only the jars the agent's
 * set lacks go on a classpath (flumeExtraJars), so Flume's own versions stay the ones loaded.
 */
export const FLUME_SINK_JARS: MavenSet = {
  service: 'flume',
  version: `${FLUME_VERSION}-http-kafka`,
  title: `Flume ${FLUME_VERSION} HTTP sink, Kafka source and sink`,
  artifacts: [
    `org.apache.flume.flume-ng-sinks:flume-http-sink:${FLUME_VERSION}`,
    `org.apache.flume.flume-ng-sinks:flume-ng-kafka-sink:${FLUME_VERSION}`,
    `org.apache.flume.flume-ng-sources:flume-kafka-source:${FLUME_VERSION}`,
  ],
  boms: FLUME_JARS.boms ?? [],
};

/**
 * Flume's Kafka channel (`org.apache.flume.channel.kafka.KafkaChannel`) ships in its own jar, which the
 * agent's jars leave out; its dependencies (kafka-clients, kafka_2.13, flume-shared-kafka) are those of
 * the Kafka source and sink, so the jar alone goes on a classpath beside `flumeExtraJars(FLUME_SINK_JARS)`.
 */
export const FLUME_KAFKA_CHANNEL_JAR: MavenSet = {
  service: 'flume',
  version: `${FLUME_VERSION}-kafka-channel`,
  title: `Flume ${FLUME_VERSION} Kafka channel`,
  artifacts: [`org.apache.flume.flume-ng-channels:flume-kafka-channel:${FLUME_VERSION}`],
  intransitive: true,
};

/** The jars of `set` that the agent's own libs lack, for an agent's classpath; fetched with Maven when missing. */
export async function flumeExtraJars(set: MavenSet): Promise<string[]> {
  const { libsDir } = await fetchJars(set);
  const agent = new Set(readdirSync(libsDirOf(FLUME_JARS)));
  return readdirSync(libsDir)
    .filter((f) => f.endsWith('.jar') && !agent.has(f))
    .map((f) => join(libsDir, f));
}

/** The path of a one-jar set's jar (FLUME_UUID_INTERCEPTOR_JAR, FLUME_TAILDIR_JAR, FLUME_KAFKA_CHANNEL_JAR), fetched with Maven when missing. */
export async function flumeJarPath(set: MavenSet): Promise<string> {
  const { libsDir } = await fetchJars(set);
  return join(libsDir, set.artifacts[0]!.split(':').slice(1).join('-') + '.jar');
}

/** The jars are cached: an agent can start without Maven (`hdfs`: the set with the HDFS sink). */
export function flumeJarsCached(hdfs = false): boolean {
  return isCached(hdfs ? FLUME_HDFS_JARS : FLUME_JARS);
}

/** The folder of Flume's jars (`hdfs`: with the HDFS sink), fetched with Maven when missing. */
export async function ensureFlumeJars(log?: (line: string) => void, hdfs = false): Promise<string> {
  return (await fetchJars(hdfs ? FLUME_HDFS_JARS : FLUME_JARS, log ? { log } : {})).libsDir;
}

export interface FlumeAgent {
  /** The agent's temp folder (its conf, log and whatever `mkdirs` made). */
  readonly dir: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  log(): Promise<string>;
  /** Resolves once the agent's log matches; rejects if the agent exits first or on timeout (default 120 s). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (then SIGKILL after 20 s) and removes the agent's temp folder unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

export interface AgentOptions {
  /** The agent's properties file; `{{dir}}` is replaced by the agent's temp folder. */
  conf: string;
  agentName?: string;
  /** -Xmx in MB (default 256). */
  heapMb?: number;
  /** The other JVM options; by default a quick start (serial GC, C1 only), not for throughput. */
  jvmArgs?: readonly string[];
  /** Folders to create in the agent's temp folder first (file_roll needs its directory). */
  mkdirs?: readonly string[];
  /** Run with Flume's HDFS sink and Hadoop's client on the classpath (FLUME_HDFS_JARS). */
  hdfs?: boolean;
  /** Classpath entries before Flume's jars, e.g. a folder with Hadoop's core-site.xml. */
  classpath?: readonly string[];
  /** Java system properties (`-Dk=v`), e.g. Flume's `flume.monitoring.type`/`flume.monitoring.port`. */
  systemProperties?: Readonly<Record<string, string>>;
}

/** Starts `java … org.apache.flume.node.Application` on a temp conf; the JVM dies with this process. */
export async function startFlumeAgent(options: AgentOptions): Promise<FlumeAgent> {
  const what = `Flume ${FLUME_VERSION} agent`;
  checkTools(what);
  const libsDir = await ensureFlumeJars(undefined, options.hdfs ?? false);
  const dir = await dataDir(undefined, 'flume');
  try {
    const confFile = join(dir.path, 'agent.conf');
    for (const sub of options.mkdirs ?? []) mkdirSync(join(dir.path, sub), { recursive: true });
    writeFileSync(confFile, options.conf.replace(/\{\{dir\}\}/g, dir.path));
    const java = await startJava({
      what,
      classpath: [join(findUp(import.meta.url, 'flume/log4j2.xml'), '..'), ...(options.classpath ?? []), join(libsDir, '*')],
      mainClass: 'org.apache.flume.node.Application',
      args: ['-n', options.agentName ?? 'a1', '-f', confFile, '--no-reload-conf'],
      jvmArgs: [
        `-Xmx${options.heapMb ?? 256}m`,
        ...(options.jvmArgs ?? ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']),
        ...Object.entries(options.systemProperties ?? {}).map(([k, v]) => `-D${k}=${v}`),
      ],
      cwd: dir.path,
      logFile: join(dir.path, 'agent.log'),
      readyTimeoutMs: 120_000,
    });
    return {
      dir: dir.path,
      logFile: java.logFile,
      get pid() {
        return java.pid;
      },
      log: () => java.log(),
      waitForLog: (pattern, timeoutMs) => java.waitForLog(pattern, timeoutMs),
      async stop(stopOptions = {}) {
        await java.stop({ timeoutMs: 20_000 });
        if (!stopOptions.keep) await dir.remove();
      },
    };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

runMain(import.meta.url, 'flume', async ({ command }) => {
  if (command !== 'fetch') {
    console.error('usage: node dist/scripts/flume.js fetch');
    process.exitCode = 2;
    return;
  }
  for (const set of [FLUME_JARS, FLUME_HDFS_JARS, FLUME_UUID_INTERCEPTOR_JAR, FLUME_TAILDIR_JAR, FLUME_SINK_JARS, FLUME_KAFKA_CHANNEL_JAR]) console.log(fetchedLine(set, await fetchJars(set, { log: (l) => console.log(l) })));
});
