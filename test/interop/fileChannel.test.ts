/**
 * The file channel against a real Apache Flume 1.11.0 agent: one properties text per phase, run by Flume
 * and by rxflume (loaded with loadAgentConfigTexts, run by runAgent), each side on its own channel
 * directories.
 *
 * - Phase 1 (no sinks): a netcat source feeds `c_full` (capacity 5, keep-alive 0) one line at a time:
 *   the answers (OK until full, then FAILED) must be the same; another feeds `c_keep` and `c_tx`
 *   (transactionCapacity 3) through a replicating selector. Then both agents stop.
 * - Between the phases rxflume's CLI is pointed at Flume's channel directories: it must refuse to open
 *   them, naming Apache Flume's format, and leave every file byte for byte as it was (rxflume's log is a
 *   format of its own).
 * - Phase 2: each agent starts again on its own directories with file_roll sinks (header_and_text): what
 *   the first run stored comes out, in order, the same on both sides (and Flume's store was still whole
 *   after rxflume looked at it). `c_tx` is drained with batchSize = transactionCapacity = 3.
 *
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { runCli, scratch, type CliResult } from '../support/cli.js';
import { buildDist } from '../support/examples.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { netcatSend } from '../support/net.js';
import { rolledHeaderAndText } from '../support/sideBySide.js';

const env = flumeEnv();
const FULL_CAPACITY = 5;
const FULL_SENT = 8;
const KEPT = Array.from({ length: 8 }, (_, i) => `kept ${i} é€`);

type SideName = 'flume' | 'rxflume';
interface Side {
  base: string;
  fullPort: number;
  keepPort: number;
}

const channel = (base: string, name: string, keys: string[]): string[] => [
  `a1.channels.${name}.type = file`,
  `a1.channels.${name}.checkpointDir = ${base}/${name}/checkpoint`,
  `a1.channels.${name}.dataDirs = ${base}/${name}/data`,
  `a1.channels.${name}.minimumRequiredSpace = 1048576`,
  ...keys.map((k) => `a1.channels.${name}.${k}`),
];

function conf(side: Side, phase: 1 | 2): string {
  const lines = [
    'a1.sources = r_full r_keep',
    'a1.channels = c_full c_keep c_tx',
    ...['full', 'keep'].flatMap((n) => [
      `a1.sources.r_${n}.type = netcat`,
      `a1.sources.r_${n}.bind = 127.0.0.1`,
      `a1.sources.r_${n}.port = ${n === 'full' ? side.fullPort : side.keepPort}`,
    ]),
    'a1.sources.r_full.channels = c_full',
    'a1.sources.r_keep.channels = c_keep c_tx',
    ...channel(side.base, 'c_full', [`capacity = ${FULL_CAPACITY}`, `transactionCapacity = ${FULL_CAPACITY}`, 'keep-alive = 0']),
    ...channel(side.base, 'c_keep', ['capacity = 100', 'transactionCapacity = 100']),
    ...channel(side.base, 'c_tx', ['capacity = 100', 'transactionCapacity = 3']),
  ];
  if (phase === 2) {
    lines.push('a1.sinks = k_full k_keep k_tx');
    for (const [sink, ch, batch] of [
      ['k_full', 'c_full', 5],
      ['k_keep', 'c_keep', 100],
      ['k_tx', 'c_tx', 3],
    ] as const) {
      const k = `a1.sinks.${sink}`;
      lines.push(`${k}.type = file_roll`, `${k}.channel = ${ch}`, `${k}.sink.directory = ${side.base}/out/${sink}`, `${k}.sink.rollInterval = 0`);
      lines.push(`${k}.sink.serializer = header_and_text`, `${k}.sink.batchSize = ${batch}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Every file under `dir` (relative path → size and SHA-256), `in_use.lock` left out (a lock, not data). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.name !== 'in_use.lock') out[relative(dir, p)] = `${(await stat(p)).size}:${createHash('sha256').update(await readFile(p)).digest('hex')}`;
    }
  };
  await walk(dir);
  return out;
}

describe.skipIf(env.skip)(`file channel vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-fc-interop-');
  const sides = {} as Record<SideName, Side>;
  const answers = {} as Record<SideName, { full: string[]; keep: string[] }>;
  const out = {} as Record<SideName, Record<string, string[]>>;
  let flumeFiles: { before: Record<string, string>; after: Record<string, string> };
  let refused: CliResult;
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;

  async function runOurs(phase: 1 | 2): Promise<RunningAgent> {
    const loaded = await loadAgentConfigTexts([{ file: `fc${phase}.conf`, text: conf(sides.rxflume, phase) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    return runAgent(loaded.topology);
  }

  async function feed(side: SideName): Promise<void> {
    const s = sides[side];
    const full = await netcatSend(s.fullPort, Array.from({ length: FULL_SENT }, (_, i) => `full ${i}`), true);
    const keep = await netcatSend(s.keepPort, KEPT, true);
    answers[side] = { full, keep };
  }

  async function drained(side: SideName): Promise<Record<string, string[]>> {
    const base = sides[side].base;
    const read = async (sink: string, count: number): Promise<string[]> => (await rolledHeaderAndText(join(base, 'out', sink), { count, timeoutMs: 40_000 })).map((e) => e.body);
    const [full, keep, tx] = await Promise.all([read('k_full', FULL_CAPACITY), read('k_keep', KEPT.length), read('k_tx', KEPT.length)]);
    return { full: full!, keep: keep!, tx: tx! };
  }

  beforeAll(async () => {
    buildDist();
    const ports = await freePorts(4);
    for (const [i, name] of (['flume', 'rxflume'] as const).entries()) {
      const base = join(work.dir, name);
      for (const sink of ['k_full', 'k_keep', 'k_tx']) mkdirSync(join(base, 'out', sink), { recursive: true });
      sides[name] = { base, fullPort: ports[2 * i]!, keepPort: ports[2 * i + 1]! };
    }
    const flumeSide = async (): Promise<void> => {
      agent = await startFlumeAgent({ conf: conf(sides.flume, 1) });
      await feed('flume');
      await agent.stop();
      agent = undefined;
      // rxflume's CLI on Flume's directories (c_keep holds 8 events): refused, nothing touched.
      const before = await snapshot(join(sides.flume.base, 'c_keep'));
      const c = join(sides.flume.base, 'c_keep');
      const text = [
        'a1.sources = r',
        'a1.channels = c_keep',
        'a1.sinks = k',
        'a1.sources.r.type = netcat',
        'a1.sources.r.bind = 127.0.0.1',
        `a1.sources.r.port = ${sides.flume.fullPort}`,
        'a1.sources.r.channels = c_keep',
        ...channel(sides.flume.base, 'c_keep', []),
        'a1.sinks.k.type = null',
        'a1.sinks.k.channel = c_keep',
      ].join('\n');
      refused = await runCli(['agent', '-n', 'a1', '-f', work.write('onflume.properties', `${text}\n`), '--no-reload-conf'], 60_000);
      flumeFiles = { before, after: await snapshot(c) };
      agent = await startFlumeAgent({ conf: conf(sides.flume, 2) });
      out.flume = await drained('flume');
      await agent.stop();
      agent = undefined;
    };
    const rxflumeSide = async (): Promise<void> => {
      ours = await runOurs(1);
      await feed('rxflume');
      // Nothing drains phase 1's channels: the stop times out on them, then releases their directories.
      await ours.stop({ timeoutMs: 1000 }).catch((error: unknown) => {
        if (!/did not drain/.test(String(error))) throw error;
      });
      ours = await runOurs(2);
      out.rxflume = await drained('rxflume');
      await ours.stop({ timeoutMs: 10_000 });
      ours = undefined;
    };
    const [f, r] = await Promise.allSettled([flumeSide(), rxflumeSide()]);
    if (f.status === 'rejected') throw new Error(`Flume's side: ${String(f.reason)}\n${(await agent?.log())?.slice(-4000) ?? ''}`, { cause: f.reason });
    if (r.status === 'rejected') throw r.reason;
  }, 150_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 1000 }).catch(() => undefined);
    await agent?.stop();
    work.cleanup();
  }, 60_000);

  it(`a full channel (capacity ${FULL_CAPACITY}, keep-alive 0) answers the netcat client the same: OK until full, then FAILED`, () => {
    expect(answers.flume.full).toEqual([...Array(FULL_CAPACITY).fill('OK'), ...Array(FULL_SENT - FULL_CAPACITY).fill('FAILED')]);
    expect(answers.rxflume.full).toEqual(answers.flume.full);
    expect(answers.rxflume.keep).toEqual(answers.flume.keep);
  });

  it('each agent restarted on its own directories delivers what the first run stored, in order', () => {
    expect(out.flume!['full']).toEqual(Array.from({ length: FULL_CAPACITY }, (_, i) => `full ${i}`));
    expect(out.flume!['keep']).toEqual(KEPT);
    expect(out.rxflume).toEqual(out.flume);
  });

  it('transactionCapacity 3 drained by a sink of batchSize 3: everything, in order, on both', () => {
    expect(out.flume!['tx']).toEqual(KEPT);
    expect(out.rxflume!['tx']).toEqual(out.flume!['tx']);
  });

  it("rxflume refuses Apache Flume's channel directories, naming the format, and changes no file in them", () => {
    expect(Object.keys(flumeFiles.before).some((f) => /^data\/log-\d+$/.test(f))).toBe(true);
    expect(refused.code, refused.stderr).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/FLUME_CHANNEL_IO.*Apache Flume/s);
    expect(flumeFiles.after).toEqual(flumeFiles.before);
  });
});
