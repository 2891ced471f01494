import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';

export const netcatUdpSourceOptions = z.strictObject({
  name: z.string().min(1).default('netcatUdpSource').describe('Component name in metrics.'),
  bind: z.string().min(1).describe('Address to listen on, e.g. 127.0.0.1 (an IPv6 address listens on udp6).'),
  port: z.number().int().min(0).max(65535).describe('UDP port; 0 picks a free one (see onListening).'),
  remoteAddressHeader: z.string().min(1).optional().describe("Header receiving the sender's address as Flume writes it (`/127.0.0.1:5000`)."),
  batchSize: z.number().int().min(1).default(100).describe('Datagrams per batch at most.'),
  maxBufferedEvents: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Datagrams waiting while a batch is unsettled, at most; more are dropped and counted in EventDroppedCount.'),
  maxBufferedBytes: z
    .number()
    .int()
    .min(1)
    .default(16 * 1024 * 1024)
    .describe('Body bytes of the datagrams waiting while a batch is unsettled, at most (16 MiB); more are dropped and counted in EventDroppedCount.'),
  onListening: z
    .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
    .optional()
    .describe('Called with the bound address once the socket listens (useful with port 0).'),
});

export type NetcatUdpSourceOptions = z.input<typeof netcatUdpSourceOptions>;

export const netcatUdpSourceSpec = defineComponent({
  name: 'netcatUdpSource',
  kind: 'source',
  summary: 'Listens on UDP; each datagram (up to its first newline) is an event (Flume netcatudp).',
  flumeTypes: ['netcatudp', 'org.apache.flume.source.NetcatUdpSource'],
  schema: netcatUdpSourceOptions,
});

/**
 * Flume's netcat UDP source: every datagram received on `bind:port` is one event whose body is the
 * datagram's bytes up to its first `\n` (the rest is ignored, as in Flume), with the sender's address
 * in `remoteAddressHeader` when set.
 *
 * Datagrams that arrive while a batch is unsettled are gathered into the next batch (at most
 * `batchSize`); one batch is in flight at a time. UDP cannot push back: beyond `maxBufferedEvents`
 * waiting datagrams or `maxBufferedBytes` of their bodies, new ones are dropped and counted in
 * `EventDroppedCount`.
 *
 * Delivery: none beyond the channel. A nacked batch (full channel) is dropped and counted in
 * `ChannelWriteFail`, as Flume drops it — the sender is never told. Counters: `EventReceivedCount`,
 * `EventAcceptedCount`, `ChannelWriteFail`, `EventDroppedCount`, `GenericProcessingFail`.
 * Unsubscribing closes the socket; a socket that cannot bind fails the source with `FLUME_SOURCE_FAILED`.
 *
 * @example
 * pipe(netcatUdpSource({ bind: '127.0.0.1', port: 5140, remoteAddressHeader: 'remote' }), memoryChannel(), loggerSink());
 */
export const netcatUdpSource = component(netcatUdpSourceSpec, function netcatUdpSource(
  options: NetcatUdpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(netcatUdpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('EventDroppedCount', 0);

  const source = new Observable<Batch>((subscriber) => {
    let waiting: FlumeEvent[] = [];
    let waitingBytes = 0;
    let inFlight = false;
    let closed = false;
    let flushTimer: Subscription | undefined;

    const flush = (): void => {
      flushTimer = undefined;
      if (closed || inFlight || waiting.length === 0) return;
      const events = waiting.length <= opts.batchSize ? waiting : waiting.slice(0, opts.batchSize);
      waiting = waiting.length <= opts.batchSize ? [] : waiting.slice(opts.batchSize);
      for (const e of events) waitingBytes -= e.body.length;
      inFlight = true;
      metrics.inc('EventReceivedCount', events.length);
      const settled = (): void => {
        inFlight = false;
        schedule();
      };
      subscriber.next(
        createBatch(events, {
          onAck: () => {
            metrics.inc('EventAcceptedCount', events.length);
            settled();
          },
          onNack: () => {
            metrics.inc('ChannelWriteFail', events.length);
            settled();
          },
        }),
      );
    };

    // A zero-delay hop gathers the datagrams of one burst into one batch.
    const schedule = (): void => {
      if (!closed && !inFlight && !flushTimer && waiting.length > 0) flushTimer = asyncScheduler.schedule(flush, 0);
    };

    const socket: Socket = createSocket({ type: opts.bind.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (msg, rinfo) => {
      const nl = msg.indexOf(10);
      const length = nl < 0 ? msg.length : nl;
      if (waiting.length >= opts.maxBufferedEvents || waitingBytes + length > opts.maxBufferedBytes) {
        metrics.inc('EventDroppedCount');
        return;
      }
      const headers: Record<string, string> = {};
      if (opts.remoteAddressHeader) headers[opts.remoteAddressHeader] = `/${rinfo.address}:${rinfo.port}`;
      // Copied when cut, so that the event holds its own bytes, not the whole datagram.
      waiting.push({ headers, body: nl < 0 ? msg : Buffer.from(msg.subarray(0, nl)) });
      waitingBytes += length;
      schedule();
    });
    let listening = false;
    socket.on('error', (error) => {
      if (closed) return;
      if (listening) {
        metrics.inc('GenericProcessingFail');
        return;
      }
      subscriber.error(
        new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: cannot listen on ${opts.bind}:${opts.port}: ${error.message}`, {
          component: opts.name,
          retriable: false,
          cause: error,
        }),
      );
    });
    socket.bind(opts.port, opts.bind, () => {
      listening = true;
      if (!closed) opts.onListening?.(socket.address());
    });

    return () => {
      closed = true;
      flushTimer?.unsubscribe();
      waiting = [];
      waitingBytes = 0;
      try {
        socket.close();
      } catch {
        // Already closed (bind failed).
      }
    };
  });
  return withMetrics(source, metrics);
});
