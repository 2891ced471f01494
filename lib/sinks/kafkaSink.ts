import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { combineFromFlume, component, defineComponent, parseOptions, type FlumeMapped } from '../core/config.js';
import { ComponentError, toError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { encodeFlumeEvent } from '../avro/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import { clientRetry, CONNECTION_ERRORS, errorChain, hasErrorType, isConnectionFailure, kafkaClient, kafkaOption, splitList } from '../kafka/client.js';
import { checkCompression, COMPRESSION_KEY, compressionFromFlume, compressionOption } from '../kafka/compression.js';
import { kafkajsProducer, partitionOf, ProducerConnection, type OutRecord, type TopicRecords } from '../kafka/producer.js';
import {
  headerMapFromFlume,
  kafkaConnectionOptions,
  resolveSsl,
  securityFromFlume,
  securityKeysOf,
  unsupportedPassThrough,
} from '../kafka/security.js';

const acksSchema = z.union([z.literal('all'), z.literal(-1), z.literal(0), z.literal(1)]);

export const kafkaSinkOptions = z.strictObject({
  name: z.string().min(1).default('kafkaSink').describe('Component name in metrics.'),
  brokers: kafkaOption.brokers,
  topic: z
    .string()
    .min(1)
    .default('default-flume-topic')
    .describe('Topic written to; `%{header}` is replaced by that event header (empty when missing).'),
  allowTopicOverride: z.boolean().default(true).describe('An event carrying the `topicHeader` header goes to the topic it names.'),
  topicHeader: z.string().min(1).default('topic').describe('Header naming the topic of an event when allowTopicOverride is on.'),
  partitionIdHeader: z
    .string()
    .min(1)
    .optional()
    .describe('Header holding the partition number of an event; overrides defaultPartitionId. A non-integer value fails the batch.'),
  defaultPartitionId: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Partition every event goes to; by default the partitioner picks (murmur2 of the `key` header, as Java; round-robin without key).'),
  batchSize: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe("Expected events per batch (Flume flumeBatchSize): smaller ones count as BatchUnderflowCount. The channel's take size decides the real size."),
  acks: acksSchema.default('all').describe("Broker acknowledgements before a batch is acked: 'all' (= -1, every in-sync replica), 1 (the leader) or 0 (none: no delivery guarantee)."),
  compression: compressionOption,
  lingerMs: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      "Kafka linger.ms, accepted for Flume configurations and without effect (the agent warns of it): each batch is produced at once, as Flume's KafkaSink flushes its producer at the end of every transaction.",
    ),
  timestampHeader: z
    .string()
    .min(1)
    .optional()
    .describe('Header holding epoch milliseconds used as the Kafka record timestamp; ignored when not an integer.'),
  copyHeaders: z
    .boolean()
    .default(true)
    .describe('Event headers become Kafka record headers (UTF-8) under their own names. Ignored when headerMap is set.'),
  headerMap: z
    .record(z.string().min(1), z.string().min(1))
    .optional()
    .describe("Only these event headers become Kafka record headers, renamed `{ flumeName: kafkaName }` (Flume 1.11's header.<flume>=<kafka>)."),
  useFlumeEventFormat: z
    .boolean()
    .default(false)
    .describe('Record value = the Avro AvroFlumeEvent datum (headers and body), as Flume writes it; otherwise the body alone.'),
  ...kafkaConnectionOptions,
  connectionTimeoutMs: kafkaOption.connectionTimeoutMs,
  requestTimeoutMs: z.number().int().min(1).default(30_000).describe('Time for the broker to answer a request, including the acks wait.'),
  retries: z
    .number()
    .int()
    .min(0)
    .default(3)
    .describe('Client retries of a failing connect or produce before the batch is nacked and the channel redelivers it after its back-off.'),
  retryBackoffMs: z.number().int().min(1).default(100).describe('First client retry delay (Kafka retry.backoff.ms); doubles per retry.'),
  retryBackoffMaxMs: z.number().int().min(1).default(1000).describe('Longest client retry delay (Kafka retry.backoff.max.ms).'),
  maxRequestBytes: z
    .number()
    .int()
    .min(1024)
    .default(1_000_000)
    .describe('A batch is split into produce requests of at most about this many bytes, under the broker\'s message.max.bytes (Kafka max.request.size).'),
  logLevel: kafkaOption.logLevel,
});

