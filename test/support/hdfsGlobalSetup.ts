/**
 * Vitest global setup: starts a real single-node HDFS (scripts/hdfs.ts: NameNode + DataNode) for the
 * run, on free ports with its own temp data, and hands its addresses to the tests as `inject('hdfs')`
 * (see test/support/hdfs.ts). Stops it and removes its data at the end.
 *
 * - Only when the run includes a test file with "hdfs" in its path (otherwise no JVM is started).
 * - Java or Maven missing: HDFS tests are skipped with that reason — unless `RXFLUME_REQUIRE_HDFS=1`
 *   (set by .ci/run), where they fail with it. Any other start failure makes them fail.
 */
import type { TestProject } from 'vitest/node';
import { HADOOP_VERSION, startHdfs } from '../../scripts/hdfs.js';
import { httpfsProxyUserConf } from '../../scripts/httpfs.js';
import type { HdfsTestEnv } from './hdfs.js';
import { compileHadoopReader } from './hdfsReader.js';
import { serviceGlobalSetup } from './serviceGlobalSetup.js';

export default function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  return serviceGlobalSetup<HdfsTestEnv>(project, {
    tag: 'hdfs',
    name: 'HDFS',
    testFiles: /hdfs/i,
    what: `Hadoop ${HADOOP_VERSION} HDFS`,
    requireEnv: 'RXFLUME_REQUIRE_HDFS',
    provide: (env) => project.provide('hdfs', env),
    without: (outcome) => ({ cluster: null, ...outcome }),
    async start() {
      // HttpFS's login user (`httpfs`, not the superuser) may impersonate, for the HttpFS tests (scripts/httpfs.ts).
      const hdfs = await startHdfs({ conf: httpfsProxyUserConf() });
      let readerClasses: string;
      try {
        readerClasses = await compileHadoopReader(hdfs.libsDir);
      } catch (error) {
        await hdfs.close();
        throw error;
      }
      const { uri, webhdfs, port, httpPort, superuser, version, confDir, libsDir, dataDir } = hdfs;
      return {
        env: { cluster: { uri, webhdfs, port, httpPort, superuser, version, confDir, libsDir, dataDir, readerClasses } },
        ready: `HDFS ${version} ready on ${uri}, WebHDFS ${webhdfs}`,
        close: () => hdfs.close(),
      };
    },
  });
}
