/**
 * Sink groups against a real Apache Flume 1.11.0 agent: the same properties run by Flume and by rxflume
 * (loaded with loadAgentConfigTexts, run by runAgent), each side on its own ports and directories; every
 * event is a numbered line, so each one is counted on every sink (file_roll, TEXT) and on the Avro
 * receiver that stands for a destination which is down, then comes up.
 *
 * Exactly observable, compared exactly:
 * - `load_balance` round_robin over three file_roll sinks draining a file channel the first run filled
 *   (transactionCapacity = batchSize = 3): each process() finds a full batch, so Flume's rotation per
 *   batch is k1, k2, k3, k1, … and each sink's lines must be the same on both sides.
 * - `failover` (priorities 10, 5, 1; maxpenalty 1000) whose top sink is an Avro sink to a closed port:
 *   while it is down every event goes to the priority-5 sink, none to the priority-1 one; once the
 *   receiver listens, probes are sent one at a time until one reaches it (when is timing: the penalty
 *   and the runner's back-off), and from then on every event goes to it (fail-back to the top sink).
 * Timing-dependent, compared as invariants (none lost, none duplicated, all on live sinks):
 * - `load_balance` random over file_roll sinks on the same filled file channel (each sink keeps order);
 * - `load_balance` round_robin with backoff (selector.maxTimeOut 2000) and random without backoff, each
 *   with one Avro sink whose destination is down (the first comes up with the receiver): which live
 *   sink takes a batch depends on when Flume's single runner thread polls.
 *
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { scratch } from '../support/cli.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { netcatSend, sleep } from '../support/net.js';

const env = flumeEnv();
type SideName = 'flume' | 'rxflume';
const SIDES: SideName[] = ['flume', 'rxflume'];

const FILLED = Array.from({ length: 14 }, (_, i) => `fill ${i}`);
const RR_SINKS = ['k_rr1', 'k_rr2', 'k_rr3'];
const RND_SINKS = ['k_rnd1', 'k_rnd2'];
/** Failover: the top sink (Avro, to the receiver) and the two file_roll sinks under it. */
const FO_FILE_SINKS = ['k_fo5', 'k_fo1'];
const LB_SINKS = ['k_lbx', 'k_lby'];
const LBN_SINKS = ['k_lbnp', 'k_lbnq'];
const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
const FO_DOWN = lines('fo down', 5);
const FO_UP = lines('fo up', 5);
const LB_DOWN = lines('lb down', 12);
const LB_UP = lines('lb up', 12);
const LBN = lines('lbn', 12);

interface Side {
  out: string;
  fill: number;
  fo: number;
  lb: number;
  lbn: number;
  /** The receiver's Avro port: closed until the receiver starts. */
  receiver: number;
  /** A port nobody listens on. */
  dead: number;
}

const fileRoll = (name: string, channel: string, dir: string, batch: number) => [
  `a1.sinks.${name}.type = file_roll`,
  `a1.sinks.${name}.channel = ${channel}`,
  `a1.sinks.${name}.sink.directory = ${dir}/${name}`,
  `a1.sinks.${name}.sink.rollInterval = 0`,
  `a1.sinks.${name}.sink.batchSize = ${batch}`,
];
const avro = (name: string, channel: string, port: number) => [
  `a1.sinks.${name}.type = avro`,
  `a1.sinks.${name}.channel = ${channel}`,
  `a1.sinks.${name}.hostname = 127.0.0.1`,
  `a1.sinks.${name}.port = ${port}`,
  `a1.sinks.${name}.batch-size = 10`,
];
const netcat = (name: string, port: number, channels: string) => [
  `a1.sources.${name}.type = netcat`,
  `a1.sources.${name}.bind = 127.0.0.1`,
  `a1.sources.${name}.port = ${port}`,
  `a1.sources.${name}.channels = ${channels}`,
];
const fileChannel = (name: string, dir: string) => [
  `a1.channels.${name}.type = file`,
  `a1.channels.${name}.checkpointDir = ${dir}/${name}/checkpoint`,
  `a1.channels.${name}.dataDirs = ${dir}/${name}/data`,
  `a1.channels.${name}.minimumRequiredSpace = 1048576`,
  `a1.channels.${name}.capacity = 100`,
  `a1.channels.${name}.transactionCapacity = 3`,
];
const memoryChannel = (name: string) => [`a1.channels.${name}.type = memory`, `a1.channels.${name}.capacity = 1000`, `a1.channels.${name}.transactionCapacity = 10`];

