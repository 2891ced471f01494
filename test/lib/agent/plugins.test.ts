/**
 * Custom components from modules: the example plugin (examples/plugins/acme.js, one component of each
 * kind) planned in-process and run by the built CLI with every event counted; and each way a module
 * can fail to serve, reported at its `type` line naming the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registry as builtIns } from '../../../lib/agent/components.js';
import { describeTopology, formatDiagnostic, loadAgentConfigTexts } from '../../../lib/agent/loadConfig.js';
import { pluginsOf, withPlugins } from '../../../lib/agent/plugins.js';
import { buildTopology } from '../../../lib/agent/build.js';
import { readAgentConfig } from '../../../lib/agent/flumeConfig.js';
import { Registry } from '../../../lib/agent/registry.js';
import { component, defineComponent } from '../../../lib/core/config.js';
import { flumeSerializerName, serializerOption } from '../../../lib/serializers/eventSerializer.js';
import { z } from 'zod';
import { buildDist, root } from '../../support/examples.js';
import { startCli } from '../../support/cli.js';

const example = join(root, 'examples/custom-components.properties');
let dir: string;

beforeAll(() => {
  // The example plugin imports 'rxflume', which resolves to the built package.
  buildDist();
  dir = mkdtempSync(join(tmpdir(), 'rxflume-plugins-'));
  // Module-shaped components need no imports: the agent checks their shape, not their origin.
  const fake = (name: string, kind: string) =>
    `export const ${name} = Object.assign(() => { throw new Error('not run'); }, { spec: { name: '${name}', kind: '${kind}', flumeTypes: [], schema: { safeParse: (o) => ({ success: true, data: o }) } } });\n`;
  writeFileSync(join(dir, 'twoSinks.mjs'), fake('a', 'sink') + fake('b', 'sink'));
  writeFileSync(join(dir, 'throws.mjs'), "throw new Error('boom while loading');\n");
  writeFileSync(join(dir, 'nothing.mjs'), 'export const answer = 42;\n');
  // A package installed beside the configuration, not beside rxflume.
  mkdirSync(join(dir, 'node_modules/acme-sinks'), { recursive: true });
  writeFileSync(join(dir, 'node_modules/acme-sinks/package.json'), JSON.stringify({ name: 'acme-sinks', main: 'index.mjs' }));
  writeFileSync(join(dir, 'node_modules/acme-sinks/index.mjs'), fake('s3Sink', 'sink'));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string, file = join(dir, 'agent.properties')) {
  const loaded = await loadAgentConfigTexts([{ text, file }], 'a1');
  return { ...loaded, messages: loaded.diagnostics.map(formatDiagnostic) };
}

const oneSink = (sinkType: string, extra = '') => `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = ${sinkType}
a1.sinks.k1.channel = c1
${extra}`;

describe('custom components from modules', () => {
  it('plans one component of each kind from the example plugin, shown by their names', async () => {
    const loaded = await load(readFileSync(example, 'utf8'), example);
    expect(loaded.messages).toEqual([]);
    expect(loaded.ok).toBe(true);
    expect(describeTopology(loaded.topology)).toBe(
      [
        'agent a1',
        '  source  r1 (counterSource) → up (upperCase) → even, odd [parity]',
        '  channel even (kiloChannel)',
        '  channel odd (memory)',
        '  sink    even → k1 (lineFileSink)',
        '  sink    even → k2 (lineFileSink)',
        '  sink    odd → k3 (lineFileSink)',
        '  group   g1 (inOrder): k1, k2',
      ].join('\n'),
    );
  });

  it("validates a module component's options with its own schema, at their lines", async () => {
    const plugin = join(root, 'examples/plugins/acme.js');
    const { messages, ok } = await load(oneSink(`${plugin}#lineFileSink`, 'a1.sinks.k1.files = /tmp/x\n'));
    expect(ok).toBe(false);
    expect(messages).toEqual([
      expect.stringMatching(/agent\.properties:8: error: a1\.sinks\.k1\.file: expected string, received nothing$/),
      expect.stringMatching(/agent\.properties:10: error: a1\.sinks\.k1\.files: unknown property `files` for lineFileSink \(did you mean `file`\?\)/),
    ]);
  });

  it('finds an installed package by name and picks the named export', async () => {
    const { messages, topology } = await load(oneSink('rxflume#nullSink'));
    expect(messages).toEqual([]);
    expect(topology.sinks[0]!.spec.name).toBe('nullSink');
  });

  it("finds a package installed in the configuration's folder when rxflume's own imports do not", async () => {
    const { messages, topology } = await load(oneSink('acme-sinks#s3Sink'));
    expect(messages).toEqual([]);
    expect(topology.sinks[0]!.spec.name).toBe('s3Sink');
  });

  it('refuses a relative module path in a configuration read from a URL', async () => {
    const { messages } = await load(oneSink('./throws.mjs'), 'http://config.example/agent.properties');
    expect(messages).toEqual([expect.stringMatching(/sink module `\.\/throws\.mjs` failed to load: a module path relative to a configuration read from http:\/\/config\.example\/agent\.properties has no folder/)]);
  });

  it.each([
    ['./missing.js', /sink module `\.\/missing\.js` not found \(looked for .*\/missing\.js\)/],
    ['./throws.mjs', /sink module `\.\/throws\.mjs` failed to load: .*boom while loading/],
    ['./nothing.mjs', /sink module `\.\/nothing\.mjs` \(.*nothing\.mjs\) exports no sink component made with component\(defineComponent\(…\), factory\); its components: none/],
    ['./twoSinks.mjs', /exports several sink components \(a, b\); name one as `type = <module>#<export>`/],
    ['./twoSinks.mjs#c', /has no component exported as `c`; its components: a \(sink\), b \(sink\)/],
    ['@acme/no-such-plugin', /sink module `@acme\/no-such-plugin` not found/],
  ])('%s: a configuration error at the type line naming the module', async (type, message) => {
    const { messages, ok } = await load(oneSink(type));
    expect(ok).toBe(false);
    expect(messages).toEqual([expect.stringMatching(new RegExp(`agent\\.properties:8: error: a1\\.sinks\\.k1\\.type: .*${message.source}`))]);
  });

  it('refuses a component of another kind, and leaves plain and Java type names to the usual errors', async () => {
    const plugin = join(root, 'examples/plugins/acme.js');
    expect((await load(oneSink(`${plugin}#upperCase`))).messages).toEqual([expect.stringMatching(/exports `upperCase` as a interceptor, not a sink/)]);
    expect((await load(oneSink('loger'))).messages).toEqual([expect.stringMatching(/unknown sink type `loger` \(did you mean `logger`\?\)/)]);
    expect((await load(oneSink('com.example.MySink'))).messages).toEqual([expect.stringMatching(/unknown sink type `com\.example\.MySink`/)]);
  });

  it('runs the example: every event through the plugin source, interceptor, selector, channel, processor and sinks', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rxflume-plugins-out-'));
    const config = join(dir, 'custom-components.properties');
    writeFileSync(
      config,
      readFileSync(example, 'utf8')
        .replaceAll('./plugins/', `${join(root, 'examples/plugins')}/`)
        .replaceAll('/tmp/rxflume-examples/out', out),
    );
    const agent = startCli(['agent', '-n', 'a1', '-f', config, '--no-reload-conf']);
    try {
      await agent.waitFor(/"msg":"agent started"/);
      const lines = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean) : []);
      const until = Date.now() + 20_000;
      while (lines('even.txt').length + lines('odd.txt').length < 1000 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      const n = (k: number) => Array.from({ length: 500 }, (_, i) => `EVENT ${2 * i + k}`);
      expect(lines('even.txt')).toEqual(n(0));
      expect(lines('odd.txt')).toEqual(n(1));
      expect(lines('even-spare.txt')).toEqual([]);
    } finally {
      const result = await agent.stop();
      rmSync(out, { recursive: true, force: true });
      // The source is finite: the agent may be done just as the signal arrives.
      expect(result.code === 0 || result.code === null).toBe(true);
      const stopped = result.stderr.split('\n').find((l) => l.includes('"msg":"agent stopped"'));
      const metrics = (JSON.parse(stopped!) as { metrics: Record<string, Record<string, number>> }).metrics;
      expect(metrics['INTERCEPTOR.up']!['EventReceivedCount']).toBe(1000);
      expect(metrics['SINK.g1']!['EventDrainSuccessCount']).toBe(500);
      expect(metrics['CHANNEL.even']!['ChannelCapacity']).toBe(10_000);
    }
  }, 60_000);
});

// ---- what component options take from modules: serializers and HTTP handlers ----------------------

const pluginsDir = join(root, 'examples/plugins');
const csvExample = join(pluginsDir, 'http-lines-to-csv.properties');

/** The example configuration with its modules at `modules`, its output in `out` and its source on `port`. */
function csvConfig(modules: string, out: string, port: number, edit: (text: string) => string = (t) => t): string {
  return edit(
    readFileSync(csvExample, 'utf8')
      .replace(/= \.\/(lines|csv)\.js/g, `= ${modules}/$1.js`)
      .replaceAll('/tmp/rxflume-examples/out', out)
      .replace(/^(\S+\.port) = \d+$/m, `$1 = ${port}`),
  );
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('serializers and HTTP handlers from modules', () => {
  // The example modules import their definers from 'rxflume' (this package, by its own name).
  const modules = pluginsDir;

  const loadCsv = (edit?: (text: string) => string) => load(csvConfig(modules, join(dir, 'out'), 8080, edit));

  it('plans the example: the handler and the serializer given to their components, with their options', async () => {
    const { messages, ok, topology } = await loadCsv();
    expect(messages).toEqual([]);
    expect(ok).toBe(true);
    const [source, sink] = [topology.sources[0]!, topology.sinks[0]!];
    expect(pluginsOf(source.spec, source.options)).toEqual(['HTTP handler lines']);
    expect(source.options['handlerOptions']).toEqual({ maxLines: 500 });
    expect(pluginsOf(sink.spec, sink.options)).toEqual(['serializer csvLine']);
    expect(sink.options['serializerOptions']).toEqual({ columns: 'source host' });
    // The built-ins stay the components' own choices, named by their names.
    const builtIn = await loadCsv((t) => t.replace(/^(\S+\.handler) = .*$/m, '$1 = BLOB').replace(/^(\S+\.sink\.serializer) = .*$/m, '$1 = header_and_text').replace(/^\S+\.(handler|sink\.serializer)\.\S+ = .*\n/gm, ''));
    expect(builtIn.messages).toEqual([]);
    expect([builtIn.topology.sources[0]!.options['handler'], builtIn.topology.sinks[0]!.options['serializer']]).toEqual(['BLOB', 'HEADER_AND_TEXT']);
    expect(pluginsOf(builtIn.topology.sinks[0]!.spec, builtIn.topology.sinks[0]!.options)).toEqual([]);
    // What `rxflume validate` prints names them beside the component's type; the built-ins add nothing.
    expect(describeTopology(topology)).toMatch(/\(http, HTTP handler lines\)[\s\S]*\(file_roll, serializer csvLine\)/);
    expect(describeTopology(builtIn.topology)).toMatch(/\(http\) → [\s\S]*\(file_roll\)$/m);
  });

  it.each([
    ['handler.maxLines = 500', 'handler.maxLines = 0', 16, /a1\.sources\.r1\.handler\.maxLines: `handler\.maxLines` = "0": expected integer ≥ 1, received 0$/],
    ['handler.maxLines = 500', 'handler.maxLine = 5', 16, /a1\.sources\.r1\.handler\.maxLine: `handler\.maxLine` = "5": expected a known option \(maxLines, keepEmpty\), received "5" \(did you mean `handler\.maxLines`\?\)$/],
    ['sink.serializer.columns = source host', 'sink.serializer.columns = source host\na1.sinks.k1.sink.serializer.delimiter = ;;', 35, /a1\.sinks\.k1\.sink\.serializer\.delimiter: `sink\.serializer\.delimiter` = ";;": expected length of ≤ 1, received ";;"$/],
    ['sink.serializer.columns = source host', 'sink.serializer.columns = source host\na1.sinks.k1.sink.serializer.header = maybe', 35, /a1\.sinks\.k1\.sink\.serializer\.header: `sink\.serializer\.header` = "maybe": expected boolean, received "maybe"$/],
  ])("%s → %s: an error at its line naming the option, the value and what the module's schema expects", async (line, replacement, at, message) => {
    const { messages, ok } = await loadCsv((t) => t.replace(`.${line}\n`, `.${replacement}\n`));
    expect(ok).toBe(false);
    expect(messages).toEqual([expect.stringMatching(new RegExp(`agent\\.properties:${at}: error: ${message.source}`))]);
  });

  it("reports a missing option of the module at the line naming the module", async () => {
    const { messages } = await loadCsv((t) => t.replace(/^\S+\.sink\.serializer\.columns = .*\n/m, ''));
    expect(messages).toEqual([
      expect.stringMatching(/agent\.properties:33: error: a1\.sinks\.k1\.sink\.serializer: `sink\.serializer` = ".*csv\.js#csvLine": csvLine option `sink\.serializer\.columns`: expected array, received nothing$/),
    ]);
  });

  it.each([
    ['sink.serializer', './missing.js', 33, /serializer \(fileRollSink's `sink\.serializer`\) module `\.\/missing\.js` not found \(looked for .*\/missing\.js\)/],
    ['sink.serializer', '@acme/csv#csvLine', 33, /serializer \(fileRollSink's `sink\.serializer`\) module `@acme\/csv` not found$/],
    ['sink.serializer', '<csv>#nope', 33, /serializer \(fileRollSink's `sink\.serializer`\) module `.*csv\.js` \(.*csv\.js\) has no export `nope`; its exports: csvLine$/],
    ['sink.serializer', '<lines>', 33, /serializer \(fileRollSink's `sink\.serializer`\) module `.*lines\.js` \(.*\) exports no serializer made with defineSerializer\(\{ name, schema, create \}\); its exports: linesHandler$/],
    ['handler', '<csv>#csvLine', 15, /HTTP handler \(httpSource's `handler`\) module `.*csv\.js` \(.*\) exports `csvLine`, which is not an HTTP handler made with defineHttpHandler/],
    ['handler', './throws.mjs', 15, /HTTP handler \(httpSource's `handler`\) module `\.\/throws\.mjs` failed to load: .*boom while loading/],
  ])('%s = %s: a configuration error at its line naming the module, its options left unjudged', async (key, value, line, message) => {
    const section = key === 'handler' ? 'sources.r1' : 'sinks.k1';
    const ref = value.replace('<csv>', join(modules, 'csv.js')).replace('<lines>', join(modules, 'lines.js'));
    const { messages, ok } = await loadCsv((t) => t.replace(new RegExp(`^(a1\\.${section}\\.${key.replace('.', '\\.')}) = .*$`, 'm'), `$1 = ${ref}`));
    expect(ok).toBe(false);
    expect(messages).toEqual([expect.stringMatching(new RegExp(`agent\\.properties:${line}: error: a1\\.${section.replace('.', '\\.')}\\.${key.replace('.', '\\.')}: ${message.source}`))]);
  });

  it('leaves a Java class name to the component: an error naming the built-ins', async () => {
    const { messages } = await loadCsv((t) => t.replace(/^(\S+\.handler) = .*$/m, '$1 = org.example.rest.RestHandler').replace(/^\S+\.handler\.\S+ = .*\n/m, ''));
    expect(messages).toEqual([expect.stringMatching(/:15: error: a1\.sources\.r1\.handler: expected one of "JSON" \| "BLOB", received "org\.example\.rest\.RestHandler"$/)]);
  });

  it("serves any component whose schema takes a serializer, under its own Flume key (hdfs's `serializer`)", async () => {
    // A sink laid out as hdfs is: `serializer` and `serializer.*`, mapped by flumeKeys.
    const hdfsLike = component(
      defineComponent({
        name: 'hdfsLike',
        kind: 'sink',
        summary: 'A sink taking a serializer as hdfs does.',
        flumeTypes: ['hdfs_like'],
        schema: z.strictObject({ ...serializerOption('format'), appendNewline: z.boolean().default(true) }),
        flumeKeys: { serializer: { option: 'serializer', convert: flumeSerializerName }, 'serializer.appendNewline': 'appendNewline' },
      }),
      () => undefined,
    );
    const registry = new Registry([...builtIns.components, hdfsLike as never]);
    const plan = async (extra: string) => {
      const file = join(dir, 'agent.properties');
      const read = await readAgentConfig([{ text: oneSink('hdfs_like', extra), file }], 'a1', file);
      const plugins = await withPlugins(registry, read.config);
      const built = buildTopology(read.config, plugins.registry);
      return { sink: built.topology.sinks[0], messages: [...plugins.diagnostics, ...built.diagnostics].map(formatDiagnostic) };
    };
    const custom = await plan(`a1.sinks.k1.serializer = ${modules}/csv.js\na1.sinks.k1.serializer.columns = a b\n`);
    expect(custom.messages).toEqual([]);
    expect(pluginsOf(custom.sink!.spec, custom.sink!.options)).toEqual(['serializer csvLine']);
    expect(custom.sink!.options['serializerOptions']).toEqual({ columns: 'a b' });
    const builtIn = await plan('a1.sinks.k1.serializer = text\na1.sinks.k1.serializer.appendNewline = false\n');
    expect(builtIn.messages).toEqual([]);
    expect([builtIn.sink!.options['serializer'], builtIn.sink!.options['appendNewline']]).toEqual(['TEXT', false]);
    expect((await plan(`a1.sinks.k1.serializer = ${modules}/csv.js\na1.sinks.k1.serializer.columns = a\na1.sinks.k1.serializer.appendNewline = false\n`)).messages).toEqual([
      expect.stringMatching(/:12: error: a1\.sinks\.k1\.serializer\.appendNewline: `serializer\.appendNewline` = "false": expected a known option \(columns, delimiter, header\), received "false"$/),
    ]);
  });

  it('runs the example through the agent CLI: a real request to the handler, the lines written by the serializer', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rxflume-plugins-csv-'));
    const port = await freePort();
    const config = join(dir, 'http-lines-to-csv.properties');
    writeFileSync(config, csvConfig(modules, out, port));
    const agent = startCli(['agent', '-n', 'a1', '-f', config, '--no-reload-conf']);
    try {
      await agent.waitFor(/"msg":"agent started"/);
      const post = async (body: string | Buffer, query = '') => {
        for (let attempt = 0; ; attempt++) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/${query}`, { method: 'POST', body });
            return { status: res.status, text: await res.text() };
          } catch (error) {
            // The source may still be binding just after the agent said it started.
            if (attempt >= 40) throw error;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      expect(await post('GET /\nGET /a,b\n\nGET /"q"\n', '?source=web')).toEqual({ status: 200, text: '' });
      expect(await post(Buffer.from([0x47, 0xff, 0x0a]), '?source=bad')).toEqual({ status: 400, text: 'Bad request from client. the body is not UTF-8 text\n' });
      expect(await post('x\n'.repeat(501))).toEqual({ status: 413, text: '501 lines, more than maxLines (500)\n' });
      expect(await post('last', '?source=api&source=ignored')).toEqual({ status: 200, text: '' });
      const csv = () => readdirSync(out).filter((f) => f.startsWith('requests-') && f.endsWith('.csv'));
      const read = () => (csv().length === 1 ? readFileSync(join(out, csv()[0]!), 'utf8') : '');
      const until = Date.now() + 20_000;
      while (read().split('\n').length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      const host = /^web,([^,]+),GET \/$/m.exec(read())?.[1];
      expect(host).toMatch(/^[\d.:a-f]+$/);
      expect(read()).toBe(['source,host,body', `web,${host},GET /`, `web,${host},"GET /a,b"`, `web,${host},"GET /""q"""`, `api,${host},last`, ''].join('\n'));
    } finally {
      const result = await agent.stop();
      rmSync(out, { recursive: true, force: true });
      expect(result.code).toBe(0);
      const stopped = result.stderr.split('\n').find((l) => l.includes('"msg":"agent stopped"'));
      const metrics = (JSON.parse(stopped!) as { metrics: Record<string, Record<string, number>> }).metrics;
      expect(metrics['SOURCE.r1']!['EventAcceptedCount']).toBe(4);
      expect(metrics['SOURCE.r1']!['EventReadFail']).toBe(2);
      expect(metrics['SINK.k1']!['EventDrainSuccessCount']).toBe(4);
    }
  }, 60_000);
});
