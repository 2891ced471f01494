/**
 * Issue #12's memory: an HDFS sink loads only the Node built-ins its transport and format use. An ES
 * import of node:http syncs its lazy exports and loads undici (+8 MB RSS measured in an idle agent);
 * zlib and the DNS resolver serve only codecs and the %[IP]/%[FQDN] escapes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
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
});
