/**
 * What kafkaSource, kafkaChannel and kafkaSink share about the Kafka client: the option schemas of
 * the connection (so the three document and validate them alike), Flume key conversions, building
 * the kafkajs client (with the codecs of ./compression.ts), and reading kafkajs errors. Not a component:
 * components never import each other, so their common mechanism lives here; it imports only lib/core,
 * zod, and kafkajs when first used.
 */
import type * as Kafkajs from 'kafkajs';
import type { Kafka } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { lazyRequire } from '../core/lazyRequire.js';
import { registerCodecs } from './compression.js';

const loadKafkajs = lazyRequire<typeof Kafkajs>('kafkajs', 'Kafka components');
let codecsRegistered = false;

/**
 * kafkajs, loaded when the first Kafka client or producer is built (not when a Kafka component's module
 * is imported). kafkajs ships gzip only; snappy, lz4 and zstd (./compression.ts) are registered here
 * once for every kafkajs client of the process: producers compress with them, consumers read batches
 * Java producers wrote with them (snappy's xerial framing included).
 */
export function kafkajs(): typeof Kafkajs {
  const k = loadKafkajs();
  if (!codecsRegistered) {
    registerCodecs(k);
    codecsRegistered = true;
  }
  return k;
}

/** A comma-separated Flume list (kafka.bootstrap.servers, kafka.topics) as an array. */
export const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Flume's `kafka.consumer.auto.offset.reset`: `earliest` reads a new group from the beginning. */
export const isEarliest = (value: string): boolean => value.trim().toLowerCase() === 'earliest';

/**
 * Option schemas shared by the Kafka components, each used as `key: kafkaOption.key` in their own
 * `z.strictObject` so every component keeps its own option order. Where a component means
 * something else (the sink's retries and timeouts) it declares its own.
 */
export const kafkaOption = {
  brokers: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe("Bootstrap brokers, `host:port` each (an array, or one comma-separated string as Flume's kafka.bootstrap.servers)."),
  clientId: z.string().min(1).default('rxflume').describe('Kafka client id.'),
  ssl: z
    .union([z.boolean(), z.record(z.string(), z.unknown())])
    .optional()
    .describe('TLS: true, or Node tls.connect options (ca, cert, key, rejectUnauthorized, …), passed to kafkajs.'),
  sasl: z
    .looseObject({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'aws', 'oauthbearer']) })
    .optional()
    .describe('SASL options as kafkajs takes them ({ mechanism, username, password } …).'),
  connectionTimeoutMs: z.number().int().min(1).default(3000).describe('Time to open a broker connection.'),
  logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('error').describe('kafkajs log level (its logs go to the console).'),
  // The consumer side (kafkaSource, kafkaChannel).
  sessionTimeoutMs: z.number().int().min(1).default(30_000).describe('Group session timeout (Kafka session.timeout.ms).'),
  heartbeatIntervalMs: z.number().int().min(1).default(3000).describe('Group heartbeat interval (Kafka heartbeat.interval.ms).'),
  maxBytesPerPartition: z.number().int().min(1).default(1_048_576).describe('Bytes fetched per partition per request at most (Kafka max.partition.fetch.bytes).'),
  requestTimeoutMs: z.number().int().min(1).default(30_000).describe('Time for the broker to answer a request.'),
  retries: z.number().int().min(0).default(5).describe('Client retries of a failing request before it counts as failed.'),
  retryBackoffMs: z.number().int().min(1).default(300).describe('First client retry delay; doubles per retry.'),
};

/** kafkajs's logLevel member of each option value. */
const LOG_LEVELS = { nothing: 'NOTHING', error: 'ERROR', warn: 'WARN', info: 'INFO', debug: 'DEBUG' } as const;

/** What the kafkajs client is built from. */
export interface KafkaClientConfig {
  clientId: string;
  ssl?: boolean | Record<string, unknown> | undefined;
  sasl?: Record<string, unknown> | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  retryBackoffMaxMs?: number | undefined;
  logLevel: keyof typeof LOG_LEVELS;
}

/** The kafkajs retry policy of `opts` (kafkajs's own longest delay unless retryBackoffMaxMs is set). */
export function clientRetry(opts: KafkaClientConfig): { retries: number; initialRetryTime: number; maxRetryTime?: number } {
  return {
    retries: opts.retries,
    initialRetryTime: opts.retryBackoffMs,
    ...(opts.retryBackoffMaxMs !== undefined ? { maxRetryTime: opts.retryBackoffMaxMs } : {}),
  };
}

export function kafkaClient(opts: KafkaClientConfig, brokers: string[]): Kafka {
  const { Kafka, logLevel } = kafkajs();
  return new Kafka({
    clientId: opts.clientId,
    brokers,
    connectionTimeout: opts.connectionTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    retry: clientRetry(opts),
    logLevel: logLevel[LOG_LEVELS[opts.logLevel]],
    ...(opts.ssl !== undefined ? { ssl: opts.ssl as ConnectionOptions | boolean } : {}),
    ...(opts.sasl !== undefined ? { sasl: opts.sasl as never } : {}),
  });
}

/** The error and everything it wraps (kafkajs: originalError, cause, errors of an aggregate). */
export function errorChain(error: unknown): Array<Error & { type?: string }> {
  const out: Array<Error & { type?: string }> = [];
  const todo: unknown[] = [error];
  while (todo.length && out.length < 20) {
    const e = todo.shift();
    if (!(e instanceof Error) || out.includes(e)) continue;
    out.push(e);
    const x = e as Error & { originalError?: unknown; errors?: unknown[] };
    todo.push(x.originalError, x.cause, ...(Array.isArray(x.errors) ? x.errors : []));
  }
  return out;
}

/** Whether the error, or one it wraps, is the Kafka protocol error `type` (e.g. UNKNOWN_TOPIC_OR_PARTITION). */
export const hasErrorType = (error: unknown, type: string): boolean => errorChain(error).some((e) => e.type === type);

/** kafkajs errors meaning the connection is unusable. */
export const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
]);

/** Whether the error, or one it wraps, says the connection is lost: a name of `names` or a socket error. */
export function isConnectionFailure(error: unknown, names: ReadonlySet<string> = CONNECTION_ERRORS): boolean {
  return errorChain(error).some((e) => names.has(e.name) || /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(e.message));
}
