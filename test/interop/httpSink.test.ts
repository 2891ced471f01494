/**
 * The HTTP sink (`http`) against a real Apache Flume 1.11.0 agent: one properties text, run by Flume
 * (its flume-http-sink jar on the classpath: scripts/flume.ts FLUME_SINK_JARS) and by rxflume (loaded with
 * loadAgentConfigTexts, run by runAgent). Per probe a netcat source feeds a memory channel drained by an
 * http sink; both agents POST to one HTTP server the test runs, at `/<side>/<probe>`, which answers
 * each request with the probe's status for that body and attempt (a 500, 503 or 400 once, then 200)
 * and records method, path, headers and body. The requests each side made — in order, re-sends
 * included — must be the same.
 *
 * Covered: `contentTypeHeader`/`acceptHeader`, empty bodies (not sent), the User Guide's
 * `backoff.200 = false` / `rollback.200 = false`, a 500 under the default rollback (the event is sent
 * again), `rollback.503 = false` (committed: not sent again), a class override `rollback.4XX = false`,
 * `defaultRollback = false` with `defaultBackoff = false`. Channels have `transactionCapacity = 1`, so a
 * take is one event on both sides (Flume's sink takes one event per transaction whatever the channel).
 *
 * DIFFERS, pinned: with no overrides Flume rolls a 200 back and sends the same event again and again;
 * rxflume commits a 2XX (`defaults`). A rollback in the middle of a batch of several events sends the
 * earlier ones again in rxflume (its batch is one transaction), where Flume's one-event transactions
 * send only the refused one again (`burst`).
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { FLUME_SINK_JARS, flumeExtraJars, withFlumeJars } from '../support/flumeJars.js';
import { netcatSend, sleep } from '../support/net.js';

const env = withFlumeJars(flumeEnv(), FLUME_SINK_JARS);
const OK_OVERRIDES = ['backoff.200 = false', 'rollback.200 = false'];

interface Probe {
  name: string;
  /** Sink key lines besides type, channel and endpoint. */
  keys: string[];
  lines: string[];
  /** The status answered to `body` on its `attempt`th request (1-based). */
  status(body: string, attempt: number): number;
  /** Requests each side makes once done (Flume's), to wait for. */
  expected: number;
  /** Sent in one write (several events in one take for rxflume) instead of one line at a time. */
  burst?: boolean;
  transactionCapacity?: number;
}

const onceThen = (code: number, failing: string) => (body: string, attempt: number) => (body === failing && attempt === 1 ? code : 200);

const PROBES: Probe[] = [
  {
    name: 'headers',
    keys: [...OK_OVERRIDES, 'contentTypeHeader = application/json', 'acceptHeader = application/x-test'],
    lines: ['{"a":1}', '', 'plain é€'],
    status: () => 200,
    expected: 2,
  },
  { name: 'defaults_off', keys: ['defaultRollback = false', 'defaultBackoff = false'], lines: ['o0', 'o1', 'o2'], status: onceThen(500, 'o1'), expected: 3 },
  { name: 's500', keys: OK_OVERRIDES, lines: ['e0', 'e1', 'e2'], status: onceThen(500, 'e1'), expected: 4 },
  { name: 's503', keys: [...OK_OVERRIDES, 'rollback.503 = false', 'backoff.503 = true'], lines: ['g0', 'g1', 'g2'], status: onceThen(503, 'g1'), expected: 3 },
  { name: 's400', keys: [...OK_OVERRIDES, 'rollback.4XX = false'], lines: ['h0', 'h1', 'h2'], status: onceThen(400, 'h1'), expected: 3 },
  { name: 's400_exact', keys: [...OK_OVERRIDES, 'rollback.4XX = false', 'rollback.400 = true'], lines: ['j0', 'j1', 'j2'], status: onceThen(400, 'j1'), expected: 4 },
  // DIFFERS (see the file's comment).
  { name: 'defaults', keys: [], lines: ['d0', 'd1'], status: () => 200, expected: 2 },
  { name: 'burst', keys: OK_OVERRIDES, lines: ['f0', 'f1', 'f2'], status: onceThen(500, 'f1'), expected: 4, burst: true, transactionCapacity: 10 },
];

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
}

function conf(ports: Map<string, number>, side: string, server: number): string {
  const lines = [`a1.sources = ${PROBES.map((p) => `r_${p.name}`).join(' ')}`, `a1.channels = ${PROBES.map((p) => `c_${p.name}`).join(' ')}`, `a1.sinks = ${PROBES.map((p) => `k_${p.name}`).join(' ')}`];
  for (const p of PROBES) {
    const [r, c, k] = [`a1.sources.r_${p.name}`, `a1.channels.c_${p.name}`, `a1.sinks.k_${p.name}`];
    lines.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${ports.get(p.name)!}`, `${r}.channels = c_${p.name}`);
    lines.push(`${c}.type = memory`, `${c}.capacity = 100`, `${c}.transactionCapacity = ${p.transactionCapacity ?? 1}`);
    lines.push(`${k}.type = http`, `${k}.channel = c_${p.name}`, `${k}.endpoint = http://127.0.0.1:${server}/${side}/${p.name}`, ...p.keys.map((key) => `${k}.${key}`));
  }
  return `${lines.join('\n')}\n`;
}

