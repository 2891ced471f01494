import { z } from 'zod';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { HasMetrics } from '../core/metrics.js';
import { rpcSink } from '../net/rpcSink.js';
import type { Sink } from '../core/sink.js';
import { AvroRpcEndpoint } from '../avro/avroRpcConnection.js';
import { avroRpcFlumeKeys, avroRpcIssues, avroRpcOptions } from '../avro/avroRpcOptions.js';
import { protocolRange } from '../tls/protocols.js';
import { nameOption } from '../core/options.js';

export const avroSinkOptions = z
  .strictObject({
    ...nameOption('avroSink'),
    hostname: z.string().min(1).describe('Host of the Avro source (a Flume agent or rxflume avroSource).'),
    port: z.number().int().min(1).max(65535).describe('Port of the Avro source.'),
    ...avroRpcOptions('a larger channel batch is sent as several calls, acked after the last'),
    resetConnectionIntervalS: z
      .number()
      .min(0)
      .default(0)
      .describe('Reconnect after this many seconds, e.g. to rebalance behind a load balancer; 0 never (Flume reset-connection-interval).'),
  })
  .check((ctx) => {
    ctx.issues.push(...avroRpcIssues(ctx.value));
  });

export type AvroSinkOptions = z.input<typeof avroSinkOptions>;

export const avroSinkSpec = defineComponent({
  name: 'avroSink',
  kind: 'sink',
  summary: "Sends batches to a Flume Avro source with Avro RPC appendBatch; acked once the server answered OK (Flume avro sink).",
  flumeTypes: ['avro', 'org.apache.flume.sink.AvroSink'],
  flumeChecksBatchSize: true, // Flume's AvroSink (AbstractRpcSink) implements BatchSizeSupported
  schema: avroSinkOptions,
  flumeKeys: {
    ...avroRpcFlumeKeys,
    'reset-connection-interval': { option: 'resetConnectionIntervalS', convert: Number },
  },
});

/**
 * Flume's Avro sink: sends every batch to an Avro source (a Flume agent's `avro` source, or
 * rxflume's `avroSource`) at `hostname:port` as `appendBatch` calls of Flume's `AvroSourceProtocol`
 * over Avro's Netty framing, `batchSize` events per call, one call at a time. A batch is **acked only
 * after the server answered `OK` to every call**; `FAILED` (the remote channel is full), a timeout
 * (`requestTimeoutMs`) or a lost connection **nacks** it with a retriable `FLUME_SINK_FAILED`, so the
 * channel redelivers it later.
 *
 * The connection is opened on the first batch: TCP (or TLS with `ssl`), then a handshake ping with
 * Flume's protocol hash (a second one carrying the protocol text when the server does not know it),
 * all within `connectTimeoutMs`. A timeout or a lost connection closes it and the next batch
 * reconnects; after a failed attempt no new one is made for `reconnectBackoffMs`, doubling up to
 * `maxReconnectBackoffMs` (batches meanwhile are nacked at once). With `resetConnectionIntervalS` the
 * connection is replaced once it is that old (checked before each batch). Unlike Flume, an answer
 * `FAILED` keeps the connection: it came over a healthy one.
 *
 * Options: `compressionType: 'deflate'` (zlib stream both ways, `compressionLevel`); `ssl` with
 * `sslCaFile` (PEM) or `trustAllCerts` — Flume's truststore keys are refused with a ConfigError
 * (with both, TLS runs inside the zlib stream, as in Flume's Netty pipeline);
 * `maxIoWorkers` is accepted and ignored.
 *
 * Counters: Flume's sink counters, with `ConnectionCreatedCount`, `ConnectionClosedCount`,
 * `ConnectionFailedCount`.
 *
 * Delivery: at-least-once. A batch split into several calls is nacked whole if a later call fails,
 * so the earlier events are sent again (as Flume's client does): the next hop may see duplicates.
 *
 * @example
 * pipe(netcatSource({ bind: '0.0.0.0', port: 44444 }), memoryChannel(), avroSink({ hostname: 'collector', port: 41414 }));
 */
export const avroSink = component(avroSinkSpec, function avroSink(options: AvroSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(avroSinkSpec, options);
  return rpcSink(opts.name, opts.batchSize, (owner) => new AvroRpcEndpoint({ ...opts, tlsRange: protocolRange(opts.excludeProtocols) }, owner));
});
