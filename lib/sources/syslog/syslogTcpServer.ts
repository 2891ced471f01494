import { reverse } from 'node:dns/promises';
import { createServer, type Socket } from 'node:net';
import { asyncScheduler, type Subscriber, type Subscription } from 'rxjs';
import { Backoff, backoffOf } from '../../core/backoff.js';
import { createBatch, type Batch } from '../../core/batch.js';
import { isRetriable } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import type { ComponentCounters } from '../../core/metrics.js';
import { connectionPump, listenTcp, type ListeningCallback, type Listener } from '../../net/listen.js';
import { parseSyslog, SYSLOG_STATUS, SyslogFramer, type Frame, type KeepFields, type ParseOptions } from './syslogParser.js';

/** What the TCP syslog sources share: one listening port and its connections. */
export interface SyslogTcpOptions {
  name: string;
  bind: string;
  port: number;
  eventSize: number;
  keepFields: KeepFields;
  batchSize: number;
  maxConnections: number;
  clientIPHeader?: string | undefined;
  clientHostnameHeader?: string | undefined;
  /** Header naming the local port the message came in on (multiport's portHeader). */
  portHeader?: string | undefined;
  /** Parse as Flume's multiport source does (`ParseOptions.multiport`). */
  multiport?: boolean | undefined;
  backoffSleepIncrementMs: number;
  maxBackoffSleepMs: number;
  onListening?: ListeningCallback | undefined;
}

/**
 * Serves syslog over TCP on one port, emitting one batch per connection at a time: a connection is
 * not read while its batch is unsettled, and what it read is framed only a batch at a time, so it
 * holds at most one read chunk, one message and `batchSize` events. A retriable nack (full channel)
 * re-sends the same batch after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)` while the connection
 * stays paused, so TCP pushes back on the sender and nothing is lost; a non-retriable nack drops the
 * batch (`ChannelWriteFail`). Connections past `maxConnections` are closed at once. Servers sharing
 * `sockets` count their connections together.
 */
export function serveSyslogTcp(
  opts: SyslogTcpOptions,
  subscriber: Subscriber<Batch>,
  metrics: ComponentCounters,
  sockets: Set<Socket>,
  now: () => number,
): Listener {
  let closed = false;
  const maxSize = Math.max(10, opts.eventSize);
  const policy = backoffOf(opts);

  const serve = (socket: Socket): void => {
    const framer = new SyslogFramer(maxSize);
    const frames: Frame[] = [];
    // Read but not yet framed.
    let unframed: Buffer | undefined;
    let queue: FlumeEvent[] = [];
    let inFlight = false;
    const backoff = new Backoff(policy);
    let retry: Subscription | undefined;
    const ip = socket.remoteAddress ?? '';
    const localPort = String(socket.localPort);
    // Reverse DNS once per connection; events wait for it only when the header is wanted.
    let hostname: string | undefined = opts.clientHostnameHeader ? undefined : '';
    if (hostname === undefined) {
      reverse(ip).then(
        (names) => (hostname = names[0] ?? ip),
        () => (hostname = ip),
      ).finally(() => pump());
    }

    const send = (events: FlumeEvent[]): void => {
      inFlight = true;
      metrics.inc('EventReceivedCount', events.length);
      subscriber.next(
        createBatch(events, {
          onAck: () => {
            metrics.inc('EventAcceptedCount', events.length);
            backoff.reset();
            inFlight = false;
            pump();
          },
          onNack: (error) => {
            metrics.inc('ChannelWriteFail', events.length);
            if (closed || socket.destroyed || !isRetriable(error)) {
              inFlight = false;
              pump();
              return;
            }
            retry = asyncScheduler.schedule(() => {
              retry = undefined;
              if (closed) return;
              if (!socket.destroyed) return send(events);
              // The sender left: nothing pushes back any more, so the batch is dropped (counted above), as Flume drops it.
              inFlight = false;
              pump();
            }, backoff.next());
          },
        }),
      );
    };

    // Runs on after the client left: what it sent before closing is delivered too.
    const pump = connectionPump(
      (budget) => budget - step(),
      () => {
        if (closed) return false;
        if (socket.destroyed) return true;
        if (inFlight || queue.length > 0 || unframed !== undefined) socket.pause();
        else socket.resume();
        return true;
      },
    );

    /** Frames what it can into the queue and sends one batch when none is in flight; returns its size. */
    const step = (): number => {
      if (!inFlight && hostname !== undefined) {
        // One parse options object and one count per batch.
        const parse: ParseOptions = { keepFields: opts.keepFields, now: now(), multiport: opts.multiport };
        let invalid = 0;
        while (unframed !== undefined && queue.length < opts.batchSize) {
          const used = framer.push(unframed, frames, opts.batchSize - queue.length);
          unframed = used < unframed.length ? unframed.subarray(used) : undefined;
          for (const frame of frames) {
            parse.incomplete = frame.incomplete;
            const event = parseSyslog(frame.bytes, parse);
            if (event.headers[SYSLOG_STATUS] === 'Invalid') invalid++;
            if (opts.clientIPHeader) event.headers[opts.clientIPHeader] = ip;
            if (opts.clientHostnameHeader) event.headers[opts.clientHostnameHeader] = hostname;
            if (opts.portHeader) event.headers[opts.portHeader] = localPort;
            queue.push(event);
          }
          frames.length = 0;
        }
        if (invalid > 0) metrics.inc('EventReadFail', invalid);
      }
      if (inFlight || queue.length === 0) return 0;
      const events = queue.length <= opts.batchSize ? queue : queue.slice(0, opts.batchSize);
      queue = queue.length <= opts.batchSize ? [] : queue.slice(opts.batchSize);
      send(events);
      return events.length;
    };

    socket.on('data', (chunk: Buffer) => {
      // Paused sockets may still deliver what they had read.
      unframed = unframed === undefined ? chunk : Buffer.concat([unframed, chunk]);
      pump();
    });
    socket.on('error', () => metrics.inc('GenericProcessingFail'));
    socket.on('close', () => {
      // Closed by unsubscribing: no retry outlives the source.
      if (closed) retry?.unsubscribe();
    });
  };

  const listener = listenTcp(createServer(serve), opts, metrics, (error) => subscriber.error(error), sockets);
  return {
    close() {
      closed = true;
      listener.close();
    },
  };
}
