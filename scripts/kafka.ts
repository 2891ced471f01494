/**
 * A real single-node KRaft Kafka broker from Maven Central jars, for tests, benches and local use.
 *
 *   npm run kafka:up      starts one on 127.0.0.1:19092 in the background (prints how to stop it)
 *   npm run kafka:down    stops it and removes its data
 *   node dist/scripts/kafka.js fetch    only fetches the jars (CI does this before the tests)
 *   node dist/scripts/kafka.js cluster [--size 3]   a KRaft cluster in the foreground (RF = size,
 *                         min.insync.replicas 2) on --port, --port + 1, …; Ctrl-C stops it
 *
 * Options of `up`/`down`: `--port N` (default 19092, or `$RXFLUME_KAFKA_PORT`), `--kafka4` (Kafka 4.x
 * instead of 3.9.x; or `RXFLUME_KAFKA_MAJOR=4`), `--no-auto-create` (auto.create.topics.enable=false),
 * `--partitions N` (num.partitions).
 *
 * Programmatic use (vitest global setup, benches, fault tests): `startBroker({ port, dataDir })`, and
 * `startCluster({ nodes })` for several brokers (each may run in its own network namespace). The jars
 * are fetched and cached by scripts/maven.ts (`$RXFLUME_KAFKA_CACHE`, else ~/.cache/rxflume/kafka); the
 * JVM runs under scripts/service.ts; the broker's properties templates are in kafka/.
 */
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchedLine, fetchJars, serviceCacheDir, type Jars, type MavenSet } from './maven.js';
import { checkTools, dataDir as serviceDataDir, findUp, freePort, javaService, runMain, runToEnd, serviceDown, serviceUp, startJava, tail, type JavaService, type StopOptions, type UpState } from './service.js';

export { freePort, type StopOptions };

export type KafkaMajor = 3 | 4;

/** The Kafka release each major runs. */
export const KAFKA_VERSIONS: Readonly<Record<KafkaMajor, string>> = { 3: '3.9.2', 4: '4.1.1' };
export const DEFAULT_PORT = 19092;
/** Any base64url 16-byte UUID works for a throwaway cluster; a fixed one saves a JVM start. */
const CLUSTER_ID = '5L6g3nShT-eMCtK--X86sw';
const MAIN_CLASS = 'kafka.Kafka';

/**
 * The broker's jars: `kafka_2.13` (the broker, with every server module) plus a logging backend, which
 * Kafka does not declare: reload4j for 3.9 (its log4j 1 controller needs it), log4j2 for 4.x (KIP-653).
 */
export function kafkaJars(major: KafkaMajor): MavenSet {
  const version = KAFKA_VERSIONS[major];
  const logging =
    major === 4
      ? ['org.apache.logging.log4j:log4j-core:2.24.3', 'org.apache.logging.log4j:log4j-slf4j-impl:2.24.3']
      : ['org.slf4j:slf4j-reload4j:1.7.36', 'ch.qos.reload4j:reload4j:1.2.25'];
  return { service: 'kafka', version, title: `Kafka ${version} broker`, artifacts: [`org.apache.kafka:kafka_2.13:${version}`, ...logging] };
}

/** The major to use when none is given: env `RXFLUME_KAFKA_MAJOR=4` switches everything to Kafka 4.x. */
export function defaultMajor(): KafkaMajor {
  return process.env['RXFLUME_KAFKA_MAJOR'] === '4' ? 4 : 3;
}

/** Where jars (and `kafka:up` state) live: `$RXFLUME_KAFKA_CACHE`, else `$XDG_CACHE_HOME/rxflume/kafka`, else `~/.cache/rxflume/kafka`. */
export function kafkaCacheDir(): string {
  return serviceCacheDir('kafka');
}

/** The folder of the broker's properties templates (kafka/ in the repository, found from source or dist). */
export function kafkaConfigDir(): string {
  return join(findUp(import.meta.url, 'kafka/server.properties'), '..');
}

/** Makes sure the broker jars are in the cache (scripts/maven.ts). */
export async function ensureJars(options: { major?: KafkaMajor; log?: (line: string) => void } = {}): Promise<Jars & { major: KafkaMajor }> {
  const major = options.major ?? defaultMajor();
  return { major, ...(await fetchJars(kafkaJars(major), options)) };
}