describe.skipIf(env.skip)(`http sink vs Apache Flume 1.11.0${env.note}`, () => {
  let server: Server | undefined;
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  /** `<side>/<probe>` → requests in arrival order. */
  const seen = new Map<string, Recorded[]>();
  const requests = (side: string, probe: string): Recorded[] => seen.get(`${side}/${probe}`) ?? [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const [, side, probe] = (req.url ?? '').split('/');
        const list = seen.get(`${side}/${probe}`) ?? [];
        seen.set(`${side}/${probe}`, list);
        const body = Buffer.concat(chunks).toString('utf8');
        const { 'content-type': contentType, accept, 'content-length': length, 'transfer-encoding': encoding } = req.headers;
        list.push({ method: req.method!, path: req.url!, headers: { contentType, accept, length, encoding }, body });
        const p = PROBES.find((x) => x.name === probe);
        res.statusCode = p ? p.status(body, list.filter((r) => r.body === body).length) : 404;
        res.end('answer');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const free = await freePorts(2 * PROBES.length);
    const flumePorts = new Map(PROBES.map((p) => [p.name, free.pop()!]));
    const ourPorts = new Map(PROBES.map((p) => [p.name, free.pop()!]));
    agent = await startFlumeAgent({ conf: conf(flumePorts, 'flume', port), classpath: await flumeExtraJars(FLUME_SINK_JARS) });
    const loaded = await loadAgentConfigTexts([{ file: 'httpSink.conf', text: conf(ourPorts, 'rxflume', port) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    ours = runAgent(loaded.topology);
    await Promise.all(
      PROBES.flatMap((p) => [
        netcatSend(flumePorts.get(p.name)!, p.lines, !p.burst),
        netcatSend(ourPorts.get(p.name)!, p.lines, !p.burst),
      ]),
    );
    // Every probe's requests on both sides (Flume's runner backs off up to 5 s), and Flume's `defaults`
    // re-sending; then a little longer for anything unexpected to show.
    const until = Date.now() + 60_000;
    const done = (): boolean =>
      PROBES.every((p) => requests('flume', p.name).length >= p.expected && requests('rxflume', p.name).length >= (p.name === 'burst' ? 5 : p.expected)) &&
      requests('flume', 'defaults').length >= 3;
    while (!done() && Date.now() < until) await sleep(100);
    await sleep(1500);
  }, 150_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 2000 }).catch(() => undefined);
    await agent?.stop();
    await new Promise((r) => server?.close(r));
  }, 60_000);

  const bodies = (side: string, probe: string): string[] => requests(side, probe).map((r) => r.body);

  it('method, path, Content-Type, Accept and bodies: the same requests; an empty body is not sent', () => {
    const f = requests('flume', 'headers');
    expect(f.map((r) => r.body)).toEqual(['{"a":1}', 'plain é€']);
    expect(f[0]!.method).toBe('POST');
    expect(f[0]!.headers).toMatchObject({ contentType: 'application/json', accept: 'application/x-test', length: '7' });
    expect(requests('rxflume', 'headers').map((r) => ({ ...r, path: r.path.replace('/rxflume/', '/flume/') }))).toEqual(f);
  });

  for (const [probe, what] of [
    ['defaults_off', 'defaultRollback = false, defaultBackoff = false: a 500 is committed, not sent again'],
    ['s500', 'a 500 under the default rollback: that event is sent again, then the rest'],
    ['s503', 'rollback.503 = false: a 503 is committed, not sent again'],
    ['s400', 'rollback.4XX = false: a class override commits a 400'],
    ['s400_exact', 'rollback.400 = true beats rollback.4XX = false: the 400 is sent again'],
  ] as const)
    it(`${what} (${probe})`, () => {
      const f = bodies('flume', probe);
      expect(f).toHaveLength(PROBES.find((p) => p.name === probe)!.expected);
      expect(bodies('rxflume', probe)).toEqual(f);
    });

  it('DIFFERS (defaults): Flume rolls a 200 back and sends it again and again; rxflume commits a 2XX', () => {
    const f = bodies('flume', 'defaults');
    expect(f.length).toBeGreaterThanOrEqual(3);
    expect(new Set(f)).toEqual(new Set(['d0']));
    expect(bodies('rxflume', 'defaults')).toEqual(['d0', 'd1']);
  });

  it("DIFFERS (burst): a rollback inside rxflume's batch sends its earlier events again; Flume's one-event takes send only the refused one", () => {
    expect(bodies('flume', 'burst')).toEqual(['f0', 'f1', 'f1', 'f2']);
    expect(bodies('rxflume', 'burst')).toEqual(['f0', 'f1', 'f0', 'f1', 'f2']);
  });
});
