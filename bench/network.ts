/**
 * Events/s over the network: avroSource and httpSource → memory channel → null sink, at the batch
 * sizes users send (1, 100, 1000 events per appendBatch call or POST), beside baselines measured in
 * the same run with the same client and the same bytes:
 *
 * - `avro/baseline`: a plain `net` server that frames Avro's Netty messages, walks the events of each
 *   appendBatch without making objects, and answers OK — the transport's own ceiling;
 * - `http/baseline`: a plain `http.createServer` that reads the body, `JSON.parse`s it and answers 200;
 * - `avro/flume`: a real Apache Flume 1.11.0 agent (avro source → memory → null), when its jars are
 *   cached (npm run flume:fetch; see scripts/flume.ts) and java is on the PATH;
 *   one JVM for the run (one pipeline per batch size), warmed 2 s, kept awake between its cases by one
 *   event per 500 ms (otherwise its null sink's runner backs off up to 5 s and the client stalls).
 *
 * Every case runs as two child processes, a server and a client (one core each on a 2-core machine),
 * so the server's peak RSS and CPU are its own. The client sends pre-encoded payloads (~200-byte
 * bodies, two headers): for Avro, a minimal client on lib/avro/rpc.ts and frames.ts (handshake, then one
 * appendBatch at a time per connection, as Flume's avro sink and NettyAvroRpcClient do); for HTTP, a
 * keep-alive `http.Agent` with HTTP_INFLIGHT POSTs in flight. After the client stops, the server must
 * confirm it received exactly the events the client had answered OK (source EventAcceptedCount and
 * null-sink EventDrainSuccessCount for rxflume, Flume's /metrics for Flume); a mismatch is printed loudly
 * and the run exits non-zero. Prints a table and a JSON line.
 *
 *   npm run bench:network   (BATCHES=1,100,1000 events per call, SECONDS=3 per case including
 *                            WARMUP=0.5 not counted, ROUNDS=3 runs per case (median reported),
 *                            AVRO_CONNS=1 connections (e.g. 1,4), HTTP_INFLIGHT=4, FLUME=0 to skip Flume,
 *                            CASES=avro/rxflume,… only these, CPU_PROF_DIR=dir: a .cpuprofile per
 *                            rxflume/baseline server process, for Chrome DevTools or speedscope,
 *                            BEFORE_DIST=dir: also case `before`, the rxflume server built from another
 *                            checkout's dist/ (e.g. the commit before a change), interleaved with the
 *                            others so that before and after share the machine's moments),
 *                            SERVER_NODE_FLAGS='…': the rxflume servers' node flags (default: the
 *                            `rxflume` command's, bench/agents.ts cliNodeFlags; '' for none)
 */
import { spawn } from 'node:child_process';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import avro from 'avsc';
import { Reader, readEnumResponse, readHandshakeResponse, writeCallHeader, writeHandshakeRequest, NONE } from '../lib/avro/rpc.js';
import { FrameDecoder, encodeFrame } from '../lib/avro/frames.js';
import type { FlumeEvent } from '../lib/core/event.js';
import { AVRO_FLUME_EVENT_SCHEMA } from '../lib/avro/flumeEventAvro.js';
import { metricsOf } from '../lib/core/metrics.js';
import { pipe } from '../lib/core/pipe.js';
import { nullSink } from '../lib/sinks/nullSink.js';
import { avroSource } from '../lib/sources/avroSource.js';
import { httpSource } from '../lib/sources/http/httpSource.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { FLUME_VERSION, flumeJarsCached, startFlumeAgent } from '../scripts/flume.js';
import { checkTools, freePort } from '../scripts/service.js';
import { cliEnv, cliNodeFlags } from './agents.js';
import { printJsonLine } from './jsonLine.js';
import { procStats } from './procStats.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const SECONDS = Number(process.env['SECONDS'] ?? 3);
const WARMUP = Number(process.env['WARMUP'] ?? 0.5);
const BATCHES = (process.env['BATCHES'] ?? '1,100,1000').split(',').map(Number);
const AVRO_CONNS = (process.env['AVRO_CONNS'] ?? '1').split(',').map(Number);
const HTTP_INFLIGHT = Number(process.env['HTTP_INFLIGHT'] ?? 4);
const FLUME = process.env['FLUME'] !== '0';
/** Only these cases, e.g. CASES=avro/rxflume,avro/baseline (all by default). */
const CASES = process.env['CASES']?.split(',');
/** A folder: the rxflume and baseline server processes write a V8 CPU profile there (node --cpu-prof). */
const CPU_PROF_DIR = process.env['CPU_PROF_DIR'];
/** Another build's dist/ folder: its avroSource/httpSource pipeline is measured too, as server `before`. */
const BEFORE_DIST = process.env['BEFORE_DIST'];
const BODY_BYTES = 200;
/** Node flags of the rxflume servers: the `rxflume` command's (cliNodeFlags), or SERVER_NODE_FLAGS='…' ('' for none). */
const SERVER_NODE_FLAGS = process.env['SERVER_NODE_FLAGS'] !== undefined ? process.env['SERVER_NODE_FLAGS'].split(' ').filter(Boolean) : cliNodeFlags();

