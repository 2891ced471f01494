/**
 * Flume 1.11's batch-size rule, on a real Apache Flume 1.11.0 agent and in `rxflume validate`: one
 * configuration where some sources and sinks have a batch size larger than their channel's
 * transactionCapacity. Flume (AbstractConfigurationProvider) drops exactly those whose class implements
 * BatchSizeSupported on a channel implementing TransactionCapacitySupported — defaults included — logs
 * "… has been removed due to an error during configuration", and runs the rest; rxflume refuses the
 * configuration (exit 2), naming the same components at their lines.
 *
 * Dropped by Flume: a seq source with batchSize 200 on a memory channel of 100; an exec source with its
 * default 20 on one of 10; a seq source with 20 on a file channel of 10; a null sink with 101 and a
 * file_roll sink with its default 100 on a memory channel of 50. Run by Flume: a seq source with
 * batchSize equal to its channel's 100 (into file_roll), and a netcat source (not BatchSizeSupported)
 * on a channel of 2. Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratch, type CliResult } from '../support/cli.js';
import { buildDist } from '../support/examples.js';
import { flumeEnv, freePort, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { netcatSend, sleep } from '../support/net.js';

const env = flumeEnv();

/** What Flume drops, by name. */
const DROPPED = ['k_sbig', 'k_sdef', 'r_big', 'r_def', 'r_fc'];
const EQ_EVENTS = 300;

/** The configuration (agent a1) under `dir`; `only` keeps just the pipelines Flume runs. */
function conf(dir: string, netcatPort: number, only?: 'accepted'): string {
  const fileRoll = (k: string, ch: string, extra: string[] = []) => [`a1.sinks.${k}.type = file_roll`, `a1.sinks.${k}.channel = ${ch}`, `a1.sinks.${k}.sink.directory = ${dir}/out/${k}`, `a1.sinks.${k}.sink.rollInterval = 0`, ...extra.map((l) => `a1.sinks.${k}.${l}`)];
  const memory = (c: string, tx: number) => [`a1.channels.${c}.type = memory`, `a1.channels.${c}.capacity = 1000`, `a1.channels.${c}.transactionCapacity = ${tx}`];
  const seq = (r: string, c: string, batch: number, total: number) => [`a1.sources.${r}.type = seq`, `a1.sources.${r}.channels = ${c}`, `a1.sources.${r}.batchSize = ${batch}`, `a1.sources.${r}.totalEvents = ${total}`];
  const pipelines: Record<string, { sources: string[]; channels: string[]; sinks: string[]; lines: string[] }> = {
    // Dropped: explicit batch size over explicit capacity.
    big: { sources: ['r_big'], channels: ['c_big'], sinks: ['k_big'], lines: [...seq('r_big', 'c_big', 200, 1000), ...memory('c_big', 100), ...fileRoll('k_big', 'c_big', ['sink.batchSize = 100'])] },
    // Dropped: the exec source's default batchSize (20).
    def: {
      sources: ['r_def'],
      channels: ['c_def'],
      sinks: ['k_def'],
      lines: ['a1.sources.r_def.type = exec', 'a1.sources.r_def.command = echo def', 'a1.sources.r_def.channels = c_def', ...memory('c_def', 10), ...fileRoll('k_def', 'c_def', ['sink.batchSize = 10'])],
    },
    // Dropped: a file channel is checked too.
    fc: {
      sources: ['r_fc'],
      channels: ['c_fc'],
      sinks: ['k_fc'],
      lines: [
        ...seq('r_fc', 'c_fc', 20, 40),
        'a1.channels.c_fc.type = file',
        `a1.channels.c_fc.checkpointDir = ${dir}/fc/checkpoint`,
        `a1.channels.c_fc.dataDirs = ${dir}/fc/data`,
        'a1.channels.c_fc.minimumRequiredSpace = 1048576',
        'a1.channels.c_fc.capacity = 1000',
        'a1.channels.c_fc.transactionCapacity = 10',
        'a1.sinks.k_fc.type = null',
        'a1.sinks.k_fc.channel = c_fc',
        'a1.sinks.k_fc.batchSize = 10',
      ],
    },
    // Sinks dropped: an explicit batchSize, and file_roll's default (100), over 50.
    s: {
      sources: ['r_s'],
      channels: ['c_s'],
      sinks: ['k_sbig', 'k_sdef'],
      lines: [...seq('r_s', 'c_s', 10, 30), ...memory('c_s', 50), 'a1.sinks.k_sbig.type = null', 'a1.sinks.k_sbig.channel = c_s', 'a1.sinks.k_sbig.batchSize = 101', ...fileRoll('k_sdef', 'c_s')],
    },
    // Run: batchSize equal to the capacity.
    eq: { sources: ['r_eq'], channels: ['c_eq'], sinks: ['k_eq'], lines: [...seq('r_eq', 'c_eq', 100, EQ_EVENTS), ...memory('c_eq', 100), ...fileRoll('k_eq', 'c_eq', ['sink.batchSize = 100'])] },
    // Run: netcat is not BatchSizeSupported (rxflume's netcat batchSize, 100 by default, is not compared either).
    nc: {
      sources: ['r_nc'],
      channels: ['c_nc'],
      sinks: ['k_nc'],
      lines: ['a1.sources.r_nc.type = netcat', 'a1.sources.r_nc.bind = 127.0.0.1', `a1.sources.r_nc.port = ${netcatPort}`, 'a1.sources.r_nc.channels = c_nc', ...memory('c_nc', 2), ...fileRoll('k_nc', 'c_nc', ['sink.batchSize = 2'])],
    },
  };
  const chosen = Object.entries(pipelines)
    .filter(([name]) => only === undefined || name === 'eq' || name === 'nc')
    .map(([, p]) => p);
  const names = (k: 'sources' | 'channels' | 'sinks') => chosen.flatMap((p) => p[k]).join(' ');
  return [`a1.sources = ${names('sources')}`, `a1.channels = ${names('channels')}`, `a1.sinks = ${names('sinks')}`, ...chosen.flatMap((p) => p.lines), ''].join('\n');
}

