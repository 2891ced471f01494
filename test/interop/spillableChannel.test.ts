/**
 * The spillable memory channel (`SPILLABLEMEMORY`) against a real Apache Flume 1.11.0 agent: one
 * properties text, run by Flume (with its HTTP sink's jar: scripts/flume.ts FLUME_SINK_JARS) and by rxflume
 * (loaded with loadAgentConfigTexts, run by runAgent). Per probe a netcat source feeds a spillable
 * channel (`overflowTimeout = 0`: a put that fits neither part fails at once; `keep-alive`, which Flume ignores
 * there, set too) drained
 * by an http sink whose requests the test's server holds unanswered until every line was sent, one at a
 * time: the answers (OK, then FAILED once memory and overflow are full) must be the same — a taken,
 * unanswered event still holds its room on both — and, once the server answers, the events must come
 * out in the same order (memory's older events, then the spilled ones).
 *
 * Covered: `memoryCapacity` and `overflowCapacity`, `overflowCapacity = 0` (a memory channel),
 * `memoryCapacity = 0` (every put spills), `byteCapacity` with `avgEventSize` and
 * `byteCapacityBufferPercentage` (Flume's slots), a byte-full memory spilling.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { scratch } from '../support/cli.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { FLUME_SINK_JARS, flumeExtraJars, withFlumeJars } from '../support/flumeJars.js';
import { netcatSend, sleep } from '../support/net.js';

const env = withFlumeJars(flumeEnv(), FLUME_SINK_JARS);

interface Probe {
  name: string;
  keys: string[];
  sent: number;
  /** Body length of each line (its index in front, padded with x). */
  body?: number;
}

const PROBES: Probe[] = [
  { name: 'm3_o4', keys: ['memoryCapacity = 3', 'overflowCapacity = 4', 'transactionCapacity = 3'], sent: 10 },
  { name: 'm3_o0', keys: ['memoryCapacity = 3', 'overflowCapacity = 0', 'transactionCapacity = 3'], sent: 6 },
  { name: 'm0_o3', keys: ['memoryCapacity = 0', 'overflowCapacity = 3', 'transactionCapacity = 3'], sent: 6 },
  // 1000 × 0.8 / 300 = 2 slots of 300 bytes: two 250-byte bodies fill memory by bytes, 3 more spill.
  { name: 'bytes', keys: ['memoryCapacity = 10', 'overflowCapacity = 3', 'transactionCapacity = 3', 'byteCapacity = 1000', 'avgEventSize = 300'], sent: 8, body: 250 },
  // 1000 × 0.5 / 100 = 5 slots; 150-byte bodies take 2 each: 2 in memory, then 2 spill.
  {
    name: 'bytes_pct',
    keys: ['memoryCapacity = 10', 'overflowCapacity = 2', 'transactionCapacity = 2', 'byteCapacity = 1000', 'byteCapacityBufferPercentage = 50', 'avgEventSize = 100'],
    sent: 7,
    body: 150,
  },
];

const lineOf = (p: Probe, i: number): string => (p.body ? `${i}`.padEnd(p.body, 'x') : `${p.name} ${i}`);

function conf(ports: Map<string, number>, side: string, server: number, dir: string): string {
  const lines = [`a1.sources = ${PROBES.map((p) => `r_${p.name}`).join(' ')}`, `a1.channels = ${PROBES.map((p) => `c_${p.name}`).join(' ')}`, `a1.sinks = ${PROBES.map((p) => `k_${p.name}`).join(' ')}`];
  for (const p of PROBES) {
    const [r, c, k] = [`a1.sources.r_${p.name}`, `a1.channels.c_${p.name}`, `a1.sinks.k_${p.name}`];
    lines.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${ports.get(p.name)!}`, `${r}.channels = c_${p.name}`, `${r}.max-line-length = 1000`);
    lines.push(`${c}.type = SPILLABLEMEMORY`, `${c}.overflowTimeout = 0`, `${c}.keep-alive = 0`, `${c}.minimumRequiredSpace = 1048576`);
    lines.push(`${c}.checkpointDir = ${dir}/${p.name}/checkpoint`, `${c}.dataDirs = ${dir}/${p.name}/data`, ...p.keys.map((key) => `${c}.${key}`));
    // The test's server holds the first request until every probe's lines were answered: under a loaded
    // machine that can pass a minute, and a request timing out is resent (a duplicate on either side).
    lines.push(`${k}.type = http`, `${k}.channel = c_${p.name}`, `${k}.endpoint = http://127.0.0.1:${server}/${side}/${p.name}`, `${k}.requestTimeout = 140000`);
    lines.push(`${k}.backoff.200 = false`, `${k}.rollback.200 = false`);
  }
  return `${lines.join('\n')}\n`;
}