type Proto = 'avro' | 'http';
type ServerKind = 'rxflume' | 'before' | 'baseline' | 'flume';
/** Servers run by this script in a child process. */
type NodeServer = Exclude<ServerKind, 'flume'>;

interface Spec {
  proto: Proto;
  server: ServerKind;
  batch: number;
  /** Avro connections, or HTTP requests in flight. */
  conns: number;
}

interface ClientReport {
  /** Events and calls answered OK (200), in total and within the measured window. */
  events: number;
  requests: number;
  windowEvents: number;
  windowRequests: number;
  windowSeconds: number;
  /** The measured window in epoch ms, for the server's CPU over the same span. */
  windowFrom: number;
  windowTo: number;
  failed: number;
  cpuPct: number;
}

interface ServerReport {
  /** Events the server accepted (source count) and delivered to its sink. */
  accepted: number;
  drained: number;
  /** False for Flume: its null sink's take transaction may hold keep-alive events across cases. */
  drainedExact?: boolean;
  peakRssMB: number;
  cpuPct: number;
}

interface Result extends Spec {
  case: string;
  eventsPerSec: number;
  mbPerSec: number;
  requestsPerSec: number;
  peakRssMB: number;
  serverCpuPct: number;
  clientCpuPct: number;
  sent: number;
  accepted: number;
  drained: number;
  failed: number;
  mismatch: boolean;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- payloads ----------------------------------------------------------------------------------

const FILLER = 'abcdefghijklmnopqrstuvwxyz0123456789 GET /api/v1/orders?id= HTTP/1.1 200 '.repeat(4);

/** `n` events of exactly BODY_BYTES ASCII bytes with two headers, as a web log shipper sends. */
function makeEvents(n: number): FlumeEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    headers: { timestamp: String(1_700_000_000_000 + i), host: 'web-01.example.com' },
    body: Buffer.from(`${String(i).padStart(9, '0')} ${FILLER.slice(i % 50, i % 50 + BODY_BYTES - 10)}`),
  }));
}

const eventsType = avro.Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as avro.Schema);

// ---- client ------------------------------------------------------------------------------------

/** One Avro RPC connection with one call in flight at a time. */
async function avroConnection(port: number): Promise<{ call(parts: readonly Buffer[]): Promise<Buffer>; close(): void }> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((ok, fail) => {
    socket.once('connect', ok);
    socket.once('error', fail);
  });
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  let serial = 0;
  let waiting: { serial: number; resolve(m: Buffer): void; reject(e: Error): void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      if (waiting && frame.serial === waiting.serial) {
        const w = waiting;
        waiting = undefined;
        w.resolve(frame.message);
      }
    }
  });
  const lost = (e: Error) => waiting?.reject(e);
  socket.on('error', lost);
  socket.on('close', () => lost(new Error('connection closed by the server')));
  const call = (parts: readonly Buffer[]): Promise<Buffer> =>
    new Promise((res, rej) => {
      waiting = { serial: serial, resolve: res, reject: rej };
      socket.write(encodeFrame(serial++, parts));
    });
  // Handshake ping with Flume's protocol hash; a second one with the protocol text if asked (as avroSink).
  for (const withProtocol of [false, true]) {
    const { match } = readHandshakeResponse(new Reader(await call([writeHandshakeRequest(withProtocol), writeCallHeader('')])));
    if (match !== NONE) break;
    if (withProtocol) throw new Error('handshake refused');
  }
  return { call, close: () => socket.destroy() };
}

