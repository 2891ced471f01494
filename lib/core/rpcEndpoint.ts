/**
 * The lifecycle of one RPC client connection to a host, once: what Flume's RPC clients (the Avro and
 * Thrift sinks, the RPC client) share whatever they speak. The connection is opened on first use;
 * after a failed attempt no new one is made for a doubling back-off (calls meanwhile fail at once);
 * a call that times out or breaks the connection closes it (its state is unknown) and the next call
 * reconnects; with a reset interval the connection is replaced once it is that old; calls run one at
 * a time, in order. A protocol supplies how to open a connection and what a call is.
 */
import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import { Backoff, exponential } from './backoff.js';
import type { ComponentCounters } from './metrics.js';

/** One open connection, as the endpoint sees it. */
export interface RpcConnection {
  readonly openedAt: number;
  readonly closed: boolean;
  /** Set by the endpoint: called once the connection closes, whoever closed it. */
  onClose: (() => void) | undefined;
  /** Closes the socket; true the first time. */
  close(): boolean;
}

/**
 * The options of such a client, declared once (avroSink, thriftSink and the RPC client spread them);
 * `batchSizeText` says what a longer list becomes for that user.
 */
export function rpcEndpointOptions(batchSizeText: string) {
  return {
    batchSize: z.number().int().min(1).default(100).describe(`Events per appendBatch call; ${batchSizeText} (Flume batch-size).`),
    connectTimeoutMs: z.number().int().min(1).default(20_000).describe("Longest wait for the TCP/TLS connection and the protocol's handshake (Flume connect-timeout)."),
    requestTimeoutMs: z.number().int().min(1).default(20_000).describe('Longest wait for the answer of one call (Flume request-timeout).'),
    reconnectBackoffMs: z.number().int().min(0).default(500).describe('After a failed connection, no new attempt for this long, doubling per failure.'),
    maxReconnectBackoffMs: z.number().int().min(0).default(10_000).describe('Longest wait between connection attempts.'),
  };
}

export interface RpcEndpointTarget {
  hostname: string;
  port: number;
  /** Replace the connection once it is this old; 0 never. */
  resetConnectionIntervalS: number;
  reconnectBackoffMs: number;
  maxReconnectBackoffMs: number;
}

/** How the owner names a failure (its error class and code), and where it counts connections. */
export interface RpcOwner {
  failure(message: string, cause?: unknown): Error;
  /** Gets ConnectionCreatedCount, ConnectionClosedCount, ConnectionFailedCount. */
  counters?: ComponentCounters | undefined;
}

export abstract class RpcEndpoint<C extends RpcConnection> {
  private connection: C | undefined;
  private connecting: Promise<C> | undefined;
  private readonly reconnect: Backoff;
  private nextAttemptAt = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly target: RpcEndpointTarget,
    protected readonly owner: RpcOwner,
  ) {
    this.reconnect = new Backoff(exponential(target.reconnectBackoffMs, target.maxReconnectBackoffMs));
  }

  /** Connects (TCP, TLS, any handshake); rejects with a plain Error saying why. */
  protected abstract openConnection(): Promise<C>;

  get address(): string {
    return `${this.target.hostname}:${this.target.port}`;
  }

  /** False after a failed connection attempt, until its back-off is over (Flume's isActive is false then). */
  get active(): boolean {
    return (this.connection !== undefined && !this.connection.closed) || asyncScheduler.now() >= this.nextAttemptAt;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /** Opens the connection now, as Flume's clients do when built; rejects as a call would. */
  async connect(): Promise<void> {
    await this.current();
  }

  /** Waits for the calls under way, then closes the connection. */
  async close(): Promise<void> {
    await this.chain;
    if (this.connection) this.drop(this.connection);
  }

  /** Closes at once: calls under way fail. */
  destroy(): void {
    if (this.connection) this.drop(this.connection);
  }

  /** Runs `run` after every earlier one settled. */
  protected serialized(run: () => Promise<void>): Promise<void> {
    const result = this.chain.then(run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** One call on the current connection; a failure of `run` drops the connection and becomes the owner's failure. */
  protected async call<T>(what: string, count: number, run: (conn: C) => Promise<T>): Promise<T> {
    const conn = await this.current();
    try {
      return await run(conn);
    } catch (error) {
      // A timeout or a broken connection: its state is unknown, start afresh (as Flume).
      this.drop(conn);
      throw this.owner.failure(`${what} of ${count} events to ${this.address} failed: ${(error as Error).message}`, error);
    }
  }

  private drop(conn: C): void {
    if (this.connection === conn) this.connection = undefined;
    if (conn.close()) this.owner.counters?.inc('ConnectionClosedCount');
  }

  private async open(): Promise<C> {
    const now = asyncScheduler.now();
    if (now < this.nextAttemptAt) throw this.owner.failure(`not connected to ${this.address}; next attempt in ${this.nextAttemptAt - now} ms`);
    try {
      const conn = await this.openConnection();
      this.reconnect.reset();
      this.owner.counters?.inc('ConnectionCreatedCount');
      conn.onClose = () => {
        if (this.connection === conn) this.connection = undefined;
      };
      return conn;
    } catch (error) {
      this.owner.counters?.inc('ConnectionFailedCount');
      this.nextAttemptAt = asyncScheduler.now() + this.reconnect.next();
      throw this.owner.failure(`cannot connect to ${this.address}: ${(error as Error).message}`, error);
    }
  }

  private async current(): Promise<C> {
    const reset = this.target.resetConnectionIntervalS;
    if (this.connection && reset > 0 && asyncScheduler.now() - this.connection.openedAt >= reset * 1000) this.drop(this.connection);
    if (this.connection && !this.connection.closed) return this.connection;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    this.connection = await this.connecting;
    return this.connection;
  }
}
