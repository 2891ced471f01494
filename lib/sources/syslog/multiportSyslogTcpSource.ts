import type { AddressInfo, Socket } from 'node:net';
import { asyncScheduler, Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { keepFieldsFromFlume } from './syslogParser.js';
import { serveSyslogTcp, type SyslogTcpServer } from './syslogTcpServer.js';

const FIELD = z.enum(['priority', 'version', 'timestamp', 'hostname']);

export const multiportSyslogTcpSourceOptions = z.strictObject({
  name: z.string().min(1).default('multiportSyslogTcpSource').describe('Component name in metrics.'),
  host: z.string().min(1).describe('Address to listen on, e.g. 127.0.0.1 or 0.0.0.0.'),
  ports: z.array(z.number().int().min(0).max(65535)).min(1).describe('TCP ports, one server each; 0 picks a free one (see onListening).'),
  eventSize: z.number().int().min(1).default(2500).describe('Largest message in bytes (at least 10); longer ones are cut and flagged Incomplete.'),
  keepFields: z
    .union([z.enum(['none', 'all']), z.array(FIELD)])
    .default('none')
    .describe("'all' keeps the raw message as body; a list prepends those header fields to the body."),
  portHeader: z.string().min(1).optional().describe('Header receiving the local port the message came in on.'),
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
    .describe('Called with each bound address once its server listens.'),
});

export type MultiportSyslogTcpSourceOptions = z.input<typeof multiportSyslogTcpSourceOptions>;

export const multiportSyslogTcpSourceSpec = defineComponent({
  name: 'multiportSyslogTcpSource',
  kind: 'source',
  summary: 'Syslog over TCP on several ports at once, with the port in a header (Flume multiport_syslogtcp).',
  flumeTypes: ['multiport_syslogtcp', 'org.apache.flume.source.MultiportSyslogTCPSource'],
  schema: multiportSyslogTcpSourceOptions,
  flumeKeys: {
    ports: { option: 'ports', convert: (v) => v.split(/[\s,]+/).filter(Boolean).map(Number) },
    keepFields: { option: 'keepFields', convert: keepFieldsFromFlume },
  },
});

/**
 * Flume's multiport syslog TCP source: `syslogTcpSource` listening on every port of `ports`, with
 * the local port in `portHeader` when set. Parsing, framing (newline or octet-counted), batching,
 * back-pressure and retry on a full channel are those of `syslogTcpSource`. Bodies stay bytes, so
 * Flume's `charset.default` / `charset.port.<p>` are not needed and not accepted; `readBufferBytes`
 * and `numProcessors` have no equivalent.
 *
 * Delivery: at-least-once from the moment a message is read, while the process lives.
 *
 * @example
 * pipe(multiportSyslogTcpSource({ host: '0.0.0.0', ports: [5140, 5141], portHeader: 'port' }), memoryChannel(), loggerSink());
 */
export const multiportSyslogTcpSource = component(multiportSyslogTcpSourceSpec, function multiportSyslogTcpSource(
  options: MultiportSyslogTcpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(multiportSyslogTcpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);
  const source = new Observable<Batch>((subscriber) => {
    const sockets = new Set<Socket>();
    const servers: SyslogTcpServer[] = opts.ports.map((port) =>
      serveSyslogTcp({ ...opts, port }, subscriber, metrics, sockets, () => asyncScheduler.now()),
    );
    return () => {
      for (const server of servers) server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    };
  });
  return withMetrics(source, metrics);
});