async function runClient(proto: Proto, port: number, batch: number, conns: number): Promise<ClientReport> {
  const events = makeEvents(batch);
  const t0 = performance.now();
  const wall0 = Date.now();
  const warmEnd = t0 + WARMUP * 1000;
  const end = t0 + SECONDS * 1000;
  const report: ClientReport = {
    events: 0,
    requests: 0,
    windowEvents: 0,
    windowRequests: 0,
    windowSeconds: SECONDS - WARMUP,
    windowFrom: wall0 + WARMUP * 1000,
    windowTo: wall0 + SECONDS * 1000,
    failed: 0,
    cpuPct: 0,
  };
  let cpu0 = process.cpuUsage();
  let cpuFrom = performance.now();
  setTimeout(() => {
    cpu0 = process.cpuUsage();
    cpuFrom = performance.now();
  }, WARMUP * 1000);
  const done = (ok: boolean): void => {
    if (!ok) {
      report.failed++;
      return;
    }
    report.events += batch;
    report.requests++;
    const now = performance.now();
    if (now >= warmEnd && now <= end) {
      report.windowEvents += batch;
      report.windowRequests++;
    }
  };
  if (proto === 'avro') {
    const payload = eventsType.toBuffer(events);
    const appendBatch = writeCallHeader('appendBatch');
    const connections = await Promise.all(Array.from({ length: conns }, () => avroConnection(port)));
    await Promise.all(
      connections.map(async (c) => {
        while (performance.now() < end) done(readEnumResponse(new Reader(await c.call([appendBatch, payload]))) === 0);
        c.close();
      }),
    );
  } else {
    const body = Buffer.from(JSON.stringify(events.map((e) => ({ headers: e.headers, body: e.body.toString('utf8') }))));
    const agent = new Agent({ keepAlive: true, maxSockets: conns });
    const post = (): Promise<number> =>
      new Promise((res, rej) => {
        const req = request(
          { host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
          (response) => {
            response.resume();
            response.on('end', () => res(response.statusCode ?? 0));
          },
        );
        req.on('error', rej);
        req.end(body);
      });
    await Promise.all(
      Array.from({ length: conns }, async () => {
        while (performance.now() < end) done((await post()) === 200);
      }),
    );
    agent.destroy();
  }
  const cpu = process.cpuUsage(cpu0);
  report.cpuPct = round(((cpu.user + cpu.system) / 1000 / (performance.now() - cpuFrom)) * 100, 0);
  return report;
}

// ---- servers -----------------------------------------------------------------------------------

/** Starts a server; returns its port and a function counting [accepted, drained] events. */
async function startServer(proto: Proto, kind: NodeServer, batch: number): Promise<{ port: number; counts(): [number, number] }> {
  let port = 0;
  let counts: () => [number, number] = () => [0, 0];
  // The same pipeline from another build (its own modules: its metrics are its own too).
  const lib =
    kind === 'before'
      ? await (async () => {
          const at = (path: string) => import(pathToFileURL(join(resolve(BEFORE_DIST!), path)).href);
          return {
            avroSource: (await at('lib/sources/avroSource.js')).avroSource as typeof avroSource,
            httpSource: (await at('lib/sources/http/httpSource.js')).httpSource as typeof httpSource,
            nullSink: (await at('lib/sinks/nullSink.js')).nullSink as typeof nullSink,
            pipe: (await at('lib/core/pipe.js')).pipe as typeof pipe,
            memoryChannel: (await at('operators/channels/memoryChannel.js')).memoryChannel as typeof memoryChannel,
            metricsOf: (await at('lib/core/metrics.js')).metricsOf as typeof metricsOf,
          };
        })()
      : { avroSource, httpSource, nullSink, pipe, memoryChannel, metricsOf };
  const listening = new Promise<void>((ok) => {
    const onListening = (a: AddressInfo) => {
      port = a.port;
      ok();
    };
    if (kind === 'rxflume' || kind === 'before') {
      const { avroSource, httpSource, nullSink, pipe, memoryChannel, metricsOf } = lib;
      const source = proto === 'avro' ? avroSource({ bind: '127.0.0.1', port: 0, onListening }) : httpSource({ bind: '127.0.0.1', port: 0, onListening });
      const sink = nullSink({ batchSize: batch });
      const pipeline = pipe(source, memoryChannel({ capacity: Math.max(1000, batch * 20), transactionCapacity: batch }), sink);
      pipeline.done.catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
      counts = () => [metricsOf(source)!.get('EventAcceptedCount'), metricsOf(sink)!.get('EventDrainSuccessCount')];
    } else if (proto === 'avro') {
      const server = baselineAvroServer();
      server.server.listen(0, '127.0.0.1', () => onListening(server.server.address() as AddressInfo));
      counts = () => [server.events, server.events];
    } else {
      let events = 0;
      const server = createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          events += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
          res.end();
        });
      });
      server.listen(0, '127.0.0.1', () => onListening(server.address() as AddressInfo));
      counts = () => [events, events];
    }
  });
  await listening;
  return { port, counts: () => counts() };
}

