import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pipe } from '../core/pipe.js';
import { describeError, FlumeError } from '../core/errors.js';
import { setProcessLog } from '../core/log.js';
import { SecretScrubber, secretsIn } from '../core/secrets.js';
import { sequenceSource } from '../sources/sequenceSource.js';
import { loggerSink } from '../sinks/loggerSink.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { timestampInterceptor } from '../../operators/interceptors/timestampInterceptor.js';
import { hostInterceptor } from '../../operators/interceptors/hostInterceptor.js';
import { staticInterceptor } from '../../operators/interceptors/staticInterceptor.js';
import type * as Pino from 'pino';
import type { Logger } from 'pino';
import { lazyRequire } from '../core/lazyRequire.js';
import { changed, defaultPollSeconds, readConfigTexts, uriProblems, type ConfigSources } from './configSources.js';
import type { Diagnostic } from './diagnostic.js';
import type { ConfigText } from './flumeConfig.js';
import { describeTopology, formatDiagnostic, loadAgentConfigTexts, locateFailure, type LoadedConfig } from './loadConfig.js';
import { ENV_VAR_RESOLVER, type SubstitutionOptions } from './substitute.js';
import { runAgent, type RunningAgent } from './runAgent.js';
import { startMonitorServer, type MonitorServer } from './monitorServer.js';
import { shapeOf } from './monitor/graph.js';
import type { AgentInfo } from './monitor/liveFeed.js';
import { top, TopUsageError } from './top.js';
import { StatusDisplay, statusLine } from './statusLine.js';
import { colors, useColors } from './colors.js';
import { prettyLogLine } from './prettyLog.js';
import { closest } from '../core/config.js';

const HELP = `rxflume — Apache Flume's model on RxJS

Usage:
  rxflume agent -n NAME -f FILE [options]   run agent NAME of a Flume properties file
  rxflume validate -n NAME -f FILE          print the topology it would run, or every error
  rxflume demo [--events N] [--batch N]     run the embedded example pipeline (no external service)
  rxflume components                        list every component with its Flume type names
  rxflume top URL...                        live table of running agents (their --monitor-port URLs)
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
  --monitor-port N           serve GET /metrics (Flume JSON), /metrics/prometheus, /health and
                             the live topology page at / (open it in a browser)
  --monitor-bind HOST        address of the monitoring server (default 127.0.0.1)
  --drain-timeout S          seconds channels may take to drain on stop (default 30)
  --log-level LEVEL          trace, debug, info (default), warn, error
  --log-format FORMAT        pretty (one coloured line per entry; the default on a terminal) or
                             json (pino's JSON lines; the default when stderr is not a terminal)
  --quiet                    no status line (shown only when stderr is a terminal)
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

Memory: the rxflume command runs Node with --max-semi-space-size=2 --heap-growing-percent=30
(V8's young generation in 2 MB semi-spaces, its old generation let grow by 30% between full GCs)
and MALLOC_ARENA_MAX=2 (glibc's malloc in 2 arenas): an HDFS agent peaked at 91-94 MB instead of
97-109 MB at 8 MB semi-spaces. The price is CPU on the fastest paths (taildir -> file -> null
moved 33% fewer events/s). Run the entry with node yourself to choose: node $(command -v rxflume)
agent … for Node's defaults, node --max-semi-space-size=4 --heap-growing-percent=30 … for the
speed of 8 MB semi-spaces at about 9 MB less.

Output: the logger sink's events go to stdout, the agent's log and the status line to stderr.
Colours only on a terminal; NO_COLOR=1 turns them off, FORCE_COLOR=1 (or 0) forces them on (off).

Exit codes: 0 clean stop, 2 usage or configuration error, 1 runtime failure.
`;

/** pino only for `rxflume agent`: validate, components and demo never log through it. */
const loadPino = lazyRequire<typeof Pino>('pino', 'the agent');

/** Every secret the configuration holds is masked in whatever this process prints or logs. */
const scrubber = new SecretScrubber();
/** Where stderr text goes: straight there, or above the agent's status line while it is shown. */
let toStderr = (text: string): void => void process.stderr.write(text);
const say = (text: string, stream: NodeJS.WritableStream = process.stderr): void => {
  const line = `${scrubber.scrub(text)}\n`;
  if (stream === process.stderr) toStderr(line);
  else stream.write(line);
};

