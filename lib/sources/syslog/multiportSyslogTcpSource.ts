import type { Socket } from 'node:net';
import { asyncScheduler, Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { nameOption } from '../../core/options.js';
import { syslogTcpFlumeKeys, syslogTcpOptions } from './syslogOptions.js';
import { serveSyslogTcp } from './syslogTcpServer.js';

export const multiportSyslogTcpSourceOptions = z.strictObject({
  ...nameOption('multiportSyslogTcpSource'),
  ...syslogTcpOptions,
  ports: z.array(z.number().int().min(0).max(65535)).min(1).describe('TCP ports, one server each; 0 picks a free one (see onListening, called for each).'),
  portHeader: z.string().min(1).optional().describe('Header receiving the local port the message came in on.'),
});

export type MultiportSyslogTcpSourceOptions = z.input<typeof multiportSyslogTcpSourceOptions>;

export const multiportSyslogTcpSourceSpec = defineComponent({
  name: 'multiportSyslogTcpSource',
  kind: 'source',
  summary: 'Syslog over TCP on several ports at once, with the port in a header (Flume multiport_syslogtcp).',
  flumeTypes: ['multiport_syslogtcp', 'org.apache.flume.source.MultiportSyslogTCPSource'],
  flumeChecksBatchSize: true, // Flume's MultiportSyslogTCPSource implements BatchSizeSupported
  schema: multiportSyslogTcpSourceOptions,
  flumeKeys: {
    ...syslogTcpFlumeKeys,
    ports: { option: 'ports', convert: (v) => v.split(/[\s,]+/).filter(Boolean).map(Number) },
  },
});

/**
 * Flume's multiport syslog TCP source: `syslogTcpSource` listening on every port of `ports`, with
 * the local port in `portHeader` when set. Framing (newline or octet-counted), batching,
 * back-pressure and retry on a full channel are those of `syslogTcpSource`; parsing too, with the
 * differences of Flume's multiport parser: the headers are `Priority` and `Version` (capitalised), a
 * nil timestamp (`-`) is stamped with the time of arrival, a nil host name is kept (`host: -`), and
 * a message it cannot read (no valid `<PRI>`, or a header that does not parse) carries only
 * `flume.syslog.status: Invalid`. Bodies stay bytes, so Flume's `charset.default` /
 * `charset.port.<p>` are not needed and not accepted; `readBufferBytes` and `numProcessors` have no
 * equivalent.
 *
 * Delivery: at-least-once from the moment a message is read, while the process lives.
 *
 * @example
 * pipe(multiportSyslogTcpSource({ bind: '0.0.0.0', ports: [5140, 5141], portHeader: 'port' }), memoryChannel(), loggerSink());
 */
export const multiportSyslogTcpSource = component(multiportSyslogTcpSourceSpec, function multiportSyslogTcpSource(
  options: MultiportSyslogTcpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(multiportSyslogTcpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);
  const source = new Observable<Batch>((subscriber) => {
    const sockets = new Set<Socket>();
    const servers = opts.ports.map((port) => serveSyslogTcp({ ...opts, port, multiport: true }, subscriber, metrics, sockets, () => asyncScheduler.now()));
    return () => {
      for (const server of servers) server.close();
    };
  });
  return withMetrics(source, metrics);
});