/** Phase 1 fills the file channels (no sinks); phase 2 drains them through sink groups and runs the failover and load-balance groups. */
function conf(s: Side, phase: 1 | 2): string {
  const filled = [...fileChannel('c_rr', s.out), ...fileChannel('c_rnd', s.out)];
  if (phase === 1) return [`a1.sources = r_fill`, 'a1.channels = c_rr c_rnd', ...netcat('r_fill', s.fill, 'c_rr c_rnd'), ...filled, ''].join('\n');
  const sinks = ['k_fo10', ...FO_FILE_SINKS, 'k_lbdown', ...LB_SINKS, 'k_lbndead', ...LBN_SINKS];
  return [
    'a1.sources = r_fo r_lb r_lbn',
    'a1.channels = c_rr c_rnd c_fo c_lb c_lbn',
    `a1.sinks = ${[...RR_SINKS, ...RND_SINKS, ...sinks].join(' ')}`,
    'a1.sinkgroups = g_rr g_rnd g_fo g_lb g_lbn',
    ...filled,
    ...RR_SINKS.flatMap((k) => fileRoll(k, 'c_rr', s.out, 3)),
    ...RND_SINKS.flatMap((k) => fileRoll(k, 'c_rnd', s.out, 3)),
    `a1.sinkgroups.g_rr.sinks = ${RR_SINKS.join(' ')}`,
    'a1.sinkgroups.g_rr.processor.type = load_balance',
    'a1.sinkgroups.g_rr.processor.selector = round_robin',
    `a1.sinkgroups.g_rnd.sinks = ${RND_SINKS.join(' ')}`,
    'a1.sinkgroups.g_rnd.processor.type = load_balance',
    'a1.sinkgroups.g_rnd.processor.selector = random',

    ...netcat('r_fo', s.fo, 'c_fo'),
    ...memoryChannel('c_fo'),
    ...avro('k_fo10', 'c_fo', s.receiver),
    ...FO_FILE_SINKS.flatMap((k) => fileRoll(k, 'c_fo', s.out, 10)),
    `a1.sinkgroups.g_fo.sinks = k_fo10 ${FO_FILE_SINKS.join(' ')}`,
    'a1.sinkgroups.g_fo.processor.type = failover',
    'a1.sinkgroups.g_fo.processor.priority.k_fo10 = 10',
    'a1.sinkgroups.g_fo.processor.priority.k_fo5 = 5',
    'a1.sinkgroups.g_fo.processor.priority.k_fo1 = 1',
    'a1.sinkgroups.g_fo.processor.maxpenalty = 1000',

    ...netcat('r_lb', s.lb, 'c_lb'),
    ...memoryChannel('c_lb'),
    ...avro('k_lbdown', 'c_lb', s.receiver),
    ...LB_SINKS.flatMap((k) => fileRoll(k, 'c_lb', s.out, 10)),
    `a1.sinkgroups.g_lb.sinks = k_lbdown ${LB_SINKS.join(' ')}`,
    'a1.sinkgroups.g_lb.processor.type = load_balance',
    'a1.sinkgroups.g_lb.processor.selector = round_robin',
    'a1.sinkgroups.g_lb.processor.backoff = true',
    'a1.sinkgroups.g_lb.processor.selector.maxTimeOut = 2000',

    ...netcat('r_lbn', s.lbn, 'c_lbn'),
    ...memoryChannel('c_lbn'),
    ...avro('k_lbndead', 'c_lbn', s.dead),
    ...LBN_SINKS.flatMap((k) => fileRoll(k, 'c_lbn', s.out, 10)),
    `a1.sinkgroups.g_lbn.sinks = k_lbndead ${LBN_SINKS.join(' ')}`,
    'a1.sinkgroups.g_lbn.processor.type = load_balance',
    'a1.sinkgroups.g_lbn.processor.selector = random',
    '',
  ].join('\n');
}

/** The receiver: one Avro source per side, each into its own file_roll directory. */
function receiverConf(sides: Record<SideName, Side>, dir: string): string {
  return [
    'a1.sources = r_flume r_rxflume',
    'a1.channels = c_flume c_rxflume',
    'a1.sinks = k_flume k_rxflume',
    ...SIDES.flatMap((side) => [
      `a1.sources.r_${side}.type = avro`,
      `a1.sources.r_${side}.bind = 127.0.0.1`,
      `a1.sources.r_${side}.port = ${sides[side].receiver}`,
      `a1.sources.r_${side}.channels = c_${side}`,
      ...memoryChannel(`c_${side}`),
      ...fileRoll(`k_${side}`, `c_${side}`, dir, 10),
    ]),
    '',
  ].join('\n');
}

/** The lines of every file in `dir` (file_roll TEXT: one event a line), files in name order. */
async function linesIn(dir: string): Promise<string[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).sort();
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('').split('\n').filter(Boolean);
}