/** More than this many problems are summarised by their count: a wrong file should not scroll for pages. */
const MAX_REPORTED = 100;

function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics.slice(0, MAX_REPORTED)) say(formatDiagnostic(d));
  if (diagnostics.length > MAX_REPORTED) say(`… and ${diagnostics.length - MAX_REPORTED} more problems`);
}

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { events: { type: 'string', default: '20' }, batch: { type: 'string', default: '5' } },
  });
  const count = (flag: string, value: string, min: number) => {
    if (!/^\s*\d+\s*$/.test(value) || Number(value) < min) throw new UsageError(`demo --${flag}: expected a whole number ≥ ${min}, received ${JSON.stringify(value)}`);
    return Number(value);
  };
  const totalEvents = count('events', values.events, 0);
  const batchSize = count('batch', values.batch, 1);
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

async function listComponents(): Promise<number> {
  // Every component's module: only this command needs all of them (the agent loads what its configuration names).
  const { components } = await import('./components.js');
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
  'log-format': { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const;

function parseAgentArgs(argv: string[]) {
  const { rest, props } = systemProperties(argv);
  const { values } = parseArgs({ args: rest, options: agentArgs, strict: true });
  const name = values.name;
  const sources: ConfigSources = { files: values['conf-file'] ?? [], uris: values['conf-uri'] ?? [] };
  if (!name || sources.files.length + sources.uris.length === 0) throw new UsageError('-n NAME and at least one -f FILE (or -u URI) are required');
  for (const uri of sources.uris) scrubber.add(secretsIn('uri', uri));
  const bad = uriProblems(sources.uris);
  if (bad.length > 0) throw new UsageError(bad.join('\n'));
  const interval = values['reload-interval'] ?? values['poll-interval'] ?? String(defaultPollSeconds(sources));
  const num = (flag: string, value: string | undefined, min: number) => {
    const n = Number(value);
    if (value === undefined || value.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`--${flag}: expected a number ≥ ${min}, received ${JSON.stringify(value)}`);
    return n;
  };
  const port = (flag: string, value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || n > 65535) throw new UsageError(`${flag}: expected a port number 0–65535, received ${JSON.stringify(value)}`);
    return n;
  };
  const logFormat = values['log-format'];
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') throw new UsageError(`--log-format: expected json or pretty, received ${JSON.stringify(logFormat)}`);
  let monitorPort: number | undefined;
  if (values['monitor-port'] !== undefined) monitorPort = port('--monitor-port', values['monitor-port']);
  else if (props.get('flume.monitoring.type')?.toLowerCase() === 'http') monitorPort = port('-Dflume.monitoring.port', props.get('flume.monitoring.port') ?? '41414');
  return {
    name,
    sources,
    reload: !values['no-reload-conf'],
    reloadIntervalMs: num('reload-interval', interval, 0.01) * 1000,
    monitorPort,
    monitorBind: values['monitor-bind'],
    drainTimeoutMs: num('drain-timeout', values['drain-timeout'], 0) * 1000,
    logLevel: values['log-level'],
    logFormat: logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json'),
    quiet: values.quiet,
    substitution: { systemProperties: props, envFallback: props.get('propertiesImplementation') === ENV_VAR_RESOLVER },
  };
}

class UsageError extends Error {}

/** Reads every configuration source and validates the agent's part of them. */
async function load(sources: ConfigSources, name: string, substitution: SubstitutionOptions): Promise<LoadedConfig & { texts: ConfigText[] }> {
  const read = await readConfigTexts(sources);
  if (read.diagnostics.length > 0) return { topology: { agent: name, sources: [], channels: [], sinks: [], groups: [] }, diagnostics: read.diagnostics, ok: false, secrets: [], texts: [] };
  const loaded = await loadAgentConfigTexts(read.texts, name, substitution);
  scrubber.add(loaded.secrets);
  return { ...loaded, texts: read.texts };
}

async function validate(argv: string[]): Promise<number> {
  const { name, sources, substitution } = parseAgentArgs(argv);
  const loaded = await load(sources, name, substitution);
  printDiagnostics(loaded.diagnostics);
  if (!loaded.ok) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
    say(`\n${errors} error${errors === 1 ? '' : 's'}; nothing would start`);
    return 2;
  }
  say(describeTopology(loaded.topology), process.stdout);
  return 0;
}

