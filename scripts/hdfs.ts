/**
 * A real single-node HDFS (one NameNode, one DataNode: Hadoop's MiniDFSCluster) from Maven Central jars,
 * for tests, benches and local use, with Hadoop's own command-line tools on the same jars.
 *
 *   npm run hdfs:up      starts one in the background and prints its hdfs:// URI and WebHDFS URL
 *   npm run hdfs:down    stops it and removes its data
 *   npm run hdfs:fetch   only fetches the jars (CI does this before the tests), HttpFS's too (scripts/httpfs.ts)
 *
 * Options of `up`/`down`: `--port N` (NameNode RPC, default 18020 or `$RXFLUME_HDFS_PORT`),
 * `--http-port N` (NameNode HTTP = WebHDFS, default 19870 or `$RXFLUME_HDFS_HTTP_PORT`).
 *
 * Programmatic use (vitest global setup, fault tests, benches): `startHdfs({ dataDir })` — free ports by
 * default, read back from the configuration the cluster writes once it is active. Permissions are on,
 * as on a real cluster: `/` is 755 and owned by the OS user running the JVM (`hdfs.superuser`).
 * `hadoopTool(hdfs, mainClass, args)` runs FsShell, DFSAdmin, … against it. The jars are fetched and
 * cached by scripts/maven.ts (`$RXFLUME_HDFS_CACHE`, else ~/.cache/rxflume/hdfs/<version>/libs); the JVM
 * runs under scripts/service.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { fetchedLine, fetchJars, serviceCacheDir, type Jars, type MavenSet } from './maven.js';
import { checkTools, dataDir as serviceDataDir, runMain, serviceDown, serviceUp, sleep, startJava, tail, type JavaProcess, type JavaService, type StopOptions, type UpState } from './service.js';

export type { StopOptions };

export const HADOOP_VERSION = '3.5.0';
export const DEFAULT_PORT = 18020;
export const DEFAULT_HTTP_PORT = 19870;
const MAIN_CLASS = 'org.apache.hadoop.test.MiniDFSClusterManager';

/**
 * The shaded minicluster (NameNode, DataNode and their web apps; its dependencies bring the client API
 * with FsShell, SequenceFile and the codecs, and snappy-java) plus a logging backend, which Hadoop
 * leaves out: without one SLF4J is silent and no readiness line is logged.
 */
export const HDFS_JARS: MavenSet = {
  service: 'hdfs',
  version: HADOOP_VERSION,
  title: `Hadoop ${HADOOP_VERSION} HDFS`,
  artifacts: [`org.apache.hadoop:hadoop-client-minicluster:${HADOOP_VERSION}`, 'org.slf4j:slf4j-reload4j:1.7.36', 'ch.qos.reload4j:reload4j:1.2.25'],
};

/** Where jars (and `hdfs:up` state) live: `$RXFLUME_HDFS_CACHE`, else `$XDG_CACHE_HOME/rxflume/hdfs`, else `~/.cache/rxflume/hdfs`. */
export function hdfsCacheDir(): string {
  return serviceCacheDir('hdfs');
}

/** Makes sure the Hadoop jars are in the cache (scripts/maven.ts). */
export function ensureHdfsJars(log?: (line: string) => void): Promise<Jars> {
  return fetchJars(HDFS_JARS, log ? { log } : {});
}

export interface HdfsOptions {
  /** NameNode RPC port on 127.0.0.1; 0 (default) lets the NameNode pick one. */
  port?: number;
  /** NameNode HTTP (WebHDFS) port; 0 (default) lets the NameNode pick one. */
  httpPort?: number;
  /** Given: kept by `close()`, so a cluster can be started again on it. Absent: a temp folder removed by `close()`. */
  dataDir?: string;
  dataNodes?: number;
  /** More Hadoop configuration for the cluster (`-D key=value`), e.g. `dfs.namenode.fs-limits.min-block-size`. */
  conf?: Record<string, string>;
  /** JVM max heap in MB (default 512). */
  heapMb?: number;
  /**
   * The other JVM options; by default a quick start (serial GC, C1 only: 17 s instead of 33 s to active
   * on 2 busy cores). A bench that measures throughput passes `[]` for the JVM's own defaults.
   */
  jvmArgs?: readonly string[];
  /** Default 180 s: a start takes 15–40 s on a busy 2-core machine. */
  readyTimeoutMs?: number;
  /** Run in its own session, surviving this process (for `hdfs:up`); no watchdog. */
  detached?: boolean;
  /**
   * Network namespace (`ip netns`) the JVM runs in. MiniDFSCluster binds every server to 127.0.0.1 and
   * the NameNode hands out 127.0.0.1 as the DataNode's address, so `uri` and `webhdfs` name the
   * namespace's loopback: other namespaces reach it only through address translation (bench/chaos/netns.ts).
   */
  netns?: string;
  log?: (line: string) => void;
}

