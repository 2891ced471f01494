import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { component, defineComponent, parseOptions, pathOption } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { rpcEndpointOptions } from '../core/rpcEndpoint.js';
import { rpcSink } from '../net/rpcSink.js';
import type { Sink } from '../core/sink.js';
import { ThriftRpcEndpoint } from '../thrift/thriftRpcConnection.js';
import { thriftFlumeKeys, thriftProtocolOption, unsupportedSecurityIssues, unsupportedSecurityOptions } from '../thrift/thriftOptions.js';
import { KeystoreError, isJks, jksTrustedCertificates, pemCertificates } from '../tls/keystore.js';
import { excludeProtocolsOption, protocolRange, protocolRangeIssues } from '../tls/protocols.js';

const PRINCIPALS = ['clientPrincipal', 'clientKeytab', 'serverPrincipal'] as const;

export const thriftSinkOptions = z
  .strictObject({
    ...nameOption('thriftSink'),
    hostname: z.string().min(1).describe('Host of the Thrift source (a Flume agent or rxflume thriftSource).'),
    port: z.number().int().min(1).max(65535).describe('Port of the Thrift source.'),
    ...thriftProtocolOption,
    ...rpcEndpointOptions('a larger channel batch is sent as several calls, acked after the last'),
    resetConnectionIntervalS: z
      .number()
      .min(0)
      .default(0)
      .describe('Reconnect after this many seconds, e.g. to rebalance behind a load balancer; 0 never (Flume reset-connection-interval; the guide calls it connection-reset-interval, both are read).'),
    ssl: z.boolean().default(false).describe('Connect with TLS.'),
    truststore: z
      .string()
      .min(1)
      .meta(pathOption('readFile'))
      .optional()
      .describe("Certificates to trust instead of Node's default CAs (with ssl): Flume's JKS trust store, or a PEM file."),
    truststorePassword: z.string().optional().describe("The JKS trust store's password (checks its integrity; optional)."),
    truststoreType: z.string().optional().describe('JKS (Flume default) or PEM; a PKCS12 trust store must be exported to PEM.'),
    ...excludeProtocolsOption,
    trustAllCerts: z.boolean().optional().describe("Accepted and ignored, as Flume's Thrift client ignores it: the server's certificate is always checked."),
    maxConnections: z.number().int().optional().describe("Flume's client pool size: accepted and ignored (one connection, calls one at a time)."),
    ...unsupportedSecurityOptions(PRINCIPALS),
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const issue of protocolRangeIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
    ctx.issues.push(...unsupportedSecurityIssues(v, PRINCIPALS));
    if (v.truststoreType !== undefined && !/^(jks|pem)$/i.test(v.truststoreType.trim()))
      ctx.issues.push({ code: 'custom', path: ['truststoreType'], message: 'JKS or PEM (export a PKCS12 trust store: openssl pkcs12 -in store.p12 -nokeys -out ca.pem)', input: v.truststoreType });
  });

export type ThriftSinkOptions = z.input<typeof thriftSinkOptions>;

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

export const thriftSinkSpec = defineComponent({
  name: 'thriftSink',
  kind: 'sink',
  summary: "Sends batches to a Flume Thrift source with appendBatch over framed Thrift (compact or binary); acked once the server answered OK (Flume thrift sink).",
  flumeTypes: ['thrift', 'org.apache.flume.sink.ThriftSink'],
  flumeChecksBatchSize: true, // AbstractRpcSink implements BatchSizeSupported
  schema: thriftSinkOptions,
  flumeKeys: {
    ...thriftFlumeKeys({ 'client-principal': 'clientPrincipal', 'client-keytab': 'clientKeytab', 'server-principal': 'serverPrincipal' }),
    'batch-size': { option: 'batchSize', convert: Number },
    'connect-timeout': { option: 'connectTimeoutMs', convert: Number },
    'request-timeout': { option: 'requestTimeoutMs', convert: Number },
    'reset-connection-interval': { option: 'resetConnectionIntervalS', convert: Number },
    'connection-reset-interval': { option: 'resetConnectionIntervalS', convert: Number },
    ssl: bool('ssl'),
    'trust-all-certs': bool('trustAllCerts'),
    'truststore-password': 'truststorePassword',
    'truststore-type': 'truststoreType',
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    maxConnections: { option: 'maxConnections', convert: Number },
  },
});

