import { fileURLToPath } from 'node:url';
import { lazyRequire } from '../core/lazyRequire.js';

/**
 * The main entry's exports whose modules live behind a subpath (`rxflume/kafka`, `rxflume/files`, …),
 * kept in `import { kafkaSink } from 'rxflume'` for compatibility but loaded on first use: a call, or
 * a property read such as a component's `spec`. `import 'rxflume'` then loads only the core — before,
 * it took ~0.4 s, most of it Kafka, Avro, HTTP, HDFS, syslog and file modules an app may never use
 * (issue #15; test/lib/entries/entries.test.ts). Importing the subpath itself loads the module at
 * once and gives its TSDoc to an editor.
 *
 * Synchronous, so a factory keeps its signature and validates its options at call time: an ES module
 * is loaded with require(), which Node supports from 20.19 and 22.12.
 */
function entry<M>(file: string): () => M {
  return lazyRequire<M>(fileURLToPath(new URL(file, import.meta.url)), `rxflume's lazily loaded exports (${file})`);
}

/** `module[key]`, a function, standing in for it until first used, then forwarding everything to it. */
function lazy<M, K extends keyof M>(load: () => M, key: K): M[K] {
  const real = () => load()[key] as object;
  return new Proxy(() => undefined, {
    apply: (_, self, args) => Reflect.apply(real() as (...a: unknown[]) => unknown, self, args),
    get: (_, property) => Reflect.get(real(), property),
    has: (_, property) => Reflect.has(real(), property),
    ownKeys: () => Reflect.ownKeys(real()),
    // Reported configurable: the stand-in has none of the real one's fixed properties (a function's `prototype`).
    getOwnPropertyDescriptor: (_, property) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), property);
      return d && { ...d, configurable: true };
    },
  }) as M[K];
}

const kafka = entry<typeof import('./kafka.js')>('./kafka.js');
export const kafkaSource = lazy(kafka, 'kafkaSource');
export const kafkaSink = lazy(kafka, 'kafkaSink');
export const kafkaChannel = lazy(kafka, 'kafkaChannel');

const hdfs = entry<typeof import('./hdfs.js')>('./hdfs.js');
export const hdfsSink = lazy(hdfs, 'hdfsSink');

const avro = entry<typeof import('./avro.js')>('./avro.js');
export const avroSource = lazy(avro, 'avroSource');
export const avroSink = lazy(avro, 'avroSink');

const thrift = entry<typeof import('./thrift.js')>('./thrift.js');
export const thriftSource = lazy(thrift, 'thriftSource');
export const scribeSource = lazy(thrift, 'scribeSource');
export const thriftSink = lazy(thrift, 'thriftSink');

const jms = entry<typeof import('./jms.js')>('./jms.js');
export const jmsSource = lazy(jms, 'jmsSource');

const irc = entry<typeof import('./irc.js')>('./irc.js');
export const ircSink = lazy(irc, 'ircSink');

const http = entry<typeof import('./http.js')>('./http.js');
export const httpSource = lazy(http, 'httpSource');
export const httpSink = lazy(http, 'httpSink');
export const defineHttpHandler = lazy(http, 'defineHttpHandler');
export const isHttpHandlerDefinition = lazy(http, 'isHttpHandlerDefinition');

const syslog = entry<typeof import('./syslog.js')>('./syslog.js');
export const syslogTcpSource = lazy(syslog, 'syslogTcpSource');
export const syslogUdpSource = lazy(syslog, 'syslogUdpSource');
export const multiportSyslogTcpSource = lazy(syslog, 'multiportSyslogTcpSource');
export const parseSyslog = lazy(syslog, 'parseSyslog');

const netcat = entry<typeof import('./netcat.js')>('./netcat.js');
export const netcatSource = lazy(netcat, 'netcatSource');
export const netcatUdpSource = lazy(netcat, 'netcatUdpSource');

const exec = entry<typeof import('./exec.js')>('./exec.js');
export const execSource = lazy(exec, 'execSource');

const files = entry<typeof import('./files.js')>('./files.js');
export const tailSource = lazy(files, 'tailSource');
export const taildirSource = lazy(files, 'taildirSource');
export const spooldirSource = lazy(files, 'spooldirSource');
export const fileRollSink = lazy(files, 'fileRollSink');
export const fileChannel = lazy(files, 'fileChannel');
export const spillableMemoryChannel = lazy(files, 'spillableMemoryChannel');
export const createSerializer = lazy(files, 'createSerializer');
export const serializerFactory = lazy(files, 'serializerFactory');
export const flumeSerializerName = lazy(files, 'flumeSerializerName');

const client = entry<typeof import('./client.js')>('./client.js');
export const createRpcClient = lazy(client, 'createRpcClient');
export const rpcClientFromProperties = lazy(client, 'rpcClientFromProperties');