const OK_RESPONSE = Buffer.from([0x00, 0x00, 0x00]); // empty meta, no error, Status OK
const HANDSHAKE_BOTH = Buffer.from([0x00, 0x00, 0x00, 0x00]); // match BOTH, no protocol, no hash, no meta

/**
 * The Avro baseline: Netty frames parsed in one growing buffer per connection (each byte copied once),
 * the first call of a connection answered as a handshake, then every appendBatch's events walked
 * (header and body lengths skipped, no objects) and answered OK. Independent of lib/avro.
 */
function baselineAvroServer(): { server: ReturnType<typeof createNetServer>; events: number } {
  const state = { server: createNetServer(), events: 0 };
  state.server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    let buf = Buffer.allocUnsafe(64 * 1024);
    let start = 0;
    let end = 0;
    let handshaken = false;
    socket.on('data', (chunk: Buffer) => {
      if (end + chunk.length > buf.length) {
        const live = end - start;
        const bigger = live + chunk.length > buf.length ? Buffer.allocUnsafe(Math.max(buf.length * 2, live + chunk.length)) : buf;
        buf.copy(bigger, 0, start, end);
        buf = bigger;
        start = 0;
        end = live;
      }
      chunk.copy(buf, end);
      end += chunk.length;
      for (;;) {
        if (end - start < 8) break;
        const serial = buf.readInt32BE(start);
        const count = buf.readInt32BE(start + 4);
        let at = start + 8;
        const parts: Array<[number, number]> = [];
        for (let i = 0; i < count && end - at >= 4; i++) {
          const len = buf.readInt32BE(at);
          if (end - at - 4 < len) break;
          parts.push([at + 4, at + 4 + len]);
          at += 4 + len;
        }
        if (parts.length < count) break;
        start = at;
        if (!handshaken) {
          handshaken = true;
          socket.write(encodeBaselineFrame(serial, HANDSHAKE_BOTH));
          continue;
        }
        // The call's parts in order: [meta, name] then the events (one part each in our client).
        const message = parts.length === 1 ? buf.subarray(parts[0]![0], parts[0]![1]) : Buffer.concat(parts.map(([a, b]) => buf.subarray(a, b)));
        state.events += walkAppendBatch(message);
        socket.write(encodeBaselineFrame(serial, OK_RESPONSE));
      }
      if (start === end) start = end = 0;
    });
    socket.on('error', () => undefined);
  });
  return state;
}

function encodeBaselineFrame(serial: number, part: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + part.length);
  out.writeInt32BE(serial, 0);
  out.writeInt32BE(1, 4);
  out.writeInt32BE(part.length, 8);
  part.copy(out, 12);
  return out;
}

/** Counts the events of an appendBatch call (meta map, name, array<AvroFlumeEvent>), skipping their bytes. */
function walkAppendBatch(m: Buffer): number {
  let at = 0;
  const long = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = m[at++]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  };
  const block = (): number => {
    const n = long();
    if (n >= 0) return n;
    long();
    return -n;
  };
  // `skip()` and not `at += long()`: the latter reads `at` before long() moves it past the length.
  const skip = (): void => {
    const n = long();
    at += n;
  };
  for (let n = block(); n > 0; n = block()) {
    for (let i = 0; i < n; i++) {
      skip(); // meta key
      skip(); // meta value
    }
  }
  skip(); // message name
  let events = 0;
  for (let n = block(); n > 0; n = block()) {
    for (let i = 0; i < n; i++) {
      for (let h = block(); h > 0; h = block()) {
        for (let j = 0; j < h; j++) {
          skip(); // header key
          skip(); // header value
        }
      }
      skip(); // body
      events++;
    }
  }
  return events;
}

