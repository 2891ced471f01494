/**
 * The client side of Flume's Thrift RPC: one framed connection (TCP, or TLS) sending
 * `appendBatch` calls one at a time with a per-call timeout, and an endpoint keeping one such
 * connection to a host on the shared RpcEndpoint lifecycle (lib/core/rpcEndpoint.ts: lazy open,
 * reconnect back-off, reset interval). Like Flume's ThriftRpcClient, a `FAILED` answer or a timeout
 * fails the call; unlike it, `FAILED` keeps the connection (it came over a healthy one).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { asyncScheduler, type Subscription } from 'rxjs';
import type { FlumeEvent } from '../core/event.js';
import { RpcEndpoint, type RpcEndpointTarget, type RpcOwner } from '../core/rpcEndpoint.js';
import { M, frameReceiver, readException, readMessage, type MessageHead, type ThriftProtocolName } from './codec.js';
import { STATUS_NAMES, encodeAppend, readEnumResult } from './flumeProtocol.js';

/** Largest answer accepted; Status answers are a few bytes. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface ThriftRpcTarget extends RpcEndpointTarget {
  protocol: ThriftProtocolName;
  batchSize: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  ssl: boolean;
  /** PEM certificates to trust instead of Node's default CAs (with ssl). */
  ca?: readonly string[] | undefined;
  tlsRange?: [SecureVersion, SecureVersion] | undefined;
}

export class ThriftRpcConnection {
  readonly openedAt = asyncScheduler.now();
  closed = false;
  onClose: (() => void) | undefined;
  private seqid = 0;
  private pending: { seqid: number; resolve(m: MessageHead): void; reject(e: Error): void; timer: Subscription } | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly protocol: ThriftProtocolName,
  ) {
    const receive = frameReceiver((frame) => {
      const p = this.pending;
      let head: MessageHead;
      try {
        head = readMessage(protocol, frame);
      } catch (error) {
        return this.fail(error as Error);
      }
      if (!p || head.seqid !== p.seqid) return; // answered after its timeout (the connection was dropped then)
      this.pending = undefined;
      p.timer.unsubscribe();
      p.resolve(head);
    }, MAX_RESPONSE_BYTES);
    socket.on('data', (chunk: Buffer) => {
      try {
        receive(chunk);
      } catch (error) {
        this.fail(error as Error);
      }
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  /** Connects (and completes the TLS handshake) within connectTimeoutMs. */
  static open(t: ThriftRpcTarget): Promise<ThriftRpcConnection> {
    return new Promise<ThriftRpcConnection>((resolve, reject) => {
      const tlsOptions = {
        host: t.hostname,
        port: t.port,
        ...(/^[\d.:]+$/.test(t.hostname) ? {} : { servername: t.hostname }),
        ...(t.ca ? { ca: [...t.ca] } : {}),
        ...(t.tlsRange ? { minVersion: t.tlsRange[0], maxVersion: t.tlsRange[1] } : {}),
      };
      const socket: Socket = t.ssl ? tlsConnect(tlsOptions) : netConnect({ host: t.hostname, port: t.port });
      socket.setNoDelay(true);
      const timer = asyncScheduler.schedule(() => abort(new Error(`no connection within ${t.connectTimeoutMs} ms`)), t.connectTimeoutMs);
      const abort = (error: Error): void => {
        timer.unsubscribe();
        socket.destroy();
        reject(error);
      };
      socket.once('error', abort);
      socket.once(t.ssl ? 'secureConnect' : 'connect', () => {
        timer.unsubscribe();
        socket.off('error', abort);
        resolve(new ThriftRpcConnection(socket, t.protocol));
      });
    });
  }

  /** One appendBatch call: resolves with the Status name, rejects on an exception answer, timeout or lost connection. */
  async appendBatch(events: readonly FlumeEvent[], timeoutMs: number): Promise<string> {
    const seqid = (this.seqid = (this.seqid + 1) | 0);
    const head = await this.call(encodeAppend(this.protocol, seqid, events), seqid, timeoutMs);
    if (head.type === M.EXCEPTION) throw readException(head.input);
    if (head.type !== M.REPLY || head.name !== 'appendBatch') throw new Error(`unexpected answer ${head.name} (message type ${head.type})`);
    const status = readEnumResult(head.input, 'appendBatch_result');
    return STATUS_NAMES[status] ?? `status #${status}`;
  }

  private call(frame: Buffer, seqid: number, timeoutMs: number): Promise<MessageHead> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise<MessageHead>((resolve, reject) => {
      const timer = asyncScheduler.schedule(() => {
        this.pending = undefined;
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { seqid, resolve, reject, timer };
      this.socket.write(frame);
    });
  }

  private fail(error: Error): void {
    if (!this.closed) this.close();
    const p = this.pending;
    this.pending = undefined;
    p?.timer.unsubscribe();
    p?.reject(error);
  }

  /** Closes the socket; true the first time. */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.socket.destroy();
    this.fail(new Error('connection closed'));
    this.onClose?.();
    return true;
  }
}

/** One host, as Flume's ThriftRpcClient keeps it: `appendBatch` splits a list into batchSize calls, sent one at a time. */
export class ThriftRpcEndpoint extends RpcEndpoint<ThriftRpcConnection> {
  constructor(
    override readonly target: ThriftRpcTarget,
    owner: RpcOwner,
  ) {
    super(target, owner);
  }

  /** Resolves when every call was answered OK. */
  appendBatch(events: readonly FlumeEvent[]): Promise<void> {
    return this.serialized(async () => {
      const size = this.target.batchSize;
      for (let from = 0; from < events.length; from += size) {
        const chunk = events.length <= size ? events : events.slice(from, from + size);
        const status = await this.call('appendBatch', chunk.length, (conn) => conn.appendBatch(chunk, this.target.requestTimeoutMs));
        if (status !== 'OK') throw this.owner.failure(`${this.address} answered ${status} to appendBatch of ${chunk.length} events`);
      }
    });
  }

  protected openConnection(): Promise<ThriftRpcConnection> {
    return ThriftRpcConnection.open(this.target);
  }
}
