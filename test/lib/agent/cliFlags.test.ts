/**
 * Issue #19 item 6: the agent's flags, each against the real CLI (dist/lib/agent/cli.js) — --drain-timeout
 * bounding a stop whose sink does not answer, a second SIGTERM/SIGINT stopping at once, Flume's
 * -Dflume.monitoring.type=http / -Dflume.monitoring.port, --monitor-bind and --log-level.
 *
 * The "slow sink" is an avro sink delivering to a real avroSource in this process whose sink holds every
 * batch (so the agent's avro sink waits for its answer) until the test releases them.
 */
import type { Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { avroSource } from '../../../lib/sources/avroSource.js';
import { scratch, seqTo, seqToAvro, startCli, type RunningCli } from '../../support/cli.js';
import { buildDist } from '../../support/examples.js';
import { freePort } from '../../support/hostile.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../../support/net.js';

const tmp = scratch('rxflume-cli-flags-');
const subscriptions: Subscription[] = [];
const agents: RunningCli[] = [];

beforeAll(() => buildDist(), 180_000);
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('SIGKILL');
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});
afterAll(() => tmp.cleanup());

/** A real Avro receiver whose sink holds every batch: the agent's avro sink gets no answer until `release()`. */
async function holdingReceiver(): Promise<{ port: number; sink: RecordingSink }> {
  const l = listening();
  const sink = recordingSink();
  sink.hold = true;
  subscriptions.push(avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening }).subscribe(sink));
  return { port: await l.port, sink };
}

function agent(conf: string, ...flags: string[]): RunningCli {
  const a = startCli(['agent', '-n', 'a1', '-f', tmp.write(`a${agents.length}-${Date.now()}.properties`, conf), '--quiet', ...flags]);
  agents.push(a);
  return a;
}

/** The JSON log lines the agent wrote (piped, it logs JSON). */
const logLines = (output: string): Array<{ level: number; msg: string }> =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });

async function getJson(url: string): Promise<{ status: number; body: Record<string, Record<string, string>> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, Record<string, string>> };
}

/** Polls `url` until it answers with `predicate` true (bounded: 100 tries, 200 ms apart). */
async function pollJson(url: string, predicate: (body: Record<string, Record<string, string>>) => boolean): Promise<Record<string, Record<string, string>>> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const r = await getJson(url).catch((error: unknown) => ({ status: 0, body: {}, error }));
    last = r;
    if (r.status === 200 && predicate(r.body)) return r.body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} never satisfied the condition; last answer ${JSON.stringify(last)}`);
}

const nullSinkConf = seqTo('null');

describe('rxflume agent --drain-timeout', () => {
  it('bounds the stop: with a sink that never answers, SIGTERM ends the agent after the drain timeout (exit 1), the events still unanswered', async () => {
    const receiver = await holdingReceiver();
    const a = agent(seqToAvro(`a1.sinks.k1.port = ${receiver.port}\n`), '--drain-timeout', '1');
    await a.waitFor(/agent started/);
    await waitFor(() => receiver.sink.held.length > 0, 'a batch held by the receiver');
    const result = await a.stop('SIGTERM');
    expect(result.code).toBe(1);
    expect(result.stderr + result.stdout).toMatch(/stop incomplete: agent did not drain within 1000 ms/);
    // The agent ended while its sink was still waiting: the drain timeout, not the sink, ended the stop.
    expect(receiver.sink.events).toHaveLength(0);
  }, 60_000);

  it('lets a drain finish within it: the agent keeps draining after SIGTERM and exits 0 once the sink answered every event', async () => {
    const receiver = await holdingReceiver();
    const monitorPort = await freePort();
    const a = agent(seqToAvro(`a1.sinks.k1.port = ${receiver.port}\n`), '--drain-timeout', '60', '--monitor-port', String(monitorPort));
    await a.waitFor(/agent started/);
    await waitFor(() => receiver.sink.held.length > 0, 'a batch held by the receiver');
    a.child.kill('SIGTERM');
    await a.waitFor(/stopping: sources stop/);
    // Draining, not stopped: the monitor says so while the receiver holds the batch.
    const health = await fetch(`http://127.0.0.1:${monitorPort}/health`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 503, body: { status: 'draining' } });
    receiver.sink.release();
    const result = await a.exited;
    expect(result.code).toBe(0);
    expect(receiver.sink.events.map((e) => e.body.toString()).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  }, 60_000);
});