export type KafkaSinkOptions = z.input<typeof kafkaSinkOptions>;

const parseAcks = (value: string): unknown => (value.trim().toLowerCase() === 'all' ? 'all' : Number(value));

const flumeKeys = {
  'kafka.bootstrap.servers': { option: 'brokers', convert: splitList },
  brokerList: { option: 'brokers', convert: splitList },
  'kafka.topic': 'topic',
  flumeBatchSize: 'batchSize',
  'kafka.flumeBatchSize': 'batchSize',
  'kafka.producer.acks': { option: 'acks', convert: parseAcks },
  requiredAcks: { option: 'acks', convert: parseAcks },
  'kafka.producer.client.id': 'clientId',
  'kafka.producer.request.timeout.ms': 'requestTimeoutMs',
  'kafka.producer.retries': 'retries',
  'kafka.producer.retry.backoff.ms': 'retryBackoffMs',
  'kafka.producer.retry.backoff.max.ms': 'retryBackoffMaxMs',
  'kafka.producer.max.request.size': 'maxRequestBytes',
} as const;

const PRODUCER = ['kafka.producer.'];

const LINGER_KEY = 'kafka.producer.linger.ms';

/**
 * `kafka.producer.linger.ms`: accepted, with a warning that it changes nothing. Flume's KafkaSink
 * flushes its producer at the end of every transaction, so linger never holds a batch there either;
 * this sink produces each batch at once, as one request per topic.
 */
function lingerFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const raw = props.get(LINGER_KEY);
  if (raw === undefined) return { options: {}, consumed: [], problems: [] };
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw; // not a number: the schema names it
  return {
    options: { lingerMs: value },
    consumed: [LINGER_KEY],
    problems: [
      {
        key: LINGER_KEY,
        severity: 'warning',
        message: "has no effect: each batch is produced at once (Flume's KafkaSink, too, flushes at the end of every transaction)",
      },
    ],
  };
}

export const kafkaSinkSpec = defineComponent({
  name: 'kafkaSink',
  kind: 'sink',
  summary: 'Produces each batch to Kafka and acks it once the broker confirmed every record (Flume KafkaSink).',
  flumeTypes: ['org.apache.flume.sink.kafka.KafkaSink'],
  flumeChecksBatchSize: true, // Flume's KafkaSink implements BatchSizeSupported
  schema: kafkaSinkOptions,
  flumeKeys,
  // Security (kafka.producer.security.protocol, ssl.*, sasl.*), compression, Flume 1.11's
  // header.<flume>=<kafka>, and a clear report of the kafka.producer.* keys kafkajs cannot honour.
  fromFlume: (props) =>
    combineFromFlume(
      props,
      (p) => securityFromFlume(p, PRODUCER),
      compressionFromFlume,
      lingerFromFlume,
      headerMapFromFlume,
      (p) => unsupportedPassThrough(p, PRODUCER, [...Object.keys(flumeKeys), COMPRESSION_KEY, LINGER_KEY, ...securityKeysOf(PRODUCER)], 'kafkaSink'),
    ),
});

type Options = z.output<typeof kafkaSinkOptions>;

// A producer lock timeout also means the connection is unusable: drop it, the next batch reconnects.
const SINK_CONNECTION_ERRORS: ReadonlySet<string> = new Set([...CONNECTION_ERRORS, 'KafkaJSLockTimeout']);

// ---- the sink ----------------------------------------------------------------------------------