/** CPU seconds sampled every 50 ms, to tell the CPU share of a process over the client's measured window. */
function sampleCpu(cpuSeconds: () => number): { stop(): void; pctBetween(from: number, to: number): number } {
  const samples: Array<[number, number]> = [[Date.now(), cpuSeconds()]];
  const timer = setInterval(() => samples.push([Date.now(), cpuSeconds()]), 50);
  return {
    stop: () => clearInterval(timer),
    pctBetween(from, to) {
      const a = samples.find(([t]) => t >= from) ?? samples.at(-1)!;
      const b = [...samples].reverse().find(([t]) => t <= to) ?? samples.at(-1)!;
      return b[0] > a[0] ? round(((b[1] - a[1]) * 1000 / (b[0] - a[0])) * 100, 0) : 0;
    },
  };
}

/** The server child: listens, tells the parent its port, and on request reports its counts once they reach the client's. */
async function serverMain(proto: Proto, kind: NodeServer, batch: number): Promise<void> {
  const { port, counts } = await startServer(proto, kind, batch);
  const samples = sampleCpu(() => {
    const cpu = process.cpuUsage();
    return (cpu.user + cpu.system) / 1e6;
  });
  process.send!({ port });
  process.on('message', (m: { expected: number; from: number; to: number }) => {
    samples.stop();
    const cpuPct = samples.pctBetween(m.from, m.to);
    void (async () => {
      const deadline = Date.now() + 10_000;
      while (counts()[1] < m.expected && Date.now() < deadline) await sleep(5);
      await sleep(50); // anything beyond the expected count shows up too
      const [accepted, drained] = counts();
      const report: ServerReport = { accepted, drained, peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1), cpuPct };
      process.send!(report, () => process.exit(0));
    })();
  });
}

// ---- the orchestrator --------------------------------------------------------------------------

