/**
 * A real HttpFS gateway (Hadoop's `/webhdfs/v1` REST API in its own server, which talks RPC to the
 * NameNode and takes the bytes of a write itself) in front of an HDFS started by scripts/hdfs.ts, for
 * tests: `startHttpFs({ hdfs })`.
 *
 * - Hadoop 3.4.1's `hadoop-hdfs-httpfs` (3.5.0 is not on Maven Central) with its runtime dependencies
 *   at 3.4.1, in its own JVM on its own classpath: a separate jar set cached apart by scripts/maven.ts
 *   (`$RXFLUME_HTTPFS_CACHE`, else ~/.cache/rxflume/httpfs/3.4.1/libs). `node dist/scripts/hdfs.js fetch`
 *   fetches it too. The JVM runs under scripts/service.ts.
 * - Main class `org.apache.hadoop.fs.http.server.HttpFSServerWebServer`. Its web server reads
 *   `httpfs-site.xml` from the classpath (the conf folder comes first), its web app reads it from
 *   `-Dhttpfs.config.dir` (with `-Dhttpfs.home.dir`, `.log.dir`, `.temp.dir`), and the HDFS client inside
 *   reads `core-site.xml` (fs.defaultFS = the cluster's hdfs:// URI) from `httpfs.hadoop.config.dir`.
 * - Simple authentication (`user.name`), a signature secret file, bound to 127.0.0.1 on a free port.
 * - HttpFS calls the NameNode as its login user impersonating each request's `user.name`, so the
 *   cluster must let that user proxy: start it with `conf: httpfsProxyUserConf()` (else every request
 *   fails with 500 "User: httpfs is not allowed to impersonate <user>"). The login user is `httpfs`
 *   (`-DHADOOP_USER_NAME`), not the OS user: the OS user is the cluster's superuser, whose own `doas`
 *   stays refused as on a real cluster.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configurationXml, type Hdfs } from './hdfs.js';
import { fetchJars, type Jars, type MavenSet } from './maven.js';
import { checkTools, dataDir as serviceDataDir, freePort, sleep, startJava, tail, type JavaProcess, type StopOptions } from './service.js';

export const HTTPFS_VERSION = '3.4.1';
/** The user HttpFS logs in as (`HADOOP_USER_NAME`) and the NameNode sees impersonating. */
export const HTTPFS_USER = 'httpfs';
const MAIN_CLASS = 'org.apache.hadoop.fs.http.server.HttpFSServerWebServer';

/**
 * The HttpFS server and its runtime dependencies at 3.4.1; `hadoop-hdfs-client` is `provided` in its
 * pom, so it is named here. reload4j and slf4j-reload4j come with it.
 */
export const HTTPFS_JARS: MavenSet = {
  service: 'httpfs',
  version: HTTPFS_VERSION,
  title: `Hadoop ${HTTPFS_VERSION} HttpFS`,
  artifacts: [`org.apache.hadoop:hadoop-hdfs-httpfs:${HTTPFS_VERSION}`, `org.apache.hadoop:hadoop-hdfs-client:${HTTPFS_VERSION}`],
};

/** Makes sure the HttpFS jars are in the cache (scripts/maven.ts). */
export function ensureHttpFsJars(log?: (line: string) => void): Promise<Jars> {
  return fetchJars(HTTPFS_JARS, log ? { log } : {});
}

/**
 * Cluster configuration (`startHdfs({ conf })`) letting `user` — HttpFS's login user, by default
 * `httpfs` — impersonate anyone from anywhere, as HttpFS needs. No other user gains anything.
 */
export function httpfsProxyUserConf(user = HTTPFS_USER): Record<string, string> {
  return { [`hadoop.proxyuser.${user}.hosts`]: '*', [`hadoop.proxyuser.${user}.groups`]: '*' };
}

export interface HttpFsOptions {
  /** The cluster it serves (its hdfs:// URI), started with `conf: httpfsProxyUserConf()`. */
  hdfs: Pick<Hdfs, 'uri'>;
  /** Its login user (default `httpfs`): the cluster's `hadoop.proxyuser.<user>.*` rules must name it. */
  user?: string;
  /** HTTP port on 127.0.0.1; default a free one. */
  port?: number;
  /** Given: kept by `close()`. Absent: a temp folder removed by `close()`. */
  dataDir?: string;
  /** More `httpfs-site.xml` properties. */
  conf?: Record<string, string>;
  /** JVM max heap in MB (default 256). */
  heapMb?: number;
  /** Default 120 s. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface HttpFs {
  /** `http://127.0.0.1:<port>`: the WebHDFS base (`/webhdfs/v1/…` below it). */
  readonly url: string;
  readonly port: number;
  readonly version: string;
  /** Its login user, which the NameNode must let impersonate. */
  readonly user: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  stop(options?: StopOptions): Promise<void>;
  /** Stops it, then removes its folder if `startHttpFs` created it. */
  close(): Promise<void>;
}

