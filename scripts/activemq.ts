/**
 * A real Apache ActiveMQ Classic 6.x broker from Maven Central jars, for the JMS source's tests and local
 * use, with AMQP 1.0 (what rxflume's jmsSource speaks), STOMP and OpenWire (what Flume's JMS source
 * speaks through activemq-client) on 127.0.0.1.
 *
 *   npm run activemq:up      starts one in the background (AMQP 127.0.0.1:15672, STOMP :15613,
 *                            OpenWire :15616) and prints the amqp:// URL and how to stop it
 *   npm run activemq:down    stops it and removes its data
 *   node dist/scripts/activemq.js fetch    only fetches the jars (CI does this before the tests), the
 *                                          broker's and those Flume's JMS source needs (FLUME_JMS_JARS)
 *
 * Options of `up`/`down`: `--port N` (the AMQP port, default 15672 or `$RXFLUME_ACTIVEMQ_PORT`); with `up`,
 * `--stomp-port N` and `--openwire-port N` (15613 and 15616 beside the default AMQP port, else free ones).
 *
 * Programmatic use (vitest global setup, restart tests): `startActiveMq({ dataDir })`. Messages are
 * persistent (KahaDB in the data folder), so a broker stopped and started again on the same folder keeps
 * its queues. The jars are fetched and cached by scripts/maven.ts (`$RXFLUME_ACTIVEMQ_CACHE`, else
 * ~/.cache/rxflume/activemq); the JVM runs under scripts/service.ts, with no configuration file: the
 * console's `start` command takes the whole broker as a `broker:(…)?…` URI.
 */
import { join } from 'node:path';
import { FLUME_JARS, FLUME_VERSION } from './flume.js';
import { fetchedLine, fetchJars, serviceCacheDir, type Jars, type MavenSet } from './maven.js';
import { checkTools, dataDir as serviceDataDir, findUp, freePort, javaService, runMain, serviceDown, serviceUp, startJava, type JavaService, type UpState } from './service.js';

export const ACTIVEMQ_VERSION = '6.3.1';
export const DEFAULT_AMQP_PORT = 15672;
const DEFAULT_STOMP_PORT = 15613;
const DEFAULT_OPENWIRE_PORT = 15616;
const MAIN_CLASS = 'org.apache.activemq.console.command.ShellCommand';

/**
 * The broker with its AMQP and STOMP transports, KahaDB (persistence) and the console's `start`
 * command; log4j2 behind slf4j so the broker's "started" line reaches the log (activemq/log4j2.properties).
 */
export const ACTIVEMQ_JARS: MavenSet = {
  service: 'activemq',
  version: ACTIVEMQ_VERSION,
  title: `ActiveMQ ${ACTIVEMQ_VERSION} broker`,
  artifacts: [
    ...['activemq-broker', 'activemq-amqp', 'activemq-stomp', 'activemq-kahadb-store', 'activemq-console'].map((a) => `org.apache.activemq:${a}:${ACTIVEMQ_VERSION}`),
    'org.apache.logging.log4j:log4j-core:2.24.3',
    'org.apache.logging.log4j:log4j-slf4j2-impl:2.24.3',
  ],
};

/**
 * What Flume's own JMS source needs beside the agent's jars to read this broker, for the interop test:
 * `flume-jms-source` and ActiveMQ's OpenWire client. Flume 1.11 is javax.jms, so the 5.18 client (the
 * last javax one, `tcp://` to the 6.x broker); ActiveMQ 6's own client is jakarta.jms. Cached beside
 * Flume's other sets; `node dist/scripts/activemq.js fetch` fetches it too.
 */
export const FLUME_JMS_JARS: MavenSet = {
  service: 'flume',
  version: `${FLUME_VERSION}-jms`,
  title: `Flume ${FLUME_VERSION} JMS source with the ActiveMQ 5.18 client`,
  artifacts: [`org.apache.flume.flume-ng-sources:flume-jms-source:${FLUME_VERSION}`, 'org.apache.activemq:activemq-client:5.18.7'],
  boms: FLUME_JARS.boms ?? [],
};

/** Where jars (and `activemq:up` state) live: `$RXFLUME_ACTIVEMQ_CACHE`, else `$XDG_CACHE_HOME/rxflume/activemq`, else `~/.cache/rxflume/activemq`. */
/**
 * The lines of a JMS source `a1.sources.r1` on ActiveMQ (queue `queue`, channel c1) as both Flume's JMS
 * source and rxflume's read them: Flume through ActiveMQ's JNDI context, rxflume through `providerURL`
 * (AMQP; the JNDI keys it ignores).
 */