/**
 * Flume's KafkaSink: every batch is produced to Kafka and acked only once the broker confirmed all
 * of its records with `acks` (default `'all'`); any failure nacks the whole batch, so the channel
 * keeps the events and redelivers them after its back-off.
 *
 * Per event (as Flume): the topic is `topic` with `%{header}` replaced, or — with
 * `allowTopicOverride` — the value of the `topicHeader` header; the record key is the `key` header;
 * the partition is the `partitionIdHeader` header, else `defaultPartitionId`, else the partitioner's
 * (Java-compatible murmur2 of the key); the record timestamp is the `timestampHeader` header. Event
 * headers become Kafka record headers (`copyHeaders`, or only those of `headerMap`, renamed). The
 * value is the body, or with `useFlumeEventFormat` the Avro `AvroFlumeEvent` datum Flume writes.
 *
 * The producer connects on the first batch and disconnects when the pipeline completes. A batch
 * larger than `maxRequestBytes` goes out as several produce requests, in parallel.
 *
 * Delivery: at-least-once. A batch whose produce failed after the broker stored part of it (broker
 * lost mid-request, timeout) is redelivered whole: **duplicates are possible, loss is not**. With
 * `acks: 0` nothing is confirmed and a broker loss can drop events.
 *
 * Errors (the nack's error, code `FLUME_SINK_FAILED`, counted in `EventWriteFail` and
 * `RollbackCount`): brokers unreachable or lost — counted in `ConnectionFailedCount`, the connection
 * is dropped and re-opened by the next batch; a topic that does not exist and is not auto-created —
 * names the topic; a non-integer partition header — not retriable, the batch cannot succeed as is.
 * Metrics also include Flume's `KafkaEventSendTimer` (total ms spent producing).
 *
 * Security: `ssl` and `sasl` as kafkajs takes them; or Flume's keys under `kafka.producer.` —
 * `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `ssl.truststore.*` (JKS or PEM),
 * `ssl.keystore.*` (PKCS12 or PEM), `ssl.endpoint.identification.algorithm`, `sasl.mechanism`
 * PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with `sasl.jaas.config` — become `ssl`, `sslStores`,
 * `sslVerifyHostname` and `sasl`.
 * The stores are read when the component is built (a missing one is a ConfigError naming it);
 * GSSAPI (Kerberos) and OAUTHBEARER are configuration errors.
 *
 * Compression: `compression` gzip, snappy, lz4 or zstd (Flume's `kafka.producer.compression.type`),
 * as Java consumers read them; zstd needs Node 22.15 or later. `kafka.producer.linger.ms` is
 * accepted with a warning that it has no effect: every batch is produced at once, as Flume's
 * KafkaSink flushes each transaction.
 *
 * @example
 * const pipeline = pipe(
 *   tailSource({ path: '/var/log/app.log', batchSize: 500 }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   kafkaSink({ brokers: ['127.0.0.1:9092'], topic: 'app-logs', batchSize: 500 }),
 * );
 * await pipeline.done;
 */
export const kafkaSink = component(kafkaSinkSpec, function kafkaSink(options: KafkaSinkOptions): Sink & HasMetrics {
  const opts = { ...parseOptions(kafkaSinkSpec, options) };
  opts.ssl = resolveSsl(opts);
  checkCompression(opts.compression);
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  const counters = new ComponentCounters('SINK', opts.name);
  counters.set('RollbackCount', 0);
  counters.set('KafkaEventSendTimer', 0);
  const toRecords = recordBuilder(opts);
  const producer = new ProducerConnection(
    kafkajsProducer(kafkaClient(opts, brokers), {
      acks: opts.acks === 'all' ? -1 : opts.acks,
      compression: opts.compression,
      timeoutMs: opts.requestTimeoutMs,
      retry: clientRetry(opts),
    }),
    {
      created: () => counters.inc('ConnectionCreatedCount'),
      failed: () => counters.inc('ConnectionFailedCount'),
      closed: () => counters.inc('ConnectionClosedCount'),
    },
  );

  const fail = (message: string, cause: unknown, retriable = true): ComponentError =>
    new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable, cause });

  const explain = (error: unknown, requests: readonly TopicRecords[], n: number): ComponentError => {
    const topics = requests.map((r) => `"${r.topic}"`).filter((t, i, all) => all.indexOf(t) === i);
    if (hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION')) {
      return fail(
        `topic ${topics.join(', ')} does not exist on ${brokers.join(',')} and was not created automatically ` +
          '(broker auto.create.topics.enable=false?): create the topic, or fix the topic/topicHeader',
        error,
      );
    }
    const retriable = errorChain(error).some((e) => (e as { retriable?: boolean }).retriable !== false);
    return fail(`producing ${n} events to ${topics.join(', ')} failed: ${toError(error).message}`, error, retriable);
  };

  const base = createSink(
    opts.name,
    {
      batchSize: opts.batchSize,
      async write(batch: Batch): Promise<void> {
        let requests: TopicRecords[];
        try {
          requests = toRecords(batch.events);
        } catch (error) {
          counters.inc('RollbackCount');
          throw error;
        }
        const conn = producer.get();
        const started = Date.now();
        try {
          await conn.ready.catch((error: unknown) => {
            throw fail(`cannot connect to Kafka at ${brokers.join(',')}: ${toError(error).message}`, error);
          });
          await conn.client.send(requests);
        } catch (error) {
          counters.inc('RollbackCount');
          if (error instanceof ComponentError) throw error; // the connect failure, already described
          if (isConnectionFailure(error, SINK_CONNECTION_ERRORS)) {
            producer.drop(conn);
            throw fail(`lost the connection to Kafka at ${brokers.join(',')}: ${toError(error).message}`, error);
          }
          throw explain(error, requests, batch.events.length);
        } finally {
          counters.inc('KafkaEventSendTimer', Date.now() - started);
        }
      },
      close: () => producer.close(),
    },
    counters,
  );
  return withMetrics(base, counters);
});