/** Runs this script with `args`, writing `input` to its stdin once it resolves; resolves with its stdout. */
function runChild(args: string[], input: Promise<string>, env: Record<string, string> = {}): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    input.then(
      (text) => child.stdin.end(text),
      () => child.kill('SIGKILL'),
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${args.join(' ')} exited ${code}:\n${err}`))));
  });
}

/** The client child, started at once (node's start-up overlaps the server's); it begins when given the port. */
async function client(spec: Spec, port: number | Promise<number>, env: Record<string, string> = {}): Promise<ClientReport> {
  const out = await runChild(['--client', spec.proto, String(spec.batch), String(spec.conns)], Promise.resolve(port).then((p) => `${p}\n`), env);
  return JSON.parse(out.trim().split('\n').at(-1)!) as ClientReport;
}

async function nodeServerCase(spec: Spec & { server: NodeServer }): Promise<[ClientReport, ServerReport]> {
  const name = `${spec.proto}-${spec.server}-batch${spec.batch}-${spec.conns}conn`;
  const profile = CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  // rxflume's servers run with the V8 flags its `rxflume` command runs with (as every agent row of bench:flume does).
  const flags = spec.server === 'baseline' ? [] : SERVER_NODE_FLAGS;
  const child = spawn(process.execPath, [...flags, ...profile, fileURLToPath(import.meta.url), '--server', spec.proto, spec.server, String(spec.batch)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // ... and its environment (MALLOC_ARENA_MAX).
    ...(spec.server === 'baseline' ? {} : { env: cliEnv() }),
  });
  try {
    const messages: unknown[] = [];
    let wake: (() => void) | undefined;
    child.on('message', (m) => {
      messages.push(m);
      wake?.();
    });
    const exited = new Promise<never>((_, fail) => child.once('exit', (code) => fail(new Error(`server ${spec.proto}/${spec.server} exited ${code}`))));
    exited.catch(() => undefined);
    const next = async (): Promise<unknown> => {
      while (messages.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
      return messages.shift();
    };
    const port = next().then((m) => (m as { port: number }).port);
    const sent = await client(spec, port);
    child.send({ expected: sent.events, from: sent.windowFrom, to: sent.windowTo });
    const server = (await next()) as ServerReport;
    // A profile is written as the process exits on its own (it does once its report is sent).
    if (CPU_PROF_DIR && child.exitCode === null) await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
    return [sent, server];
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

// ---- Flume -------------------------------------------------------------------------------------

function flumeSkipReason(): string | undefined {
  if (!FLUME) return 'FLUME=0';
  if (!flumeJarsCached()) return `Flume ${FLUME_VERSION} jars not in the cache (npm run flume:fetch)`;
  try {
    checkTools(`Flume ${FLUME_VERSION}`);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

interface FlumeAgent {
  pid: number;
  port(batch: number): number;
  /** Pauses the keep-alive trickle (resolves once its call in flight is answered), or resumes it. */
  trickle(on: boolean): Promise<void>;
  /** EventAcceptedCount of the source and EventTakeSuccessCount of the channel serving `batch`. */
  counts(batch: number): Promise<[number, number]>;
  stop(): Promise<void>;
}

/**
 * One Flume JVM for the whole run (its start takes several seconds), with one pipeline per batch size,
 * each sized as rxflume's: avro source r<i> → memory channel c<i> (transactionCapacity = batch) →
 * null sink k<i> (batchSize = batch). Counters come from Flume's HTTP monitoring (/metrics).
 */
async function startFlume(batches: readonly number[]): Promise<FlumeAgent> {
  const ports: number[] = [];
  for (let i = 0; i < batches.length; i++) ports.push(await freePort());
  const monitorPort = await freePort();
  const ids = batches.map((_, i) => i + 1);
  const lines = [`a1.sources = ${ids.map((i) => `r${i}`).join(' ')}`, `a1.channels = ${ids.map((i) => `c${i}`).join(' ')}`, `a1.sinks = ${ids.map((i) => `k${i}`).join(' ')}`];
  batches.forEach((batch, n) => {
    const i = n + 1;
    lines.push(
      `a1.sources.r${i}.type = avro`,
      `a1.sources.r${i}.bind = 127.0.0.1`,
      `a1.sources.r${i}.port = ${ports[n]}`,
      `a1.sources.r${i}.channels = c${i}`,
      `a1.channels.c${i}.type = memory`,
      `a1.channels.c${i}.capacity = ${Math.max(1000, batch * 20)}`,
      `a1.channels.c${i}.transactionCapacity = ${batch}`,
      `a1.sinks.k${i}.type = null`,
      `a1.sinks.k${i}.batchSize = ${batch}`,
      `a1.sinks.k${i}.channel = c${i}`,
    );
  });
  const agent = await startFlumeAgent({
    conf: `${lines.join('\n')}\n`,
    heapMb: 512,
    jvmArgs: ['-Xms256m', '-Dflume.monitoring.type=http', `-Dflume.monitoring.port=${monitorPort}`],
  });
  try {
    const deadline = Date.now() + 60_000;
    for (const i of ids) await agent.waitForLog(new RegExp(`Avro source r${i} started`), Math.max(0, deadline - Date.now()));
  } catch (error) {
    await agent.stop();
    throw error;
  }
  const index = (batch: number) => batches.indexOf(batch) + 1;
  // Flume's memory channel take waits keep-alive (3 s) for an event; a sink whose take came back empty
  // backs off 1, 2, … up to 5 s, and a channel filling meanwhile makes the client wait (or fail) for
  // seconds. A live agent under steady traffic never gets there, so between its cases every pipeline
  // gets one event every 500 ms (paused while a case runs and while its counters are read).
  const one = eventsType.toBuffer(makeEvents(1));
  const appendBatch = writeCallHeader('appendBatch');
  const connections = await Promise.all(ports.map((p) => avroConnection(p)));
  let trickling = true;
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (trickling) inFlight = Promise.all(connections.map((c) => c.call([appendBatch, one]))).catch(() => undefined);
  }, 500);
  return {
    pid: agent.pid!,
    port: (batch) => ports[index(batch) - 1]!,
    async trickle(on) {
      trickling = on;
      await inFlight;
    },
    async counts(batch) {
      const response = await fetch(`http://127.0.0.1:${monitorPort}/metrics`);
      const m = (await response.json()) as Record<string, Record<string, string>>;
      return [Number(m[`SOURCE.r${index(batch)}`]?.['EventAcceptedCount'] ?? 0), Number(m[`CHANNEL.c${index(batch)}`]?.['EventTakeSuccessCount'] ?? 0)];
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
      for (const c of connections) c.close();
      await agent.stop();
    },
  };
}