/** Polls until `dirs` together hold every one of `wanted` (40 s at most); returns each dir's lines. */
async function until(dirs: string[], wanted: readonly string[], timeoutMs = 40_000): Promise<string[][]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await Promise.all(dirs.map(linesIn));
    const all = new Set(got.flat());
    if (wanted.every((w) => all.has(w)) || Date.now() > end) return got;
    await sleep(100);
  }
}

describe.skipIf(env.skip)(`sink processors (failover, load_balance) vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-sinkgroups-interop-');
  const sides = {} as Record<SideName, Side>;
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  let receiver: RunningAgent | undefined;
  const receiverDir = join(work.dir, 'receiver');
  /** `<side>/<sink>` → the lines that sink wrote, at the end. */
  const out = new Map<string, string[]>();
  /** The failover probes each side needed until one reached the recovered top sink. */
  const probes = {} as Record<SideName, { sent: string[]; landed: string | undefined }>;

  const dirOf = (side: SideName, sink: string) => join(sides[side].out, sink);
  const recvDir = (side: SideName) => join(receiverDir, `k_${side}`);

  async function runOurs(phase: 1 | 2): Promise<RunningAgent> {
    const loaded = await loadAgentConfigTexts([{ file: `groups${phase}.conf`, text: conf(sides.rxflume, phase) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    return runAgent(loaded.topology);
  }

  /** Sends `probe n` lines one at a time until one reaches the receiver (the failover group's fail-back), for 60 s at most. */
  async function probeUntilRecovered(side: SideName): Promise<void> {
    probes[side] = { sent: [], landed: undefined };
    const end = Date.now() + 60_000;
    for (let i = 0; Date.now() < end && probes[side].landed === undefined; i++) {
      const line = `fo probe ${i}`;
      probes[side].sent.push(line);
      expect(await netcatSend(sides[side].fo, [line])).toEqual(['OK']);
      const [recv] = await until([recvDir(side), ...FO_FILE_SINKS.map((k) => dirOf(side, k))], [line], 15_000);
      if (recv!.includes(line)) probes[side].landed = line;
      else await sleep(300);
    }
  }

  beforeAll(async () => {
    const ports = await freePorts(12);
    for (const [i, side] of SIDES.entries()) {
      const [fill, fo, lb, lbn, recv, dead] = ports.slice(6 * i, 6 * i + 6) as [number, number, number, number, number, number];
      // Both sides write under the scratch folder: Flume's second run must find the first run's channels.
      sides[side] = { out: join(work.dir, side), fill, fo, lb, lbn, receiver: recv, dead };
    }
    const sinkDirs = [...RR_SINKS, ...RND_SINKS, ...FO_FILE_SINKS, ...LB_SINKS, ...LBN_SINKS];
    for (const side of SIDES) for (const k of sinkDirs) mkdirSync(join(sides[side].out, k), { recursive: true });
    for (const side of SIDES) mkdirSync(join(receiverDir, `k_${side}`), { recursive: true });

    // Phase 1, both sides at once: fill the file channels, stop.
    const fill = async (side: SideName): Promise<void> => expect(await netcatSend(sides[side].fill, FILLED, true)).toEqual(FILLED.map(() => 'OK'));
    await Promise.all([
      (async () => {
        const a = await startFlumeAgent({ conf: conf(sides.flume, 1) });
        try {
          await fill('flume');
        } finally {
          await a.stop();
        }
      })(),
      (async () => {
        const r = await runOurs(1);
        await fill('rxflume');
        // Nothing drains phase 1's channels: the stop times out on them, then releases their directories.
        await r.stop({ timeoutMs: 1000 }).catch((error: unknown) => {
          if (!/did not drain/.test(String(error))) throw error;
        });
      })(),
    ]);

    // Phase 2: the sink groups; the receiver is down.
    agent = await startFlumeAgent({ conf: conf(sides.flume, 2) });
    ours = await runOurs(2);
    await Promise.all(
      SIDES.map(async (side) => {
        const s = sides[side];
        expect(await netcatSend(s.fo, FO_DOWN, true)).toEqual(FO_DOWN.map(() => 'OK'));
        expect(await netcatSend(s.lb, LB_DOWN, true)).toEqual(LB_DOWN.map(() => 'OK'));
        expect(await netcatSend(s.lbn, LBN, true)).toEqual(LBN.map(() => 'OK'));
        await Promise.all([
          until(RR_SINKS.map((k) => dirOf(side, k)), FILLED),
          until(RND_SINKS.map((k) => dirOf(side, k)), FILLED),
          until(FO_FILE_SINKS.map((k) => dirOf(side, k)), FO_DOWN),
          until(LB_SINKS.map((k) => dirOf(side, k)), LB_DOWN),
          until(LBN_SINKS.map((k) => dirOf(side, k)), LBN),
        ]);
        for (const k of sinkDirs) out.set(`${side}/down/${k}`, await linesIn(dirOf(side, k)));
        out.set(`${side}/down/receiver`, await linesIn(recvDir(side)));
      }),
    );

    // The receiver comes up: the failover group fails back, the load-balancing one takes the sink back in.
    const loaded = await loadAgentConfigTexts([{ file: 'receiver.conf', text: receiverConf(sides, receiverDir) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    receiver = runAgent(loaded.topology);
    await Promise.all(
      SIDES.map(async (side) => {
        await probeUntilRecovered(side);
        const s = sides[side];
        expect(await netcatSend(s.fo, FO_UP, true)).toEqual(FO_UP.map(() => 'OK'));
        expect(await netcatSend(s.lb, LB_UP, true)).toEqual(LB_UP.map(() => 'OK'));
        await Promise.all([until([recvDir(side)], FO_UP), until([recvDir(side), ...LB_SINKS.map((k) => dirOf(side, k))], LB_UP)]);
        for (const k of sinkDirs) out.set(`${side}/${k}`, await linesIn(dirOf(side, k)));
        out.set(`${side}/receiver`, await linesIn(recvDir(side)));
      }),
    );
  }, 300_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 3000 }).catch(() => undefined);
    await receiver?.stop({ timeoutMs: 3000 }).catch(() => undefined);
    await agent?.stop();
    work.cleanup();
  }, 60_000);

  const of = (side: SideName, sink: string): string[] => out.get(`${side}/${sink}`) ?? [];
  const only = (list: string[], prefix: string) => list.filter((l) => l.startsWith(prefix));
  const sorted = (list: string[]) => [...list].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

  it('load_balance round_robin on a full channel: batch by batch k_rr1, k_rr2, k_rr3, k_rr1, … — the same lines on each sink', () => {
    const f = RR_SINKS.map((k) => of('flume', k));
    expect(f).toEqual([
      [0, 1, 2, 9, 10, 11],
      [3, 4, 5, 12, 13],
      [6, 7, 8],
    ].map((ns) => ns.map((n) => `fill ${n}`)));
    expect(RR_SINKS.map((k) => of('rxflume', k))).toEqual(f);
  });

  it('load_balance random (timing and chance): every event once, each sink in channel order', () => {
    for (const side of SIDES) {
      const per = RND_SINKS.map((k) => of(side, k));
      expect({ side, all: sorted(per.flat()) }).toEqual({ side, all: sorted(FILLED) });
      for (const list of per) expect({ side, list }).toEqual({ side, list: sorted(list) });
    }
  });

  it('failover, top sink down: every event on the priority-5 sink, in order, none on priority 1', () => {
    for (const side of SIDES) {
      expect({ side, fo5: of(side, 'down/k_fo5'), fo1: of(side, 'down/k_fo1'), recv: of(side, 'down/receiver') }).toEqual({ side, fo5: FO_DOWN, fo1: [], recv: [] });
    }
  });

  it('failover, top sink back: after the first probe that reached it, every event goes to it (fail-back), none lost or doubled', () => {
    for (const side of SIDES) {
      const { sent, landed } = probes[side];
      const recv = of(side, 'receiver');
      expect({ side, landed }).toEqual({ side, landed: expect.stringMatching(/^fo probe /) });
      expect({ side, up: only(recv, 'fo up') }).toEqual({ side, up: FO_UP });
      expect({ side, fo5: only(of(side, 'k_fo5'), 'fo up'), fo1: of(side, 'k_fo1') }).toEqual({ side, fo5: [], fo1: [] });
      // Probes before the one that landed went to the priority-5 sink; each probe exactly once.
      const all = [...only(recv, 'fo probe'), ...only(of(side, 'k_fo5'), 'fo probe')];
      expect({ side, probes: sorted(all) }).toEqual({ side, probes: sorted(sent) });
      expect({ side, landed: only(recv, 'fo probe') }).toEqual({ side, landed: [landed] });
    }
  });

  it('load_balance round_robin with backoff, one destination down then up (timing): none lost, none doubled, nothing sent to it while down', () => {
    for (const side of SIDES) {
      expect({ side, recv: only(of(side, 'down/receiver'), 'lb') }).toEqual({ side, recv: [] });
      const all = [...only(of(side, 'receiver'), 'lb '), ...LB_SINKS.flatMap((k) => of(side, k))];
      expect({ side, all: sorted(all) }).toEqual({ side, all: sorted([...LB_DOWN, ...LB_UP]) });
    }
  });

  it('load_balance random without backoff, one destination never up (timing): every event once, on the live sinks', () => {
    for (const side of SIDES) {
      const all = LBN_SINKS.flatMap((k) => of(side, k));
      expect({ side, all: sorted(all) }).toEqual({ side, all: sorted(LBN) });
    }
  });
});
