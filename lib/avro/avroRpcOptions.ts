/**
 * The options of an Avro RPC client connection, declared once: avroSink and the RPC client
 * (lib/client) spread them into their schemas, with the Flume keys that set them (the same names in
 * an agent's avro sink and in Flume's RpcClientFactory properties).
 */
import { z } from 'zod';
import type { FlumeKeyMapping } from '../core/config.js';
import { rpcEndpointOptions } from '../core/rpcEndpoint.js';
import { excludeProtocolsOption, protocolRangeIssues, type TlsProtocol } from '../tls/protocols.js';

const TRUSTSTORE_HINT = 'a PEM CA file in sslCaFile, or trustAllCerts (Java truststores are not supported; export them with keytool/openssl)';

/** The connection options; `batchSizeText` says what a longer list becomes for this user. */
export function avroRpcOptions(batchSizeText: string) {
  return {
    ...rpcEndpointOptions(batchSizeText),
    compressionType: z.enum(['none', 'deflate']).default('none').describe("'deflate': the connection is a zlib stream (Netty ZlibEncoder/Decoder); must match the source."),
    compressionLevel: z.number().int().min(0).max(9).default(6).describe('zlib level with deflate (Flume compression-level).'),
    ssl: z.boolean().default(false).describe('Connect with TLS.'),
    trustAllCerts: z.boolean().default(false).describe('Accept any server certificate (Flume trust-all-certs): testing only.'),
    sslCaFile: z.string().min(1).optional().describe("PEM CA certificate(s) to trust instead of Node's default CAs (with ssl)."),
    ...excludeProtocolsOption,
    truststore: z.string().optional().describe(`Flume's Java truststore: not supported, use ${TRUSTSTORE_HINT}.`),
    truststorePassword: z.string().optional().describe('Not supported (see truststore).'),
    truststoreType: z.string().optional().describe('Not supported (see truststore).'),
    maxIoWorkers: z.number().int().min(1).optional().describe("Flume's Netty I/O thread count: accepted and ignored."),
  };
}

interface Checked {
  ssl: boolean;
  excludeProtocols: readonly TlsProtocol[];
  truststore?: string | undefined;
  truststorePassword?: string | undefined;
  truststoreType?: string | undefined;
}

/** The cross-option rules, for the schema's `.check`: Java truststores refused, a usable TLS range. */
export function avroRpcIssues(v: Checked): { code: 'custom'; path: string[]; message: string; input: unknown }[] {
  const issues: { code: 'custom'; path: string[]; message: string; input: unknown }[] = [];
  for (const key of ['truststore', 'truststorePassword', 'truststoreType'] as const) {
    if (v[key] !== undefined) issues.push({ code: 'custom', path: [key], message: TRUSTSTORE_HINT, input: v[key] });
  }
  for (const issue of protocolRangeIssues(v)) issues.push({ code: 'custom', ...issue });
  return issues;
}

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

/** Flume's keys for these options (AbstractRpcSink and RpcClientConfigurationConstants share them). */
export const avroRpcFlumeKeys: Readonly<Record<string, FlumeKeyMapping>> = {
  'batch-size': { option: 'batchSize', convert: Number },
  'connect-timeout': { option: 'connectTimeoutMs', convert: Number },
  'request-timeout': { option: 'requestTimeoutMs', convert: Number },
  'compression-type': { option: 'compressionType', convert: (v) => v.trim().toLowerCase() },
  'compression-level': { option: 'compressionLevel', convert: Number },
  ssl: bool('ssl'),
  'trust-all-certs': bool('trustAllCerts'),
  'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
  'truststore-password': 'truststorePassword',
  'truststore-type': 'truststoreType',
  maxIoWorkers: { option: 'maxIoWorkers', convert: Number },
};
