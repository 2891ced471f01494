import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { bufferedSource, bufferOptionsOf, type Feed } from '../core/bufferedSource.js';
import { ComponentError } from '../core/errors.js';
import type { ComponentCounters, HasMetrics } from '../core/metrics.js';

/**
 * What the network sources share about listening: their options beside `bind` and `port` (in
 * lib/core/options.ts), a TCP server's limits, connection count, failure and fair pumping, and the
 * UDP sources' socket and buffering.
 */
export type ListeningCallback = (address: AddressInfo) => void;

export const onListeningOption = {
  onListening: z
    .custom<ListeningCallback>((v) => typeof v === 'function', { message: 'a function (address) => void' })
    .optional()
    .describe('Called with the bound address once the server listens (useful with port 0).'),
};

export function maxConnectionsOption(scope = '') {
  return {
    maxConnections: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe(`Open connections at most${scope}; further ones are closed at once (and counted in GenericProcessingFail) until some close.`),
  };
}

/** Events one connection may send before letting the others in (one turn of the event loop). */
export const TURN_EVENTS = 1000;

/**
 * A connection's pump, fair to the others: `step(budget)` sends what it can and returns what is left
 * of the budget. A call made while it runs (a batch settled synchronously) only says there is more:
 * the running call loops instead of recursing, so there is no stack to run out of. Past TURN_EVENTS it
 * lets the other connections in for one turn of the event loop, then goes on. `settle()` then sets
 * the socket's flow; it returns false once the connection is done with.
 */
export function connectionPump(step: (budget: number) => number, settle: () => boolean): () => void {
  let pumping = false;
  let again = false;
  let turn: NodeJS.Immediate | undefined;
  const pump = (): void => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    let budget = TURN_EVENTS;
    do {
      again = false;
      budget = step(budget);
    } while (again && budget > 0);
    pumping = false;
    if (settle() && budget <= 0 && !turn) {
      turn = setImmediate(() => {
        turn = undefined;
        pump();
      });
    }
  };
  return pump;
}

export interface ListenOptions {
  name: string;
  bind: string;
  port: number;
  maxConnections?: number;
  onListening?: ListeningCallback | undefined;
}

export interface Listener {
  /** Stops listening and destroys every open connection. */
  close(): void;
}

const cannotListen = (opts: ListenOptions, error: Error): ComponentError =>
  new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: cannot listen on ${opts.bind}:${opts.port}: ${error.message}`, {
    component: opts.name,
    retriable: false,
    cause: error,
  });

/**
 * Starts a source's TCP server on `bind:port`: connections past `maxConnections` are closed at once
 * (GenericProcessingFail), open ones counted in `OpenConnectionCount` (over every server sharing
 * `sockets`), and a port that cannot be bound fails the source with `FLUME_SOURCE_FAILED`.
 */
export function listenTcp(
  server: Server,
  opts: ListenOptions,
  metrics: ComponentCounters,
  fail: (error: Error) => void,
  sockets = new Set<Socket>(),
): Listener {
  let closed = false;
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  server.on('drop', () => metrics.inc('GenericProcessingFail'));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    metrics.set('OpenConnectionCount', sockets.size);
    socket.once('close', () => {
      sockets.delete(socket);
      metrics.set('OpenConnectionCount', sockets.size);
    });
  });
  server.on('error', (error: Error) => {
    if (!closed) fail(cannotListen(opts, error));
  });
  server.listen(opts.port, opts.bind, () => {
    if (!closed) opts.onListening?.(server.address() as AddressInfo);
  });
  return {
    close() {
      closed = true;
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    },
  };
}

/**
 * Binds a source's UDP socket on `bind:port` (udp6 for an IPv6 address) and hands it every datagram.
 * A socket that cannot bind fails the source with `FLUME_SOURCE_FAILED`; later socket errors are
 * counted in `GenericProcessingFail`.
 */
export function bindUdp(
  opts: ListenOptions,
  metrics: ComponentCounters,
  fail: (error: Error) => void,
  onMessage: (message: Buffer, sender: RemoteInfo) => void,
): Listener {
  let closed = false;
  let listening = false;
  const socket = createSocket({ type: opts.bind.includes(':') ? 'udp6' : 'udp4' });
  socket.on('message', onMessage);
  socket.on('error', (error) => {
    if (closed) return;
    if (listening) metrics.inc('GenericProcessingFail');
    else fail(cannotListen(opts, error));
  });
  socket.bind(opts.port, opts.bind, () => {
    listening = true;
    if (!closed) opts.onListening?.(socket.address());
  });
  return {
    close() {
      closed = true;
      try {
        socket.close();
      } catch {
        // Already closed (bind failed).
      }
    },
  };
}

/**
 * A UDP source on `bind:port`: `start(feed)` gives, per subscription, what makes each datagram an
 * event and pushes it. Datagrams that arrive together share a batch (at most `batchSize`, one in
 * flight). UDP cannot push back: past `maxBufferedEvents` (and `maxBufferedBytes`) waiting events new
 * ones are dropped (`EventDroppedCount`), and a nacked batch is dropped (`ChannelWriteFail`), as Flume
 * drops them.
 */
export function udpSource(
  opts: ListenOptions & { batchSize: number; maxBufferedEvents: number; maxBufferedBytes?: number },
  metrics: ComponentCounters,
  start: (feed: Feed) => (message: Buffer, sender: RemoteInfo) => void,
): Observable<Batch> & HasMetrics {
  return bufferedSource(
    (feed) => bindUdp(opts, metrics, feed.fail, start(feed)),
    { ...bufferOptionsOf(opts), batchTimeoutMs: 0, whenFull: 'dropNewest', onNack: 'drop' },
    metrics,
  );
}
