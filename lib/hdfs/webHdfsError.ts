/**
 * WebHDFS failures as FlumeErrors with stable codes. HDFS answers an error with
 * `{"RemoteException":{"exception":"<SimpleName>","javaClassName":"<FQCN>","message":…}}`; the
 * message of an RPC-layer error carries the server's stack trace, so the code comes from `exception`,
 * and only the message's first line is kept in ours. The HTTP status decides only when the body names
 * no known exception (both of Hadoop's ExceptionHandlers answer 403 for any IOException).
 */
import { FlumeError, type ErrorCode, ERROR_CODES } from '../core/errors.js';

const BY_EXCEPTION: Readonly<Record<string, ErrorCode>> = {
  FileNotFoundException: 'FLUME_HDFS_NOT_FOUND',
  FileAlreadyExistsException: 'FLUME_HDFS_EXISTS',
  AccessControlException: 'FLUME_HDFS_PERMISSION',
  SecurityException: 'FLUME_HDFS_PERMISSION',
  AuthorizationException: 'FLUME_HDFS_PERMISSION',
  SafeModeException: 'FLUME_HDFS_SAFE_MODE',
  AlreadyBeingCreatedException: 'FLUME_HDFS_LEASE',
  RecoveryInProgressException: 'FLUME_HDFS_LEASE',
  LeaseExpiredException: 'FLUME_HDFS_LEASE',
  QuotaExceededException: 'FLUME_HDFS_QUOTA',
  NSQuotaExceededException: 'FLUME_HDFS_QUOTA',
  DSQuotaExceededException: 'FLUME_HDFS_QUOTA',
  QuotaByStorageTypeExceededException: 'FLUME_HDFS_QUOTA',
  MaxDirectoryItemsExceededException: 'FLUME_HDFS_QUOTA',
  IllegalArgumentException: 'FLUME_HDFS_BAD_REQUEST',
  HadoopIllegalArgumentException: 'FLUME_HDFS_BAD_REQUEST',
  UnsupportedOperationException: 'FLUME_HDFS_BAD_REQUEST',
  InvalidPathException: 'FLUME_HDFS_BAD_REQUEST',
  PathComponentTooLongException: 'FLUME_HDFS_BAD_REQUEST',
  ParentNotDirectoryException: 'FLUME_HDFS_BAD_REQUEST',
  PathIsNotEmptyDirectoryException: 'FLUME_HDFS_BAD_REQUEST',
  PathIsNotDirectoryException: 'FLUME_HDFS_BAD_REQUEST',
  StandbyException: 'FLUME_HDFS_IO',
};

export interface WebHdfsErrorDetails {
  /** The WebHDFS op, e.g. CREATE. */
  op: string;
  /** The HDFS path it was about. */
  path: string;
  /** The HTTP status, when there was an answer. */
  status?: number | undefined;
  /** RemoteException.exception (a simple class name), when HDFS sent one. */
  exception?: string | undefined;
  javaClassName?: string | undefined;
  component?: string | undefined;
  cause?: unknown;
}

export class WebHdfsError extends FlumeError {
  readonly op: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly exception: string | undefined;
  readonly javaClassName: string | undefined;

  constructor(code: ErrorCode, message: string, details: WebHdfsErrorDetails) {
    super(code, message, { component: details.component, retriable: ERROR_CODES[code].retriable, cause: details.cause });
    this.op = details.op;
    this.path = details.path;
    this.status = details.status;
    this.exception = details.exception;
    this.javaClassName = details.javaClassName;
  }
}

/** The code for a RemoteException's simple class name, or (none known) for the HTTP status. */
export function codeFor(exception: string | undefined, status: number, message = ''): ErrorCode {
  if (exception !== undefined) {
    const known = BY_EXCEPTION[exception];
    if (known) return known;
    // Hadoop wraps a safe-mode refusal in RetriableException when HA is on.
    if (exception === 'RetriableException') return /safe ?mode/i.test(message) ? 'FLUME_HDFS_SAFE_MODE' : 'FLUME_HDFS_IO';
  }
  // The NameNode refuses a block size under dfs.namenode.fs-limits.min-block-size with a plain IOException: a setting, not a passing failure.
  if (exception === 'IOException' && /block size .* less than configured minimum/i.test(message)) return 'FLUME_HDFS_BAD_REQUEST';
  if (status === 401) return 'FLUME_HDFS_PERMISSION';
  if (status === 404) return 'FLUME_HDFS_NOT_FOUND';
  if (status === 400) return 'FLUME_HDFS_BAD_REQUEST';
  return 'FLUME_HDFS_IO';
}

/** An error answer (status ≥ 300) as a WebHdfsError naming the op, the path and HDFS's exception. */
export function errorFromResponse(op: string, path: string, status: number, body: Buffer, component?: string): WebHdfsError {
  let remote: { exception?: unknown; javaClassName?: unknown; message?: unknown } | undefined;
  try {
    remote = (JSON.parse(body.toString('utf8')) as { RemoteException?: typeof remote }).RemoteException;
  } catch {
    remote = undefined;
  }
  const exception = typeof remote?.exception === 'string' ? remote.exception : undefined;
  const javaClassName = typeof remote?.javaClassName === 'string' ? remote.javaClassName : undefined;
  const fullMessage = typeof remote?.message === 'string' ? remote.message : body.toString('utf8', 0, Math.min(body.length, 300)).trim();
  const firstLine = fullMessage.split('\n')[0]!.trim();
  const code = codeFor(exception, status, fullMessage);
  const what = exception ? `${exception}: ${firstLine}` : `HTTP ${status}${firstLine ? `: ${firstLine}` : ''}`;
  return new WebHdfsError(code, `WebHDFS ${op} ${path} failed: ${what}`, { op, path, status, exception, javaClassName, component });
}