let flume: FlumeAgent | undefined;

async function flumeCase(spec: Spec): Promise<[ClientReport, ServerReport]> {
  if (!flume) {
    flume = await startFlume(BATCHES);
    // Not counted: the JIT compiles Flume's hot paths during this run, as it would in a long-lived agent.
    const warm = BATCHES.includes(100) ? 100 : BATCHES[0]!;
    await client({ ...spec, batch: warm }, flume.port(warm), { SECONDS: '2', WARMUP: '0' });
  }
  const agent = flume;
  await agent.trickle(false);
  try {
    const [accepted0, drained0] = await agent.counts(spec.batch);
    const samples = sampleCpu(() => procStats(agent.pid).cpuSeconds);
    const sent = await client(spec, agent.port(spec.batch));
    samples.stop();
    // OK means Flume committed the put, so the source count is exact at once; the sink's is waited for.
    const deadline = Date.now() + 5_000;
    let [accepted, drained] = await agent.counts(spec.batch);
    while (drained - drained0 < sent.events && Date.now() < deadline) {
      await sleep(100);
      [accepted, drained] = await agent.counts(spec.batch);
    }
    const report: ServerReport = {
      accepted: accepted - accepted0,
      drained: drained - drained0,
      drainedExact: false,
      peakRssMB: procStats(agent.pid).peakRssMB,
      cpuPct: samples.pctBetween(sent.windowFrom, sent.windowTo),
    };
    return [sent, report];
  } finally {
    await agent.trickle(true);
  }
}

// ---- main --------------------------------------------------------------------------------------

