/**
 * A WebHDFS REST client (Hadoop's `/webhdfs/v1` API on the NameNode's HTTP port, or on an HttpFS
 * gateway): the operations a writer needs, with HDFS's errors as WebHdfsErrors with stable codes.
 *
 * - Writes go in two steps: CREATE/APPEND without a body to the NameNode with `noredirect=true`, which
 *   answers where to send the bytes (a DataNode), then the bytes to that address. A body is never sent
 *   to a request that may redirect, so none is ever replayed; a redirect answered to the data step is an
 *   error. A 2xx on the data step means the DataNode closed the file: the bytes are in HDFS.
 * - HttpFS (`gateway: 'httpfs'`) takes the bytes in one request with `data=true` and
 *   `Content-Type: application/octet-stream`, which it requires (400 otherwise).
 * - Simple authentication: `user.name`, and `doas` to write as another user (the NameNode must allow it
 *   through hadoop.proxyuser.* rules, else FLUME_HDFS_PERMISSION). Kerberos (SPNEGO) is not supported.
 * - One keep-alive agent per client; every operation has a deadline (`timeoutMs`, both steps together),
 *   past which its sockets are destroyed and it fails with FLUME_HDFS_TIMEOUT — a write may then have
 *   been applied in part (HDFS commits what the DataNode received), which a caller checks with `stat`.
 */
