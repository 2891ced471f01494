#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pipe } from '../core/pipe.js';
import { FlumeError } from '../core/errors.js';
import { sequenceSource } from '../sources/sequenceSource.js';
import { loggerSink } from '../sinks/loggerSink.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { timestampInterceptor } from '../../operators/interceptors/timestampInterceptor.js';
import { hostInterceptor } from '../../operators/interceptors/hostInterceptor.js';
import { staticInterceptor } from '../../operators/interceptors/staticInterceptor.js';
import { pino, type Logger } from 'pino';
import { components } from './components.js';
import { changed, defaultPollSeconds, readConfigTexts, uriProblems, type ConfigSources } from './configSources.js';
import type { ConfigText } from './flumeConfig.js';
import { describeTopology, formatDiagnostic, loadAgentConfigTexts, type LoadedConfig } from './loadConfig.js';
import { ENV_VAR_RESOLVER, type SubstitutionOptions } from './substitute.js';
import { runAgent, type RunningAgent } from './runAgent.js';
import { defaultWiring } from './wiring.js';
import { startMonitorServer, type MonitorServer } from './monitorServer.js';
import { statusLine } from './statusLine.js';

const HELP = `rxflume — Apache Flume's model on RxJS

Usage:
  rxflume agent -n NAME -f FILE [options]   run agent NAME of a Flume properties file
  rxflume validate -n NAME -f FILE          print the topology it would run, or every error
  rxflume demo [--events N] [--batch N]     run the embedded example pipeline (no external service)
  rxflume components                        list every component with its Flume type names
  rxflume --version | --help

Agent options:
  -n, --name NAME            agent name: the key prefix in the file (required)
  -f, --conf-file FILE       Flume properties file; repeat it to merge several, later keys winning
  -u, --conf-uri URI         a configuration at file://, http:// or https://; repeatable, read
                             before the files (as Flume 1.10+)
  --no-reload-conf           do not watch the configuration for changes; the agent then also
                             finishes once every source has ended by itself (e.g. seq with totalEvents)
  -i, --poll-interval S      seconds between checks for changes (default 30, or 300 with an http(s)
                             URI, as Flume); --reload-interval is the same
  --monitor-port N           serve GET /metrics (Flume JSON), /metrics/prometheus and /health
  --monitor-bind HOST        address of the monitoring server (default 127.0.0.1)
  --drain-timeout S          seconds channels may take to drain on stop (default 30)
  --log-level LEVEL          trace, debug, info (default), warn, error
  --quiet                    no status line
  -Dflume.monitoring.type=http -Dflume.monitoring.port=N   Flume's spelling of --monitor-port
  -DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties
                             a bare \${NAME} in a value may also name an environment variable
  -Dkey=value                a system property, for \${sys:key} in values

Values may refer to other keys (\${NAME}), the environment (\${env:NAME}), -D properties (\${sys:NAME}),
with a default (\${NAME:-default}), and to config filters (a1.configfilters = f1, type env or external:
\${f1['key']}), as in Flume 1.11.

Examples:
  rxflume validate -n a1 -f examples/seq-logger.properties
  rxflume agent -n a1 -f examples/seq-logger.properties --monitor-port 41414
  rxflume agent -n a1 -f base.properties -f site-overrides.properties
  rxflume demo --events 1000 --batch 100

Exit codes: 0 clean stop, 2 usage or configuration error, 1 runtime failure.
`;

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { events: { type: 'string', default: '20' }, batch: { type: 'string', default: '5' } },
  });
  const totalEvents = Number(values.events);
  const batchSize = Number(values.batch);
  console.log(`rxflume demo: sequence(${totalEvents}) → timestamp → host → static → memory channel → logger\n`);
  const pipeline = pipe(
    sequenceSource({ name: 'r1', totalEvents, batchSize }),
    timestampInterceptor(),
    hostInterceptor(),
    staticInterceptor({ key: 'pipeline', value: 'demo' }),
    memoryChannel({ name: 'c1', capacity: 1000, transactionCapacity: Math.max(100, batchSize) }),
    loggerSink({ name: 'k1' }),
  );
  const stop = () => void pipeline.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await pipeline.done;
  console.log('\nfinal counters:');
  for (const [component, counters] of Object.entries(pipeline.metrics())) {
    const shown = Object.entries(counters).filter(([k, v]) => v !== 0 && k !== 'StartTime' && k !== 'StopTime');
    console.log(`  ${component}: ${shown.map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(1)}`).join(' ')}`);
  }
  return 0;
}

function listComponents(): number {
  for (const c of components) {
    const types = c.spec.flumeTypes.length ? c.spec.flumeTypes.join(', ') : '(library only)';
    console.log(`${c.spec.kind.padEnd(13)} ${c.spec.name.padEnd(28)} ${types}`);
    console.log(`${''.padEnd(13)} ${c.spec.summary}`);
    const flumeKeyOf = new Map(Object.entries(c.spec.flumeKeys ?? {}).map(([k, m]) => [typeof m === 'string' ? m : m.option, k]));
    const shape = (c.spec.schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
    const options = Object.keys(shape)
      .filter((k) => k !== 'name')
      .map((k) => (flumeKeyOf.has(k) ? `${k} (${flumeKeyOf.get(k)})` : k));
    if (options.length) console.log(`${''.padEnd(13)} options: ${options.join(', ')}`);
  }
  return 0;
}

/** Splits Flume's `-Dkey=value` system properties off the arguments. */
function systemProperties(args: string[]): { rest: string[]; props: Map<string, string> } {
  const props = new Map<string, string>();
  const rest: string[] = [];
  for (const a of args) {
    const m = /^-D([^=]+)=(.*)$/.exec(a);
    if (m) props.set(m[1]!, m[2]!);
    else rest.push(a);
  }
  return { rest, props };
}

const agentArgs = {
  name: { type: 'string', short: 'n' },
  'conf-file': { type: 'string', short: 'f', multiple: true },
  'conf-uri': { type: 'string', short: 'u', multiple: true },
  'no-reload-conf': { type: 'boolean', default: false },
  'reload-interval': { type: 'string' },
  'poll-interval': { type: 'string', short: 'i' },
  'monitor-port': { type: 'string' },
  'monitor-bind': { type: 'string', default: '127.0.0.1' },
  'drain-timeout': { type: 'string', default: '30' },
  'log-level': { type: 'string', default: 'info' },
  quiet: { type: 'boolean', default: false },
} as const;

function parseAgentArgs(argv: string[]) {
  const { rest, props } = systemProperties(argv);
  const { values } = parseArgs({ args: rest, options: agentArgs, strict: true });
  const name = values.name;
  const sources: ConfigSources = { files: values['conf-file'] ?? [], uris: values['conf-uri'] ?? [] };
  if (!name || sources.files.length + sources.uris.length === 0) throw new UsageError('-n NAME and at least one -f FILE (or -u URI) are required');
  const bad = uriProblems(sources.uris);
  if (bad.length > 0) throw new UsageError(bad.join('\n'));
  const interval = values['reload-interval'] ?? values['poll-interval'] ?? String(defaultPollSeconds(sources));
  let monitorPort = values['monitor-port'];
  if (monitorPort === undefined && props.get('flume.monitoring.type')?.toLowerCase() === 'http') monitorPort = props.get('flume.monitoring.port') ?? '41414';
  const num = (flag: string, value: string | undefined, min: number) => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min) throw new UsageError(`--${flag}: expected a number ≥ ${min}, received ${JSON.stringify(value)}`);
    return n;
  };
  return {
    name,
    sources,
    reload: !values['no-reload-conf'],
    reloadIntervalMs: num('reload-interval', interval, 0.01) * 1000,
    monitorPort: monitorPort === undefined ? undefined : num('monitor-port', monitorPort, 0),
    monitorBind: values['monitor-bind'],
    drainTimeoutMs: num('drain-timeout', values['drain-timeout'], 0) * 1000,
    logLevel: values['log-level'],
    quiet: values.quiet,
    substitution: { systemProperties: props, envFallback: props.get('propertiesImplementation') === ENV_VAR_RESOLVER },
  };
}

class UsageError extends Error {}

/** Reads every configuration source and validates the agent's part of them. */
async function load(sources: ConfigSources, name: string, substitution: SubstitutionOptions): Promise<LoadedConfig & { texts: ConfigText[] }> {
  const read = await readConfigTexts(sources);
  if (read.diagnostics.length > 0) return { topology: { agent: name, sources: [], channels: [], sinks: [], groups: [] }, diagnostics: read.diagnostics, ok: false, texts: [] };
  return { ...loadAgentConfigTexts(read.texts, name, substitution), texts: read.texts };
}

async function validate(argv: string[]): Promise<number> {
  const { name, sources, substitution } = parseAgentArgs(argv);
  const loaded = await load(sources, name, substitution);
  for (const d of loaded.diagnostics) console.error(formatDiagnostic(d));
  if (!loaded.ok) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    console.error(`\n${errors} error${errors === 1 ? '' : 's'}; nothing would start`);
    return 2;
  }
  console.log(describeTopology(loaded.topology));
  return 0;
}

async function agent(argv: string[]): Promise<number> {
  const args = parseAgentArgs(argv);
  const log: Logger = pino({ level: args.logLevel, base: { agent: args.name } });
  const loaded = await load(args.sources, args.name, args.substitution);
  for (const d of loaded.diagnostics) (d.severity === 'error' ? console.error : console.warn)(formatDiagnostic(d));
  if (!loaded.ok) return 2;

  // Without reload nothing could start a new source, so an agent whose sources all ended finishes.
  const running: RunningAgent = runAgent(loaded.topology, defaultWiring, { finishWhenSourcesEnd: !args.reload });
  let state: 'starting' | 'running' | 'draining' = 'running';
  let monitor: MonitorServer | undefined;
  if (args.monitorPort !== undefined) {
    monitor = await startMonitorServer({ counters: () => running.counters, state: () => state }, args.monitorPort, args.monitorBind);
    log.info({ port: monitor.port, bind: args.monitorBind }, 'monitoring server listening');
  }

  // A live status line only for a person watching a terminal; logs stay on stdout.
  const status = !args.quiet && process.stderr.isTTY ? statusLine() : undefined;
  const statusTimer = status
    ? setInterval(() => process.stderr.write(`\r\x1b[2K${status(running.counters, 1000)}`), 1000)
    : undefined;

  let stopping = false;
  let current = loaded.texts;
  let checking = false;
  const check = async () => {
    const read = await readConfigTexts(args.sources);
    // A source that disappears or cannot be fetched changes nothing, as in Flume.
    if (read.diagnostics.length > 0) {
      log.warn({ errors: read.diagnostics.map(formatDiagnostic) }, 'configuration could not be read; the running topology stays');
      return;
    }
    if (!changed(current, read.texts) || stopping) return;
    current = read.texts;
    const next = loadAgentConfigTexts(read.texts, args.name, args.substitution);
    if (!next.ok) {
      log.error({ errors: next.diagnostics.map(formatDiagnostic) }, 'configuration changed but is invalid; the running topology stays');
      return;
    }
    // Sources stop; unchanged channels keep their content and are handed to the new sinks.
    try {
      running.reload(next.topology);
      log.info({ topology: describeTopology(next.topology) }, 'agent reloaded');
    } catch (error) {
      log.error({ err: error }, 'reload failed');
    }
  };
  const timer = args.reload
    ? setInterval(() => {
        if (checking || stopping) return;
        checking = true;
        check().finally(() => (checking = false));
      }, args.reloadIntervalMs)
    : undefined;

  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: stopping at once');
      process.exit(1);
    }
    stopping = true;
    state = 'draining';
    log.info({ signal, drainTimeoutMs: args.drainTimeoutMs }, 'stopping: sources stop, channels drain to their sinks');
    running.stop({ timeoutMs: args.drainTimeoutMs }).catch((error: unknown) => {
      log.error({ err: error, metrics: running.metrics() }, 'stop incomplete');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Logged once signals are handled, so whoever waits for this line may stop the agent at once.
  log.info({ topology: describeTopology(loaded.topology) }, 'agent started');

  let code = 0;
  try {
    await running.done;
  } catch (error) {
    log.error({ err: error }, 'agent failed');
    code = 1;
  }
  if (timer) clearInterval(timer);
  if (statusTimer) {
    clearInterval(statusTimer);
    process.stderr.write('\n');
  }
  log.info({ metrics: running.metrics() }, 'agent stopped');
  await monitor?.close();
  return code;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(HELP);
    return 0;
  }
  switch (command) {
    case 'agent':
      return agent(rest);
    case 'validate':
      return validate(rest);
    case 'demo':
      return demo(rest);
    case 'components':
      return listComponents();
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      console.log(pkg.version);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(HELP);
      return command === undefined ? 2 : 0;
    default:
      console.error(`rxflume: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(usage || error instanceof FlumeError ? `rxflume: ${(error as Error).message}` : error);
    if (usage) console.error(`run 'rxflume --help' for the options`);
    process.exitCode = usage || (error instanceof FlumeError && error.code === 'FLUME_CONFIG') ? 2 : 1;
  },
);
