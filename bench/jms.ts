/**
 * The JMS source's throughput on a real ActiveMQ broker (scripts/activemq.ts): MESSAGES persistent text
 * messages of BODY bytes are put on a queue of their own for each case, then drained by
 *
 *   rxflume:   the rxflume agent, jms source (AMQP 1.0) → memory → null
 *   flume:     Apache Flume 1.11's JMS source (OpenWire, ActiveMQ's javax client, as test/interop/jms.test.ts
 *              runs it) → memory → null, from the same properties text
 *   baseline:  a plain rhea consumer (AMQP 1.0, each message accepted as it comes, credit of one batch)
 *
 * each in a process of its own, so its peak RSS is its own. The agents' rates are counted on their channel's
 * EventTakeSuccessCount (bench/agents.ts measureDrain), the baseline from its first message to its last.
 * Cases alternate for ROUNDS rounds; the medians are reported. Prints a table and, last, the bench line
 * (bench/jsonLine.ts).
 *
 *   npm run build && npm run bench:jms [-- --messages 50000] [--batch 100] [--rounds 3] [--body 200]
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import rhea, { type Connection, type Message } from 'rhea';
import { ACTIVEMQ_VERSION, FLUME_JMS_JARS, jmsSourceLines, startActiveMq } from '../scripts/activemq.js';
import { FLUME_VERSION, flumeExtraJars, startFlumeAgent } from '../scripts/flume.js';
import { freePort } from '../scripts/service.js';
import { measureDrain, startAgent, type Drain, type RunningAgent } from './agents.js';
import { printJsonLine } from './jsonLine.js';
import { procStats } from './procStats.js';

const { values: flags, positionals } = parseArgs({
  options: {
    messages: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    body: { type: 'string', default: '200' },
    servers: { type: 'string', default: 'rxflume,flume,baseline' },
    // Internal: this script as the baseline consumer's process (`--consume <amqp url> <queue>`).
    consume: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: true,
  strict: true,
});
const MESSAGES = Number(flags.messages);
const BATCH = Number(flags.batch);
const ROUNDS = Number(flags.rounds);
const BODY = Number(flags.body);
const SERVERS = flags.servers.split(',') as Server[];
for (const s of SERVERS) if (!['rxflume', 'flume', 'baseline'].includes(s)) throw new Error(`--servers: unknown case ${s} (rxflume, flume, baseline)`);
/** Longest a drain may take once it began (a stalled consumer ends the bench, not the machine's afternoon). */
const MAX_SECONDS = 600;

const USAGE = `npm run bench:jms [-- options]: the JMS source (rxflume, Flume ${FLUME_VERSION}, a plain rhea consumer) on ActiveMQ ${ACTIVEMQ_VERSION}

  --messages N   persistent messages per case and round (default 50000)
  --batch N      the sources' batchSize and the baseline's credit (default 100)
  --rounds N     rounds, the three cases alternating; medians reported (default 3)
  --body N       bytes per message body (text, default 200)
  --servers a,b  only these cases: rxflume, flume, baseline (default all three)
  -h, --help     this text`;

type Server = 'rxflume' | 'flume' | 'baseline';
interface Figures {
  eventsPerSec: number;
  peakRssMB: number;
}

/** An AMQP connection to the broker (SASL ANONYMOUS: ActiveMQ wants some SASL), open. */
async function connect(url: string): Promise<Connection> {
  const { hostname, port } = new URL(url);
  const connection = rhea.create_container({ id: `bench-jms-${process.pid}-${Date.now()}` }).connect({ host: hostname, port: Number(port), username: 'bench', reconnect: false });
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('connection_error', (c) => reject(c.connection.error ?? new Error('connection error')));
    connection.once('disconnected', (c) => reject(c.error ?? new Error('disconnected')));
  });
  return connection;
}

/** Puts `count` persistent text messages on `queue`; resolves once the broker accepted every one. */
async function preload(url: string, queue: string, count: number): Promise<void> {
  const connection = await connect(url);
  const sender = connection.open_sender({ target: { address: `queue://${queue}` } });
  let sent = 0;
  let accepted = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        while (sent < count && sender.sendable()) sender.send({ body: `${String(sent++).padStart(10, '0')} ${'x'.repeat(Math.max(0, BODY - 11))}`, durable: true } as Message);
      };
      sender.on('sendable', pump);
      sender.on('accepted', () => {
        if (++accepted === count) resolve();
      });
      sender.on('rejected', (c) => reject(new Error(`the broker rejected a message: ${JSON.stringify(c.delivery?.remote_state)}`)));
      sender.on('sender_error', (c) => reject(c.sender?.error ?? new Error('sender error')));
      connection.on('disconnected', () => reject(new Error(`disconnected after ${accepted} of ${count} accepted`)));
    });
  } finally {
    connection.close();
  }
}