export interface BrokerOptions {
  /** Client port on `host`; 0 (default) picks a free one. `kafka:up` uses 19092. */
  port?: number;
  /** Address both listeners bind and the broker advertises (default 127.0.0.1). */
  host?: string;
  /** KRaft node id (default 1). */
  nodeId?: number;
  /** `controller.quorum.voters` (default: this node alone). `startCluster` sets it for each member. */
  voters?: string;
  /** Network namespace (`ip netns`) the JVM runs in; `host` is then an address of that namespace. */
  netns?: string;
  /** Controller (KRaft quorum) port; a free one by default. */
  controllerPort?: number;
  /**
   * Broker state (formatted KRaft metadata, topic logs, its config and log file). Given: kept on
   * `close()`, so a broker can be started again on it. Absent: a temp folder removed by `close()`.
   */
  dataDir?: string;
  /** `auto.create.topics.enable` (default true). */
  autoCreateTopics?: boolean;
  /** `num.partitions` of auto-created topics (default 1). */
  numPartitions?: number;
  /**
   * More broker properties, appended to the template's (a key given here wins, as the last one in a
   * Java properties file): e.g. a TLS or SASL listener added to `listeners` (see test/lib/kafka/tls.test.ts).
   */
  properties?: Record<string, string>;
  major?: KafkaMajor;
  /** JVM max heap in MB (default 512). */
  heapMb?: number;
  /** How long to wait for "Kafka Server started" (default 180 s: a busy 2-core machine is slow). */
  readyTimeoutMs?: number;
  /** Run in its own session, surviving this process (for `kafka:up`); no watchdog. */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface Broker extends JavaService {
  /** `<host>:<port>`, what kafkajs `brokers` takes. */
  readonly bootstrap: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  readonly major: KafkaMajor;
}

/**
 * Starts a single-node KRaft broker (broker + controller in one JVM) and resolves once it accepts
 * clients. Fetches the jars first if needed. The JVM is killed if this process dies, unless `detached`.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const major = options.major ?? defaultMajor();
  const what = `Kafka ${KAFKA_VERSIONS[major]} broker`;
  checkTools(what);
  const jars = await ensureJars({ major, ...(options.log ? { log: options.log } : {}) });
  const port = options.port || (await freePort());
  const controllerPort = options.controllerPort || (await freePort());
  const host = options.host ?? '127.0.0.1';
  const nodeId = options.nodeId ?? 1;
  const data = await serviceDataDir(options.dataDir, 'kafka');
  try {
    const logDirs = join(data.path, 'kraft');
    const propsFile = join(data.path, 'server.properties');
    const configDir = kafkaConfigDir();
    const template = readFileSync(join(configDir, 'server.properties'), 'utf8');
    const values: Record<string, string> = {
      host,
      nodeId: String(nodeId),
      voters: options.voters ?? `${nodeId}@${host}:${controllerPort}`,
      port: String(port),
      controllerPort: String(controllerPort),
      logDirs,
      numPartitions: String(options.numPartitions ?? 1),
      autoCreateTopics: String(options.autoCreateTopics ?? true),
    };
    const extra = Object.entries(options.properties ?? {}).map(([k, v]) => `${k}=${v}\n`).join('');
    writeFileSync(propsFile, template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? '') + (extra ? `\n${extra}` : ''));
    const logConfig =
      major === 4 ? `-Dlog4j2.configurationFile=${join(configDir, 'log4j2.properties')}` : `-Dlog4j.configuration=file:${join(configDir, 'log4j.properties')}`;
    const classpath = [join(jars.libsDir, '*')];

    if (!existsSync(join(logDirs, 'meta.properties'))) {
      const format = await runToEnd('java', ['-Xmx128m', logConfig, '-cp', classpath[0]!, 'kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', propsFile, '--ignore-formatted']);
      if (format.code !== 0) throw new Error(`formatting Kafka storage in ${logDirs} failed (exit ${format.code}):\n${tail(format.output, 30)}`);
    }
    const heap = options.heapMb ?? 512;
    options.log?.(`starting ${what} on ${host}:${port}${options.netns ? ` in netns ${options.netns}` : ''}, data in ${data.path}`);
    const java = await startJava({
      what,
      classpath,
      mainClass: MAIN_CLASS,
      args: [propsFile],
      jvmArgs: [`-Xmx${heap}m`, `-Xms${Math.min(heap, 256)}m`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true', logConfig],
      logFile: join(data.path, 'broker.log'),
      // KafkaRaftServer's STARTED_MESSAGE (kafka/log4j*.properties keep that logger at INFO).
      readyLog: /Kafka Server started/,
      readyPort: port,
      readyHost: host,
      ...(options.netns ? { launcher: ['ip', 'netns', 'exec', options.netns] } : {}),
      ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      ...(options.detached ? { detached: true } : {}),
    });
    return javaService(java, data, 'this broker', { bootstrap: `${host}:${port}`, port, controllerPort, dataDir: data.path, major });
  } catch (error) {
    await data.remove();
    throw error;
  }
}

// ---- a cluster of brokers ---------------------------------------------------------------------

/** Where one member of a cluster listens: an address (of its network namespace, with `netns`) and ports. */
export interface ClusterNode {
  host?: string;
  /** Client port; a free one on 127.0.0.1 by default. */
  port?: number;
  controllerPort?: number;
  netns?: string;
}

export interface ClusterOptions extends Pick<BrokerOptions, 'autoCreateTopics' | 'numPartitions' | 'properties' | 'major' | 'heapMb' | 'readyTimeoutMs' | 'log'> {
  /** One entry per broker, node ids 1, 2, … in this order (default: `size` brokers on 127.0.0.1). */
  nodes?: readonly ClusterNode[];
  /** Brokers when `nodes` is not given (default 3). */
  size?: number;
  /** Each broker's state in `<dataDir>/broker-<id>` (kept on `close()`); absent: a temp folder `close()` removes. */
  dataDir?: string;
  /** `min.insync.replicas` (default 2, or 1 for a single broker): with acks=all, a write needs this many replicas. */
  minInsyncReplicas?: number;
}

export interface Cluster {
  /** `brokers[i]` is node id i + 1; each can be stopped (SIGKILL too) and started again alone. */
  readonly brokers: readonly Broker[];
  /** Every broker's `host:port`, comma-separated (Kafka's bootstrap.servers). */
  readonly bootstrap: string;
  /** The broker of a KRaft node id (what kafkajs metadata names as `leader`). */
  broker(nodeId: number): Broker;
  /** Stops every broker, then removes the data if `startCluster` created the folder. */
  close(): Promise<void>;
}

/**
 * Starts a KRaft cluster: every broker is also a voter of the controller quorum, topics are created with
 * replication factor = the cluster's size and `min.insync.replicas` 2, internal topics too. The brokers
 * start together (a voter waits for its quorum); resolves once all accept clients.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const nodes: readonly ClusterNode[] = options.nodes ?? Array.from({ length: options.size ?? 3 }, () => ({}));
  const size = nodes.length;
  const placed = await Promise.all(
    nodes.map(async (n) => ({
      host: n.host ?? '127.0.0.1',
      port: n.port || (await freePort()),
      controllerPort: n.controllerPort || (await freePort()),
      ...(n.netns ? { netns: n.netns } : {}),
    })),
  );
  const voters = placed.map((n, i) => `${i + 1}@${n.host}:${n.controllerPort}`).join(',');
  const minIsr = String(options.minInsyncReplicas ?? Math.min(2, size));
  const replicated: Record<string, string> = {
    'default.replication.factor': String(size),
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': String(size),
    'transaction.state.log.replication.factor': String(size),
    'transaction.state.log.min.isr': minIsr,
    'share.coordinator.state.topic.replication.factor': String(size),
    'share.coordinator.state.topic.min.isr': minIsr,
  };
  const data = await serviceDataDir(options.dataDir, 'kafka-cluster');
  const started = await Promise.allSettled(
    placed.map((n, i) =>
      startBroker({
        ...options,
        ...n,
        nodeId: i + 1,
        voters,
        dataDir: join(data.path, `broker-${i + 1}`),
        properties: { ...replicated, ...options.properties },
      }),
    ),
  );
  const brokers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(brokers.map((b) => b.stop({ signal: 'SIGKILL' })));
    await data.remove();
    throw failed.reason;
  }
  return {
    brokers,
    bootstrap: brokers.map((b) => b.bootstrap).join(','),
    broker(nodeId) {
      const broker = brokers[nodeId - 1];
      if (!broker) throw new Error(`no broker with node id ${nodeId} in a cluster of ${size}`);
      return broker;
    },
    async close() {
      await Promise.all(brokers.map((b) => b.stop()));
      await data.remove();
    },
  };
}

// ---- npm run kafka:up / kafka:down -----------------------------------------------------------

interface KafkaUpState extends UpState {
  bootstrap: string;
  version: string;
}

const stateFile = (port: number) => join(kafkaCacheDir(), `broker-${port}.json`);
const downCommand = (port: number) => `npm run kafka:down${port === DEFAULT_PORT ? '' : ` -- --port ${port}`}`;

/** `npm run kafka:up`: a detached broker on `port` with fresh data under the cache; prints how to stop it. */
export async function kafkaUp(
  port = DEFAULT_PORT,
  options: { major?: KafkaMajor; autoCreateTopics?: boolean; numPartitions?: number } = {},
): Promise<{ bootstrap: string; pid: number }> {
  const major = options.major ?? defaultMajor();
  const version = KAFKA_VERSIONS[major];
  const state = await serviceUp<KafkaUpState>({
    stateFile: stateFile(port),
    dataDir: join(kafkaCacheDir(), `run-${port}`),
    downCommand: downCommand(port),
    async start(dataDir) {
      const broker = await startBroker({
        port,
        dataDir,
        major,
        autoCreateTopics: options.autoCreateTopics ?? true,
        numPartitions: options.numPartitions ?? 1,
        detached: true,
        log: (l) => console.log(l),
      });
      return { pid: broker.pid!, dataDir, logFile: broker.logFile, mainClass: MAIN_CLASS, name: `Kafka ${version} on ${broker.bootstrap}`, bootstrap: broker.bootstrap, version };
    },
    readyLine: (s) => `Kafka ${s.version} is ready: bootstrap ${s.bootstrap} (pid ${s.pid}, log ${s.logFile})`,
  });
  return { bootstrap: state.bootstrap, pid: state.pid };
}

/** `npm run kafka:down`: stops the broker `kafkaUp` started on `port` and removes its data. */
export function kafkaDown(port = DEFAULT_PORT): Promise<void> {
  return serviceDown(stateFile(port), `no Kafka started by kafka:up on port ${port}`);
}

runMain(import.meta.url, 'kafka', async ({ command, flag, value }) => {
  const port = Number(value('--port') ?? process.env['RXFLUME_KAFKA_PORT'] ?? DEFAULT_PORT);
  const major: KafkaMajor = flag('--kafka4') ? 4 : defaultMajor();
  switch (command) {
    case 'up':
      await kafkaUp(port, { major, autoCreateTopics: !flag('--no-auto-create'), numPartitions: Number(value('--partitions') ?? 1) });
      return;
    case 'down':
      return kafkaDown(port);
    case 'cluster': {
      // In the foreground, until Ctrl-C: brokers on --port, --port + 1, … of 127.0.0.1.
      const size = Number(value('--size') ?? 3);
      const cluster = await startCluster({ major, nodes: Array.from({ length: size }, (_, i) => ({ port: port + i })), log: (l) => console.log(l) });
      console.log(`Kafka ${KAFKA_VERSIONS[major]} cluster of ${size} is ready: bootstrap ${cluster.bootstrap} (Ctrl-C stops it and removes its data)`);
      await new Promise<void>((resolve) => ['SIGINT', 'SIGTERM'].forEach((signal) => process.once(signal, () => resolve())));
      await cluster.close();
      return;
    }
    case 'fetch':
      console.log(fetchedLine(kafkaJars(major), await ensureJars({ major, log: (l) => console.log(l) })));
      return;
    default:
      console.error('usage: node dist/scripts/kafka.js up|down|cluster|fetch [--port N] [--kafka4] [--no-auto-create] [--partitions N] [--size N (cluster)]');
      process.exitCode = 2;
  }
});
