/**
 * A Hadoop IPC client (the protocol of every Hadoop RPC server; here the NameNode's ClientProtocol):
 *
 * - one TCP connection, opened on the first call and again after it broke; its preamble is `hrpc`,
 *   version 9, service class 0 and auth protocol 0 (none: SIMPLE authentication), then an
 *   IpcConnectionContextProto naming the user (and, writing as a proxy user, the real user) and the
 *   protocol, sent as call -3;
 * - each call a frame: a 4-byte length, then delimited RpcRequestHeaderProto (kind protocol buffer,
 *   call id, client id), RequestHeaderProto (method, protocol, version) and the request message;
 * - answers matched by call id, in any order: RpcResponseHeaderProto, then the response message; an
 *   ERROR names the remote exception class, which picks the error's stable code (webHdfsError.ts's
 *   table: FileNotFoundException → FLUME_HDFS_NOT_FOUND, …); FATAL closes the connection.
 *
 * A call has a deadline (`timeoutMs`: FLUME_HDFS_TIMEOUT); a broken connection fails the calls waiting
 * on it with FLUME_HDFS_IO, and is not retried here: the caller decides (the sink's back-off).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { codeFor, WebHdfsError } from '../webHdfsError.js';
import { delimited, Fields, message, pb } from './protobuf.js';
import { SocketReader } from './socketReader.js';

export interface HadoopRpcOptions {
  host: string;
  port: number;
  /** The effective user (SIMPLE authentication). */
  user: string;
  /** The real user when `user` is impersonated (proxy user). */
  realUser?: string | undefined;
  /** e.g. org.apache.hadoop.hdfs.protocol.ClientProtocol. */
  protocol: string;
  protocolVersion?: number;
  timeoutMs: number;
  component?: string | undefined;
}

const CONNECTION_CONTEXT_CALL_ID = -3;
const RPC_PROTOCOL_BUFFER = 2;
const STATUS_SUCCESS = 0;
const STATUS_FATAL = 2;

interface Pending {
  method: string;
  path: string;
  resolve: (body: Fields) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Connection {
  socket: net.Socket;
  ready: Promise<void>;
  broken: boolean;
}

export class HadoopRpcClient {
  private readonly clientId = randomBytes(16);
  private nextCallId = 0;
  private readonly pending = new Map<number, Pending>();
  private connection: Connection | undefined;
  private closed = false;

  constructor(private readonly o: HadoopRpcOptions) {}

  get address(): string {
    return `${this.o.host}:${this.o.port}`;
  }

