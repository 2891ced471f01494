import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebHdfsClient } from '../../lib/hdfs/webHdfsClient.js';
import { ensureHdfsJars, fsShell, HADOOP_VERSION, hdfsCacheDir, hdfsDown, hdfsUp, mustRun, startHdfs } from '../../scripts/hdfs.js';
import { freePort, processAlive, ToolsMissingError } from '../../scripts/service.js';
import { hdfsEnv, requireHdfs } from '../support/hdfs.js';
import { waitFor } from '../support/net.js';

describe('scripts/hdfs tool checks', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('names what is missing when java and mvn are not on the PATH', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    await expect(startHdfs()).rejects.toThrow(ToolsMissingError);
    await expect(startHdfs()).rejects.toThrow(/Hadoop 3\.5\.0 HDFS needs java \(a JDK 17\+.*\) on the PATH/);
    vi.stubEnv('RXFLUME_HDFS_CACHE', '/nonexistent/cache');
    await expect(ensureHdfsJars()).rejects.toThrow(/needs java \(a JDK 17\+.*\) and mvn \(Apache Maven 3/);
  });
});

const env = hdfsEnv();

describe.skipIf(env.skip)(`scripts/hdfs${env.note}`, () => {
  it('finds the jars cached by the global setup without running Maven', async () => {
    requireHdfs();
    const jars = await ensureHdfsJars();
    expect(jars.fetched).toBe(false);
    expect(existsSync(join(jars.libsDir, `hadoop-client-minicluster-${HADOOP_VERSION}.jar`))).toBe(true);
    expect(jars.libsDir).toBe(join(hdfsCacheDir(), HADOOP_VERSION, 'libs'));
  });

  it('hdfs:up starts a detached cluster, prints its hdfs:// URI and WebHDFS URL, takes writes; hdfs:down stops it and removes its data', async () => {
    requireHdfs();
    const [port, httpPort] = [await freePort(), await freePort()];
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let pid: number | undefined;
    try {
      const up = await hdfsUp(port, httpPort);
      pid = up.pid;
      expect(up).toMatchObject({ uri: `hdfs://127.0.0.1:${port}`, webhdfs: `http://127.0.0.1:${httpPort}` });
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n').split('\n');
      expect(printed).toContain(`hdfs://127.0.0.1:${port}`);
      expect(printed).toContain(`http://127.0.0.1:${httpPort}`);
      expect(printed).toContain(`stop it with: npm run hdfs:down -- --port ${port}`);
      const stateFile = join(hdfsCacheDir(), `namenode-${port}.json`);
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { dataDir: string };
      expect(existsSync(state.dataDir)).toBe(true);

      const client = new WebHdfsClient({ url: up.webhdfs, user: 'root' });
      try {
        await client.create('/hello', Buffer.from('world'));
        expect((await client.open('/hello')).toString()).toBe('world');
      } finally {
        client.close();
      }

      const again = await hdfsUp(port, httpPort);
      expect(again.pid).toBe(pid);
      expect(String(log.mock.calls.at(-1)![0])).toContain('already running');

      await hdfsDown(port);
      pid = undefined;
      expect(existsSync(state.dataDir)).toBe(false);
      expect(existsSync(stateFile)).toBe(false);
      await waitFor(() => !processAlive(up.pid), `pid ${up.pid} to exit`, 30_000);
    } finally {
      if (pid !== undefined) await hdfsDown(port);
      log.mockRestore();
    }
  }, 300_000);

  it('a stopped cluster starts again on its data and ports: files written before are there (after a clean stop and after SIGKILL)', async () => {
    requireHdfs();
    const hdfs = await startHdfs();
    try {
      const { uri, webhdfs } = hdfs;
      const client = new WebHdfsClient({ url: webhdfs, user: hdfs.superuser });
      try {
        await client.create('/kept', Buffer.from('before'));
        await hdfs.stop();
        expect(hdfs.running).toBe(false);
        await hdfs.start();
        expect([hdfs.uri, hdfs.webhdfs]).toEqual([uri, webhdfs]);
        await client.append('/kept', Buffer.from(' and after'));
        await hdfs.stop({ signal: 'SIGKILL' });
        await hdfs.start();
        expect((await client.open('/kept')).toString()).toBe('before and after');
      } finally {
        client.close();
      }
      // Hadoop's FsShell runs on the cluster's client configuration; a failing command says why.
      expect((await mustRun(fsShell(hdfs, ['-cat', '/kept']), 'cat')).toString()).toBe('before and after');
      await expect(mustRun(fsShell(hdfs, ['-cat', '/missing']), 'hadoop fs -cat /missing')).rejects.toThrow(/hadoop fs -cat \/missing failed with exit code 1:[\s\S]*No such file/);
    } finally {
      await hdfs.close();
    }
    expect(existsSync(hdfs.dataDir)).toBe(false);
  }, 400_000);
});
