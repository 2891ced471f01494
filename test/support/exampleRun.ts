/**
 * Running one example's copy and collecting what it delivered (test/examples*.test.ts): the agent CLI on the
 * copy, an entry's input fed while it runs, then stopped; the result holds its logger lines, what in-test
 * receivers got and the metrics the agent logs with `agent stopped`.
 */
import { createServer } from 'node:http';
import { expect } from 'vitest';
import { createBatch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { avroSink } from '../../lib/sinks/avroSink.js';
import { avroSource } from '../../lib/sources/avroSource.js';
import { thriftSink } from '../../lib/sinks/thriftSink.js';
import { thriftSource } from '../../lib/sources/thriftSource.js';
import type { Sink } from '../../lib/core/sink.js';
import { startCli } from './cli.js';
import { listening, netcatSend, recordingSink, sleep, waitFor } from './net.js';

/** One line of the logger sink: `Event: { headers:{k=v, …} body: <48 chars of hex> <text> }` (bodies ≤ 16 bytes). */
export interface Logged {
  headers: Record<string, string>;
  body: string;
}
export function loggerEvents(stdout: string): Logged[] {
  return stdout
    .split('\n')
    .map((l) => /^Event: \{ headers:\{(.*)\} body:(.*) \}$/.exec(l))
    .filter((m) => m !== null)
    .map(([, h = '', b = '']) => ({
      headers: Object.fromEntries(h === '' ? [] : h.split(', ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      body: b.slice(49),
    }));
}

export interface Ctx {
  /** This example's directory: the copy's /tmp/rxflume-examples/ points here. */
  dir: string;
  /** The ports the copy's sources listen on, as the agent logged them once started (see listenedPorts). */
  ports: number[];
  /** Where an in-test receiver listens (avro or http), 0 without one. */
  receiverPort: number;
  stdout(): string;
  logged(): Logged[];
  /** Events the in-test Avro receiver acked. */
  avro: FlumeEvent[];
  /** Events the in-test Thrift receiver acked. */
  thrift: FlumeEvent[];
  /** Requests the in-test HTTP receiver answered 200. */
  http: { contentType: string; body: string }[];
}

export interface Result extends Ctx {
  code: number | null;
  /** The metrics the agent logs with `agent stopped`: `SINK.k1` → counters. */
  metrics: Record<string, Record<string, number>>;
  output: string;
}

export interface Entry {
  /** What the example needs before it starts (files it reads). */
  before?(ctx: Ctx): void;
  /** A receiver the test runs for the example's sink; `rewrite` points the copy at `receiverPort`. */
  receiver?: 'avro' | 'thrift' | 'http';
  rewrite?(text: string, ctx: Ctx): string;
  env?(ctx: Ctx): NodeJS.ProcessEnv;
  flags?: string[];
  /** Input while it runs. */
  feed?(ctx: Ctx): Promise<void>;
  /** Everything arrived (polled while it runs); without it, the agent must stop by itself (a finite source). */
  done?(ctx: Ctx): boolean;
  check(result: Result): void | Promise<void>;
}

export const drained = (r: Result, sink: string): number => r.metrics[`SINK.${sink}`]?.['EventDrainSuccessCount'] ?? -1;
export const netcatOk = async (port: number, bodies: string[]) => expect(await netcatSend(port, bodies, true)).toEqual(bodies.map(() => 'OK'));
export const markers = (prefix: string, n = 3) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Sends the events to an Avro source as one appendBatch (rxflume's avroSink as the client), again until it listens. */
export const avroBatch = (port: number, events: FlumeEvent[], host = '127.0.0.1'): Promise<void> =>
  rpcBatch(() => avroSink({ hostname: host, port, connectTimeoutMs: 2000 }), events);

/** Sends the events to a Thrift source as one appendBatch (rxflume's thriftSink, compact), again until it listens. */
export const thriftBatch = (port: number, events: FlumeEvent[]): Promise<void> =>
  rpcBatch(() => thriftSink({ hostname: '127.0.0.1', port, connectTimeoutMs: 2000 }), events);

async function rpcBatch(client: () => Sink, events: FlumeEvent[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const sink = client();
    const outcome = await new Promise<'ack' | Error>((resolve) => sink.next(createBatch(events, { onAck: () => resolve('ack'), onNack: resolve })));
    sink.complete();
    await sink.closed;
    if (outcome === 'ack') return;
    if (attempt >= 30) throw outcome;
    await sleep(200);
  }
}

/**
 * The ports in the agent's `source <name> listening on <address>:<port>` log lines, in the order logged. A copy
 * whose sources listen on port 0 learns its ports here: a port the test picked as free could be taken by another
 * process's outgoing connection before the agent bound it.
 */
export const listenedPorts = (output: string): number[] => [...output.matchAll(/"msg":"source \S+ listening on \S+:(\d+)"/g)].map((m) => Number(m[1]));

/** A context for an example's run in `dir`, its sources on `ports`. */
export function newCtx(dir: string, ports: number[]): Ctx {
  const ctx: Ctx = { dir, ports, receiverPort: 0, stdout: () => '', logged: () => loggerEvents(ctx.stdout()), avro: [], thrift: [], http: [] };
  return ctx;
}

/** Starts the receiver an entry names; resolves its port and the closer. */
export async function startReceiver(kind: Entry['receiver'], ctx: Ctx): Promise<() => Promise<void>> {
  if (kind === 'avro' || kind === 'thrift') {
    const sink = recordingSink();
    const l = listening();
    const source = (kind === 'avro' ? avroSource : thriftSource)({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const sub = source.subscribe({ next: (b) => sink.next(b) });
    ctx.receiverPort = await l.port;
    ctx[kind] = sink.events;
    return async () => sub.unsubscribe();
  }
  if (kind === 'http') {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/someuri') ctx.http.push({ contentType: req.headers['content-type'] ?? '', body });
        res.writeHead(req.url === '/someuri' ? 200 : 404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ctx.receiverPort = (server.address() as { port: number }).port;
    return () => new Promise((r) => server.close(() => r()));
  }
  return async () => undefined;
}

/** Runs the agent on `copy` for `entry`: feed, wait until done (or the agent ended by itself, 30 s each), stop. */
export async function runAgent(copy: string, agent: string, ctx: Ctx, entry: Entry, label: string): Promise<Result> {
  const agentRun = startCli(['agent', '-n', agent, '-f', copy, '--no-reload-conf', '--quiet', '--log-format', 'json', ...(entry.flags ?? [])], entry.env?.(ctx));
  let ended = false;
  void agentRun.exited.then(() => (ended = true));
  let stdout = '';
  agentRun.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  ctx.stdout = () => stdout;
  try {
    await waitFor(() => ended || agentRun.output().includes('"msg":"agent started"'), `${label} to start`, 30_000);
    expect(agentRun.output()).toContain('"msg":"agent started"');
    // `agent started` comes once every source listens.
    ctx.ports = listenedPorts(agentRun.output());
    await entry.feed?.(ctx);
    const done = entry.done;
    await waitFor(() => ended || (done !== undefined && done(ctx)), done ? `${label}'s events to arrive` : `${label} to finish its source`, 30_000);
  } finally {
    await agentRun.stop();
  }
  const { code, stderr } = await agentRun.exited;
  const stopped = stderr.split('\n').find((l) => l.includes('"msg":"agent stopped"'));
  const metrics = stopped ? (JSON.parse(stopped) as { metrics: Result['metrics'] }).metrics : {};
  return { ...ctx, code, metrics, output: agentRun.output().slice(-20_000) };
}
