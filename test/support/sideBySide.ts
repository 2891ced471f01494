/**
 * One properties text run by a real Apache Flume 1.11.0 agent and by the rxflume CLI at the same time,
 * for interop tests that compare what the two wrote:
 *
 *   const { flume, rxflume, cli } = await runSideBySide({
 *     work,                                          // scratch(): rxflume's properties file and output
 *     conf: (out) => `… sink.directory = ${out} …`,  // Flume's `out` is '{{dir}}/out' (its agent's folder)
 *     collect: (out) => rolledHeaderAndText(out),    // feed the agent, then read `out`; the agent stops after
 *   });
 */
import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCli, type CliResult } from './cli.js';
import { buildDist } from './examples.js';
import { startFlumeAgent } from './flume.js';

export type Side = 'flume' | 'rxflume';

export interface SideBySideOptions<T> {
  /** Where rxflume's properties file and its `out` directory go. */
  work: { dir: string; write(name: string, text: string): string };
  /** The properties text (agent a1) of one side, writing under `out`. */
  conf(out: string, side: Side): string;
  /**
   * What to do once the side's agent started (feed it, read `out`); the agent is stopped after it.
   * `output()` is what the agent printed so far (Flume: its log; rxflume: the CLI's stdout and stderr).
   */
  collect(out: string, side: Side, output: () => Promise<string>): Promise<T>;
  /** rxflume is sent SIGTERM after this long if still running (default 150 s). */
  timeoutMs?: number;
  /** Classpath entries for Flume's agent before its jars (a component's own jar, e.g. taildir's). */
  flumeClasspath?: readonly string[];
}

export interface SideBySide<T> {
  flume: T;
  rxflume: T;
  /** How the rxflume CLI ended (its output: what it logged). */
  cli: CliResult;
}

/**
 * Runs both agents at once; a failure of either side is thrown (Flume's first) with the end of that
 * side's log added.
 */
export async function runSideBySide<T>(options: SideBySideOptions<T>): Promise<SideBySide<T>> {
  const flumeRun = (async () => {
    const agent = await startFlumeAgent({
      conf: options.conf('{{dir}}/out', 'flume'),
      mkdirs: ['out'],
      ...(options.flumeClasspath ? { classpath: options.flumeClasspath } : {}),
    });
    try {
      return await options.collect(join(agent.dir, 'out'), 'flume', () => agent.log());
    } catch (error) {
      throw withLog(error, 'Flume', await agent.log());
    } finally {
      await agent.stop();
    }
  })();
  const rxflumeRun = (async () => {
    buildDist();
    const out = join(options.work.dir, 'out');
    mkdirSync(out);
    const conf = options.work.write('agent.properties', options.conf(out, 'rxflume'));
    const run = startCli(['agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet']);
    const timer = setTimeout(() => run.child.kill('SIGTERM'), options.timeoutMs ?? 150_000);
    try {
      const result = await options.collect(out, 'rxflume', async () => run.output());
      return { result, cli: await run.stop() };
    } catch (error) {
      throw withLog(error, 'rxflume', (await run.stop()).stderr);
    } finally {
      clearTimeout(timer);
    }
  })();
  const [f, r] = await Promise.allSettled([flumeRun, rxflumeRun]);
  if (f.status === 'rejected') throw f.reason;
  if (r.status === 'rejected') throw r.reason;
  return { flume: f.value, rxflume: r.value.result, cli: r.value.cli };
}

function withLog(error: unknown, side: string, log: string): Error {
  return new Error(`${error instanceof Error ? error.message : String(error)}\n${side}'s log ends:\n${log.slice(-4000)}`, { cause: error });
}

/** An event as file_roll's header_and_text serializer writes it: `{k=v, k=v} body`. */
export interface HeaderAndText {
  headers: Record<string, string>;
  body: string;
}

/**
 * The header_and_text events written in `dir` (files in name order), polled every 100 ms: until there
 * are `count` of them, or without a count until there are some and `settleMs` passed without growth
 * (a sink backs off up to 5 s when idle); at most `timeoutMs`, then what is there.
 */
export async function rolledHeaderAndText(
  dir: string,
  {
    count,
    settleMs = 2500,
    timeoutMs = 30_000,
    encoding = 'utf8',
  }: { count?: number; settleMs?: number; timeoutMs?: number; /** How the files are read ('latin1' keeps every byte as one char). */ encoding?: BufferEncoding } = {},
): Promise<HeaderAndText[]> {
  let lines: string[] = [];
  let stableSince = Date.now();
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    const files = (await readdir(dir).catch(() => [])).sort();
    const now = (await Promise.all(files.map((f) => readFile(join(dir, f), encoding)))).join('').split('\n').filter(Boolean);
    if (count !== undefined) {
      lines = now;
      if (lines.length >= count) break;
    } else if (now.join('\n') !== lines.join('\n')) {
      lines = now;
      stableSince = Date.now();
    } else if (lines.length > 0 && Date.now() - stableSince > settleMs) break;
  }
  return lines.map((line) => {
    const m = /^\{(.*?)\} (.*)$/s.exec(line);
    if (!m) throw new Error(`not a header_and_text line: ${line}`);
    const pairs = m[1]!.split(', ').filter(Boolean);
    return { headers: Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])), body: m[2]! };
  });
}

/**
 * Polls the header_and_text events in `dir` until there is one with each of `bodies` (at most
 * `timeoutMs`, default 60 s), then returns them all: a stage of a feed that must see its lines written
 * before it changes the input.
 */
export async function rolledUntil(dir: string, bodies: readonly string[], { encoding = 'utf8', timeoutMs = 60_000 }: { encoding?: BufferEncoding; timeoutMs?: number } = {}): Promise<HeaderAndText[]> {
  for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 200))) {
    const events = await rolledHeaderAndText(dir, { encoding, count: 1, timeoutMs: 500 });
    if (bodies.every((b) => events.some((e) => e.body === b)) || Date.now() > end) return events;
  }
}
