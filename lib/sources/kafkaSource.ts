import type { IHeaders } from 'kafkajs';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { javaRegex, javaRegexOption } from '../text/javaRegex.js';
import type { Batch } from '../core/batch.js';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import { combineFromFlume, component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { decodeFlumeEvent } from '../avro/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';
import { isEarliest, kafkaClient, kafkaOption, splitList } from '../kafka/client.js';
import { startEngine, type InRecord } from '../kafka/consumer.js';
import { kafkajsConsumer } from '../kafka/kafkajsConsumer.js';
import { headerMapFromFlume, resolveSsl, securityFromFlume, securityKeysOf, kafkaConnectionOptions, unsupportedPassThrough } from '../kafka/security.js';

export const kafkaSourceOptions = z
  .strictObject({
    ...nameOption('kafkaSource'),
    brokers: kafkaOption.brokers,
    topics: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Topics read (an array or a comma-separated string). Exactly one of topics and topicPattern.'),
    topicPattern: javaRegexOption()
      .min(1)
      .optional()
      .describe('Java regular expression matching the whole name of the topics read (Flume kafka.topics.regex); matched against the topics existing when the source subscribes.'),
    groupId: z.string().min(1).default('flume').describe('Consumer group: sources in one group share the partitions.'),
    batchSize: z.number().int().min(1).default(1000).describe('Events per batch at most.'),
    batchDurationMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('A batch smaller than batchSize is emitted once its first event waited this long (Flume batchDurationMillis).'),
    ...maxInFlightOption('then the partitions are paused'),
    setTopicHeader: z.boolean().default(true).describe('Adds the topic of each record as the `topicHeader` header.'),
    topicHeader: z.string().min(1).default('topic').describe('Header receiving the topic name.'),
    copyHeaders: z.boolean().default(true).describe('Kafka record headers become event headers (UTF-8). Ignored when headerMap is set.'),
    headerMap: z
      .record(z.string().min(1), z.string().min(1))
      .optional()
      .describe("Only these Kafka headers become event headers, as `{ flumeName: kafkaName }` (Flume 1.11's header.<flume>=<kafka>)."),
    useFlumeEventFormat: z
      .boolean()
      .default(false)
      .describe('Record values are Avro AvroFlumeEvent datums (as written by Flume\'s KafkaSink/KafkaChannel): their headers and body make the event.'),
    fromBeginning: z
      .boolean()
      .default(false)
      .describe('Where a group without committed offsets starts: the earliest record (true) or only new records (false, Flume\'s auto.offset.reset latest).'),
    ...kafkaConnectionOptions,
    sessionTimeoutMs: kafkaOption.sessionTimeoutMs,
    heartbeatIntervalMs: kafkaOption.heartbeatIntervalMs,
    maxWaitTimeMs: z.number().int().min(0).default(500).describe('How long the broker holds a fetch waiting for records (Kafka fetch.max.wait.ms).'),
    maxBytesPerPartition: kafkaOption.maxBytesPerPartition,
    ...backoffOptions('a nack or a failed start'),
    stopGraceMs: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe('On unsubscribe, how long the member stays in the group for the batches in flight to settle and be committed.'),
    connectionTimeoutMs: kafkaOption.connectionTimeoutMs,
    requestTimeoutMs: kafkaOption.requestTimeoutMs,
    retries: kafkaOption.retries,
    retryBackoffMs: kafkaOption.retryBackoffMs,
    logLevel: kafkaOption.logLevel,
  })
  .check((ctx) => {
    if ((ctx.value.topics === undefined) === (ctx.value.topicPattern === undefined)) {
      ctx.issues.push({
        code: 'custom',
        path: ['topics'],
        message: 'exactly one of topics and topicPattern',
        input: ctx.value.topics,
      });
    }
  });

export type KafkaSourceOptions = z.input<typeof kafkaSourceOptions>;

const flumeKeys = {
  'kafka.bootstrap.servers': { option: 'brokers', convert: splitList },
  'kafka.topics': { option: 'topics', convert: splitList },
  'kafka.topics.regex': 'topicPattern',
  'kafka.consumer.group.id': 'groupId',
  groupId: 'groupId',
  batchDurationMillis: 'batchDurationMs',
  ...backoffFlumeKeys,
  'kafka.consumer.auto.offset.reset': { option: 'fromBeginning', convert: isEarliest },
  'kafka.consumer.client.id': 'clientId',
  'kafka.consumer.session.timeout.ms': 'sessionTimeoutMs',
  'kafka.consumer.heartbeat.interval.ms': 'heartbeatIntervalMs',
  'kafka.consumer.fetch.max.wait.ms': 'maxWaitTimeMs',
  'kafka.consumer.max.partition.fetch.bytes': 'maxBytesPerPartition',
  'kafka.consumer.request.timeout.ms': 'requestTimeoutMs',
} as const;

const CONSUMER = ['kafka.consumer.'];

export const kafkaSourceSpec = defineComponent({
  name: 'kafkaSource',
  kind: 'source',
  summary: 'Consumes Kafka topics in a consumer group; commits offsets only after the batches holding them were acked (Flume Kafka source).',
  flumeTypes: ['kafka', 'org.apache.flume.source.kafka.KafkaSource'],
  flumeChecksBatchSize: true, // Flume's KafkaSource implements BatchSizeSupported
  schema: kafkaSourceOptions,
  flumeKeys,
  // Security (kafka.consumer.security.protocol, ssl.*, sasl.*), Flume 1.11's header.<flume>=<kafka>,
  // and a clear report of the kafka.consumer.* keys kafkajs cannot honour.
  fromFlume: (props) =>
    combineFromFlume(
      props,
      (p) => securityFromFlume(p, CONSUMER),
      headerMapFromFlume,
      (p) => unsupportedPassThrough(p, CONSUMER, [...Object.keys(flumeKeys), ...securityKeysOf(CONSUMER)], 'kafkaSource'),
    ),
});

type Options = z.output<typeof kafkaSourceOptions>;

// ---- the source --------------------------------------------------------------------------------

/**
 * Flume's Kafka source: a member of consumer group `groupId` reading `topics` (or the topics
 * matching `topicPattern`), emitting batches of up to `batchSize` records — a smaller batch once its
 * first record waited `batchDurationMs`. Several sources (in one or many agents) in the same group
 * share the partitions: that is how collectors scale out.
 *
 * Each record becomes an event: the body is the record value (empty for a null value), or with
 * `useFlumeEventFormat` the body and headers of the Avro `AvroFlumeEvent` datum it holds. Kafka
 * record headers are added (`copyHeaders`, or only those of `headerMap`, renamed), then — as Flume,
 * only where not already set — `timestamp` (the record timestamp), `topicHeader` (with
 * `setTopicHeader`), `partition` and `offset`; `key` is the record key (UTF-8) when there is one.
 *
 * Delivery: at-least-once. Offsets are committed (auto-commit is off) only after the batch holding
 * them and every earlier batch of the same partition were acked downstream. A nacked batch is held
 * and the same batch is emitted again after Flume's back-off (min(n × backoffSleepIncrementMs,
 * maxBackoffSleepMs)), before any new one; no commit passes it meanwhile. With `maxInFlight > 1`
 * a re-sent batch may follow later ones. While a whole batch waits for a free slot the partitions
 * are paused (the member keeps heart-beating). On a rebalance, buffered and unacked work is dropped
 * and read again from the committed offsets by whoever owns the partition then: **duplicates are
 * possible after a rebalance, a restart or a crash, loss is not**. After a broker failure they stay
 * within the batches in flight plus at most `maxInFlight + 1` acked batches whose commit was not yet
 * confirmed: a failed commit is retried after back-off, and no new batch goes out meanwhile
 * (test/lib/sources/kafkaSource.brokerFailure.test.ts). On unsubscribe the source stops
 * reading, stays in the group up to `stopGraceMs` for its batches in flight to settle (committing the
 * acked ones), then leaves.
 *
 * Errors: a topic that does not exist (auto-create is never asked for) ends the source with
 * `FLUME_SOURCE_FAILED`; so does a record that is not an AvroFlumeEvent with `useFlumeEventFormat`
 * (nothing past it is committed) and a non-retriable nack. Unreachable brokers are retried after
 * back-off, counted in `GenericProcessingFail`. Metrics add Flume's `KafkaEventGetTimer` (ms
 * fetching), `KafkaCommitTimer` (ms committing) and `KafkaEmptyCount` (fetches that returned nothing).
 *
 * Security: `ssl` and `sasl` as kafkajs takes them; or Flume's keys under `kafka.consumer.` —
 * `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `ssl.truststore.*` (JKS or PEM),
 * `ssl.keystore.*` (PKCS12 or PEM), `ssl.endpoint.identification.algorithm`, `sasl.mechanism`
 * PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with `sasl.jaas.config` — become `ssl`, `sslStores`,
 * `sslVerifyHostname` and `sasl`.
 * The stores are read when the component is built (a missing one is a ConfigError naming it);
 * GSSAPI (Kerberos) and OAUTHBEARER are configuration errors.
 * Snappy-compressed topics (as Java producers write them) are read, as are gzip ones.
 *
 * @example
 * const pipeline = pipe(
 *   kafkaSource({ brokers: ['127.0.0.1:9092'], topics: ['app-logs'], groupId: 'collectors', batchSize: 500 }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   loggerSink(),
 * );
 */
export const kafkaSource = component(kafkaSourceSpec, function kafkaSource(options: KafkaSourceOptions): Observable<Batch> & HasMetrics {
  const opts = { ...parseOptions(kafkaSourceSpec, options) };
  opts.ssl = resolveSsl(opts);
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  const topics: Array<string | RegExp> =
    opts.topicPattern !== undefined ? [javaRegex(opts.topicPattern, { whole: true }).regex] : typeof opts.topics === 'string' ? splitList(opts.topics) : opts.topics!;
  const counters = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['KafkaEventGetTimer', 'KafkaCommitTimer', 'KafkaEmptyCount']) counters.set(key, 0);
  const toEvent = eventBuilder(opts);
  const what = opts.topicPattern !== undefined ? `a topic matching /${opts.topicPattern}/` : `topic ${topics.map((t) => `"${String(t)}"`).join(', ')}`;

  const source = new Observable<Batch>((subscriber) => {
    const engine = startEngine(
      {
        name: opts.name,
        batchSize: opts.batchSize,
        batchDurationMs: opts.batchDurationMs,
        maxInFlight: opts.maxInFlight,
        backoffStepMs: opts.backoffSleepIncrementMs,
        backoffMaxMs: opts.maxBackoffSleepMs,
        what,
        client: kafkajsConsumer(kafkaClient(opts, brokers), opts, topics),
        failCode: 'FLUME_SOURCE_FAILED',
        toEvent,
        emitted: (n) => {
          counters.inc('EventReceivedCount', n);
          counters.inc('AppendBatchReceivedCount');
        },
        acked: (n) => {
          counters.inc('EventAcceptedCount', n);
          counters.inc('AppendBatchAcceptedCount');
        },
        nacked: (n) => counters.inc('ChannelWriteFail', n),
        counters,
      },
      { next: (b) => subscriber.next(b), error: (e) => subscriber.error(e) },
    );
    return () => {
      void engine.stop(opts.stopGraceMs);
    };
  });
  return withMetrics(source, counters);
});