/** The trust store's certificates as PEM, read when the sink is built; throws ConfigError naming the option. */
function trustedCertificates(opts: { name: string; truststore: string; truststorePassword?: string | undefined }): string[] {
  const fail = (path: string, expected: string, received: string): never => {
    throw new ConfigError([{ path: `${opts.name}.${path}`, expected, received }], { component: opts.name });
  };
  let data: Buffer;
  try {
    data = readFileSync(opts.truststore);
  } catch (error) {
    return fail('truststore', 'a readable JKS or PEM trust store', `${opts.truststore}: ${(error as Error).message}`);
  }
  try {
    if (isJks(data)) return jksTrustedCertificates(data, opts.truststorePassword);
    const pem = pemCertificates(data.toString('utf8'));
    if (pem.length > 0) return pem;
  } catch (error) {
    if (!(error instanceof KeystoreError)) throw error;
    const password = /integrity check failed/.test(error.message);
    return fail(password ? 'truststorePassword' : 'truststore', password ? "the trust store's password" : 'a JKS or PEM trust store', `${opts.truststore}: ${error.message}`);
  }
  return fail('truststore', 'a JKS trust store or PEM certificates (export a PKCS12 one: openssl pkcs12 -in store.p12 -nokeys -out ca.pem)', `${opts.truststore}: neither`);
}

/**
 * Flume's Thrift sink: sends every batch to a Thrift source (a Flume agent's `thrift` source, or
 * rxflume's `thriftSource`) at `hostname:port` as `appendBatch` calls of Flume's
 * `ThriftSourceProtocol` over the framed transport, with the `compact` protocol (Flume's default) or
 * `binary` (the same at both ends), `batchSize` events per call, one call at a time. A batch is
 * **acked only after the server answered `OK` to every call**; `FAILED` (the remote channel is
 * full), an exception answer, a timeout (`requestTimeoutMs`) or a lost connection **nacks** it with
 * a retriable `FLUME_SINK_FAILED`, so the channel redelivers it later.
 *
 * The connection is opened on the first batch (TCP, or TLS with `ssl`) within `connectTimeoutMs`
 * (Flume's Thrift client has no connect timeout). A timeout or a lost connection closes it and the
 * next batch reconnects; after a failed attempt no new one is made for `reconnectBackoffMs`,
 * doubling up to `maxReconnectBackoffMs` (batches meanwhile are nacked at once). With
 * `resetConnectionIntervalS` the connection is replaced once it is that old (checked before each
 * batch). Unlike Flume, an answer `FAILED` keeps the connection: it came over a healthy one.
 *
 * TLS: the server's certificate is checked against `truststore` — Flume's JKS trust store, or a PEM
 * file — or Node's default CAs, and its name against `hostname` (Flume checks no name).
 * `excludeProtocols` narrows the versions. Flume's Kerberos keys (`kerberos`, `client-principal`,
 * `client-keytab`, `server-principal`) and `include-`/`exclude-cipher-suites`/`include-protocols`
 * are refused with a ConfigError saying so; `trust-all-certs` and `maxConnections` are accepted and
 * ignored, as Flume's Thrift client ignores the first.
 *
 * Counters: Flume's sink counters, with `ConnectionCreatedCount`, `ConnectionClosedCount`,
 * `ConnectionFailedCount`.
 *
 * Delivery: at-least-once. A batch split into several calls is nacked whole if a later call fails,
 * so the earlier events are sent again (as Flume's client does): the next hop may see duplicates.
 *
 * @example
 * pipe(netcatSource({ bind: '0.0.0.0', port: 44444 }), memoryChannel(), thriftSink({ hostname: 'collector', port: 4141 }));
 */
export const thriftSink = component(thriftSinkSpec, function thriftSink(options: ThriftSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(thriftSinkSpec, options);
  const ca = opts.ssl && opts.truststore !== undefined ? trustedCertificates({ ...opts, truststore: opts.truststore }) : undefined;
  return rpcSink(opts.name, opts.batchSize, (owner) => new ThriftRpcEndpoint({ ...opts, ca, tlsRange: protocolRange(opts.excludeProtocols) }, owner));
});