export function jmsSourceLines(providerUrl: string, queue: string, batchSize: number): string[] {
  return [
    'a1.sources.r1.type = jms',
    'a1.sources.r1.channels = c1',
    'a1.sources.r1.initialContextFactory = org.apache.activemq.jndi.ActiveMQInitialContextFactory',
    'a1.sources.r1.connectionFactory = ConnectionFactory',
    `a1.sources.r1.providerURL = ${providerUrl}`,
    `a1.sources.r1.destinationName = ${queue}`,
    'a1.sources.r1.destinationType = QUEUE',
    `a1.sources.r1.batchSize = ${batchSize}`,
  ];
}

export function activemqCacheDir(): string {
  return serviceCacheDir('activemq');
}

/** Makes sure the broker jars are in the cache (scripts/maven.ts). */
export function ensureActiveMqJars(options: { log?: (line: string) => void } = {}): Promise<Jars> {
  return fetchJars(ACTIVEMQ_JARS, options);
}

export interface ActiveMqOptions {
  /** AMQP 1.0 port on 127.0.0.1; 0 (default) picks a free one. */
  amqpPort?: number;
  stompPort?: number;
  /** OpenWire (`tcp://`), what Java JMS clients such as Flume's source use. */
  openwirePort?: number;
  /** Adds AMQP over TLS (`amqps://`, on a free port) with this PKCS12 key store as the broker's identity. */
  tls?: { keyStore: string; keyStorePassword: string };
  /**
   * Broker state (KahaDB, its log file). Given: kept on `close()`, so a broker started again on it
   * finds its messages. Absent: a temp folder removed by `close()`.
   */
  dataDir?: string;
  /** JVM max heap in MB (default 256). */
  heapMb?: number;
  readyTimeoutMs?: number;
  /** Run in its own session, surviving this process (for `activemq:up`); no watchdog. */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface ActiveMq extends JavaService {
  /** `amqp://127.0.0.1:<port>`, what jmsSource's `providerURL` takes. */
  readonly amqpUrl: string;
  readonly amqpPort: number;
  readonly stompPort: number;
  /** `tcp://127.0.0.1:<port>`, for OpenWire clients (Flume's JMS source with activemq-client). */
  readonly openwireUrl: string;
  /** `amqps://127.0.0.1:<port>` with the `tls` option. */
  readonly amqpsUrl: string | undefined;
  readonly dataDir: string;
}

/**
 * The broker as one URI for the console's `start`: AMQP with the JMS transformer (an AMQP message is
 * stored as a JMS Text/Bytes/Map message, so JMS clients such as Flume's see what was sent, not raw
 * AMQP bytes), STOMP, OpenWire; persistent in `dataDir`; no JMX (no extra port).
 */
export function brokerUri(ports: { amqp: number; stomp: number; openwire: number; amqps?: number | undefined }, dataDir: string): string {
  const connectors = [`amqp://127.0.0.1:${ports.amqp}?transport.transformer=jms`, `stomp://127.0.0.1:${ports.stomp}`, `tcp://127.0.0.1:${ports.openwire}`];
  if (ports.amqps !== undefined) connectors.push(`amqp+ssl://127.0.0.1:${ports.amqps}?transport.transformer=jms`);
  return `broker:(${connectors.join(',')})?brokerName=rxflume&persistent=true&useJmx=false&dataDirectory=${join(dataDir, 'broker')}`;
}

/** Starts a broker and resolves once it accepts AMQP connections. Fetches the jars first if needed. */
export async function startActiveMq(options: ActiveMqOptions = {}): Promise<ActiveMq> {
  const what = `ActiveMQ ${ACTIVEMQ_VERSION} broker`;
  checkTools(what);
  const jars = await ensureActiveMqJars(options.log ? { log: options.log } : {});
  const amqp = options.amqpPort || (await freePort());
  const stomp = options.stompPort || (await freePort());
  const openwire = options.openwirePort || (await freePort());
  const amqps = options.tls ? await freePort() : undefined;
  // The TLS connector takes the JVM's default key store.
  const tlsArgs = options.tls ? [`-Djavax.net.ssl.keyStore=${options.tls.keyStore}`, `-Djavax.net.ssl.keyStorePassword=${options.tls.keyStorePassword}`, '-Djavax.net.ssl.keyStoreType=PKCS12'] : [];
  const data = await serviceDataDir(options.dataDir, 'activemq');
  try {
    const heap = options.heapMb ?? 256;
    options.log?.(`starting ${what}: AMQP 127.0.0.1:${amqp}, STOMP :${stomp}, OpenWire :${openwire}, data in ${data.path}`);
    const java = await startJava({
      what,
      classpath: [join(findUp(import.meta.url, 'activemq/log4j2.properties'), '..'), join(jars.libsDir, '*')],
      mainClass: MAIN_CLASS,
      args: ['start', brokerUri({ amqp, stomp, openwire, amqps }, data.path)],
      jvmArgs: [`-Xmx${heap}m`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', `-Dactivemq.data=${data.path}`, ...tlsArgs],
      cwd: data.path,
      logFile: join(data.path, 'broker.log'),
      // BrokerService logs it once every connector listens.
      readyLog: /Apache ActiveMQ \S+ \(rxflume, [^)]*\) started/,
      readyPort: amqp,
      ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      ...(options.detached ? { detached: true } : {}),
    });
    return javaService(java, data, 'this broker', {
      amqpUrl: `amqp://127.0.0.1:${amqp}`,
      amqpPort: amqp,
      stompPort: stomp,
      openwireUrl: `tcp://127.0.0.1:${openwire}`,
      amqpsUrl: amqps === undefined ? undefined : `amqps://127.0.0.1:${amqps}`,
      dataDir: data.path,
    });
  } catch (error) {
    await data.remove();
    throw error;
  }
}

// ---- npm run activemq:up / activemq:down -----------------------------------------------------

interface ActiveMqUpState extends UpState {
  amqpUrl: string;
  stompPort: number;
  openwireUrl: string;
}

const stateFile = (port: number) => join(activemqCacheDir(), `broker-${port}.json`);
const downCommand = (port: number) => `npm run activemq:down${port === DEFAULT_AMQP_PORT ? '' : ` -- --port ${port}`}`;

/** `npm run activemq:up`: a detached broker (AMQP on `port`) with fresh data under the cache; prints its URLs and how to stop it. */
export async function activemqUp(
  port = DEFAULT_AMQP_PORT,
  ports: { stompPort?: number; openwirePort?: number } = {},
): Promise<{ amqpUrl: string; openwireUrl: string; pid: number }> {
  const state = await serviceUp<ActiveMqUpState>({
    stateFile: stateFile(port),
    dataDir: join(activemqCacheDir(), `run-${port}`),
    downCommand: downCommand(port),
    async start(dataDir) {
      const broker = await startActiveMq({
        amqpPort: port,
        stompPort: ports.stompPort ?? (port === DEFAULT_AMQP_PORT ? DEFAULT_STOMP_PORT : 0),
        openwirePort: ports.openwirePort ?? (port === DEFAULT_AMQP_PORT ? DEFAULT_OPENWIRE_PORT : 0),
        dataDir,
        detached: true,
        log: (l) => console.log(l),
      });
      return {
        pid: broker.pid!,
        dataDir,
        logFile: broker.logFile,
        mainClass: MAIN_CLASS,
        name: `ActiveMQ ${ACTIVEMQ_VERSION} on ${broker.amqpUrl}`,
        amqpUrl: broker.amqpUrl,
        stompPort: broker.stompPort,
        openwireUrl: broker.openwireUrl,
      };
    },
    readyLine: (s) => `ActiveMQ ${ACTIVEMQ_VERSION} is ready: ${s.amqpUrl} (STOMP port ${s.stompPort}, OpenWire ${s.openwireUrl}; pid ${s.pid}, log ${s.logFile})`,
  });
  return { amqpUrl: state.amqpUrl, openwireUrl: state.openwireUrl, pid: state.pid };
}

/** `npm run activemq:down`: stops the broker `activemqUp` started with AMQP on `port` and removes its data. */
export function activemqDown(port = DEFAULT_AMQP_PORT): Promise<void> {
  return serviceDown(stateFile(port), `no ActiveMQ started by activemq:up on port ${port}`);
}

runMain(import.meta.url, 'activemq', async ({ command, value }) => {
  const port = Number(value('--port') ?? process.env['RXFLUME_ACTIVEMQ_PORT'] ?? DEFAULT_AMQP_PORT);
  const number = (flag: string) => (value(flag) === undefined ? undefined : Number(value(flag)));
  switch (command) {
    case 'up': {
      const stompPort = number('--stomp-port');
      const openwirePort = number('--openwire-port');
      await activemqUp(port, { ...(stompPort !== undefined ? { stompPort } : {}), ...(openwirePort !== undefined ? { openwirePort } : {}) });
      return;
    }
    case 'down':
      return activemqDown(port);
    case 'fetch':
      console.log(fetchedLine(ACTIVEMQ_JARS, await ensureActiveMqJars({ log: (l) => console.log(l) })));
      console.log(fetchedLine(FLUME_JMS_JARS, await fetchJars(FLUME_JMS_JARS, { log: (l) => console.log(l) })));
      return;
    default:
      console.error('usage: node dist/scripts/activemq.js up|down|fetch [--port N] [--stomp-port N] [--openwire-port N]');
      process.exitCode = 2;
  }
});
