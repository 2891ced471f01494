/**
 * Heavy dependencies load only when something that needs them is built or started (issue #12's memory,
 * #15's start-up): the agent's registry imports every component, so one eager `import … from 'kafkajs'`
 * in any of them would put it in every agent. Each process here reports the CommonJS packages it
 * loaded (kafkajs, avsc, pino and prom-client are all CommonJS) through a `--require` preload that
 * writes the module cache's paths at exit.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, scratch } from '../../support/cli.js';
import { buildDist, root } from '../../support/examples.js';
import { netcatSend } from '../../support/net.js';
import { freePort } from '../../../scripts/service.js';

const HEAVY = ['kafkajs', 'kafkajs-snappy', 'snappyjs', 'lz4-napi', 'avsc', 'pino', 'prom-client', 'thrift', 'rhea', 'irc-framework'];

const dir = scratch('rxflume-lazy-');
let preload = '';
let runs = 0;

/** The environment of a process that writes the heavy packages it loaded to a file of its own; and that file. */
function probed(): { env: NodeJS.ProcessEnv; loaded: () => string[] } {
  const out = `${dir.dir}/loaded-${++runs}.json`;
  const env = { ...process.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${preload}`, LOADED_OUT: out };
  const loaded = () => {
    const files = JSON.parse(readFileSync(out, 'utf8')) as string[];
    return HEAVY.filter((name) => files.some((f) => f.includes(`/node_modules/${name}/`)));
  };
  return { env, loaded };
}

/** Runs agent a1 of `lines` until it has started (and its netcat source answered one line, if `send`), then stops it. */
async function agentLoads(lines: string[], port: number, send: boolean, flags: string[] = []): Promise<string[]> {
  const conf = dir.write(`agent-${runs + 1}.properties`, [...lines, ''].join('\n'));
  const { env, loaded } = probed();
  const agent = startCli(['agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet', ...flags], env);
  try {
    await agent.waitFor(/agent started/, 60_000);
    if (send) expect(await netcatSend(port, ['one event'])).toEqual(['OK']);
  } finally {
    const result = await agent.stop();
    expect(result.code, result.stderr).toBe(0);
  }
  return loaded();
}

const netcat = (port: number) => [
  'a1.sources = r1',
  'a1.channels = c1',
  'a1.sources.r1.type = netcat',
  'a1.sources.r1.bind = 127.0.0.1',
  `a1.sources.r1.port = ${port}`,
  'a1.sources.r1.channels = c1',
  'a1.channels.c1.type = memory',
];

beforeAll(() => {
  buildDist();
  preload = dir.write(
    'report-loaded.cjs',
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_OUT, JSON.stringify(Object.keys(require.cache))));\n",
  );
}, 120_000);

afterAll(() => dir.cleanup());

describe('lazy loading of heavy dependencies', () => {
  it("import 'rxflume' loads neither kafkajs nor prom-client nor pino", async () => {
    const { env, loaded } = probed();
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', "await import('rxflume');"], { cwd: root, env });
    expect(loaded()).toEqual([]);
  });

  it("import 'rxflume' loads none of Node's costlier built-in modules (crypto, zlib, dns, fs/promises): they load on first use", async () => {
    // Issue #15's import time: each costs milliseconds, and an ES import of node:fs builds fs/promises and its streams.
    const script = "await import('rxflume'); console.log(JSON.stringify(process.moduleLoadList));";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    const builtins = (JSON.parse(stdout) as string[]).filter((m) => /^NativeModule (crypto|zlib|dns|internal\/fs\/promises)$/.test(m));
    expect(builtins).toEqual([]);
  });

  it('an agent on netcat → memory → null never loads kafkajs or prom-client; pino, which it logs through, it does', async () => {
    const port = await freePort();
    const got = await agentLoads([...netcat(port), 'a1.sinks = k1', 'a1.sinks.k1.type = null', 'a1.sinks.k1.channel = c1'], port, true);
    // Nothing else: not Kafka's, Avro's, Thrift's, AMQP's or IRC's clients, which every agent's registry names.
    expect(got).toEqual(['pino']);
  }, 90_000);

  it("the agent loads only the components its configuration names (the catalog's imports), not every registered one", async () => {
    // Every ES module the process loads, through a module hook in the child.
    const hook = dir.write(
      'report-modules.mjs',
      "import { registerHooks } from 'node:module'; import { writeFileSync } from 'node:fs';\n" +
        'const seen = []; registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });\n' +
        "process.on('exit', () => writeFileSync(process.env.MODULES_OUT, JSON.stringify(seen)));\n",
    );
    const out = `${dir.dir}/modules.json`;
    const conf = dir.write('netcat-null.properties', [...netcat(await freePort()), 'a1.sinks = k1', 'a1.sinks.k1.type = null', 'a1.sinks.k1.channel = c1', ''].join('\n'));
    await promisify(execFile)(process.execPath, ['--import', hook, `${root}/dist/lib/agent/cli.js`, 'validate', '-n', 'a1', '-f', conf], { cwd: root, env: { ...process.env, MODULES_OUT: out } });
    const ours = (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
    expect(ours).toEqual(expect.arrayContaining(['lib/sources/netcatSource.js', 'operators/channels/memoryChannel.js', 'lib/sinks/nullSink.js']));
    const others = ours.filter((f) => /^lib\/(sinks\/hdfs|sources\/taildir|sources\/spooldir|sources\/avroSource|kafka|thrift|hdfs)\/|^lib\/(sources|sinks)\/(kafka|http\/httpSource|httpSink|syslog|jms|thrift|scribe|irc|fileRoll|avro)|channels\/(file|spillable|kafka)/i.test(f));
    expect(others).toEqual([]);
  }, 90_000);

  it('an agent with a Kafka sink loads kafkajs and its snappy codec', async () => {
    const port = await freePort();
    // Built, not used: the sink would connect on its first batch, and none comes.
    const got = await agentLoads(
      [
        ...netcat(port),
        'a1.sinks = k1',
        'a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink',
        `a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:${await freePort()}`,
        'a1.sinks.k1.kafka.topic = t',
        'a1.sinks.k1.channel = c1',
      ],
      port,
      false,
    );
    expect(got).toEqual(expect.arrayContaining(['kafkajs', 'kafkajs-snappy', 'pino']));
  }, 90_000);

  it('a monitored agent starts without prom-client, undici, https, zlib or crypto; a Prometheus scrape loads prom-client', async () => {
    // Issue #14's start time: an ES import of node:http loads undici through its lazy exports, and prom-client
    // requires https and zlib for its push gateway — ~50 ms of start-to-first-event together.
    const report = dir.write('report-builtins.cjs', "process.on('exit', () => require('node:fs').writeFileSync(process.env.BUILTINS_OUT, JSON.stringify(process.moduleLoadList)));\n");
    const conf = dir.write('monitored.properties', [...netcat(await freePort()), 'a1.sinks = k1', 'a1.sinks.k1.type = null', 'a1.sinks.k1.channel = c1', ''].join('\n'));
    /** Runs the agent with a monitoring port, GETs `path` from it, stops it: the packages and built-ins it loaded. */
    const monitored = async (path: string) => {
      const { env, loaded } = probed();
      const builtinsOut = `${dir.dir}/builtins-${runs}.json`;
      const agent = startCli(['agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet', '--monitor-port', '0'], {
        ...env,
        NODE_OPTIONS: `${env['NODE_OPTIONS']} --require ${report}`,
        BUILTINS_OUT: builtinsOut,
      });
      let body = '';
      try {
        await agent.waitFor(/monitoring server listening/, 60_000);
        const line = agent.output().split('\n').find((l) => l.includes('monitoring server listening')) ?? '';
        const port = Number(/"port":(\d+)/.exec(line)?.[1]);
        expect(port, agent.output()).toBeGreaterThan(0);
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        expect(res.status).toBe(200);
        body = await res.text();
      } finally {
        const result = await agent.stop();
        expect(result.code, result.stderr).toBe(0);
      }
      const builtins = (JSON.parse(readFileSync(builtinsOut, 'utf8')) as string[]).filter((m) => /^NativeModule (internal\/deps\/undici\/undici|https|tls|zlib|crypto)$/.test(m));
      return { packages: loaded(), builtins, body };
    };
    const started = await monitored('/metrics');
    expect(started.packages).toEqual(['pino']);
    expect(started.builtins).toEqual([]);
    const scraped = await monitored('/metrics/prometheus');
    expect(scraped.packages).toEqual(expect.arrayContaining(['prom-client', 'pino']));
    expect(scraped.body).toContain('flume_event_put_success_count{type="CHANNEL",component="c1"}');
  }, 90_000);
});