describe.skipIf(env.skip)(`spillable memory channel vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-smc-interop-');
  let server: Server | undefined;
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  const bodies = new Map<string, string[]>();
  const answers = new Map<string, string[]>();
  const held: ServerResponse[] = [];
  let holding = true;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = (req.url ?? '').slice(1);
        bodies.set(key, [...(bodies.get(key) ?? []), Buffer.concat(chunks).toString()]);
        if (holding) held.push(res);
        else res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const free = await freePorts(2 * PROBES.length);
    const flumePorts = new Map(PROBES.map((p) => [p.name, free.pop()!]));
    const ourPorts = new Map(PROBES.map((p) => [p.name, free.pop()!]));
    agent = await startFlumeAgent({ conf: conf(flumePorts, 'flume', port, '{{dir}}'), classpath: await flumeExtraJars(FLUME_SINK_JARS) });
    const loaded = await loadAgentConfigTexts([{ file: 'spillable.conf', text: conf(ourPorts, 'rxflume', port, work.dir) }], 'a1');
    // keep-alive is taken as Flume takes it: ignored (a warning), overflowTimeout bounding the wait.
    const ignored = (d: { severity: string; message: string }): boolean => d.severity === 'warning' && /ignores keep-alive/.test(d.message);
    expect(loaded.diagnostics.filter(ignored)).toHaveLength(PROBES.length);
    expect(loaded.diagnostics.filter((d) => !ignored(d)).map((d) => d.message)).toEqual([]);
    ours = runAgent(loaded.topology);
    await Promise.all(
      PROBES.flatMap((p) => {
        const lines = Array.from({ length: p.sent }, (_, i) => lineOf(p, i));
        return [
          netcatSend(flumePorts.get(p.name)!, lines, true).then((a) => answers.set(`flume/${p.name}`, a)),
          netcatSend(ourPorts.get(p.name)!, lines, true).then((a) => answers.set(`rxflume/${p.name}`, a)),
        ];
      }),
    );
    holding = false;
    for (const res of held.splice(0)) res.end();
    const accepted = (key: string): number => answers.get(key)!.filter((a) => a === 'OK').length;
    const until = Date.now() + 60_000;
    const done = (): boolean => PROBES.every((p) => ['flume', 'rxflume'].every((s) => (bodies.get(`${s}/${p.name}`)?.length ?? 0) >= accepted(`${s}/${p.name}`)));
    while (!done() && Date.now() < until) await sleep(100);
    await sleep(1000);
  }, 150_000);

  afterAll(async () => {
    holding = false;
    for (const res of held.splice(0)) res.end();
    await ours?.stop({ timeoutMs: 2000 }).catch(() => undefined);
    await agent?.stop();
    await new Promise((r) => server?.close(r));
    work.cleanup();
  }, 60_000);

  it("Flume's answers are memory's room plus the overflow's (in events, or in byte slots): the cases spill", () => {
    const ok = (p: string): number => answers.get(`flume/${p}`)!.filter((a) => a === 'OK').length;
    expect(Object.fromEntries(PROBES.map((p) => [p.name, ok(p.name)]))).toEqual({ m3_o4: 7, m3_o0: 3, m0_o3: 3, bytes: 5, bytes_pct: 4 });
  });

  for (const p of PROBES)
    it(`${p.keys.join(', ')}: the same answers (OK until memory and overflow are full, then FAILED), then the same events out, in order`, () => {
      const f = answers.get(`flume/${p.name}`)!;
      expect(f).toHaveLength(p.sent);
      expect(f.every((a) => a === 'OK' || a === 'FAILED'), f.join(',')).toBe(true);
      expect(answers.get(`rxflume/${p.name}`)).toEqual(f);
      const out = bodies.get(`flume/${p.name}`) ?? [];
      expect(out.length).toBeGreaterThan(0);
      expect(out).toEqual(Array.from({ length: f.filter((a) => a === 'OK').length }, (_, i) => lineOf(p, i)));
      expect(bodies.get(`rxflume/${p.name}`)).toEqual(out);
    });

});
