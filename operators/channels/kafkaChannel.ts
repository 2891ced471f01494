import type { Admin, Kafka } from 'kafkajs';
import { asyncScheduler, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { combineFromFlume, component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { ChannelFullError, ComponentError, toError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { decodeFlumeEvent, encodeFlumeEvent } from '../../lib/avro/flumeEventAvro.js';
import { loggerOption } from '../../lib/core/log.js';
import type { HasMetrics } from '../../lib/core/metrics.js';
import { maxInFlightOption, nameOption } from '../../lib/core/options.js';
import { clientRetry, isConnectionFailure, isEarliest, kafkaClient, kafkaOption, splitList } from '../../lib/kafka/client.js';
import { startEngine, type Engine, type InRecord } from '../../lib/kafka/consumer.js';
import { kafkajsConsumer } from '../../lib/kafka/kafkajsConsumer.js';
import { checkCompression, COMPRESSION_KEY, compressionFromFlume, compressionOption } from '../../lib/kafka/compression.js';
import { kafkajsProducer, partitionOf, ProducerConnection, type OutRecord } from '../../lib/kafka/producer.js';
import { resolveSsl, securityFromFlume, securityKeysOf, kafkaConnectionOptions, unsupportedPassThrough } from '../../lib/kafka/security.js';
import { channelBackoff, channelBackoffOptions, channelEngine, type ChannelStore, type StoreHooks, type StorePut, type StoreTake } from './channelEngine.js';

export const kafkaChannelOptions = z.strictObject({
  ...nameOption('kafkaChannel'),
  ...loggerOption,
  brokers: kafkaOption.brokers,
  topic: z.string().min(1).default('flume-channel').describe('The topic that stores the channel (it must exist).'),
  groupId: z.string().min(1).default('flume').describe('Consumer group of the take side: channels in one group share the partitions.'),
  parseAsFlumeEvent: z
    .boolean()
    .default(true)
    .describe("Records are Avro AvroFlumeEvent datums (headers and body), as Flume's KafkaChannel stores them; otherwise the body alone (headers are not kept; a record key comes back as the `key` header)."),
  transactionCapacity: z.number().int().min(1).default(1000).describe('Events per take at most.'),
  pollTimeoutMs: z
    .number()
    .int()
    .min(0)
    .default(500)
    .describe('How long a fetch waits for records, and a take smaller than transactionCapacity waits for more (Flume kafka.pollTimeout).'),
  ...maxInFlightOption('takes wait for the sink to settle one'),
  keepAliveMs: z
    .number()
    .int()
    .min(1)
    .default(30_000)
    .describe('How long a put waits for the broker to confirm it (produce timeout) before it is nacked with ChannelFullError.'),
  partitionIdHeader: z
    .string()
    .min(1)
    .optional()
    .describe('Header holding the partition a put event is stored in; overrides defaultPartitionId. A non-integer value fails the put.'),
  defaultPartitionId: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Partition every put event is stored in; by default murmur2 of the `key` header, round-robin without key.'),
  fromBeginning: z
    .boolean()
    .default(true)
    .describe("Where a group without committed offsets starts taking: the earliest record (default, as Flume's channel: nothing put before the first take is skipped) or only new ones (Flume's auto.offset.reset latest)."),
  compression: compressionOption,
  ...channelBackoffOptions,
  stopGraceMs: z
    .number()
    .int()
    .min(0)
    .default(5000)
    .describe('On unsubscribe, how long the take side stays in the group for the takes in flight to settle and be committed.'),
  ...kafkaConnectionOptions,
  sessionTimeoutMs: kafkaOption.sessionTimeoutMs,
  heartbeatIntervalMs: kafkaOption.heartbeatIntervalMs,
  maxBytesPerPartition: kafkaOption.maxBytesPerPartition,
  connectionTimeoutMs: kafkaOption.connectionTimeoutMs,
  requestTimeoutMs: kafkaOption.requestTimeoutMs,
  retries: kafkaOption.retries,
  clientRetryBackoffMs: kafkaOption.retryBackoffMs,
  logLevel: kafkaOption.logLevel,
});

export type KafkaChannelOptions = z.input<typeof kafkaChannelOptions>;

const flumeKeys = {
  'kafka.bootstrap.servers': { option: 'brokers', convert: splitList },
  brokerList: { option: 'brokers', convert: splitList },
  'kafka.topic': 'topic',
  'kafka.consumer.group.id': 'groupId',
  groupId: 'groupId',
  // Flume 1.11 reads kafka.pollTimeout (KafkaChannelConfiguration.POLL_TIMEOUT); its User Guide says pollTimeout, which it ignores: both are taken here.
  'kafka.pollTimeout': 'pollTimeoutMs',
  pollTimeout: 'pollTimeoutMs',
  'keep-alive': { option: 'keepAliveMs', convert: secondsToMs },
  'kafka.consumer.auto.offset.reset': { option: 'fromBeginning', convert: isEarliest },
  'kafka.consumer.client.id': 'clientId',
  'kafka.producer.client.id': 'clientId',
  'kafka.consumer.session.timeout.ms': 'sessionTimeoutMs',
  'kafka.consumer.heartbeat.interval.ms': 'heartbeatIntervalMs',
  'kafka.consumer.max.partition.fetch.bytes': 'maxBytesPerPartition',
  'kafka.producer.request.timeout.ms': 'requestTimeoutMs',
} as const;

/** The channel has one connection setting: its producer's and its consumer's security keys must agree. */
const BOTH = ['kafka.producer.', 'kafka.consumer.'];

export const kafkaChannelSpec = defineComponent({
  name: 'kafkaChannel',
  kind: 'channel',
  summary: 'A Kafka topic as the channel: put = produce (acked once stored), take = consume, offsets committed after the sink acked (Flume KafkaChannel).',
  flumeTypes: ['org.apache.flume.channel.kafka.KafkaChannel'],
  schema: kafkaChannelOptions,
  flumeKeys,
  // Security under kafka.producer. and kafka.consumer. (which must agree), the producer's compression, and a clear report of the
  // kafka.producer.* / kafka.consumer.* keys kafkajs cannot honour.
  fromFlume: (props) =>
    combineFromFlume(
      props,
      (p) => securityFromFlume(p, BOTH),
      compressionFromFlume,
      (p) => unsupportedPassThrough(p, BOTH, [...Object.keys(flumeKeys), COMPRESSION_KEY, ...securityKeysOf(BOTH)], 'kafkaChannel'),
    ),
});

/**
 * Flume's Kafka channel as an operator: a Kafka topic stores the events between the put
 * transactions of upstream and the take transactions of downstream, so the channel survives the
 * process and several agents can share it.
 *
 * - **Put**: an upstream batch is produced to `topic` with acks all and acked once the broker
 *   confirmed every record; a failure (or no answer within `keepAliveMs`) nacks it with
 *   `ChannelFullError`, so the source backs off and retries. The record key is the `key` header; the
 *   partition is the `partitionIdHeader` header, else `defaultPartitionId`, else murmur2 of the key.
 *   With `parseAsFlumeEvent` (default) the value is the Avro `AvroFlumeEvent` datum, byte-compatible
 *   with Flume's KafkaChannel (and with kafkaSink's `useFlumeEventFormat`); otherwise the body alone.
 *   `compression` (Flume's `kafka.producer.compression.type`): none, gzip, snappy, lz4 or zstd, as
 *   for kafkaSink; the take side reads any of them, whoever wrote the topic.
 * - **Take**: a member of consumer group `groupId` reads the topic and emits batches of up to
 *   `transactionCapacity` events (a smaller one after `pollTimeoutMs`) while fewer than `maxInFlight`
 *   are unsettled. A record's key becomes the event's `key` header, as in Flume (without
 *   `parseAsFlumeEvent` it is the only header). Offsets are committed only after the take holding them and every earlier take of
 *   its partition were acked; a nacked take is held and emitted again after min(n ×
 *   backoffSleepIncrementMs, maxBackoffSleepMs), and no commit passes it meanwhile.
 * - **Completion**: when upstream completes (or errors), every put is settled, then the channel keeps
 *   taking until the group's committed offsets reach the topic's end offsets of that moment; then it
 *   completes (or forwards the error).
 *
 * Delivery: at-least-once, across restarts. What was put and not taken (or taken and not acked) is
 * taken after a restart by a channel in the same group, from the committed offsets. **Duplicates
 * are possible** — a put retried after a lost confirmation, takes in flight at a restart or a
 * rebalance (Flume: "duplicate events when the agent first starts up") — **loss is not**. After a
 * broker failure, take-side duplicates stay within the takes in flight plus at most `maxInFlight + 1`
 * acked takes whose commit was not yet confirmed (a failed commit is retried; nothing new is taken
 * meanwhile). As in
 * Flume (its channel's `auto.offset.reset` default is `earliest`), a group without committed offsets
 * starts from the earliest record (`fromBeginning`), so events put before the take side first joined
 * are not skipped.
 *
 * Errors: a topic that does not exist (nothing is auto-created) or a record that is not an
 * AvroFlumeEvent with `parseAsFlumeEvent` ends the stream with `FLUME_CHANNEL_CLOSED`; a bad
 * partition header nacks the put with a non-retriable `FLUME_BAD_EVENT`. `ChannelSize` counts the
 * events this process holds (fetched or taken, not yet acked); the topic is the store, so
 * `ChannelCapacity` is unbounded. Metrics add Flume's `KafkaEventGetTimer`, `KafkaEventSendTimer`,
 * `KafkaCommitTimer` and `RollbackCounter`.
 *
 * Security: `ssl` and `sasl` as kafkajs takes them; or Flume's keys under `kafka.producer.` and
 * `kafka.consumer.`, which must agree (one connection setting serves both sides) —
 * `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `ssl.truststore.*` (JKS or PEM),
 * `ssl.keystore.*` (PKCS12 or PEM), `ssl.endpoint.identification.algorithm`, `sasl.mechanism`
 * PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with `sasl.jaas.config` — become `ssl`, `sslStores`,
 * `sslVerifyHostname` and `sasl`. The stores are read when the channel is built (a missing one is a
 * ConfigError naming it); GSSAPI (Kerberos) and OAUTHBEARER are configuration errors.
 *
 * @example
 * const pipeline = pipe(
 *   taildirSource({ filegroups: { f1: '/var/log/app/.*\\.log' }, positionFile: '/var/lib/rxflume/pos.json' }),
 *   kafkaChannel({ brokers: ['127.0.0.1:9092'], topic: 'flume-channel', transactionCapacity: 500 }),
 *   fileRollSink({ directory: '/var/spool/out' }),
 * );
 */
export const kafkaChannel = component(kafkaChannelSpec, function kafkaChannel(options: KafkaChannelOptions): OperatorFunction<Batch, Batch> & HasMetrics {
  const opts = { ...parseOptions(kafkaChannelSpec, options) };
  opts.ssl = resolveSsl(opts);
  checkCompression(opts.compression);
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  // The topic is the store: unbounded, and a put of any size is one produce request.
  return channelEngine(
    { ...opts, capacity: Number.MAX_SAFE_INTEGER, boundedPuts: false, counters: ['KafkaEventGetTimer', 'KafkaEventSendTimer', 'KafkaCommitTimer', 'RollbackCounter'] },
    (hooks) => new KafkaStore(opts, brokers, hooks),
  );
});

type Options = z.output<typeof kafkaChannelOptions>;

interface KafkaTake extends StoreTake {
  /** The consumer's batch: its ack lets the offsets be committed, its nack holds it for redelivery. */
  readonly batch: Batch;
}

const EMPTY = Buffer.alloc(0);

/**
 * The topic as the store: a put is produced (settled once the broker answered), a take is a batch of
 * the consumer engine (lib/kafka/consumer.ts), which commits offsets over acked prefixes and holds a
 * nacked batch for redelivery after the back-off.
 */
class KafkaStore implements ChannelStore<KafkaTake> {
  private readonly kafka: Kafka;
  private readonly producer: ProducerConnection;
  private readonly consumer: Engine;
  /** Batches of the consumer not yet taken. */
  private readonly ready: Batch[] = [];
  private readonly puts = new Set<Promise<void>>();
  private admin: Admin | undefined;
  private drainTimer: Subscription | undefined;
  private closed = false;

  constructor(
    private readonly opts: Options,
    private readonly brokers: string[],
    private readonly hooks: StoreHooks,
  ) {
    const { metrics } = hooks;
    const backoff = channelBackoff(opts);
    // One client for both sides; its retry delay is clientRetryBackoffMs (the back-off options are the take redelivery's).
    const clientConfig = { ...opts, maxWaitTimeMs: opts.pollTimeoutMs, retryBackoffMs: opts.clientRetryBackoffMs };
    this.kafka = kafkaClient(clientConfig, brokers);
    this.producer = new ProducerConnection(
      kafkajsProducer(this.kafka, { acks: -1, compression: opts.compression, timeoutMs: opts.keepAliveMs, retry: clientRetry(clientConfig), allowAutoTopicCreation: false }),
    );
    const toEvent = (_topic: string, _partition: number, record: InRecord): FlumeEvent => {
      const event = opts.parseAsFlumeEvent ? decodeFlumeEvent(record.value ?? EMPTY) : { headers: {}, body: record.value ?? EMPTY };
      // Flume's take sets the `key` header to the record key (either format): a keyed put without
      // parseAsFlumeEvent comes back keyed, and so does a keyed record another producer wrote.
      return record.key === null ? event : { ...event, headers: { ...event.headers, key: record.key.toString('utf8') } };
    };
    this.consumer = startEngine(
      {
        name: opts.name,
        batchSize: opts.transactionCapacity,
        batchDurationMs: opts.pollTimeoutMs,
        maxInFlight: opts.maxInFlight,
        backoffStepMs: backoff.stepMs,
        backoffMaxMs: backoff.maxMs,
        failCode: 'FLUME_CHANNEL_CLOSED',
        what: `topic "${opts.topic}"`,
        client: kafkajsConsumer(this.kafka, clientConfig, [opts.topic]),
        toEvent,
        // The channel engine counts takes; the consumer's rollbacks are Flume's KafkaChannel RollbackCounter.
        emitted: () => undefined,
        acked: () => undefined,
        nacked: () => metrics.inc('RollbackCounter'),
        counters: metrics,
      },
      {
        next: (batch) => {
          this.ready.push(batch);
          hooks.wake();
        },
        error: (error) => hooks.fail(error),
      },
    );
  }

  private toRecord(e: FlumeEvent, i: number, n: number): OutRecord {
    const { name, partitionIdHeader } = this.opts;
    const record: OutRecord = { key: e.headers['key'] ?? null, value: this.opts.parseAsFlumeEvent ? encodeFlumeEvent(e) : e.body };
    const partition = partitionOf(
      e.headers,
      partitionIdHeader,
      this.opts.defaultPartitionId,
      (raw) =>
        new ComponentError(
          'FLUME_BAD_EVENT',
          `${name}: header ${partitionIdHeader}=${JSON.stringify(raw)} is not a partition number (event ${i + 1} of ${n}); the put cannot be stored as is`,
          { component: name, retriable: false },
        ),
    );
    if (partition !== undefined) record.partition = partition;
    return record;
  }

  /** Produces the put; it is settled once the broker confirmed it, or failed (or did not answer within keepAliveMs). */
  offer(put: StorePut): boolean {
    const n = put.events.length;
    let records: OutRecord[];
    try {
      records = put.events.map((e, i) => this.toRecord(e, i, n));
    } catch (error) {
      this.hooks.settled(put, toError(error));
      return true;
    }
    const { topic } = this.opts;
    const conn = this.producer.get();
    const started = Date.now();
    const done = (async () => {
      try {
        await conn.ready;
        await conn.client.send([{ topic, messages: records }]);
      } catch (error) {
        if (isConnectionFailure(error)) this.producer.drop(conn);
        throw error;
      } finally {
        this.hooks.metrics.inc('KafkaEventSendTimer', Date.now() - started);
      }
    })().then(
      () => this.hooks.settled(put),
      (error: unknown) =>
        this.hooks.settled(
          put,
          new ChannelFullError(`${this.opts.name}: could not store ${n} events in topic "${topic}" on ${this.brokers.join(',')}: ${toError(error).message}`, {
            component: this.opts.name,
            cause: error,
          }),
        ),
    );
    this.puts.add(done);
    void done.finally(() => {
      this.puts.delete(done);
      this.hooks.wake();
    });
    return true;
  }

  take(): KafkaTake | undefined {
    const batch = this.ready.shift();
    return batch && { events: batch.events, batch };
  }

  commit(take: KafkaTake, done: () => void): void {
    take.batch.ack();
    done();
  }

  rollback(take: KafkaTake, error: Error): void {
    take.batch.nack(error);
  }

  /** Events this member holds: fetched, or taken and not yet acked. */
  size(): number {
    return this.consumer.held();
  }

  /** Keeps taking until the group's committed offsets reach the topic's end offsets of this moment, then leaves the group. */
  async ended(): Promise<void> {
    let ends: Array<{ partition: number; high: string; low: string }> | undefined;
    while (!this.closed) {
      try {
        if (!this.admin) {
          const a = this.kafka.admin();
          this.admin = a;
          await a.connect();
        }
        ends ??= await this.admin.fetchTopicOffsets(this.opts.topic);
        if (await this.drained(ends)) break;
      } catch {
        this.hooks.metrics.inc('GenericProcessingFail');
      }
      await new Promise<void>((resolve) => {
        this.drainTimer = asyncScheduler.schedule(() => resolve(), Math.max(this.opts.pollTimeoutMs, 50));
      });
    }
    if (!this.closed) await this.consumer.stop(this.opts.stopGraceMs);
  }

  /** True once the group committed everything the topic held when draining began. */
  private async drained(ends: Array<{ partition: number; high: string; low: string }>): Promise<boolean> {
    await this.consumer.commitsSettled();
    const [group] = await this.admin!.fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic] });
    const committed = new Map((group?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends.every((e) => Math.max(committed.get(e.partition) ?? -1, Number(e.low)) >= Number(e.high));
  }

  /** Leaves the group once the takes in flight settled (up to stopGraceMs), lets the puts finish, disconnects. */
  close(): void {
    this.closed = true;
    this.drainTimer?.unsubscribe();
    void (async () => {
      await this.consumer.stop(this.opts.stopGraceMs);
      await Promise.allSettled([...this.puts]);
      await this.producer.close();
      await this.admin?.disconnect().catch(() => undefined);
    })();
  }
}
