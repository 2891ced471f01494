/**
 * Safe mode on a cluster of its own (entering it on the run's shared cluster would stop every other HDFS
 * test's writes): `hdfs dfsadmin -safemode enter` through Hadoop's DFSAdmin on the same jars.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebHdfsClient } from '../../../lib/hdfs/webHdfsClient.js';
import { dfsAdmin, mustRun, startHdfs, type Hdfs } from '../../../scripts/hdfs.js';
import { hdfsEnv, requireHdfs } from '../../support/hdfs.js';
import { refusal } from '../../support/hdfsRefusal.js';

const env = hdfsEnv();

describe.skipIf(env.skip)(`WebHdfsClient and safe mode${env.note}`, () => {
  let hdfs: Hdfs | undefined;
  let client: WebHdfsClient;

  beforeAll(async () => {
    if (env.skip) return;
    requireHdfs();
    hdfs = await startHdfs();
    client = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser });
  }, 240_000);
  afterAll(async () => {
    client?.close();
    await hdfs?.close();
  }, 120_000);

  it('writes in safe mode are FLUME_HDFS_SAFE_MODE (retriable), reads go on; after leaving it writes succeed', async () => {
    await client.mkdirs('/safe');
    await client.create('/safe/existing', Buffer.from('before'));
    await mustRun(dfsAdmin(hdfs!, ['-safemode', 'enter']), 'dfsadmin -safemode enter');
    try {
      for (const [op, attempt] of [
        ['MKDIRS', () => client.mkdirs('/safe/dir')],
        ['CREATE', () => client.create('/safe/new', Buffer.from('x'))],
        ['RENAME', () => client.rename('/safe/existing', '/safe/renamed')],
        ['DELETE', () => client.delete('/safe/existing')],
      ] as const) {
        const error = await refusal(attempt());
        expect(error, op).toMatchObject({ code: 'FLUME_HDFS_SAFE_MODE', retriable: true, op, status: 403 });
        expect(error.message).toMatch(/safe mode/i);
      }
      expect((await client.open('/safe/existing')).toString()).toBe('before');
    } finally {
      await mustRun(dfsAdmin(hdfs!, ['-safemode', 'leave']), 'dfsadmin -safemode leave');
    }
    await client.create('/safe/new', Buffer.from('after'));
    expect(await client.rename('/safe/existing', '/safe/renamed')).toBe(true);
  }, 120_000);
});
