import type { Socket } from 'node:net';
import { asyncScheduler, Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../core/metrics.js';
import { nameOption, portOption } from '../../core/options.js';
import { syslogTcpFlumeKeys, syslogTcpOptions } from './syslogOptions.js';
import { serveSyslogTcp } from './syslogTcpServer.js';

export const syslogTcpSourceOptions = z.strictObject({
  ...nameOption('syslogTcpSource'),
  ...syslogTcpOptions,
  ...portOption,
});

export type SyslogTcpSourceOptions = z.input<typeof syslogTcpSourceOptions>;

export const syslogTcpSourceSpec = defineComponent({
  name: 'syslogTcpSource',
  kind: 'source',
  summary: 'Syslog over TCP (RFC 3164/5424, newline or octet-counted framing) into Flume syslog headers.',
  flumeTypes: ['syslogtcp', 'org.apache.flume.source.SyslogTcpSource'],
  schema: syslogTcpSourceOptions,
  flumeKeys: syslogTcpFlumeKeys,
});

/**
 * Flume's syslog TCP source: listens on `bind:port` (Flume's `host`); every message — newline-terminated or
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
 * after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)` while the connection stays paused, so TCP pushes
 * back on the sender and nothing is lost (Flume drops it instead); a non-retriable nack drops the
 * batch. Counters: `EventReceivedCount`, `EventAcceptedCount`, `ChannelWriteFail`, `EventReadFail`,
 * `OpenConnectionCount`, `GenericProcessingFail`. Unsubscribing closes the server and every
 * connection; a port that cannot be bound fails the source with `FLUME_SOURCE_FAILED`. TLS is not
 * supported yet.
 *
 * Delivery: at-least-once from the moment a message is read, while the process lives.
 *
 * @example
 * pipe(syslogTcpSource({ bind: '0.0.0.0', port: 5140, clientIPHeader: 'clientIp' }), memoryChannel(), loggerSink());
 */
export const syslogTcpSource = component(syslogTcpSourceSpec, function syslogTcpSource(
  options: SyslogTcpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(syslogTcpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);
  const source = new Observable<Batch>((subscriber) => {
    const server = serveSyslogTcp(opts, subscriber, metrics, new Set<Socket>(), () => asyncScheduler.now());
    return () => server.close();
  });
  return withMetrics(source, metrics);
});
