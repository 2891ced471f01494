/** lib/hdfs/webHdfsClient.ts against the real HDFS: each operation, and each HDFS refusal as its stable code. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebHdfsClient } from '../../../lib/hdfs/webHdfsClient.js';
import { dfsAdmin, mustRun } from '../../../scripts/hdfs.js';
import { hdfsEnv, requireHdfs, uniquePath } from '../../support/hdfs.js';
import { refusal } from '../../support/hdfsRefusal.js';

const env = hdfsEnv();

describe.skipIf(env.skip)(`WebHdfsClient against HDFS${env.note}`, () => {
  let root: WebHdfsClient;
  let dir: string;

  beforeAll(async () => {
    if (env.skip) return;
    const hdfs = requireHdfs();
    root = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser, component: 'test' });
    dir = uniquePath('client');
    expect(await root.mkdirs(dir)).toBe(true);
  });
  afterAll(() => root?.close());

  it('CREATE then APPENDs: the bytes and the length are there after each call returns', async () => {
    const path = `${dir}/create-append`;
    await root.create(path, Buffer.from('hello'));
    expect((await root.open(path)).toString()).toBe('hello');
    await root.append(path, Buffer.from(' world'));
    await root.append(path, Buffer.from([0, 255, 10]));
    expect((await root.open(path)).equals(Buffer.concat([Buffer.from('hello world'), Buffer.from([0, 255, 10])]))).toBe(true);
    const status = await root.getFileStatus(path);
    expect(status).toMatchObject({ type: 'FILE', length: 14, owner: requireHdfs().superuser, permission: '644', replication: 1 });
    expect((await root.open(path, { offset: 6, length: 5 })).toString()).toBe('world');
  });

  it('CREATE of an empty file, with permission, and of a large body (8 MiB)', async () => {
    await root.create(`${dir}/empty`, Buffer.alloc(0), { permission: '600' });
    expect(await root.getFileStatus(`${dir}/empty`)).toMatchObject({ length: 0, permission: '600' });
    const big = Buffer.alloc(8 * 1024 * 1024, 0x5a);
    await root.create(`${dir}/big`, big);
    expect((await root.getFileStatus(`${dir}/big`)).length).toBe(big.length);
  });

  it('CREATE over an existing file: FLUME_HDFS_EXISTS naming the file (not retriable); overwrite replaces it', async () => {
    const path = `${dir}/exists`;
    await root.create(path, Buffer.from('one'));
    const error = await refusal(root.create(path, Buffer.from('two')));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_EXISTS', retriable: false, status: 403, exception: 'FileAlreadyExistsException', op: 'CREATE', path, component: 'test' });
    expect(error.javaClassName).toBe('org.apache.hadoop.fs.FileAlreadyExistsException');
    expect(error.message).toContain(`WebHDFS CREATE ${path} failed: FileAlreadyExistsException`);
    expect((await root.open(path)).toString()).toBe('one');
    await root.create(path, Buffer.from('two'), { overwrite: true });
    expect((await root.open(path)).toString()).toBe('two');
  });

  it('missing parent: CREATE with createParent false, APPEND, GETFILESTATUS and OPEN of missing files are FLUME_HDFS_NOT_FOUND', async () => {
    const missing = `${dir}/no-such-dir/file`;
    expect(await refusal(root.create(missing, Buffer.from('x'), { createParent: false }))).toMatchObject({ code: 'FLUME_HDFS_NOT_FOUND', status: 404, exception: 'FileNotFoundException', retriable: false });
    expect(await refusal(root.append(`${dir}/no-such-file`, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_NOT_FOUND', op: 'APPEND' });
    expect(await refusal(root.getFileStatus(`${dir}/no-such-file`))).toMatchObject({ code: 'FLUME_HDFS_NOT_FOUND', op: 'GETFILESTATUS' });
    expect(await refusal(root.open(`${dir}/no-such-file`))).toMatchObject({ code: 'FLUME_HDFS_NOT_FOUND', op: 'OPEN' });
    expect(await root.stat(`${dir}/no-such-file`)).toBeUndefined();
    // The default creates the parents.
    await root.create(missing, Buffer.from('x'));
    expect(await root.stat(missing)).toMatchObject({ length: 1 });
  });

  it('MKDIRS: true for a new and an existing directory; over a file FLUME_HDFS_EXISTS; a file as parent FLUME_HDFS_BAD_REQUEST', async () => {
    expect(await root.mkdirs(`${dir}/m/a/b`, '750')).toBe(true);
    expect(await root.mkdirs(`${dir}/m/a/b`)).toBe(true);
    expect(await root.getFileStatus(`${dir}/m/a/b`)).toMatchObject({ type: 'DIRECTORY', permission: '750' });
    await root.create(`${dir}/m/file`, Buffer.from('x'));
    expect(await refusal(root.mkdirs(`${dir}/m/file`))).toMatchObject({ code: 'FLUME_HDFS_EXISTS', op: 'MKDIRS' });
    expect(await refusal(root.create(`${dir}/m/file/child`, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', exception: 'ParentNotDirectoryException' });
  });

  it('LISTSTATUS lists names exactly, whatever characters they hold', async () => {
    const names = ['plain', 'with space', 'per%cent', 'plus+sign', 'hash#q?', 'ünïcödé-日本'];
    await root.mkdirs(`${dir}/names`);
    for (const name of names) await root.create(`${dir}/names/${name}`, Buffer.from(name));
    const listed = await root.listStatus(`${dir}/names`);
    expect(listed.map((s) => s.pathSuffix).sort()).toEqual([...names].sort());
    for (const name of names) expect((await root.open(`${dir}/names/${name}`)).toString()).toBe(name);
  });

  it('RENAME: true when done; false (no error) for a missing source, an existing destination file, a missing destination parent; into an existing directory', async () => {
    const a = `${dir}/r/a`;
    await root.create(a, Buffer.from('a'));
    await root.create(`${dir}/r/taken`, Buffer.from('t'));
    expect(await root.rename(a, `${dir}/r/b`)).toBe(true);
    expect(await root.stat(a)).toBeUndefined();
    expect((await root.open(`${dir}/r/b`)).toString()).toBe('a');
    expect(await root.rename(`${dir}/r/missing`, `${dir}/r/c`)).toBe(false);
    expect(await root.rename(`${dir}/r/b`, `${dir}/r/taken`)).toBe(false);
    expect(await root.rename(`${dir}/r/b`, `${dir}/r/no-parent/c`)).toBe(false);
    await root.mkdirs(`${dir}/r/into`);
    expect(await root.rename(`${dir}/r/b`, `${dir}/r/into`)).toBe(true);
    expect((await root.open(`${dir}/r/into/b`)).toString()).toBe('a');
  });

  it('DELETE: false when missing; a non-empty directory needs recursive (FLUME_HDFS_BAD_REQUEST otherwise)', async () => {
    await root.create(`${dir}/d/x`, Buffer.from('x'));
    expect(await root.delete(`${dir}/d/missing`)).toBe(false);
    expect(await refusal(root.delete(`${dir}/d`))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', exception: 'PathIsNotEmptyDirectoryException', status: 403 });
    expect(await root.delete(`${dir}/d`, true)).toBe(true);
    expect(await root.stat(`${dir}/d`)).toBeUndefined();
  });

  it('TRUNCATE to a block boundary (0) is done at once', async () => {
    await root.create(`${dir}/t`, Buffer.from('abcdef'));
    expect(await root.truncate(`${dir}/t`, 0)).toBe(true);
    expect((await root.getFileStatus(`${dir}/t`)).length).toBe(0);
  });

  it('permission denied: another user writing under a 755 directory of the superuser is FLUME_HDFS_PERMISSION (not retriable)', async () => {
    const hdfs = requireHdfs();
    const eve = new WebHdfsClient({ url: hdfs.webhdfs, user: 'eve' });
    try {
      const error = await refusal(eve.create(`${dir}/eve-file`, Buffer.from('x')));
      expect(error).toMatchObject({ code: 'FLUME_HDFS_PERMISSION', retriable: false, status: 403, exception: 'AccessControlException' });
      expect(error.message).toMatch(/Permission denied: user=eve, access=WRITE/);
      expect(await refusal(eve.mkdirs(`${dir}/eve-dir`))).toMatchObject({ code: 'FLUME_HDFS_PERMISSION' });
      // stat() is undefined only for a missing path: a refusal to look is thrown.
      await root.mkdirs(`${dir}/private`, '700');
      expect(await refusal(eve.stat(`${dir}/private/x`))).toMatchObject({ code: 'FLUME_HDFS_PERMISSION', op: 'GETFILESTATUS' });
      // user.name is who HDFS sees: in a directory eve may write to, the file is hers.
      await root.mkdirs(`${dir}/open`, '777');
      await eve.create(`${dir}/open/eve-file`, Buffer.from('x'));
      expect((await root.getFileStatus(`${dir}/open/eve-file`)).owner).toBe('eve');
    } finally {
      eve.close();
    }
  });

  it('doas without hadoop.proxyuser rules is FLUME_HDFS_PERMISSION (AuthorizationException)', async () => {
    const hdfs = requireHdfs();
    const proxy = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser, doAs: 'bob' });
    try {
      expect(await refusal(proxy.create(`${dir}/as-bob`, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_PERMISSION', exception: 'AuthorizationException', status: 403 });
    } finally {
      proxy.close();
    }
  });

  it('bad parameters: FLUME_HDFS_BAD_REQUEST (400 IllegalArgumentException; a block size under the minimum)', async () => {
    expect(await refusal(root.create(`${dir}/bad`, Buffer.from('x'), { replication: -3 }))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', status: 400, exception: 'IllegalArgumentException' });
    expect(await refusal(root.create(`${dir}/bad`, Buffer.from('x'), { blockSize: 1024 }))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', exception: 'IOException' });
    expect(await root.stat(`${dir}/bad`)).toBeUndefined();
  });

  it('a path that is not an absolute HDFS path is refused before any request', async () => {
    for (const path of ['relative/x', `${dir}/../x`, `${dir}/a:b`, '']) {
      expect(await refusal(root.create(path, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', status: undefined });
    }
    expect(await refusal(root.rename(`${dir}/x`, 'relative'))).toMatchObject({ code: 'FLUME_HDFS_BAD_REQUEST', op: 'RENAME' });
  });

  it('quotas: a namespace quota and a space quota exceeded are FLUME_HDFS_QUOTA (a space refusal leaves an empty file behind)', async () => {
    const hdfs = requireHdfs();
    const names = `${dir}/ns-quota`;
    const space = `${dir}/space-quota`;
    await root.mkdirs(names);
    await root.mkdirs(space);
    await mustRun(dfsAdmin(hdfs, ['-setQuota', '2', names]), 'dfsadmin -setQuota');
    await mustRun(dfsAdmin(hdfs, ['-setSpaceQuota', '1k', space]), 'dfsadmin -setSpaceQuota');
    await root.create(`${names}/one`, Buffer.from('x')); // the directory and one file: 2 names
    expect(await refusal(root.create(`${names}/two`, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_QUOTA', exception: 'NSQuotaExceededException', retriable: false });
    expect(await refusal(root.create(`${space}/big`, Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_QUOTA', exception: 'DSQuotaExceededException' });
    expect(await root.stat(`${space}/big`)).toMatchObject({ length: 0 });
  });
});