/** A running MiniDFSCluster: `stop()` keeps the data, so `start()` brings the same namespace back on the same ports. */
export interface Hdfs extends JavaService {
  /** `hdfs://127.0.0.1:<rpc port>`. */
  readonly uri: string;
  /** `http://127.0.0.1:<http port>`: the WebHDFS base (`/webhdfs/v1/…` below it). */
  readonly webhdfs: string;
  readonly port: number;
  readonly httpPort: number;
  /** The HDFS superuser (the OS user running the JVM), owner of `/`. */
  readonly superuser: string;
  readonly version: string;
  readonly dataDir: string;
  /** A folder with the clients' core-site.xml (fs.defaultFS, replication 1) and a quiet log4j.properties: put it first on a tool's classpath. */
  readonly confDir: string;
  /** The jars: `${libsDir}/*` is the classpath. */
  readonly libsDir: string;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Hadoop configuration file (core-site.xml, …) holding `properties`. */
export function configurationXml(properties: Record<string, string>): string {
  const entries = Object.entries(properties).map(([k, v]) => `  <property><name>${xmlEscape(k)}</name><value>${xmlEscape(v)}</value></property>`);
  return `<?xml version="1.0"?>\n<configuration>\n${entries.join('\n')}\n</configuration>\n`;
}

/** A value of the configuration the cluster wrote (`-writeConfig`). */
function configValue(xml: string, key: string): string | undefined {
  const escaped = key.replace(/\./g, '\\.');
  return new RegExp(`<name>${escaped}</name>\\s*<value>([^<]*)</value>`).exec(xml)?.[1];
}

/** The port of `host:port` in the written configuration. */
function portIn(xml: string, key: string): number {
  const value = configValue(xml, key);
  const port = Number(/:(\d+)$/.exec(value ?? '')?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`the cluster's configuration has no port in ${key} (${value})`);
  return port;
}

const SERVER_LOG4J = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=%d{ISO8601} %p %c{1}: %m%n',
  // Its "Started MiniDFSCluster" line is the readiness signal.
  'log4j.logger.org.apache.hadoop.test.MiniDFSClusterManager=INFO',
  // Startup and shutdown report expected interruptions as errors; keep the log readable.
  'log4j.logger.org.apache.hadoop.metrics2=ERROR',
  // RXFLUME_HDFS_DEBUG=1: what the DataNodes and the NameNode decide about blocks (recoveries, lengths, reports) in hdfs.log.
  ...(process.env['RXFLUME_HDFS_DEBUG']
    ? [
        'log4j.logger.org.apache.hadoop.hdfs.server.datanode=INFO',
        'log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN',
        'log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem=INFO',
        'log4j.logger.org.apache.hadoop.hdfs.StateChange=INFO',
        'log4j.logger.BlockStateChange=INFO',
      ]
    : []),
  '',
].join('\n');

// Tools print their answers on stdout; Hadoop's warnings go to stderr, out of the way of what is parsed.
const CLIENT_LOG4J = [
  'log4j.rootLogger=WARN, stderr',
  'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stderr.Target=System.err',
  'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stderr.layout.ConversionPattern=%p %c{1}: %m%n',
  '',
].join('\n');

/**
 * Starts a NameNode and DataNode (MiniDFSCluster) on 127.0.0.1 and resolves once the cluster is active
 * (DataNode registered, safe mode off). Fetches the jars first if needed. The JVM is killed if this
 * process dies, unless `detached`.
 */
