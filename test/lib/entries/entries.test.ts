/**
 * Issue #15's import time: `import 'rxflume'` loads the core only, the rest from its subpath
 * (`rxflume/kafka`, …) or on first use through the main entry, which keeps every name it had. Run in
 * child processes on the built package, by its own name, each recording the modules it loaded through
 * a module.registerHooks load hook (ESM files are not in require.cache); no wall-clock assertion.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDist, root } from '../../support/examples.js';

const SUBPATHS = ['kafka', 'hdfs', 'avro', 'thrift', 'jms', 'irc', 'http', 'syslog', 'netcat', 'exec', 'files', 'client'];

/** Runs `body` (an ES module's text, after the hook is set) in a fresh Node; its stdout's last line, parsed. */
async function child<T>(body: string): Promise<T> {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    const own = () => loaded.filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
    ${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

beforeAll(() => buildDist(), 180_000);

describe("import 'rxflume'", () => {
  it('loads the core and none of the modules behind a subpath', async () => {
    const { files, packages } = await child<{ files: string[]; packages: string[] }>(`
      const { pipe, sequenceSource, timestampInterceptor, memoryChannel, nullSink } = await import('rxflume');
      await pipe(sequenceSource({ totalEvents: 10 }), timestampInterceptor(), memoryChannel(), nullSink()).done;
      const { createRequire } = await import('node:module');
      const cjs = Object.keys(createRequire(import.meta.url).cache);
      const packages = [...new Set(cjs.map((f) => /node_modules\\/([^/]+)\\//.exec(f)?.[1]).filter(Boolean))];
      console.log(JSON.stringify({ files: own(), packages }));
    `);
    expect(files).toContain('lib/core/pipe.js');
    expect(files).toContain('operators/channels/memoryChannel.js');
    // lib/avro's RPC and lib/tls are not listed: createRpcClient, in the main entry, loads them.
    const behind = files.filter((f) => /^lib\/(kafka|hdfs|http|net|fs|thrift)\/|^lib\/entries\/(?!lazy)|sources\/(kafka|http|avro|thrift|scribe|jms|syslog|netcat|exec|tail|taildir|spooldir)|sinks\/(kafka|hdfs|http|avro|thrift|irc|fileRoll)|channels\/(kafka|file|spillable)/i.test(f));
    expect(behind, files.join('\n')).toEqual([]);
    expect(packages).toEqual(['rxjs']);
  });

  it('keeps every name a subpath exports, each the same as the subpath gives once used', async () => {
    const result = await child<{ missing: string[]; different: string[]; loadedBefore: string[]; configError: string }>(`
      const main = await import('rxflume');
      const missing = [];
      const different = [];
      // Nothing behind a subpath is loaded before it is used.
      const loadedBefore = own().filter((f) => f.startsWith('lib/entries/') && !f.endsWith('lazy.js'));
      for (const sub of ${JSON.stringify(SUBPATHS)}) {
        const mod = await import('rxflume/' + sub);
        for (const [name, value] of Object.entries(mod)) {
          if (!(name in main)) missing.push(sub + ':' + name);
          else if (typeof value === 'function' ? main[name].spec !== value.spec || main[name].name !== value.name : main[name] !== value) different.push(sub + ':' + name);
        }
      }
      // A call reaches the real factory, which validates its options at once.
      let configError = '';
      try { main.kafkaSink({ topic: 7 }); } catch (e) { configError = e.code + ' ' + e.message; }
      console.log(JSON.stringify({ missing, different, loadedBefore, configError }));
    `);
    expect(result.loadedBefore).toEqual([]);
    expect(result.missing).toEqual([]);
    expect(result.different).toEqual([]);
    expect(result.configError).toMatch(/^FLUME_CONFIG .*kafkaSink\.topic: expected string, received 7/s);
  });

  it('a lazy export behaves as the real one: its spec, its keys, spread and called through the main entry', async () => {
    const r = await child<{ keys: string[]; spread: string[]; has: boolean; kind: string; serializer: string; type: string }>(`
      const { fileRollSink, createSerializer, defineHttpHandler } = await import('rxflume');
      const spread = Object.keys({ ...fileRollSink });
      const serializer = typeof createSerializer('TEXT').serialize;
      console.log(JSON.stringify({ keys: Object.keys(fileRollSink), spread, has: 'spec' in fileRollSink, kind: fileRollSink.spec.kind, serializer, type: typeof defineHttpHandler }));
    `);
    expect(r).toEqual({ keys: ['spec'], spread: ['spec'], has: true, kind: 'sink', serializer: 'function', type: 'function' });
  });
});
