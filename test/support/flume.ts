/**
 * Real Apache Flume 1.11.0 agents for the interoperability tests (scripts/flume.ts):
 *
 *   const env = flumeEnv();                     // skip when java/mvn are missing (unless RXFLUME_REQUIRE_FLUME=1)
 *   describe.skipIf(env.skip)(`…${env.note}`, () => { … await startFlumeAgent({ conf }) … });
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkTools, freePort, startFailure } from '../../scripts/service.js';
import { FLUME_VERSION, flumeJarsCached } from '../../scripts/flume.js';

export { FLUME_VERSION, startFlumeAgent, type AgentOptions, type FlumeAgent } from '../../scripts/flume.js';
export { freePort } from '../../scripts/service.js';

export interface FlumeEnv {
  skip: boolean;
  /** " [skipped: …]" for a describe title when skipped, else "". */
  note: string;
}

/** Skip Flume tests when java (or, with the jars not cached yet, mvn) is missing, unless RXFLUME_REQUIRE_FLUME=1 (then they fail). */
export function flumeEnv(): FlumeEnv {
  try {
    checkTools(`a real Flume ${FLUME_VERSION} agent`, { maven: !flumeJarsCached() });
    return { skip: false, note: '' };
  } catch (error) {
    const outcome = startFailure(error, `Flume ${FLUME_VERSION}`, 'RXFLUME_REQUIRE_FLUME');
    return 'skipReason' in outcome ? { skip: true, note: ` [skipped: ${outcome.skipReason}]` } : { skip: false, note: '' };
  }
}

/** `n` free ports, distinct (freePort never hands one out twice). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

/** Every line Flume's file_roll sinks wrote into `dir`, polling until `count` are there (60 s at most). */
export async function rolledLines(dir: string, count: number): Promise<string[]> {
  let lines: string[] = [];
  const until = Date.now() + 60_000;
  while (lines.length < count && Date.now() < until) {
    const files = await readdir(dir);
    lines = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean);
    if (lines.length < count) await new Promise((r) => setTimeout(r, 200));
  }
  return lines;
}
