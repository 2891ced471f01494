import { createSocket, type Socket } from 'node:dgram';
import { reverse } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentError } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { keepFieldsFromFlume, parseSyslog, SYSLOG_STATUS } from './syslogParser.js';

const FIELD = z.enum(['priority', 'version', 'timestamp', 'hostname']);
/** Reverse lookups remembered per sender IP, at most. */
const HOSTNAME_CACHE = 1024;

export const syslogUdpSourceOptions = z.strictObject({
  name: z.string().min(1).default('syslogUdpSource').describe('Component name in metrics.'),
  host: z.string().min(1).describe('Address to listen on, e.g. 127.0.0.1 (an IPv6 address listens on udp6).'),
  port: z.number().int().min(0).max(65535).describe('UDP port; 0 picks a free one (see onListening).'),
  eventSize: z.number().int().min(1).default(2500).describe('Largest message in bytes (at least 10); longer ones are cut and flagged Incomplete.'),
  keepFields: z
    .union([z.enum(['none', 'all']), z.array(FIELD)])
    .default('none')
    .describe("'all' keeps the raw message as body; a list prepends those header fields to the body."),
  clientIPHeader: z.string().min(1).optional().describe("Header receiving the sender's IP address."),
  clientHostnameHeader: z.string().min(1).optional().describe("Header receiving the sender's host name (reverse DNS, cached per IP)."),
  batchSize: z.number().int().min(1).default(100).describe('Datagrams per batch at most.'),
  maxBufferedEvents: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Datagrams waiting while a batch is unsettled, at most; more are dropped and counted in EventDroppedCount.'),
  onListening: z
    .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
    .optional()
    .describe('Called with the bound address once the socket listens (useful with port 0).'),
});

export type SyslogUdpSourceOptions = z.input<typeof syslogUdpSourceOptions>;

export const syslogUdpSourceSpec = defineComponent({
  name: 'syslogUdpSource',
  kind: 'source',
  summary: 'Syslog over UDP (RFC 3164/5424): one datagram is one event with Flume syslog headers.',
  flumeTypes: ['syslogudp', 'org.apache.flume.source.SyslogUDPSource'],
  schema: syslogUdpSourceOptions,
  flumeKeys: { keepFields: { option: 'keepFields', convert: keepFieldsFromFlume } },
});

/**
 * Flume's syslog UDP source: every datagram on `host:port` is one message (up to its first `\n`,
 * at most `eventSize` bytes, longer ones flagged `Incomplete`), parsed into Flume's headers exactly
 * as `syslogTcpSource` does; invalid messages are kept, flagged `flume.syslog.status: Invalid` and
 * counted in `EventReadFail`.
 *
 * Datagrams arriving while a batch is unsettled are gathered into the next batch (one in flight).
 * UDP cannot push back: beyond `maxBufferedEvents` waiting datagrams new ones are dropped
 * (`EventDroppedCount`), and a nacked batch is dropped (`ChannelWriteFail`), as Flume drops it.
 * Unsubscribing closes the socket; a socket that cannot bind fails the source with `FLUME_SOURCE_FAILED`.
 *
 * @example
 * pipe(syslogUdpSource({ host: '0.0.0.0', port: 5140 }), memoryChannel(), loggerSink());
 */
export const syslogUdpSource = component(syslogUdpSourceSpec, function syslogUdpSource(
  options: SyslogUdpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(syslogUdpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('EventDroppedCount', 0);
  const maxSize = Math.max(10, opts.eventSize);

  const source = new Observable<Batch>((subscriber) => {
    let waiting: FlumeEvent[] = [];
    let resolving = 0;
    let inFlight = false;
    let closed = false;
    let flushTimer: Subscription | undefined;
    const hostnames = new Map<string, string>();

    const flush = (): void => {
      flushTimer = undefined;
      if (closed || inFlight || waiting.length === 0) return;
      const events = waiting.length <= opts.batchSize ? waiting : waiting.slice(0, opts.batchSize);
      waiting = waiting.length <= opts.batchSize ? [] : waiting.slice(opts.batchSize);
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

    const accept = (event: FlumeEvent): void => {
      waiting.push(event);
      schedule();
    };

    const socket: Socket = createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (msg, rinfo) => {
      if (waiting.length + resolving >= opts.maxBufferedEvents) {
        metrics.inc('EventDroppedCount');
        return;
      }
      const nl = msg.indexOf(10);
      const end = Math.min(nl < 0 ? msg.length : nl, maxSize);
      // Copied when shorter, so that a waiting event holds at most eventSize bytes, not its datagram.
      const event = parseSyslog(end === msg.length ? msg : Buffer.from(msg.subarray(0, end)), {
        keepFields: opts.keepFields,
        incomplete: end === maxSize,
        now: asyncScheduler.now(),
      });
      if (event.headers[SYSLOG_STATUS] === 'Invalid') metrics.inc('EventReadFail');
      if (opts.clientIPHeader) event.headers[opts.clientIPHeader] = rinfo.address;
      const header = opts.clientHostnameHeader;
      if (!header) return accept(event);
      const known = hostnames.get(rinfo.address);
      if (known !== undefined) {
        event.headers[header] = known;
        return accept(event);
      }
      resolving++;
      reverse(rinfo.address)
        .then(
          (names) => names[0] ?? rinfo.address,
          () => rinfo.address,
        )
        .then((name) => {
          resolving--;
          if (hostnames.size >= HOSTNAME_CACHE) hostnames.delete(hostnames.keys().next().value!);
          hostnames.set(rinfo.address, name);
          event.headers[header] = name;
          if (!closed) accept(event);
        });
    });
    let listening = false;
    socket.on('error', (error) => {
      if (closed) return;
      if (listening) {
        metrics.inc('GenericProcessingFail');
        return;
      }
      subscriber.error(
        new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: cannot listen on ${opts.host}:${opts.port}: ${error.message}`, {
          component: opts.name,
          retriable: false,
          cause: error,
        }),
      );
    });
    socket.bind(opts.port, opts.host, () => {
      listening = true;
      if (!closed) opts.onListening?.(socket.address());
    });

    return () => {
      closed = true;
      flushTimer?.unsubscribe();
      waiting = [];
      try {
        socket.close();
      } catch {
        // Already closed (bind failed).
      }
    };
  });
  return withMetrics(source, metrics);
});
