import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../lib/core/errors.js';
import { codeFor, errorFromResponse, WebHdfsError } from '../../../lib/hdfs/webHdfsError.js';

const remote = (exception: string, message: string, javaClassName = `org.apache.hadoop.x.${exception}`) =>
  Buffer.from(JSON.stringify({ RemoteException: { exception, javaClassName, message } }));

describe('WebHDFS errors', () => {
  it('maps each RemoteException HDFS sends to a stable code, whatever the status', () => {
    const table: Array<[string, string]> = [
      ['FileNotFoundException', 'FLUME_HDFS_NOT_FOUND'],
      ['FileAlreadyExistsException', 'FLUME_HDFS_EXISTS'],
      ['AccessControlException', 'FLUME_HDFS_PERMISSION'],
      ['AuthorizationException', 'FLUME_HDFS_PERMISSION'],
      ['SecurityException', 'FLUME_HDFS_PERMISSION'],
      ['SafeModeException', 'FLUME_HDFS_SAFE_MODE'],
      ['AlreadyBeingCreatedException', 'FLUME_HDFS_LEASE'],
      ['RecoveryInProgressException', 'FLUME_HDFS_LEASE'],
      ['LeaseExpiredException', 'FLUME_HDFS_LEASE'],
      ['NSQuotaExceededException', 'FLUME_HDFS_QUOTA'],
      ['DSQuotaExceededException', 'FLUME_HDFS_QUOTA'],
      ['IllegalArgumentException', 'FLUME_HDFS_BAD_REQUEST'],
      ['UnsupportedOperationException', 'FLUME_HDFS_BAD_REQUEST'],
      ['PathIsNotEmptyDirectoryException', 'FLUME_HDFS_BAD_REQUEST'],
      ['ParentNotDirectoryException', 'FLUME_HDFS_BAD_REQUEST'],
      ['InvalidPathException', 'FLUME_HDFS_BAD_REQUEST'],
      ['StandbyException', 'FLUME_HDFS_IO'],
      ['IOException', 'FLUME_HDFS_IO'],
    ];
    for (const [exception, code] of table) expect([exception, codeFor(exception, 403)]).toEqual([exception, code]);
    expect(codeFor('RetriableException', 403, 'org.apache.hadoop.hdfs.server.namenode.SafeModeException: Cannot create file. Name node is in safe mode.')).toBe('FLUME_HDFS_SAFE_MODE');
    expect(codeFor('RetriableException', 403, 'something else')).toBe('FLUME_HDFS_IO');
    expect(codeFor('IOException', 403, 'Specified block size 1024 is less than configured minimum value dfs.namenode.fs-limits.min-block-size=1048576')).toBe('FLUME_HDFS_BAD_REQUEST');
  });

  it('without a known exception the status decides: 401 permission, 404 not found, 400 bad request, else I/O', () => {
    expect([401, 404, 400, 403, 500, 503].map((s) => codeFor(undefined, s))).toEqual([
      'FLUME_HDFS_PERMISSION',
      'FLUME_HDFS_NOT_FOUND',
      'FLUME_HDFS_BAD_REQUEST',
      'FLUME_HDFS_IO',
      'FLUME_HDFS_IO',
      'FLUME_HDFS_IO',
    ]);
  });

  it("keeps the first line of HDFS's message (RPC errors carry the server's stack trace), the op, the path and the class", () => {
    const body = remote('SafeModeException', 'Cannot create directory /a. Name node is in safe mode.\n\tat org.apache.hadoop.hdfs.server.namenode.FSNamesystem.checkNameNodeSafeMode(FSNamesystem.java:1)\n\tat …');
    const error = errorFromResponse('MKDIRS', '/a', 403, body, 'hdfs-sink');
    expect(error).toBeInstanceOf(WebHdfsError);
    expect(error).toMatchObject({ code: 'FLUME_HDFS_SAFE_MODE', retriable: true, status: 403, op: 'MKDIRS', path: '/a', component: 'hdfs-sink', exception: 'SafeModeException' });
    expect(error.message).toBe('WebHDFS MKDIRS /a failed: SafeModeException: Cannot create directory /a. Name node is in safe mode.');
    expect(error.javaClassName).toBe('org.apache.hadoop.x.SafeModeException');
  });

  it('a body that is not a RemoteException (an HTML page, nothing) still gives a clear error with the status', () => {
    const html = errorFromResponse('OPEN', '/f', 502, Buffer.from('<html>Bad Gateway</html>'));
    expect(html).toMatchObject({ code: 'FLUME_HDFS_IO', status: 502, exception: undefined });
    expect(html.message).toBe('WebHDFS OPEN /f failed: HTTP 502: <html>Bad Gateway</html>');
    expect(errorFromResponse('OPEN', '/f', 404, Buffer.alloc(0)).message).toBe('WebHDFS OPEN /f failed: HTTP 404');
  });

  it("retriable follows each code's entry in ERROR_CODES", () => {
    for (const code of ['FLUME_HDFS_SAFE_MODE', 'FLUME_HDFS_LEASE', 'FLUME_HDFS_IO', 'FLUME_HDFS_TIMEOUT'] as const) expect(ERROR_CODES[code].retriable).toBe(true);
    for (const code of ['FLUME_HDFS_NOT_FOUND', 'FLUME_HDFS_EXISTS', 'FLUME_HDFS_PERMISSION', 'FLUME_HDFS_QUOTA', 'FLUME_HDFS_BAD_REQUEST'] as const) expect(ERROR_CODES[code].retriable).toBe(false);
    expect(new WebHdfsError('FLUME_HDFS_LEASE', 'x', { op: 'APPEND', path: '/f' }).retriable).toBe(true);
  });
});