import type { Agent, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { WebHdfsError, errorFromResponse } from './webHdfsError.js';

export interface WebHdfsOptions {
  /** `http(s)://host:port` of the NameNode's HTTP server (or HttpFS); `webhdfs://` and `swebhdfs://` mean http and https. */
  url: string;
  /** `user.name` of simple authentication; absent: the server's default (`dr.who`). */
  user?: string | undefined;
  /** `doas`: act as this user (proxy user). */
  doAs?: string | undefined;
  /** `namenode` (default): two-step writes through a DataNode; `httpfs`: one-step writes with `data=true`. */
  gateway?: 'namenode' | 'httpfs';
  /** Deadline of one operation, both steps together (default 30,000 ms: Flume's callTimeout). */
  timeoutMs?: number;
  /** Sockets per host (default 16). */
  maxSockets?: number;
  /** TLS options for https (ca, cert, key, rejectUnauthorized, …). */
  tls?: ConnectionOptions;
  /** Names the component in errors. */
  component?: string;
  /** Largest answer read into memory (OPEN included); default 64 MiB. */
  maxResponseBytes?: number;
}

export interface FileStatus {
  /** The name in its directory (empty for GETFILESTATUS). */
  pathSuffix: string;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  length: number;
  owner: string;
  group: string;
  /** Octal, e.g. "644". */
  permission: string;
  replication: number;
  blockSize: number;
  modificationTime: number;
  accessTime: number;
}

export interface CreateOptions {
  /** Replace an existing file (default false: FLUME_HDFS_EXISTS). */
  overwrite?: boolean;
  /** Octal permission (default 644; no umask is applied). */
  permission?: string;
  replication?: number;
  /** Bytes (the NameNode rejects less than dfs.namenode.fs-limits.min-block-size, 1 MiB by default). */
  blockSize?: number;
  bufferSize?: number;
  /** Create missing parent directories (default true). */
  createParent?: boolean;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
type Params = Record<string, string | number | boolean | undefined>;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Encodes each segment of an absolute HDFS path for the URL. */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function baseUrl(url: string): URL {
  const parsed = new URL(url.replace(/^webhdfs:/i, 'http:').replace(/^swebhdfs:/i, 'https:'));
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`a WebHDFS URL is http(s)://, webhdfs:// or swebhdfs://host:port, not ${url}`);
  return parsed;
}

export class WebHdfsClient {
  private readonly base: URL;
  /** Made on first use, per scheme: an ES import of node:http syncs its lazy exports (undici, +8 MB RSS), and the native transport needs neither. */
  private readonly agents: { 'http:'?: Agent; 'https:'?: Agent } = {};
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: WebHdfsOptions) {
    this.base = baseUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  private agent(protocol: 'http:' | 'https:'): Agent {
    const maxSockets = this.options.maxSockets ?? 16;
    return (this.agents[protocol] ??=
      protocol === 'https:'
        ? new (process.getBuiltinModule('node:https').Agent)({ keepAlive: true, maxSockets, ...this.options.tls })
        : new (process.getBuiltinModule('node:http').Agent)({ keepAlive: true, maxSockets }));
  }

  /** The address requests go to, e.g. `http://127.0.0.1:9870`. */
  get url(): string {
    return this.base.origin;
  }

  /** Creates `path` holding `data` (which may be empty). FLUME_HDFS_EXISTS if it exists and `overwrite` is off. */
  async create(path: string, data: Uint8Array, options: CreateOptions = {}): Promise<void> {
    await this.write('CREATE', 'PUT', path, data, {
      overwrite: options.overwrite ?? false,
      // Hadoop's default for a new file under umask 022, as Flume's files get; HttpFS would make it 755.
      permission: options.permission ?? '644',
      replication: options.replication,
      blocksize: options.blockSize,
      buffersize: options.bufferSize,
      createparent: options.createParent ?? true,
    });
  }

  /** Appends `data` to the existing file `path` (FLUME_HDFS_NOT_FOUND if it is missing). */
  async append(path: string, data: Uint8Array, options: { bufferSize?: number } = {}): Promise<void> {
    await this.write('APPEND', 'POST', path, data, { buffersize: options.bufferSize });
  }

  /** Creates the directory and its parents (true also when it exists; a file in the way: FLUME_HDFS_EXISTS). */
  async mkdirs(path: string, permission?: string): Promise<boolean> {
    return this.booleanOp('MKDIRS', 'PUT', path, { permission });
  }

  /**
   * Renames `from` to `to`. False (no error) when HDFS refuses it quietly: `from` missing, `to` an
   * existing file, or `to`'s parent missing. When `to` is an existing directory, `from` moves into it.
   */
  async rename(from: string, to: string): Promise<boolean> {
    checkPath('RENAME', to, this.options.component);
    return this.booleanOp('RENAME', 'PUT', from, { destination: to });
  }

  /** Deletes the path; false if it did not exist. A non-empty directory needs `recursive` (else FLUME_HDFS_BAD_REQUEST). */
  async delete(path: string, recursive = false): Promise<boolean> {
    return this.booleanOp('DELETE', 'DELETE', path, { recursive });
  }

  /** Cuts the file to `newLength`; false when the cut is inside a block and HDFS recovers it in the background (the next APPEND may see FLUME_HDFS_LEASE). */
  async truncate(path: string, newLength: number): Promise<boolean> {
    return this.booleanOp('TRUNCATE', 'POST', path, { newlength: newLength });
  }

  /** The status of `path`; FLUME_HDFS_NOT_FOUND if it does not exist. */
  async getFileStatus(path: string): Promise<FileStatus> {
    const json = (await this.json('GETFILESTATUS', 'GET', path, {})) as { FileStatus?: FileStatus };
    if (!json.FileStatus) throw this.malformed('GETFILESTATUS', path, json);
    return json.FileStatus;
  }

  /** The status of `path`, or undefined if it does not exist. */
  async stat(path: string): Promise<FileStatus | undefined> {
    try {
      return await this.getFileStatus(path);
    } catch (error) {
      if (error instanceof WebHdfsError && error.code === 'FLUME_HDFS_NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** The entries of a directory (a file lists itself). */
  async listStatus(path: string): Promise<FileStatus[]> {
    const json = (await this.json('LISTSTATUS', 'GET', path, {})) as { FileStatuses?: { FileStatus?: FileStatus[] } };
    const list = json.FileStatuses?.FileStatus;
    if (!Array.isArray(list)) throw this.malformed('LISTSTATUS', path, json);
    return list;
  }

  /** The file's bytes (from `offset`, at most `length`), read through the DataNode. */
  async open(path: string, options: { offset?: number; length?: number } = {}): Promise<Buffer> {
    const deadline = Date.now() + this.timeoutMs;
    const location = await this.locate('OPEN', 'GET', path, { offset: options.offset, length: options.length }, deadline);
    const answer = await this.request('OPEN', path, 'GET', location, undefined, deadline, true);
    if (answer.status !== 200) throw this.failed('OPEN', path, answer);
    return answer.body;
  }

  /** Closes idle keep-alive sockets; requests still running finish. */
  close(): void {
    this.agents['http:']?.destroy();
    this.agents['https:']?.destroy();
  }

  // ---- the mechanism ---------------------------------------------------------------------------

  private async write(op: 'CREATE' | 'APPEND', method: 'PUT' | 'POST', path: string, data: Uint8Array, params: Params): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    const expected = op === 'CREATE' ? 201 : 200;
    let target: URL;
    if (this.options.gateway === 'httpfs') {
      target = this.nameNodeUrl(op, path, { ...params, data: true });
    } else {
      target = await this.locate(op, method, path, params, deadline);
    }
    const answer = await this.request(op, path, method, target, data, deadline, false);
    // HttpFS answers 200 to CREATE as well; a redirect is never followed with the body.
    if (answer.status !== expected && !(answer.status >= 200 && answer.status < 300)) throw this.failed(op, path, answer);
  }

  /** Step 1 of a two-step op: where the NameNode sends the data (noredirect=true; a 307 is read the same way). */
  private async locate(op: string, method: Method, path: string, params: Params, deadline: number): Promise<URL> {
    const answer = await this.request(op, path, method, this.nameNodeUrl(op, path, { ...params, noredirect: true }), undefined, deadline, true);
    let location: unknown;
    if (answer.status === 200) {
      try {
        location = (JSON.parse(answer.body.toString('utf8')) as { Location?: unknown }).Location;
      } catch {
        location = undefined;
      }
    } else if (answer.status === 307 || answer.status === 302 || answer.status === 303) {
      location = answer.headers.location;
    } else {
      throw this.failed(op, path, answer);
    }
    if (typeof location !== 'string') throw this.malformed(op, path, answer.body.toString('utf8', 0, 200));
    try {
      return new URL(location, this.base);
    } catch (cause) {
      throw new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path} failed: the NameNode sent an invalid Location ${JSON.stringify(location)}`, {
        op,
        path,
        status: answer.status,
        component: this.options.component,
        cause,
      });
    }
  }

  private async booleanOp(op: string, method: Method, path: string, params: Params): Promise<boolean> {
    const json = (await this.json(op, method, path, params)) as { boolean?: unknown };
    if (typeof json.boolean !== 'boolean') throw this.malformed(op, path, json);
    return json.boolean;
  }

  private async json(op: string, method: Method, path: string, params: Params): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs;
    const answer = await this.request(op, path, method, this.nameNodeUrl(op, path, params), undefined, deadline, method === 'GET');
    if (answer.status !== 200) throw this.failed(op, path, answer);
    try {
      return JSON.parse(answer.body.toString('utf8')) as unknown;
    } catch {
      throw this.malformed(op, path, answer.body.toString('utf8', 0, 200));
    }
  }

  private nameNodeUrl(op: string, path: string, params: Params): URL {
    checkPath(op, path, this.options.component);
    const url = new URL(`/webhdfs/v1${encodePath(path)}`, this.base);
    url.searchParams.set('op', op);
    if (this.options.user !== undefined) url.searchParams.set('user.name', this.options.user);
    if (this.options.doAs !== undefined) url.searchParams.set('doas', this.options.doAs);
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  /**
   * One HTTP exchange, read to its end. `retryOnStaleSocket`: a request without side effects (a GET, or
   * the bodiless first step) is sent once more when a reused keep-alive socket turns out closed by the server.
   */
  private request(op: string, path: string, method: Method, url: URL, body: Uint8Array | undefined, deadline: number, retryOnStaleSocket: boolean): Promise<Answer> {
    const component = this.options.component;
    return new Promise<Answer>((resolve, reject) => {
      const attempt = (retried: boolean) => {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          reject(new WebHdfsError('FLUME_HDFS_TIMEOUT', `WebHDFS ${op} ${path} timed out after ${this.timeoutMs} ms`, { op, path, component }));
          return;
        }
        const secure = url.protocol === 'https:';
        const headers: OutgoingHttpHeaders = {};
        if (body !== undefined) {
          headers['content-type'] = 'application/octet-stream';
          headers['content-length'] = body.length;
        } else if (method === 'PUT' || method === 'POST') {
          headers['content-length'] = 0;
        }
        const req = process.getBuiltinModule(secure ? 'node:https' : 'node:http').request(url, { method, headers, agent: this.agent(secure ? 'https:' : 'http:') });
        let settled = false;
        const fail = (error: WebHdfsError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        };
        const timer = setTimeout(() => {
          const error = new WebHdfsError('FLUME_HDFS_TIMEOUT', `WebHDFS ${op} ${path} timed out after ${this.timeoutMs} ms (${url.host})`, { op, path, component });
          fail(error);
          req.destroy(error);
        }, remaining);
        req.on('error', (cause: NodeJS.ErrnoException) => {
          if (settled) return;
          if (retryOnStaleSocket && !retried && req.reusedSocket && (cause.code === 'ECONNRESET' || cause.code === 'EPIPE')) {
            settled = true;
            clearTimeout(timer);
            attempt(true);
            return;
          }
          fail(
            new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path} failed: ${cause.code ?? cause.message} talking to ${url.host}`, { op, path, component, cause }),
          );
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxResponseBytes) {
              const error = new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path}: the answer from ${url.host} exceeds ${this.maxResponseBytes} bytes`, { op, path, component });
              fail(error);
              res.destroy();
              req.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (cause) => fail(new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path} failed reading the answer from ${url.host}`, { op, path, component, cause })));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size) });
          });
        });
        req.end(body);
      };
      attempt(false);
    });
  }

  private failed(op: string, path: string, answer: Answer): WebHdfsError {
    if (answer.status >= 300 && answer.status < 400) {
      return new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path} failed: unexpected redirect (HTTP ${answer.status}) to ${answer.headers.location ?? '?'}; data is never re-sent on a redirect`, {
        op,
        path,
        status: answer.status,
        component: this.options.component,
      });
    }
    if (answer.status < 300) return this.malformed(op, path, `HTTP ${answer.status}`);
    return errorFromResponse(op, path, answer.status, answer.body, this.options.component);
  }

  private malformed(op: string, path: string, what: unknown): WebHdfsError {
    const text = typeof what === 'string' ? what : JSON.stringify(what)?.slice(0, 200);
    return new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path}: unexpected answer ${text}`, { op, path, component: this.options.component });
  }
}

function checkPath(op: string, path: string, component: string | undefined): void {
  if (!path.startsWith('/') || path.split('/').some((s) => s === '.' || s === '..') || /[\u0000:]/.test(path)) {
    throw new WebHdfsError('FLUME_HDFS_BAD_REQUEST', `WebHDFS ${op}: ${JSON.stringify(path)} is not an absolute HDFS path (no ".", "..", ":" or NUL segments)`, {
      op,
      path,
      component,
    });
  }
}