/** Builds a batch's produce requests (grouped by topic, split by size); throws on a bad partition header. */
function recordBuilder(opts: Options): (events: readonly FlumeEvent[]) => TopicRecords[] {
  const { topicHeader, partitionIdHeader, timestampHeader, headerMap, maxRequestBytes } = opts;
  const topicTemplate = opts.topic.includes('%{') ? opts.topic : undefined;
  const headerPairs = headerMap ? Object.entries(headerMap) : undefined;
  const copyHeaders = opts.copyHeaders && !headerPairs;

  const topicOf = (headers: Record<string, string>): string => {
    if (opts.allowTopicOverride) {
      const named = headers[topicHeader];
      if (named !== undefined) return named;
    }
    return topicTemplate ? topicTemplate.replace(/%\{([^}]*)\}/g, (_, h: string) => headers[h] ?? '') : opts.topic;
  };

  return (events) => {
    // Requests in the order their topic first appears; one open (not yet full) request per topic.
    const requests: TopicRecords[] = [];
    const open = new Map<string, { request: TopicRecords; bytes: number }>();
    let lastTopic: string | undefined;
    let lastSlot: { request: TopicRecords; bytes: number } | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const h = event.headers;
      const record: OutRecord = { key: h['key'] ?? null, value: opts.useFlumeEventFormat ? encodeFlumeEvent(event) : event.body };
      let bytes = record.value.length + 64 + (record.key === null ? 0 : record.key.length * 3);

      const partition = partitionOf(
        h,
        partitionIdHeader,
        opts.defaultPartitionId,
        (raw) =>
          new ComponentError(
            'FLUME_BAD_EVENT',
            `${opts.name}: header ${partitionIdHeader}=${JSON.stringify(raw)} is not a partition number (event ${i + 1} of ${events.length}); the batch cannot be produced as is`,
            { component: opts.name, retriable: false },
          ),
      );
      if (partition !== undefined) record.partition = partition;
      if (timestampHeader !== undefined) {
        const ts = h[timestampHeader];
        if (ts !== undefined && /^\d+$/.test(ts)) record.timestamp = ts;
      }
      if (copyHeaders) {
        let any = false;
        for (const k in h) {
          any = true;
          bytes += (k.length + h[k]!.length) * 3 + 10;
        }
        if (any) record.headers = h;
      } else if (headerPairs) {
        let mapped: Record<string, string> | undefined;
        for (const [from, to] of headerPairs) {
          const v = h[from];
          if (v === undefined) continue;
          (mapped ??= {})[to] = v;
          bytes += (to.length + v.length) * 3 + 10;
        }
        if (mapped) record.headers = mapped;
      }

      const topic = topicOf(h);
      let slot = topic === lastTopic ? lastSlot : open.get(topic);
      if (!slot || (slot.bytes + bytes > maxRequestBytes && slot.request.messages.length > 0)) {
        slot = { request: { topic, messages: [] }, bytes: 0 };
        open.set(topic, slot);
        requests.push(slot.request);
      }
      lastTopic = topic;
      lastSlot = slot;
      slot.request.messages.push(record);
      slot.bytes += bytes;
    }
    return requests;
  };
}