async function runCase(spec: Spec): Promise<Result> {
  const [sent, server] = spec.server === 'flume' ? await flumeCase(spec) : await nodeServerCase(spec as Spec & { server: NodeServer });
  const mismatch = server.accepted !== sent.events || (server.drainedExact !== false && server.drained !== sent.events) || sent.failed > 0;
  const name = `${spec.proto}/${spec.server}`;
  if (mismatch) {
    console.error(
      `\n!!!!! COUNT MISMATCH ${name} batch ${spec.batch} conns ${spec.conns}: client had ${sent.events} events answered OK (${sent.failed} calls failed), ` +
        `server accepted ${server.accepted} and delivered ${server.drained} !!!!!\n`,
    );
  }
  const perSec = sent.windowEvents / sent.windowSeconds;
  return {
    ...spec,
    case: name,
    eventsPerSec: Math.round(perSec),
    mbPerSec: round((perSec * BODY_BYTES) / 1e6, 1),
    requestsPerSec: Math.round(sent.windowRequests / sent.windowSeconds),
    peakRssMB: server.peakRssMB,
    serverCpuPct: server.cpuPct,
    clientCpuPct: sent.cpuPct,
    sent: sent.events,
    accepted: server.accepted,
    drained: server.drained,
    failed: sent.failed,
    mismatch,
  };
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === '--client') {
    const [proto, batch, conns] = args;
    let input = '';
    for await (const chunk of process.stdin) input += String(chunk);
    const report = await runClient(proto as Proto, Number(input.trim()), Number(batch), Number(conns));
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  if (mode === '--server') {
    const [proto, kind, batch] = args;
    await serverMain(proto as Proto, kind as NodeServer, Number(batch));
    return;
  }

  const skipFlume = flumeSkipReason();
  const specs: Spec[] = [];
  for (const batch of BATCHES) {
    for (const conns of AVRO_CONNS) {
      specs.push({ proto: 'avro', server: 'baseline', batch, conns }, { proto: 'avro', server: 'rxflume', batch, conns });
      if (BEFORE_DIST) specs.push({ proto: 'avro', server: 'before', batch, conns });
      if (!skipFlume) specs.push({ proto: 'avro', server: 'flume', batch, conns });
    }
    specs.push({ proto: 'http', server: 'baseline', batch, conns: HTTP_INFLIGHT }, { proto: 'http', server: 'rxflume', batch, conns: HTTP_INFLIGHT });
    if (BEFORE_DIST) specs.push({ proto: 'http', server: 'before', batch, conns: HTTP_INFLIGHT });
  }
  if (CASES) specs.splice(0, specs.length, ...specs.filter((s) => CASES.includes(`${s.proto}/${s.server}`)));
  const key = (s: Spec) => `${s.proto}/${s.server}/${s.batch}/${s.conns}`;
  // Rounds of every case in turn, so a busy moment of the machine hits all cases alike; each case
  // reports its median round.
  const runs = new Map<string, Result[]>();
  const startedAt = Date.now();
  for (let pass = 0; pass < ROUNDS; pass++) {
    for (const spec of specs) runs.set(key(spec), [...(runs.get(key(spec)) ?? []), await runCase(spec)]);
  }
  await flume?.stop();
  const results = specs.map((spec) => {
    const rs = runs.get(key(spec))!;
    const sorted = [...rs].sort((a, b) => a.eventsPerSec - b.eventsPerSec);
    return { ...sorted[Math.floor(sorted.length / 2)]!, runsEventsPerSec: rs.map((r) => r.eventsPerSec), mismatch: rs.some((r) => r.mismatch) };
  });
  const baselineOf = (r: Result) => results.find((b) => b.proto === r.proto && b.server === 'baseline' && b.batch === r.batch && b.conns === r.conns);
  const vsBaseline = (r: Result) => {
    const b = baselineOf(r);
    return b && r.server !== 'baseline' ? round(r.eventsPerSec / b.eventsPerSec, 2) : undefined;
  };
  for (const r of results) Object.assign(r, { vsBaseline: vsBaseline(r) ?? null });
  const rows = results.map((r) => [
    r.case,
    r.batch,
    r.proto === 'avro' ? `${r.conns} conn` : `${r.conns} in flight`,
    r.eventsPerSec.toLocaleString('en-US'),
    r.mbPerSec,
    r.requestsPerSec.toLocaleString('en-US'),
    r.peakRssMB,
    `${r.serverCpuPct}/${r.clientCpuPct}`,
    vsBaseline(r) ?? '-',
    r.mismatch ? 'MISMATCH' : 'ok',
  ]);
  const header = ['case', 'batch', 'client', 'events/s', 'MB/s', 'requests/s', 'server peak RSS MB', 'CPU% srv/cli', 'vs baseline', 'count'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
  console.log(`avroSource / httpSource → memory channel → null sink, ${BODY_BYTES}-byte bodies + 2 headers; MB/s counts body bytes`);
  console.log(
    `client (own process): avro = minimal client on lib/avro/rpc.ts and frames.ts, pre-encoded appendBatch, one call in flight per connection; ` +
      `http = keep-alive http.Agent, pre-serialized JSON body, ${HTTP_INFLIGHT} POSTs in flight`,
  );
  console.log('baselines: avro = plain net server framing the calls, walking the events and answering OK; http = http.createServer + JSON.parse + 200');
  if (BEFORE_DIST) console.log(`before: the same rxflume pipeline built from ${resolve(BEFORE_DIST)}`);
  console.log(`flume: ${skipFlume ? `skipped (${skipFlume})` : `Apache Flume ${FLUME_VERSION} agent avro → memory → null (one JVM, -Xmx512m, for all its cases after a 2 s warm-up; its RSS is the JVM's peak so far)`}`);
  console.log(`median of ${ROUNDS} runs per case, ${SECONDS} s each (first ${WARMUP} s not counted), server and client each in their own process; ${round((Date.now() - startedAt) / 1000, 0)} s total`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  printJsonLine('network', results, { node: process.version, bodyBytes: BODY_BYTES, seconds: SECONDS, warmup: WARMUP, rounds: ROUNDS, flume: skipFlume ?? FLUME_VERSION });
  if (results.some((r) => r.mismatch)) {
    console.error('!!!!! COUNT MISMATCH in at least one case: see above !!!!!');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
