import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { bindOption, nameOption, portOption } from '../core/options.js';
import { listenTcp, maxConnectionsOption, onListeningOption } from '../net/listen.js';
import { DEFAULT_MAX_FRAME_BYTES, type TProtocol } from '../thrift/codec.js';
import { STATUS, readAppendArgs, writeEnumResult } from '../thrift/flumeProtocol.js';
import { offerCall, serveThrift, ByteBudget, maxBufferedBytesOption, type ThriftMethod } from '../thrift/thriftServer.js';
import { thriftFlumeKeys, thriftProtocolOption, unsupportedSecurityIssues, unsupportedSecurityOptions } from '../thrift/thriftOptions.js';
import { serverSecureContext, serverTlsIssues, serverTlsOptions } from '../tls/serverTls.js';

const PRINCIPALS = ['agentPrincipal', 'agentKeytab'] as const;

export const thriftSourceOptions = z
  .strictObject({
    ...nameOption('thriftSource'),
    ...bindOption(),
    ...portOption,
    ...thriftProtocolOption,
    threads: z.number().int().optional().describe("Flume's worker thread count: accepted and ignored (Node serves every connection on one loop)."),
    ssl: z.boolean().default(false).describe('Serve TLS with sslKeyFile and sslCertFile, or keystore.'),
    ...serverTlsOptions,
    ...unsupportedSecurityOptions(PRINCIPALS),
    maxFrameBytes: z
      .number()
      .int()
      .min(1024)
      .default(DEFAULT_MAX_FRAME_BYTES)
      .describe("Largest call (one frame), as libthrift's default max frame size (16,384,000 bytes): a frame announcing more closes its connection before it is read."),
    maxEventsPerBatch: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe('Events in one appendBatch call: a call with more is answered with a Thrift error, counted in EventReadFail, and its connection closed.'),
    ...maxBufferedBytesOption,
    ...maxConnectionsOption(),
    ...onListeningOption,
  })
  .check((ctx) => {
    for (const issue of serverTlsIssues(ctx.value)) ctx.issues.push({ code: 'custom', ...issue });
    ctx.issues.push(...unsupportedSecurityIssues(ctx.value, PRINCIPALS));
    const v = ctx.value;
    if (v.maxBufferedBytes < v.maxFrameBytes) ctx.issues.push({ code: 'custom', path: ['maxBufferedBytes'], message: `at least maxFrameBytes (${v.maxFrameBytes}), or the largest frame could never be held`, input: v.maxBufferedBytes });
  });

export type ThriftSourceOptions = z.input<typeof thriftSourceOptions>;

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

export const thriftSourceSpec = defineComponent({
  name: 'thriftSource',
  kind: 'source',
  summary: "Thrift server speaking Flume's ThriftSourceProtocol (append/appendBatch, framed, compact or binary); answers FAILED when the channel is full (Flume thrift).",
  flumeTypes: ['thrift', 'org.apache.flume.source.ThriftSource'],
  schema: thriftSourceOptions,
  flumeKeys: {
    ...thriftFlumeKeys({ 'agent-principal': 'agentPrincipal', 'agent-keytab': 'agentKeytab' }),
    threads: { option: 'threads', convert: Number },
    ssl: bool('ssl'),
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    'keystore-password': 'keystorePassword',
    'keystore-type': 'keystoreType',
  },
});