async function agent(argv: string[]): Promise<number> {
  const args = parseAgentArgs(argv);
  // Logs on stderr, so that stdout carries only what the pipeline writes there (a logger sink's events).
  // A person at a terminal gets the status line below them, and the pretty form unless told otherwise.
  const display = !args.quiet && process.stderr.isTTY ? new StatusDisplay(process.stderr) : undefined;
  if (display) toStderr = (text) => display.print(text);
  const paint = colors(useColors(process.stderr));
  const format = args.logFormat === 'pretty' ? (line: string) => prettyLogLine(line, paint) : (line: string) => line;
  const log: Logger = loadPino().pino(
    { level: args.logLevel, base: { agent: args.name }, hooks: { streamWrite: (line) => scrubber.scrub(line) } },
    {
      write: (line: string) => {
        noteWarning(line);
        toStderr(format(line));
      },
    },
  );
  // The topology page's panel: the configuration read, the last reload and the last warnings.
  const info: AgentInfo = { agent: args.name, configFiles: [...args.sources.uris, ...args.sources.files].map((f) => scrubber.scrub(f)), startedAt: Date.now(), warnings: [] };
  function noteWarning(line: string): void {
    const entry = JSON.parse(line) as { level: number; time: number; msg: string; errors?: string[] };
    if (entry.level < 40) return;
    info.warnings.push({ at: entry.time, level: entry.level >= 50 ? 'error' : 'warn', message: [entry.msg, ...(entry.errors ?? [])].join(': ') });
    if (info.warnings.length > 10) info.warnings.shift();
  }
  // Components' own warnings (a sink that keeps failing, a recovery report) go to the same log.
  setProcessLog((e) => log[e.level]({ component: e.component, ...e.fields }, e.message));
  const loaded = await load(args.sources, args.name, args.substitution);
  printDiagnostics(loaded.diagnostics);
  if (!loaded.ok) return 2;
  const firstFile = loaded.texts[0]?.file ?? '';

  let running: RunningAgent | undefined;
  let topology = loaded.topology;
  let state: 'starting' | 'running' | 'draining' = 'starting';
  let monitor: MonitorServer | undefined;
  if (args.monitorPort !== undefined) {
    // Before any component starts: a port that cannot be had stops the agent with nothing to undo.
    try {
      const target = { counters: () => running?.counters ?? [], state: () => state, shape: () => shapeOf(topology), info: () => info };
      monitor = await startMonitorServer(target, args.monitorPort, args.monitorBind);
    } catch (error) {
      say(`rxflume: monitoring server: cannot listen on ${args.monitorBind}:${args.monitorPort}: ${describeError(error)}`);
      return 2;
    }
    log.info({ port: monitor.port, bind: args.monitorBind }, 'monitoring server listening');
  }

  // A component that fails (a port in use, a directory it cannot open) is reported at its key and the agent stops.
  let failure: Diagnostic | undefined;
  const onFatal = (error: unknown) => {
    failure = locateFailure(loaded.topology, error, firstFile);
    const line = failure ? formatDiagnostic(failure) : `agent failed: ${describeError(error)}`;
    log.error({ code: (error as FlumeError).code, component: (error as FlumeError).component }, line);
    // Among JSON lines the plain one is what a person reads; the pretty log line already is that line.
    if (args.logFormat === 'json') say(failure ? formatDiagnostic(failure) : `rxflume: ${line}`);
    // It may come while the agent is still being started: stop once the start has returned.
    setImmediate(() => {
      if (!stopping) shutdown('a component failed');
    });
  };
  // Without reload nothing could start a new source, so an agent whose sources all ended finishes.
  try {
    const onListening = (source: string, a: { address: string; port: number }) => log.info({ source, address: a.address, port: a.port }, `source ${source} listening on ${a.address}:${a.port}`);
    running = runAgent(loaded.topology, { finishWhenSourcesEnd: !args.reload, onFatal, onListening });
  } catch (error) {
    // A component refused what it was given when built (a key store it cannot read): one line at its key.
    const at = locateFailure(loaded.topology, error, firstFile);
    say(at ? formatDiagnostic(at) : `rxflume: agent failed to start: ${describeError(error)}`);
    await monitor?.close();
    return error instanceof FlumeError && error.code === 'FLUME_CONFIG' ? 2 : 1;
  }
  const agent = running;
  state = 'running';

  // Events a logger sink writes to the same terminal clear the status line too; it is drawn again on the next tick.
  const unguard = display && process.stdout.isTTY ? display.guard(process.stdout) : undefined;
  const status = statusLine(paint);
  const statusTimer = display ? setInterval(() => display.update(status(agent.counters, 1000)), 1000) : undefined;

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
    const next = await loadAgentConfigTexts(read.texts, args.name, args.substitution);
    scrubber.add(next.secrets);
    if (!next.ok) {
      info.lastReload = { at: Date.now(), ok: false, error: next.diagnostics.map(formatDiagnostic).join('; ') };
      log.error({ errors: next.diagnostics.map(formatDiagnostic) }, 'configuration changed but is invalid; the running topology stays');
      return;
    }
    // Sources stop; unchanged channels keep their content and are handed to the new sinks.
    try {
      agent.reload(next.topology);
      topology = next.topology;
      info.lastReload = { at: Date.now(), ok: true };
      log.info({ topology: describeTopology(next.topology) }, 'agent reloaded');
    } catch (error) {
      info.lastReload = { at: Date.now(), ok: false, error: describeError(error) };
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
    if (stopping && signal.startsWith('SIG')) {
      display?.close();
      log.warn({ signal }, 'second signal: stopping at once');
      process.exit(1);
    }
    stopping = true;
    state = 'draining';
    log.info({ signal, drainTimeoutMs: args.drainTimeoutMs }, 'stopping: sources stop, channels drain to their sinks');
    void agent.stop({ timeoutMs: args.drainTimeoutMs }).then((result) => {
      // A component's failure rejects `done` too; it was reported, and the drain did finish.
      if (!result.timedOut) return;
      // Exiting here: the terminal keeps no status line under the shell's prompt.
      display?.close();
      log.error({ metrics: agent.metrics() }, `stop incomplete: ${describeError(result.error)}`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Logged once signals are handled and every network source listens (a client may connect as soon as
  // it reads this line), so whoever waits for it may also stop the agent at once.
  await Promise.race([agent.ready, agent.done.catch(() => undefined)]);
  log.info({ topology: describeTopology(loaded.topology) }, 'agent started');

  let code = 0;
  try {
    await agent.done;
  } catch {
    // Reported by onFatal. A located failure is a configuration that cannot run here (a port in use, a missing directory).
    code = failure ? 2 : 1;
  }
  if (timer) clearInterval(timer);
  if (statusTimer) clearInterval(statusTimer);
  unguard?.();
  display?.close();
  log.info({ metrics: agent.metrics() }, 'agent stopped');
  await monitor?.close();
  return code;
}

const COMMANDS = ['agent', 'validate', 'demo', 'components', 'top', 'help'];

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
    case 'top':
      return top(rest).catch((error: unknown) => {
        throw error instanceof TopUsageError ? new UsageError(error.message) : error;
      });
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
    default: {
      const near = closest(command, COMMANDS);
      process.stderr.write(`rxflume: unknown command '${command}'${near ? `; did you mean '${near}'?` : ''}\n\n${HELP}`);
      return 2;
    }
  }
}

// kafkajs 2.2.4 schedules a timer at minus the current time on Node 24+ (tulios/kafkajs#1751), which Node
// reports on stderr at every Kafka connection: harmless (the timer fires at once) and nothing a user can change.
// Every other warning is printed as Node prints it.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'TimeoutNegativeWarning' && warning.stack?.includes('/kafkajs/')) return;
  process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
});

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // Expected failures are one line; anything else is a bug, whose stack is worth reporting.
    say(usage || error instanceof FlumeError ? `rxflume: ${describeError(error)}` : `rxflume: internal error: ${(error as Error)?.stack ?? String(error)}`);
    if (usage) say(`run 'rxflume --help' for the options`);
    process.exitCode = usage || (error instanceof FlumeError && error.code === 'FLUME_CONFIG') ? 2 : 1;
  },
);
