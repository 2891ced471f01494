import type { AddressInfo, Socket } from 'node:net';
import { asyncScheduler, Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { keepFieldsFromFlume } from './syslogParser.js';
import { serveSyslogTcp } from './syslogTcpServer.js';

const FIELD = z.enum(['priority', 'version', 'timestamp', 'hostname']);

export const syslogTcpSourceOptions = z.strictObject({
  name: z.string().min(1).default('syslogTcpSource').describe('Component name in metrics.'),
  host: z.string().min(1).describe('Address to listen on, e.g. 127.0.0.1 or 0.0.0.0.'),
  port: z.number().int().min(0).max(65535).describe('TCP port; 0 picks a free one (see onListening).'),
  eventSize: z.number().int().min(1).default(2500).describe('Largest message in bytes (at least 10); longer ones are cut and flagged Incomplete.'),
  keepFields: z
    .union([z.enum(['none', 'all']), z.array(FIELD)])
    .default('none')
    .describe("'all' keeps the raw message as body; a list prepends those header fields to the body."),
  clientIPHeader: z.string().min(1).optional().describe("Header receiving the sender's IP address."),
  clientHostnameHeader: z.string().min(1).optional().describe("Header receiving the sender's host name (reverse DNS, once per connection)."),
  batchSize: z.number().int().min(1).default(100).describe("Messages per batch at most (≤ the channel's transactionCapacity)."),
  maxConnections: z
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Open connections at most (per port); further ones are closed at once (and counted in GenericProcessingFail) until some close.'),
  retryBackoffMs: z.number().int().min(0).default(1000).describe('After a nack, re-send the batch after min(n × this, maxRetryBackoffMs).'),
  maxRetryBackoffMs: z.number().int().min(0).default(5000).describe('Longest wait before re-sending a nacked batch.'),
  onListening: z
    .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
    .optional()
    .describe('Called with the bound address once the server listens (useful with port 0).'),
});

export type SyslogTcpSourceOptions = z.input<typeof syslogTcpSourceOptions>;

export const syslogTcpSourceSpec = defineComponent({
  name: 'syslogTcpSource',
  kind: 'source',
  summary: 'Syslog over TCP (RFC 3164/5424, newline or octet-counted framing) into Flume syslog headers.',
  flumeTypes: ['syslogtcp', 'org.apache.flume.source.SyslogTcpSource'],
  schema: syslogTcpSourceOptions,
  flumeKeys: { keepFields: { option: 'keepFields', convert: keepFieldsFromFlume } },
});

/**
 * Flume's syslog TCP source: listens on `host:port`; every message — newline-terminated or
 * octet-counted (RFC 6587, detected per message) — becomes one event with Flume's headers
 * (`Facility`, `Severity`, `priority`, `version`, `timestamp` in epoch ms, `host`) and the message
 * after its header as body (`keepFields` keeps more). A message that does not start with a valid
 * `<PRI>` (at most 191) or whose timestamp does not exist (Feb 30, 24:00) is kept whole, flagged
 * `flume.syslog.status: Invalid` and counted in `EventReadFail`; one longer
 * than `eventSize` is cut and flagged `Incomplete`. `clientIPHeader` / `clientHostnameHeader` name
 * headers for the sender's address.
 *
 * Messages that arrive together on a connection share a batch; the connection is not read while
 * its batch is unsettled. A full channel (retriable nack) makes the source re-send the same batch
 * after `min(n × retryBackoffMs, maxRetryBackoffMs)` while the connection stays paused, so TCP pushes
 * back on the sender and nothing is lost (Flume drops it instead); a non-retriable nack drops the
 * batch. Counters: `EventReceivedCount`, `EventAcceptedCount`, `ChannelWriteFail`, `EventReadFail`,
 * `OpenConnectionCount`, `GenericProcessingFail`. Unsubscribing closes the server and every
 * connection; a port that cannot be bound fails the source with `FLUME_SOURCE_FAILED`. TLS is not
 * supported yet.
 *
 * Delivery: at-least-once from the moment a message is read, while the process lives.
 *
 * @example
 * pipe(syslogTcpSource({ host: '0.0.0.0', port: 5140, clientIPHeader: 'clientIp' }), memoryChannel(), loggerSink());
 */
export const syslogTcpSource = component(syslogTcpSourceSpec, function syslogTcpSource(
  options: SyslogTcpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(syslogTcpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);
  const source = new Observable<Batch>((subscriber) => {
    const sockets = new Set<Socket>();
    const server = serveSyslogTcp(opts, subscriber, metrics, sockets, () => asyncScheduler.now());
    return () => {
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    };
  });
  return withMetrics(source, metrics);
});