export async function startHdfs(options: HdfsOptions = {}): Promise<Hdfs> {
  const what = `Hadoop ${HADOOP_VERSION} HDFS`;
  checkTools(what);
  const jars = await ensureHdfsJars(options.log);
  const data = await serviceDataDir(options.dataDir, 'hdfs');
  try {
    const confDir = join(data.path, 'client-conf');
    const writtenConf = join(data.path, 'cluster-conf.xml');
    const serverLog4j = join(data.path, 'log4j.properties');
    mkdirSync(confDir, { recursive: true });
    writeFileSync(serverLog4j, SERVER_LOG4J);
    writeFileSync(join(confDir, 'log4j.properties'), CLIENT_LOG4J);
    const heap = options.heapMb ?? 512;
    const clusterConf: Record<string, string> = {
      'hdfs.minidfs.basedir': join(data.path, 'dfs'),
      // The DataNode's addresses (MiniDFSCluster binds them to 127.0.0.1 on free ports) and a quick exit from safe mode.
      'dfs.namenode.safemode.extension': '0',
      ...options.conf,
    };
    let port = options.port ?? 0;
    let httpPort = options.httpPort ?? 0;
    const command = (format: boolean) => ({
      what,
      classpath: [join(jars.libsDir, '*')],
      mainClass: MAIN_CLASS,
      args: [
        ...(format ? ['-format'] : []),
        '-nnport',
        String(port),
        '-httpport',
        String(httpPort),
        '-datanodes',
        String(options.dataNodes ?? 1),
        '-writeConfig',
        writtenConf,
        ...Object.entries(clusterConf).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
      ],
      jvmArgs: [
        `-Xmx${heap}m`,
        ...(options.jvmArgs ?? ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']),
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${serverLog4j}`,
      ],
      cwd: data.path,
      logFile: join(data.path, 'hdfs.log'),
      // MiniDFSClusterManager logs it after waitActive(), then writes the configuration.
      readyLog: /Started MiniDFSCluster -- namenode on port/,
      readyTimeoutMs: options.readyTimeoutMs ?? 180_000,
      ...(options.netns ? { launcher: ['ip', 'netns', 'exec', options.netns] } : {}),
      ...(options.detached ? { detached: true } : {}),
    });
    const launch = async (format: boolean): Promise<JavaProcess> => {
      options.log?.(`starting ${what} (MiniDFSCluster)${options.netns ? ` in netns ${options.netns}` : ''}, data in ${data.path}`);
      writeFileSync(writtenConf, '');
      const java = await startJava(command(format));
      const deadline = Date.now() + 30_000;
      while (!readFileSync(writtenConf, 'utf8').includes('</configuration>')) {
        if (Date.now() > deadline) {
          await java.stop({ signal: 'SIGKILL' });
          throw new Error(`${what} logged its start but wrote no configuration to ${writtenConf}`);
        }
        await sleep(100);
      }
      const xml = readFileSync(writtenConf, 'utf8');
      port = portIn(xml, 'dfs.namenode.rpc-address');
      httpPort = portIn(xml, 'dfs.namenode.http-address');
      writeFileSync(
        join(confDir, 'core-site.xml'),
        configurationXml({ 'fs.defaultFS': `hdfs://127.0.0.1:${port}`, 'dfs.replication': '1', 'dfs.client.block.write.replace-datanode-on-failure.enable': 'false' }),
      );
      return java;
    };
    // Formatted only on the first start: a restart keeps the namespace, the blocks and the ports.
    const formattedMarker = join(data.path, '.formatted');
    let java = await launch(!existsSync(formattedMarker));
    writeFileSync(formattedMarker, `${new Date().toISOString()}\n`);
    let closed = false;
    return {
      get uri() {
        return `hdfs://127.0.0.1:${port}`;
      },
      get webhdfs() {
        return `http://127.0.0.1:${httpPort}`;
      },
      get port() {
        return port;
      },
      get httpPort() {
        return httpPort;
      },
      superuser: userInfo().username,
      version: HADOOP_VERSION,
      dataDir: data.path,
      confDir,
      libsDir: jars.libsDir,
      logFile: java.logFile,
      get pid() {
        return java.pid;
      },
      get running() {
        return java.running;
      },
      stop: (stopOptions) => java.stop(stopOptions),
      async start() {
        if (closed) throw new Error('this HDFS was closed');
        if (!java.running) java = await launch(false);
      },
      async close() {
        closed = true;
        await java.stop();
        await data.remove();
      },
    };
  } catch (error) {
    await data.remove();
    throw error;
  }
}

// ---- Hadoop's own tools ------------------------------------------------------------------------

export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** What a tool needs of a cluster: its client configuration and the jars. */
export type HdfsClientConf = Pick<Hdfs, 'confDir' | 'libsDir'>;

/**
 * Runs `java -cp <confDir>:<extra>:<libs>/* <mainClass> <args>` to its end: stdout as bytes (FsShell
 * `-cat` prints file contents), stderr as text. `extraClasspath` adds folders of compiled classes.
 */
export function hadoopTool(
  hdfs: HdfsClientConf,
  mainClass: string,
  args: readonly string[],
  options: { extraClasspath?: readonly string[]; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const classpath = [hdfs.confDir, ...(options.extraClasspath ?? []), join(hdfs.libsDir, '*')].join(delimiter);
  const jvm = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, mainClass, ...args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('java', jvm, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(stdout), stderr });
    });
  });
}