/** Every line the file_roll sink `k` wrote under `dir`/out. */
async function linesOf(dir: string, k: string): Promise<string[]> {
  const at = join(dir, 'out', k);
  const files = await readdir(at).catch(() => [] as string[]);
  const texts = await Promise.all(files.map((f) => readFile(join(at, f), 'utf8')));
  return texts.join('').split('\n').filter(Boolean);
}

describe.skipIf(env.skip)(`batch size over transactionCapacity vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-batchsize-interop-');
  let agent: FlumeAgent | undefined;
  let flumeLog = '';
  let flumeEq: string[] = [];
  let flumeNc: string[] = [];
  let refused: CliResult;
  let accepted: CliResult;

  beforeAll(async () => {
    buildDist();
    const flumePort = await freePort();
    agent = await startFlumeAgent({ conf: conf('{{dir}}', flumePort), mkdirs: ['out/k_big', 'out/k_def', 'out/k_sdef', 'out/k_eq', 'out/k_nc', 'fc'] });
    // The drops are logged while the configuration is loaded; the pipelines left then start.
    await agent.waitForLog(/Sink k_sdef has been removed/);
    for (const end = Date.now() + 60_000; Date.now() < end && (await linesOf(agent.dir, 'k_eq')).length < EQ_EVENTS; ) await sleep(200);
    for (let attempt = 0; ; attempt++) {
      try {
        await netcatSend(flumePort, ['one', 'two', 'three']);
        break;
      } catch (error) {
        // The netcat source may still be binding.
        if (attempt >= 50) throw error;
        await sleep(200);
      }
    }
    for (const end = Date.now() + 30_000; Date.now() < end && (await linesOf(agent.dir, 'k_nc')).length < 3; ) await sleep(200);
    flumeEq = await linesOf(agent.dir, 'k_eq');
    flumeNc = await linesOf(agent.dir, 'k_nc');
    flumeLog = await agent.log();

    const port = await freePort();
    refused = await runCli(['validate', '-n', 'a1', '-f', work.write('all.properties', conf(work.dir, port))]);
    accepted = await runCli(['validate', '-n', 'a1', '-f', work.write('accepted.properties', conf(work.dir, port, 'accepted'))]);
  }, 300_000);

  afterAll(async () => {
    await agent?.stop();
    work.cleanup();
  });

  it('Flume drops exactly the BatchSizeSupported sources and sinks over a TransactionCapacitySupported channel, defaults included', () => {
    const removed = [...flumeLog.matchAll(/(?:Source|Sink) (\w+) has been removed due to an error during configuration/g)].map((m) => m[1]!);
    expect([...new Set(removed)].sort()).toEqual(DROPPED);
    for (const why of [
      'Source: r_big, batch size = 200, channel c_big, transaction capacity = 100',
      'Source: r_def, batch size = 20, channel c_def, transaction capacity = 10',
      'Source: r_fc, batch size = 20, channel c_fc, transaction capacity = 10',
      'Sink: k_sbig, batch size = 101, channel c_s, transaction capacity = 50',
      'Sink: k_sdef, batch size = 100, channel c_s, transaction capacity = 50',
    ]) {
      expect(flumeLog).toContain(why);
    }
  });

  it('Flume runs the rest: batchSize equal to transactionCapacity, and a netcat source on a channel of 2', () => {
    expect(flumeEq).toHaveLength(EQ_EVENTS);
    expect(flumeNc).toEqual(['one', 'two', 'three']);
  });

  it('DIFFERS: rxflume validate refuses the configuration (exit 2), naming the components Flume drops, each at its line', () => {
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    const errors = (refused.stdout + refused.stderr).split('\n').filter((l) => / error: .*exceeds channel/.test(l));
    expect([...new Set(errors.map((l) => /a1\.(?:sources|sinks)\.(\w+)\./.exec(l)?.[1]))].sort()).toEqual(DROPPED);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/:\d+: error: a1\.sources\.r_def\.channels: batchSize 20 \(its default\) exceeds channel `c_def`'s transactionCapacity 10: Flume 1\.11 drops this source/),
        expect.stringMatching(/:\d+: error: a1\.sinks\.k_sdef\.channel: batchSize 100 \(its default\) exceeds channel `c_s`'s transactionCapacity 50: Flume 1\.11 drops this sink/),
        expect.stringMatching(/:\d+: error: a1\.sources\.r_fc\.batchSize: batchSize 20 exceeds channel `c_fc`'s transactionCapacity 10/),
      ]),
    );
  });

  it('rxflume validate accepts what Flume runs', () => {
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
  });
});