describe('rxflume agent, a second signal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('a second %s while draining stops at once (exit 1), whatever the drain timeout', async (signal) => {
    const receiver = await holdingReceiver();
    const a = agent(seqToAvro(`a1.sinks.k1.port = ${receiver.port}\n`), '--drain-timeout', '600');
    await a.waitFor(/agent started/);
    await waitFor(() => receiver.sink.held.length > 0, 'a batch held by the receiver');
    a.child.kill(signal);
    await a.waitFor(/stopping: sources stop/);
    expect(a.child.exitCode).toBeNull();
    a.child.kill(signal);
    const result = await a.exited;
    expect(result.code).toBe(1);
    const lines = logLines(result.stderr + result.stdout);
    expect(lines.filter((l) => l.msg === 'second signal: stopping at once')).toEqual([expect.objectContaining({ level: 40, signal })]);
    expect(receiver.sink.events).toHaveLength(0);
  }, 60_000);
});

describe("rxflume agent, Flume's monitoring properties and --monitor-bind", () => {
  it('-Dflume.monitoring.type=http with -Dflume.monitoring.port serves Flume\'s metrics JSON there; the port alone starts no server', async () => {
    const port = await freePort();
    const a = agent(nullSinkConf, '-Dflume.monitoring.type=http', `-Dflume.monitoring.port=${port}`);
    await a.waitFor(/agent started/);
    const metrics = await pollJson(`http://127.0.0.1:${port}/metrics`, (m) => m['SINK.k1']?.['EventDrainSuccessCount'] === '20');
    expect(Object.keys(metrics).sort()).toEqual(['CHANNEL.c1', 'SINK.k1', 'SOURCE.r1']);
    expect(metrics['CHANNEL.c1']).toMatchObject({ Type: 'CHANNEL', EventPutSuccessCount: '20', EventTakeSuccessCount: '20' });
    expect(metrics['SOURCE.r1']).toMatchObject({ Type: 'SOURCE', EventAcceptedCount: '20' });
    await a.stop();

    const other = await freePort();
    const b = agent(nullSinkConf, `-Dflume.monitoring.port=${other}`);
    await b.waitFor(/agent started/);
    await expect(fetch(`http://127.0.0.1:${other}/metrics`)).rejects.toThrow();
    expect(b.output()).not.toMatch(/monitoring server listening/);
  }, 60_000);

  it('--monitor-bind: the monitor answers on the bound address and not on another', async () => {
    const port = await freePort();
    const a = agent(nullSinkConf, '--monitor-port', String(port), '--monitor-bind', '127.0.0.2');
    await a.waitFor(/agent started/);
    expect(await getJson(`http://127.0.0.2:${port}/health`)).toEqual({ status: 200, body: { status: 'running' } });
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    expect(logLines(a.output()).find((l) => l.msg === 'monitoring server listening')).toMatchObject({ bind: '127.0.0.2', port });
  }, 60_000);
});

describe('rxflume agent --log-level', () => {
  it('info (the default) logs the start; warn keeps only warnings (the failing sink); error drops those too', async () => {
    const closed = await freePort();
    const conf = seqToAvro(`a1.sinks.k1.port = ${closed}\n`);
    const failed = /write of \d+ events failed: k1: cannot connect/;

    const info = agent(conf, '--drain-timeout', '0');
    await info.waitFor(failed);
    const infoLines = logLines((await info.stop()).stderr);
    expect(infoLines.some((l) => l.level === 30 && l.msg === 'agent started')).toBe(true);

    const warn = agent(conf, '--drain-timeout', '0', '--log-level', 'warn');
    await warn.waitFor(failed);
    const warnLines = logLines((await warn.stop()).stderr);
    expect(warnLines.filter((l) => l.level < 40)).toEqual([]);
    expect(warnLines.some((l) => l.level === 40 && failed.test(l.msg))).toBe(true);

    // Nothing is logged at error while the sink fails: the monitor says when it has failed.
    const monitorPort = await freePort();
    const error = agent(conf, '--drain-timeout', '0', '--log-level', 'error', '--monitor-port', String(monitorPort));
    await pollJson(`http://127.0.0.1:${monitorPort}/metrics`, (m) => Number(m['SINK.k1']?.['ConnectionFailedCount'] ?? 0) >= 1);
    const errorLines = logLines((await error.stop()).stderr);
    // The one error-level line is the stop that could not drain (--drain-timeout 0).
    expect(errorLines.map((l) => [l.level, l.msg.slice(0, 16)])).toEqual([[50, 'stop incomplete:']]);
  }, 60_000);
});
