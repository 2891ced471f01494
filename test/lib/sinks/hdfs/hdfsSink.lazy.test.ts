/**
 * Issue #12's memory: an HDFS sink loads only the Node built-ins its transport and format use. An ES
 * import of node:http syncs its lazy exports and loads undici (+8 MB RSS measured in an idle agent);
 * zlib and the DNS resolver serve only codecs and the %[IP]/%[FQDN] escapes; Intl (ICU's data, +12 MB)
 * only time escapes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { localZone } from '../../../../lib/sinks/hdfs/javaTime.js';
import { buildDist, root } from '../../../support/examples.js';

const COSTLY = /^NativeModule (http|https|tls|zlib|dns\/promises|internal\/deps\/undici\/undici)$/;
const dist = (file: string) => JSON.stringify(`${root}/dist/lib/${file}`);

/** The costly built-ins a process has loaded after running `script` (an ES module body). */
async function builtinsAfter(script: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', `${script}\nconsole.log(JSON.stringify(process.moduleLoadList));`], { cwd: root });
  return (JSON.parse(stdout) as string[]).filter((m) => COSTLY.test(m)).map((m) => m.slice('NativeModule '.length));
}

beforeAll(() => buildDist(), 120_000);

describe('hdfsSink: lazy built-ins', () => {
  it('a native DataStream sink, built, loads neither http, https, undici, zlib nor the DNS resolver', async () => {
    const script = `const { hdfsSink } = await import(${dist('sinks/hdfs/hdfsSink.js')}); hdfsSink({ path: 'hdfs://127.0.0.1:1/flume', fileType: 'DataStream' });`;
    expect(await builtinsAfter(script)).toEqual([]);
  });

  it('they load when used: node:http (not https) at the first WebHDFS request, zlib at the first gzip', async () => {
    const request = `const { WebHdfsClient } = await import(${dist('hdfs/webHdfsClient.js')}); await new WebHdfsClient({ url: 'http://127.0.0.1:1' }).stat('/x').catch(() => {});`;
    expect(await builtinsAfter(request)).toEqual(['http']);
    const gzip = `const { CODECS } = await import(${dist('hdfs/codecs.js')}); await CODECS.gzip.compress(Buffer.from('x'));`;
    expect(await builtinsAfter(gzip)).toEqual(['zlib']);
  });

  it("the sink's default zone asks Intl for the process's zone only when a time escape first needs it", () => {
    const original = Intl.DateTimeFormat;
    let calls = 0;
    const count = { construct: (t: typeof original, a: unknown[]) => (calls++, Reflect.construct(t, a)), apply: (t: typeof original, self: unknown, a: unknown[]) => (calls++, Reflect.apply(t, self, a)) };
    Intl.DateTimeFormat = new Proxy(original, count);
    try {
      const zone = localZone();
      expect(calls).toBe(0);
      const instant = Date.UTC(2024, 0, 1);
      expect(zone.offsetAt(instant)).toBe(new Date(instant).getTimezoneOffset() * -60_000 + 0);
      expect(calls).toBeGreaterThan(0);
    } finally {
      Intl.DateTimeFormat = original;
    }
  });
});