const LOG4J = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=%d{ISO8601} %p %c{1}: %m%n',
  'log4j.logger.org.apache.hadoop.fs.http.server=INFO',
  'log4j.logger.org.apache.hadoop.metrics2=ERROR',
  '',
].join('\n');

/**
 * Starts HttpFS for `hdfs` and resolves once it answers a GETFILESTATUS of `/` through the NameNode
 * (so the connection and the impersonation work). Fetches the jars first if needed. The JVM is killed
 * if this process dies.
 */
export async function startHttpFs(options: HttpFsOptions): Promise<HttpFs> {
  const what = `Hadoop ${HTTPFS_VERSION} HttpFS`;
  checkTools(what);
  const jars = await ensureHttpFsJars(options.log);
  const data = await serviceDataDir(options.dataDir, 'httpfs');
  let java: JavaProcess | undefined;
  try {
    const home = data.path;
    const confDir = join(home, 'conf');
    const logDir = join(home, 'log');
    const tempDir = join(home, 'temp');
    for (const dir of [confDir, logDir, tempDir]) mkdirSync(dir, { recursive: true });
    const port = options.port ?? (await freePort());
    const user = options.user ?? HTTPFS_USER;
    const secretFile = join(confDir, 'httpfs-signature.secret');
    writeFileSync(secretFile, `rxflume-${Date.now()}-${Math.random().toString(36).slice(2)}`, { mode: 0o600 });
    writeFileSync(
      join(confDir, 'httpfs-site.xml'),
      configurationXml({
        'httpfs.http.hostname': '127.0.0.1',
        'httpfs.http.port': String(port),
        'hadoop.http.authentication.type': 'simple',
        'hadoop.http.authentication.signature.secret.file': secretFile,
        'hadoop.http.temp.dir': tempDir,
        'httpfs.hadoop.config.dir': confDir,
        ...options.conf,
      }),
    );
    writeFileSync(join(confDir, 'core-site.xml'), configurationXml({ 'fs.defaultFS': options.hdfs.uri, 'dfs.replication': '1' }));
    writeFileSync(join(confDir, 'log4j.properties'), LOG4J);
    const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    const deadline = Date.now() + readyTimeoutMs;
    options.log?.(`starting ${what} on 127.0.0.1:${port} for ${options.hdfs.uri}, files in ${home}`);
    const started = await startJava({
      what,
      classpath: [confDir, join(jars.libsDir, '*')],
      mainClass: MAIN_CLASS,
      jvmArgs: [
        `-Xmx${options.heapMb ?? 256}m`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        // JAXB (Jersey's JSON) defines classes through ClassLoader.defineClass by reflection: JDK 17 refuses without this.
        '--add-opens=java.base/java.lang=ALL-UNNAMED',
        '-Djava.awt.headless=true',
        // Hadoop's simple login takes this name (the environment variable or this property) instead of the OS user's.
        `-DHADOOP_USER_NAME=${user}`,
        `-Dhttpfs.home.dir=${home}`,
        `-Dhttpfs.config.dir=${confDir}`,
        `-Dhttpfs.log.dir=${logDir}`,
        `-Dhttpfs.temp.dir=${tempDir}`,
        `-Dlog4j.configuration=file:${join(confDir, 'log4j.properties')}`,
      ],
      cwd: home,
      logFile: join(logDir, 'httpfs.log'),
      readyPort: port,
      readyTimeoutMs,
    });
    java = started;
    const url = `http://127.0.0.1:${port}`;
    // The port opens with the web app; the first answer through the NameNode proves the rest.
    for (;;) {
      const answer = await probe(`${url}/webhdfs/v1/?op=GETFILESTATUS&user.name=${encodeURIComponent(user)}`);
      if (answer.status === 200) break;
      if (!started.running) throw new Error(`${what} exited before answering; ${started.logFile}:\n${tail(await started.log(), 40)}`);
      if (/impersonate/.test(answer.body)) {
        throw new Error(`${what} runs but the NameNode refuses its impersonation (start the cluster with conf: httpfsProxyUserConf(${JSON.stringify(user)})): ${answer.status} ${answer.body}`);
      }
      if (Date.now() > deadline) throw new Error(`${what} not answering GETFILESTATUS / within ${readyTimeoutMs} ms (last: ${answer.status} ${answer.body}); ${started.logFile}:\n${tail(await started.log(), 40)}`);
      await sleep(200);
    }
    return {
      url,
      port,
      version: HTTPFS_VERSION,
      user,
      logFile: started.logFile,
      get pid() {
        return started.pid;
      },
      get running() {
        return started.running;
      },
      stop: (stopOptions) => started.stop(stopOptions),
      async close() {
        await started.stop();
        await data.remove();
      },
    };
  } catch (error) {
    await java?.stop({ signal: 'SIGKILL', timeoutMs: 5000 });
    await data.remove();
    throw error;
  }
}

async function probe(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: (await response.text()).slice(0, 500) };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}