/** The baseline's process: reads `queue` until MESSAGES came, then prints its figures as JSON. */
async function consume(url: string, queue: string): Promise<void> {
  const connection = await connect(url);
  let count = 0;
  let first = 0;
  const last = await new Promise<number>((resolve, reject) => {
    const receiver = connection.open_receiver({ source: { address: `queue://${queue}` }, credit_window: BATCH, autoaccept: true });
    receiver.on('message', () => {
      if (count++ === 0) first = performance.now();
      if (count === MESSAGES) resolve(performance.now());
    });
    receiver.on('receiver_error', (c) => reject(c.receiver?.error ?? new Error('receiver error')));
    setTimeout(() => reject(new Error(`read ${count} of ${MESSAGES} within ${MAX_SECONDS} s`)), MAX_SECONDS * 1000).unref();
  });
  connection.close();
  const seconds = (last - first) / 1000;
  console.log(JSON.stringify({ eventsPerSec: seconds > 0 ? (count - 1) / seconds : 0, peakRssMB: procStats(process.pid).peakRssMB }));
}

async function baseline(url: string, queue: string): Promise<Figures> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--consume', `--messages=${MESSAGES}`, `--batch=${BATCH}`, url, queue], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the baseline consumer exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as Figures;
}

/** One properties text for both agents; each reads providerURL its own way (rxflume: AMQP, JNDI keys ignored). */
const conf = (providerUrl: string, queue: string): string => `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
${jmsSourceLines(providerUrl, queue, BATCH).join('\n')}
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = ${Math.max(BATCH, 100)}
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = ${BATCH}
a1.sinks.k1.channel = c1
`;

/**
 * Flume's JMS source needs ActiveMQ's client beside the agent's jars and `tcp:` JNDI URLs allowed (Flume 1.11
 * allows only `java:` unless told), which bench/agents.ts's startAgent does not pass: started here, on the
 * same JVM settings and metrics as there.
 */
async function startFlume(text: string): Promise<RunningAgent> {
  const monitorPort = await freePort();
  const agent = await startFlumeAgent({
    conf: text,
    jvmArgs: [],
    heapMb: 512,
    classpath: await flumeExtraJars(FLUME_JMS_JARS),
    systemProperties: { 'flume.monitoring.type': 'http', 'flume.monitoring.port': String(monitorPort), JndiAllowedProtocols: 'tcp' },
  });
  const pid = agent.pid;
  if (pid === undefined) throw new Error(`the Flume agent exited at once:\n${await agent.log()}`);
  return { kind: 'flume', pid, monitorPort, exited: () => (agent.pid === undefined ? 'exited' : undefined), log: () => agent.log(), stop: () => agent.stop() };
}

async function drainBy(server: 'rxflume' | 'flume', text: string): Promise<Drain> {
  const startedAt = performance.now();
  const agent = server === 'flume' ? await startFlume(text) : await startAgent('rxflume', text);
  try {
    const drain = await measureDrain(agent, { expected: MESSAGES, startedAt, maxSeconds: MAX_SECONDS });
    if (drain.partial) throw new Error(`${server} drained ${drain.count} of ${MESSAGES} within ${MAX_SECONDS} s`);
    console.error(`${server}: ${drain.count - drain.countAtFirst} events in ${drain.seconds.toFixed(2)} s after ${drain.countAtFirst} before the window; first event ${drain.firstEventSeconds.toFixed(2)} s after the start`);
    return drain;
  } finally {
    await agent.stop();
  }
}

async function main(): Promise<void> {
  const broker = await startActiveMq({ log: (line) => console.error(line) });
  try {
    const rounds: Record<Server, Figures[]> = { rxflume: [], flume: [], baseline: [] };
    let queues = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of SERVERS) {
        const queue = `bench-jms-${process.pid}-${++queues}`;
        await preload(broker.amqpUrl, queue, MESSAGES);
        const figures: Figures =
          server === 'baseline' ? await baseline(broker.amqpUrl, queue) : await drainBy(server, conf(server === 'flume' ? broker.openwireUrl : broker.amqpUrl, queue));
        console.error(`round ${round} ${server}: ${Math.round(figures.eventsPerSec)} events/s, peak RSS ${figures.peakRssMB} MB`);
        rounds[server].push(figures);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const results = SERVERS.map((server) => ({
      case: 'jms-queue',
      server,
      batch: BATCH,
      eventsPerSec: Math.round(median(rounds[server].map((f) => f.eventsPerSec))),
      peakRssMB: median(rounds[server].map((f) => f.peakRssMB)),
      runsEventsPerSec: rounds[server].map((f) => Math.round(f.eventsPerSec)),
    }));
    console.log(`JMS queue drain on ActiveMQ ${ACTIVEMQ_VERSION}: ${MESSAGES} persistent messages of ${BODY} bytes, batch ${BATCH}, ${ROUNDS} round(s), ${cpus().length} cores`);
    console.log(`${'server'.padEnd(10)} ${'events/s'.padStart(10)} ${'peak RSS MB'.padStart(12)}  rounds`);
    for (const r of results) console.log(`${r.server.padEnd(10)} ${String(r.eventsPerSec).padStart(10)} ${String(r.peakRssMB).padStart(12)}  ${r.runsEventsPerSec.join(' ')}`);
    printJsonLine('jms', results, { node: process.version, activemq: ACTIVEMQ_VERSION, flume: FLUME_VERSION, messages: MESSAGES, bodyBytes: BODY, rounds: ROUNDS });
  } finally {
    await broker.close();
  }
}

if (flags.help) console.log(USAGE);
else
  (flags.consume ? consume(positionals[0]!, positionals[1]!) : main()).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
