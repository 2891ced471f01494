/**
 * The memory channel's `byteCapacity` against a real Apache Flume 1.11.0 agent: one configuration, run
 * on Flume and on rxflume (loaded from the same properties text), where each netcat source (one answer
 * per line: OK or FAILED) feeds a memory channel that no sink drains; lines of a chosen length are sent
 * one at a time, and the answers — how many events each channel takes before it reports full — must be
 * the same. Flume counts body bytes in 100-byte slots: floor(byteCapacity × (1 − byteCapacityBufferPercentage
 * / 100) / 100) of them, each event taking ceil(body / 100), and under one slot means no byte bound.
 * `keep-alive = 0` makes a put that does not fit fail at once on both; `capacity` bounds the unbounded
 * cases. Only the first word of each answer is compared (the FAILED messages are worded differently).
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { netcatSend } from '../support/net.js';

const env = flumeEnv();
const CAPACITY = 12;
/** Lines sent to each channel: more than any of them takes. */
const SENT = CAPACITY + 3;

interface Channel {
  byteCapacity: number;
  percentage: number;
}
const CHANNELS: Channel[] = [
  { byteCapacity: 0, percentage: 20 }, // 0: unbounded in Flume
  { byteCapacity: 99, percentage: 0 }, // under one slot: unbounded
  { byteCapacity: 120, percentage: 20 }, // 96 bytes after the buffer: under one slot
  { byteCapacity: 125, percentage: 20 }, // exactly one slot after the buffer
  { byteCapacity: 1000, percentage: 0 }, // 10 slots
  { byteCapacity: 1099, percentage: 0 }, // 10 slots (the rest is cut)
  { byteCapacity: 1000, percentage: 20 }, // 8 slots
];
const BODIES = [1, 100, 101, 250];

interface Probe {
  channel: Channel;
  body: number;
  name: string;
  flumePort: number;
  ourPort: number;
}

/** `SENT` lines of `body` bytes. */
const linesOf = (body: number): string[] => Array.from({ length: SENT }, (_, i) => String(i % 10).repeat(body));

function conf(probes: Probe[], port: (p: Probe) => number): string {
  const lines = [`a1.sources = ${probes.map((p) => `r_${p.name}`).join(' ')}`, `a1.channels = ${probes.map((p) => `c_${p.name}`).join(' ')}`];
  for (const p of probes) {
    const r = `a1.sources.r_${p.name}`;
    const c = `a1.channels.c_${p.name}`;
    lines.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${port(p)}`, `${r}.max-line-length = 1000`, `${r}.channels = c_${p.name}`);
    lines.push(`${c}.type = memory`, `${c}.capacity = ${CAPACITY}`, `${c}.transactionCapacity = ${CAPACITY}`, `${c}.keep-alive = 0`);
    lines.push(`${c}.byteCapacity = ${p.channel.byteCapacity}`, `${c}.byteCapacityBufferPercentage = ${p.channel.percentage}`);
  }
  return `${lines.join('\n')}\n`;
}

describe.skipIf(env.skip)(`memory channel byteCapacity vs Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  const probes: Probe[] = [];
  const flume = new Map<string, string[]>();
  const rx = new Map<string, string[]>();

  beforeAll(async () => {
    const ports = await freePorts(2 * CHANNELS.length * BODIES.length);
    for (const channel of CHANNELS)
      for (const body of BODIES) probes.push({ channel, body, name: `b${channel.byteCapacity}_p${channel.percentage}_s${body}`, flumePort: ports.pop()!, ourPort: ports.pop()! });
    agent = await startFlumeAgent({ conf: conf(probes, (p) => p.flumePort) });
    const loaded = await loadAgentConfigTexts([{ file: 'memory.conf', text: conf(probes, (p) => p.ourPort) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    ours = runAgent(loaded.topology);
    // Flume's netcat sources log no start line, rxflume's listen once the topology started: netcatSend
    // connects again until each accepts; one line at a time, each answered before the next.
    await Promise.all(
      probes.map(async (p) => {
        flume.set(p.name, await netcatSend(p.flumePort, linesOf(p.body), true));
        rx.set(p.name, await netcatSend(p.ourPort, linesOf(p.body), true));
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 1000 }).catch(() => undefined);
    await agent?.stop();
  }, 60_000);

  const accepted = (answers: string[]): number => answers.filter((a) => a === 'OK').length;

  it('the cases exercise both bounds: some channels are full by bytes, some by capacity', () => {
    const counts = probes.map((p) => accepted(flume.get(p.name)!));
    expect(counts).toContain(CAPACITY);
    expect(counts.some((n) => n > 0 && n < CAPACITY)).toBe(true);
  });

  for (const channel of CHANNELS)
    for (const body of BODIES) {
      const name = `b${channel.byteCapacity}_p${channel.percentage}_s${body}`;
      it(`byteCapacity ${channel.byteCapacity}, byteCapacityBufferPercentage ${channel.percentage}, ${body}-byte bodies: the same events taken, then FAILED`, () => {
        const f = flume.get(name)!;
        expect(f).toHaveLength(SENT);
        expect(f.every((a) => a === 'OK' || a === 'FAILED'), f.join(',')).toBe(true);
        expect(rx.get(name)).toEqual(f);
      });
    }
});