  /** Calls `method` with the encoded request; resolves with the response message. `path` names the call in errors. */
  async call(method: string, request: Buffer, path = ''): Promise<Fields> {
    if (this.closed) throw this.error('FLUME_HDFS_IO', method, path, 'the client is closed');
    const conn = this.connect();
    const callId = this.nextCallId;
    this.nextCallId = (this.nextCallId + 1) & 0x7fffffff;
    const header = message(
      pb.uint(1, RPC_PROTOCOL_BUFFER),
      pb.uint(2, 0), // RPC_FINAL_PACKET
      pb.sint(3, callId),
      pb.bytes(4, this.clientId),
      pb.sint(5, 0),
    );
    const requestHeader = message(pb.string(1, method), pb.string(2, this.o.protocol), pb.uint(3, this.o.protocolVersion ?? 1));
    const body = Buffer.concat([delimited(header), delimited(requestHeader), delimited(request)]);
    const frame = Buffer.alloc(4);
    frame.writeUInt32BE(body.length);
    return new Promise<Fields>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(callId);
        reject(this.error('FLUME_HDFS_TIMEOUT', method, path, `no answer from the NameNode (${this.address}) within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      this.pending.set(callId, { method, path, resolve, reject, timer });
      conn.ready.then(
        () => conn.socket.write(Buffer.concat([frame, body])),
        () => undefined, // the connection's failure rejected every pending call
      );
    });
  }

  /** Closes the connection; calls still waiting fail. */
  close(): void {
    this.closed = true;
    this.connection?.socket.destroy();
    this.connection = undefined;
  }

  private connect(): Connection {
    if (this.connection && !this.connection.broken) return this.connection;
    const socket = net.connect({ host: this.o.host, port: this.o.port });
    socket.setNoDelay(true);
    const conn: Connection = { socket, broken: false, ready: Promise.resolve() };
    this.connection = conn;
    conn.ready = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        const user = message(pb.string(1, this.o.user), pb.string(2, this.o.realUser));
        const context = message(pb.bytes(2, user), pb.string(3, this.o.protocol));
        const header = message(pb.uint(1, RPC_PROTOCOL_BUFFER), pb.uint(2, 0), pb.sint(3, CONNECTION_CONTEXT_CALL_ID), pb.bytes(4, this.clientId), pb.sint(5, -1));
        const body = Buffer.concat([delimited(header), delimited(context)]);
        const frame = Buffer.alloc(4);
        frame.writeUInt32BE(body.length);
        socket.write(Buffer.concat([Buffer.from('hrpc'), Buffer.of(9, 0, 0), frame, body]));
        resolve();
      });
      socket.once('error', reject);
    });
    conn.ready.catch(() => undefined);
    const reader = new SocketReader(socket, () => `the NameNode (${this.address})`);
    const breakWith = (cause: unknown) => {
      if (conn.broken) return;
      conn.broken = true;
      socket.destroy();
      const reason = (cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message ?? String(cause);
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        clearTimeout(call.timer);
        call.reject(this.error('FLUME_HDFS_IO', call.method, call.path, `${reason} talking to the NameNode (${this.address})`, cause));
      }
    };
    socket.on('error', breakWith);
    socket.on('close', () => breakWith(new Error('connection closed')));
    void (async () => {
      for (;;) {
        const length = (await reader.read(4)).readUInt32BE(0);
        const frame = await reader.read(length);
        const headerLength = readLength(frame);
        const header = Fields.decode(frame.subarray(headerLength.at, headerLength.at + headerLength.length));
        const rest = frame.subarray(headerLength.at + headerLength.length);
        const callId = header.num(1) ?? -1;
        const status = header.num(2) ?? STATUS_FATAL;
        const call = this.pending.get(callId);
        if (status === STATUS_SUCCESS) {
          if (!call) continue;
          this.pending.delete(callId);
          clearTimeout(call.timer);
          const body = readLength(rest);
          call.resolve(Fields.decode(rest.subarray(body.at, body.at + body.length)));
          continue;
        }
        const className = header.string(4) ?? 'RemoteException';
        const text = header.string(5) ?? '';
        if (status === STATUS_FATAL) throw Object.assign(new Error(`${className}: ${text.split('\n')[0]}`), { code: 'FATAL' });
        if (!call) continue;
        this.pending.delete(callId);
        clearTimeout(call.timer);
        call.reject(this.remoteError(call.method, call.path, className, text));
      }
    })().catch(breakWith);
    return conn;
  }

  private remoteError(method: string, path: string, javaClassName: string, text: string): WebHdfsError {
    const exception = javaClassName.slice(javaClassName.lastIndexOf('.') + 1).replace(/^.*\$/, '');
    const firstLine = text.split('\n')[0]!.trim();
    return new WebHdfsError(codeFor(exception, 0, text), `HDFS ${method} ${path} failed: ${exception}: ${firstLine}`, { op: method, path, exception, javaClassName, component: this.o.component });
  }

  private error(code: 'FLUME_HDFS_IO' | 'FLUME_HDFS_TIMEOUT', method: string, path: string, what: string, cause?: unknown): WebHdfsError {
    return new WebHdfsError(code, `HDFS ${method} ${path} failed: ${what}`, { op: method, path, component: this.o.component, cause });
  }
}

function readLength(buf: Buffer): { at: number; length: number } {
  let length = 0;
  let shift = 0;
  for (let i = 0; i < 5 && i < buf.length; i++) {
    length |= (buf[i]! & 0x7f) << shift;
    if ((buf[i]! & 0x80) === 0) return { at: i + 1, length: length >>> 0 };
    shift += 7;
  }
  throw new Error('a malformed length in an IPC answer');
}
