import { reverse } from 'node:dns/promises';
import { asyncScheduler, type Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../core/batch.js';
import { component, defineComponent, parseOptions } from '../../core/config.js';
import { ComponentCounters, type HasMetrics } from '../../core/metrics.js';
import { nameOption, portOption } from '../../core/options.js';
import { udpSource } from '../../net/listen.js';
import { syslogOptions, syslogUdpFlumeKeys } from './syslogOptions.js';
import { parseSyslog, SYSLOG_STATUS } from './syslogParser.js';
/** Reverse lookups remembered per sender IP, at most. */
const HOSTNAME_CACHE = 1024;

export const syslogUdpSourceOptions = z.strictObject({
  ...nameOption('syslogUdpSource'),
  ...syslogOptions('udp'),
  ...portOption,
  maxBufferedEvents: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Datagrams waiting while a batch is unsettled, at most; more are dropped and counted in EventDroppedCount.'),
});

export type SyslogUdpSourceOptions = z.input<typeof syslogUdpSourceOptions>;

export const syslogUdpSourceSpec = defineComponent({
  name: 'syslogUdpSource',
  kind: 'source',
  summary: 'Syslog over UDP (RFC 3164/5424): one datagram is one event with Flume syslog headers.',
  flumeTypes: ['syslogudp', 'org.apache.flume.source.SyslogUDPSource'],
  schema: syslogUdpSourceOptions,
  flumeKeys: syslogUdpFlumeKeys,
});

/**
 * Flume's syslog UDP source: every datagram on `bind:port` (Flume's `host`; udp6 for an IPv6
 * address) is one message (newlines before it skipped, up to the next `\n`, at most `eventSize` bytes,
 * longer ones flagged `Incomplete`; a datagram of nothing but newlines is dropped and counted in
 * `EventReadFail`). `eventSize` is 65536 by default, the size Flume's syslogudp sets (it ignores its
 * `eventSize` key, and so does a Flume configuration here); Flume 1.11 itself reads only the first
 * 2048 bytes of a datagram (Netty's default buffer) and drops the rest unflagged, which rxflume does
 * not. The message is parsed into Flume's headers exactly as `syslogTcpSource` does; invalid
 * messages are kept, flagged `flume.syslog.status: Invalid` and counted in `EventReadFail`.
 *
 * Datagrams arriving while a batch is unsettled are gathered into the next batch (one in flight).
 * UDP cannot push back: beyond `maxBufferedEvents` waiting datagrams new ones are dropped
 * (`EventDroppedCount`), and a nacked batch is dropped (`ChannelWriteFail`), as Flume drops it.
 * Unsubscribing closes the socket; a socket that cannot bind fails the source with `FLUME_SOURCE_FAILED`.
 *
 * @example
 * pipe(syslogUdpSource({ bind: '0.0.0.0', port: 5140 }), memoryChannel(), loggerSink());
 */
export const syslogUdpSource = component(syslogUdpSourceSpec, function syslogUdpSource(
  options: SyslogUdpSourceOptions,
): Observable<Batch> & HasMetrics {
  const opts = parseOptions(syslogUdpSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  const maxSize = Math.max(10, opts.eventSize);

  return udpSource(opts, metrics, (feed) => {
    let resolving = 0;
    const hostnames = new Map<string, string>();
    const header = opts.clientHostnameHeader;
    return (msg, sender) => {
      // Events waiting for their reverse lookup count against the bound too.
      if (feed.size + resolving >= opts.maxBufferedEvents) {
        metrics.inc('EventDroppedCount');
        return;
      }
      // As Flume: newlines before the message are skipped; a datagram with nothing else is dropped.
      let start = 0;
      while (msg[start] === 10) start++;
      if (start === msg.length) {
        metrics.inc('EventReadFail');
        return;
      }
      const nl = msg.indexOf(10, start);
      const end = Math.min(nl < 0 ? msg.length : nl, start + maxSize);
      // Copied when shorter, so that a waiting event holds at most eventSize bytes, not its datagram.
      const event = parseSyslog(start === 0 && end === msg.length ? msg : Buffer.from(msg.subarray(start, end)), {
        keepFields: opts.keepFields,
        incomplete: end - start === maxSize,
        now: asyncScheduler.now(),
      });
      if (event.headers[SYSLOG_STATUS] === 'Invalid') metrics.inc('EventReadFail');
      if (opts.clientIPHeader) event.headers[opts.clientIPHeader] = sender.address;
      if (!header) return feed.push(event);
      const known = hostnames.get(sender.address);
      if (known !== undefined) {
        event.headers[header] = known;
        return feed.push(event);
      }
      resolving++;
      reverse(sender.address)
        .then(
          (names) => names[0] ?? sender.address,
          () => sender.address,
        )
        .then((name) => {
          resolving--;
          if (hostnames.size >= HOSTNAME_CACHE) hostnames.delete(hostnames.keys().next().value!);
          hostnames.set(sender.address, name);
          event.headers[header] = name;
          feed.push(event);
        });
    };
  });
});
