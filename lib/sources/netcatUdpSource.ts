import type { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentCounters, type HasMetrics } from '../core/metrics.js';
import { bindOption, nameOption, portOption } from '../core/options.js';
import { onListeningOption, udpSource } from '../net/listen.js';

export const netcatUdpSourceOptions = z.strictObject({
  ...nameOption('netcatUdpSource'),
  ...bindOption(),
  ...portOption,
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
  ...onListeningOption,
});

export type NetcatUdpSourceOptions = z.input<typeof netcatUdpSourceOptions>;

export const netcatUdpSourceSpec = defineComponent({
  name: 'netcatUdpSource',
  kind: 'source',
  summary: 'Listens on UDP; each datagram (up to its first newline) is an event (Flume netcatudp).',
  flumeTypes: ['netcatudp', 'org.apache.flume.source.NetcatUdpSource'],
  schema: netcatUdpSourceOptions,
  // Flume 1.11's source reads the header's name from `remoteAddress` (its User Guide says
  // `remoteAddressHeader`, which it ignores): a config that works on Flume names it so.
  flumeKeys: { remoteAddress: 'remoteAddressHeader' },
});

/**
 * Flume's netcat UDP source: every datagram received on `bind:port` (udp6 for an IPv6 address) is
 * one event whose body is the datagram's bytes up to its first `\n` (the rest is ignored, as in
 * Flume), with the sender's address in `remoteAddressHeader` when set (Flume key `remoteAddress`, the
 * one Flume 1.11 reads; `remoteAddressHeader`, the key its User Guide gives, is taken too).
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
  return udpSource(opts, metrics, (feed) => (msg, sender) => {
    const nl = msg.indexOf(10);
    const headers: Record<string, string> = {};
    if (opts.remoteAddressHeader) headers[opts.remoteAddressHeader] = `/${sender.address}:${sender.port}`;
    // Copied when cut, so that the event holds its own bytes, not the whole datagram.
    feed.push({ headers, body: nl < 0 ? msg : Buffer.from(msg.subarray(0, nl)) });
  });
});