const EMPTY = Buffer.alloc(0);

function headerText(value: IHeaders[string]): string | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** Flume's header rules: the record's own headers first, then the added ones only where missing, the key always. */
function eventBuilder(opts: Options): (topic: string, partition: number, record: InRecord) => FlumeEvent {
  const headerPairs = opts.headerMap ? Object.entries(opts.headerMap) : undefined;
  const copyHeaders = opts.copyHeaders && !headerPairs;
  return (topic, partition, record) => {
    let headers: Record<string, string>;
    let body: Buffer;
    if (opts.useFlumeEventFormat) {
      const decoded = decodeFlumeEvent(record.value ?? EMPTY);
      headers = decoded.headers;
      body = decoded.body;
    } else {
      headers = {};
      body = record.value ?? EMPTY;
    }
    const kh = record.headers;
    if (kh) {
      if (copyHeaders) {
        for (const k in kh) {
          if (k in headers) continue;
          const v = headerText(kh[k]);
          if (v !== undefined) headers[k] = v;
        }
      } else if (headerPairs) {
        for (const [flumeName, kafkaName] of headerPairs) {
          const v = headerText(kh[kafkaName]);
          if (v !== undefined && !(flumeName in headers)) headers[flumeName] = v;
        }
      }
    }
    if (!('timestamp' in headers)) headers['timestamp'] = record.timestamp;
    if (opts.setTopicHeader && !(opts.topicHeader in headers)) headers[opts.topicHeader] = topic;
    if (!('partition' in headers)) headers['partition'] = String(partition);
    if (!('offset' in headers)) headers['offset'] = record.offset;
    if (record.key !== null && record.key !== undefined) headers['key'] = record.key.toString('utf8');
    return { headers, body };
  };
}
