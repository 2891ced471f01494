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

type Keys = Record<string, string | number | boolean | undefined>;

/**
 * A Flume properties file for agent `a1`, built component by component: each adds its keys (undefined ones
 * left out), and `a1.sources`, `a1.channels` and `a1.sinks` are written from what was added, so the lists
 * and the definitions cannot disagree. `{{dir}}` is the agent's directory (startFlumeAgent fills it in).
 */
export class FlumeConf {
  readonly #names = { sources: [] as string[], channels: [] as string[], sinks: [] as string[] };
  readonly #lines: string[] = [];

  add(kind: 'sources' | 'channels' | 'sinks', name: string, keys: Keys): this {
    this.#names[kind].push(name);
    for (const [key, value] of Object.entries(keys)) if (value !== undefined) this.#lines.push(`a1.${kind}.${name}.${key} = ${value}`);
    return this;
  }

  memory(name: string, capacity = 10_000, transactionCapacity = 1000): this {
    return this.add('channels', name, { type: 'memory', capacity, transactionCapacity });
  }

  /** A seq source of `totalEvents` into `channel`; `header` adds a static interceptor (`st`), `timestamp` a timestamp one (`ts`) after it. */
  seq(name: string, channel: string, totalEvents: number, options: { batchSize?: number; header?: [key: string, value: string]; timestamp?: boolean } = {}): this {
    const { batchSize, header, timestamp } = options;
    const interceptors = [header && 'st', timestamp && 'ts'].filter(Boolean).join(' ');
    return this.add('sources', name, {
      type: 'seq',
      totalEvents,
      batchSize,
      interceptors: interceptors || undefined,
      'interceptors.st.type': header && 'static',
      'interceptors.st.key': header?.[0],
      'interceptors.st.value': header?.[1],
      'interceptors.ts.type': timestamp ? 'timestamp' : undefined,
      channels: channel,
    });
  }

  /** An RPC sink (avro, thrift) from `channel` to 127.0.0.1:`port`. */
  rpcSink(name: string, type: 'avro' | 'thrift', channel: string, port: number, keys: Keys = {}): this {
    return this.add('sinks', name, { type, hostname: '127.0.0.1', port, ...keys, channel });
  }

  /** An RPC source (avro, thrift) on 127.0.0.1:`port` into `channel`. */
  rpcSource(name: string, type: 'avro' | 'thrift', channel: string, port: number, keys: Keys = {}): this {
    return this.add('sources', name, { type, bind: '127.0.0.1', port, ...keys, channels: channel });
  }

  /** A file_roll sink from `channel` into `{{dir}}/<out>`, never rolled. */
  fileRoll(name: string, channel: string, out: string, serializer?: string): this {
    return this.add('sinks', name, { type: 'file_roll', 'sink.directory': `{{dir}}/${out}`, 'sink.rollInterval': 0, 'sink.serializer': serializer, channel });
  }

  toString(): string {
    const lists = (['sources', 'channels', 'sinks'] as const).map((kind) => `a1.${kind} = ${this.#names[kind].join(' ')}`);
    return `${[...lists, ...this.#lines].join('\n')}\n`;
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