/** `hadoop fs <args>` (FsShell): `-text`, `-cat`, `-ls`, `-mkdir`, `-chmod`, … */
export function fsShell(hdfs: HdfsClientConf, args: readonly string[]): Promise<ToolResult> {
  return hadoopTool(hdfs, 'org.apache.hadoop.fs.FsShell', args);
}

/** `hdfs dfsadmin <args>`: `-safemode enter|leave|get`, `-setQuota`, `-setSpaceQuota`, … (as the superuser). */
export function dfsAdmin(hdfs: HdfsClientConf, args: readonly string[]): Promise<ToolResult> {
  return hadoopTool(hdfs, 'org.apache.hadoop.hdfs.tools.DFSAdmin', args);
}

/** Like `hadoopTool` but throws, with stderr's tail, unless the tool exits 0. */
export async function mustRun(result: Promise<ToolResult>, what: string): Promise<Buffer> {
  const { code, stdout, stderr } = await result;
  if (code !== 0) throw new Error(`${what} failed with exit code ${code}:\n${tail(stderr, 20)}`);
  return stdout;
}

// ---- npm run hdfs:up / hdfs:down -----------------------------------------------------------------

interface HdfsUpState extends UpState {
  uri: string;
  webhdfs: string;
  version: string;
}

const stateFile = (port: number) => join(hdfsCacheDir(), `namenode-${port}.json`);
const downCommand = (port: number) => `npm run hdfs:down${port === DEFAULT_PORT ? '' : ` -- --port ${port}`}`;

/** `npm run hdfs:up`: a detached cluster on `port`/`httpPort` with fresh data under the cache; prints its addresses and how to stop it. */
export async function hdfsUp(port = DEFAULT_PORT, httpPort = DEFAULT_HTTP_PORT): Promise<{ uri: string; webhdfs: string; pid: number }> {
  const state = await serviceUp<HdfsUpState>({
    stateFile: stateFile(port),
    dataDir: join(hdfsCacheDir(), `run-${port}`),
    downCommand: downCommand(port),
    async start(dataDir) {
      const hdfs = await startHdfs({ port, httpPort, dataDir, detached: true, log: (l) => console.log(l) });
      return { pid: hdfs.pid!, dataDir, logFile: hdfs.logFile, mainClass: MAIN_CLASS, name: `HDFS ${HADOOP_VERSION} on ${hdfs.uri}`, uri: hdfs.uri, webhdfs: hdfs.webhdfs, version: HADOOP_VERSION };
    },
    readyLine: (s) => `HDFS ${s.version} is ready (pid ${s.pid}, log ${s.logFile}):\n${s.uri}\n${s.webhdfs}`,
  });
  return { uri: state.uri, webhdfs: state.webhdfs, pid: state.pid };
}

/** `npm run hdfs:down`: stops the cluster `hdfsUp` started on `port` and removes its data. */
export function hdfsDown(port = DEFAULT_PORT): Promise<void> {
  return serviceDown(stateFile(port), `no HDFS started by hdfs:up on port ${port}`);
}

runMain(import.meta.url, 'hdfs', async ({ command, value }) => {
  const port = Number(value('--port') ?? process.env['RXFLUME_HDFS_PORT'] ?? DEFAULT_PORT);
  const httpPort = Number(value('--http-port') ?? process.env['RXFLUME_HDFS_HTTP_PORT'] ?? DEFAULT_HTTP_PORT);
  switch (command) {
    case 'up':
      await hdfsUp(port, httpPort);
      return;
    case 'down':
      return hdfsDown(port);
    case 'fetch': {
      console.log(fetchedLine(HDFS_JARS, await ensureHdfsJars((l) => console.log(l))));
      // The HttpFS gateway the HttpFS tests run in front of the cluster (scripts/httpfs.ts), a jar set of its own.
      const { HTTPFS_JARS, ensureHttpFsJars } = await import('./httpfs.js');
      console.log(fetchedLine(HTTPFS_JARS, await ensureHttpFsJars((l) => console.log(l))));
      return;
    }
    default:
      console.error('usage: node dist/scripts/hdfs.js up|down|fetch [--port N] [--http-port N]');
      process.exitCode = 2;
  }
});