/**
 * Flume's Thrift source: a Thrift server on `bind:port` implementing `ThriftSourceProtocol` from
 * Flume's `flume.thrift` — `append(ThriftFlumeEvent)` and `appendBatch(list<ThriftFlumeEvent>)` →
 * `Status` — over the framed transport, with the `compact` protocol (Flume's default) or `binary`.
 * Flume's Thrift sink and RPC client (`ThriftRpcClient`), and any client generated from
 * `flume.thrift`, can send to it. The thrift npm package (Apache's) frames and codes the messages.
 *
 * Each call is **one batch** (one transaction), answered `OK` only after the channel stored it and
 * `FAILED` when it was nacked (a full channel): the client then rolls back and retries, as with
 * Flume. A connection's calls are handled in order, one at a time, and it is not read while one is
 * unsettled, so a full channel pushes back through TCP.
 *
 * Bad input never stops the server: bytes that are not framed Thrift of the configured protocol (a
 * binary client at a compact source, an unframed one, a frame past `maxFrameBytes`) close that
 * connection; a call to an unknown method is answered with a Thrift `TApplicationException`; more
 * than `maxEventsPerBatch` events in a call (or headers that would decode past 4 × `maxFrameBytes`
 * of memory) get an exception and the connection closed. All count in `EventReadFail`. What the
 * connections hold together — bytes received and not yet answered, partial frames included — is
 * bounded by `maxBufferedBytes`: past it, the connections holding the most are closed (counted the
 * same), so many clients sending large frames slowly cannot exhaust memory.
 *
 * Options: `ssl` with PEM `sslKeyFile`/`sslCertFile` or Flume's `keystore` as a PKCS#12 file (a JKS
 * one is refused with the keytool command converting it); `excludeProtocols`. Flume's Kerberos keys
 * (`kerberos`, `agent-principal`, `agent-keytab`) and its `include-`/`exclude-cipher-suites` and
 * `include-protocols` are refused with a ConfigError saying so; `threads` is accepted and ignored.
 *
 * Counters: Flume's `AppendReceivedCount`/`AppendAcceptedCount` (append),
 * `AppendBatchReceivedCount`/`AppendBatchAcceptedCount` (appendBatch), `EventReceivedCount`/
 * `EventAcceptedCount`, `ChannelWriteFail` (retriable nacks), `GenericProcessingFail` (other nacks,
 * socket errors), `EventReadFail` (bad framing, undecodable or unknown calls, limits),
 * `OpenConnectionCount`.
 *
 * Delivery: `OK` means stored in the channel; anything else means nothing of that call was.
 * Unsubscribing closes the server and every connection; a port that cannot be bound fails the source
 * with `FLUME_SOURCE_FAILED`. TLS files are read when the source is built: a bad one throws
 * `ConfigError` naming the option.
 *
 * @example
 * // Flume agent: a1.sinks.k1.type = thrift, hostname = this host, port = 4141
 * pipe(thriftSource({ bind: '0.0.0.0', port: 4141 }), memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }), loggerSink());
 */
export const thriftSource = component(thriftSourceSpec, function thriftSource(options: ThriftSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(thriftSourceSpec, options);
  // Read now: a bad key store or certificate is a configuration error naming its option.
  const tlsOptions = opts.ssl ? serverSecureContext(opts, opts.name).options : undefined;
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['AppendReceivedCount', 'AppendAcceptedCount', 'OpenConnectionCount']) metrics.set(key, 0);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    const emit = (batch: Batch): void => subscriber.next(batch);
    const method =
      (batch: boolean): ThriftMethod =>
      (input, limits) => {
        metrics.inc(batch ? 'AppendBatchReceivedCount' : 'AppendReceivedCount');
        const events = readAppendArgs(input, batch, limits);
        const name = batch ? 'appendBatch_result' : 'append_result';
        return offerCall(emit, metrics, events, batch ? 'AppendBatchAcceptedCount' : 'AppendAcceptedCount').then((ok) => (out: TProtocol) => writeEnumResult(out, name, ok ? STATUS.OK : STATUS.FAILED));
      };
    const service = {
      protocol: opts.protocol,
      maxFrameBytes: opts.maxFrameBytes,
      maxEventsPerBatch: opts.maxEventsPerBatch,
      methods: { append: method(false), appendBatch: method(true) },
      metrics,
      budget: new ByteBudget(opts.maxBufferedBytes),
      closed: () => closed,
    };
    let server: Server;
    if (tlsOptions) {
      server = createTlsServer(tlsOptions);
      server.on('secureConnection', (socket: TLSSocket) => serveThrift(socket, service));
      server.on('tlsClientError', () => metrics.inc('GenericProcessingFail'));
    } else {
      server = createServer((socket: Socket) => serveThrift(socket, service));
    }
    const listener = listenTcp(server, { ...opts, onListening: (a: AddressInfo) => opts.onListening?.(a) }, metrics, (error) => subscriber.error(error));
    return () => {
      closed = true;
      listener.close();
    };
  });
  return withMetrics(source, metrics);
});
