import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { combineFromFlume, component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { ChannelFullError, ComponentError, toError } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { decodeFlumeEvent, encodeFlumeEvent } from '../../lib/core/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';
import { isConnectionFailure, isEarliest, kafkaClient, kafkaOption, splitList } from '../../lib/kafka/client.js';
import { kafkajsConsumer, startEngine, type Engine, type InRecord } from '../../lib/kafka/consumer.js';
import { resolveSsl, securityFromFlume, securityKeysOf, securityOption, unsupportedPassThrough } from '../../lib/kafka/security.js';

export const kafkaChannelOptions = z.strictObject({
  name: z.string().min(1).default('kafkaChannel').describe('Component name in metrics.'),
  brokers: kafkaOption.brokers,
  topic: z.string().min(1).default('flume-channel').describe('The topic that stores the channel (it must exist).'),
  groupId: z.string().min(1).default('flume').describe('Consumer group of the take side: channels in one group share the partitions.'),
  parseAsFlumeEvent: z
    .boolean()
    .default(true)
    .describe("Records are Avro AvroFlumeEvent datums (headers and body), as Flume's KafkaChannel stores them; otherwise the body alone (headers are not kept)."),
  transactionCapacity: z.number().int().min(1).default(1000).describe('Events per take at most.'),
  pollTimeoutMs: z
    .number()
    .int()
    .min(0)
    .default(500)
    .describe('How long a fetch waits for records, and a take smaller than transactionCapacity waits for more (Flume pollTimeout).'),
  maxInFlight: z.number().int().min(1).default(1).describe('Take batches emitted and not yet settled by the sink.'),
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
    .describe("Where a group without committed offsets starts taking: the earliest record (default, so nothing put before the first take is skipped) or only new ones (Flume's auto.offset.reset latest)."),
  retryBackoffMs: z.number().int().min(0).default(1000).describe('After a nacked take, wait min(n × this, maxRetryBackoffMs) before redelivery.'),
  maxRetryBackoffMs: z.number().int().min(0).default(5000).describe('Longest wait before redelivering nacked events.'),
  stopGraceMs: z
    .number()
    .int()
    .min(0)
    .default(5000)
    .describe('On unsubscribe, how long the take side stays in the group for the takes in flight to settle and be committed.'),
  clientId: kafkaOption.clientId,
  ssl: kafkaOption.ssl,
  sslStores: securityOption.sslStores,
  sslVerifyHostname: securityOption.sslVerifyHostname,
  sasl: kafkaOption.sasl,
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
  // Security under kafka.producer. and kafka.consumer. (which must agree), and a clear report of the
  // kafka.producer.* / kafka.consumer.* keys kafkajs cannot honour.
  fromFlume: (props) =>
    combineFromFlume(
      props,
      (p) => securityFromFlume(p, BOTH),
      (p) => unsupportedPassThrough(p, BOTH, [...Object.keys(flumeKeys), ...securityKeysOf(BOTH)], 'kafkaChannel'),
    ),
});

// ---- the put side: one producer, behind the little the channel needs of it -------------------

interface OutRecord {
  key: string | null;
  value: Buffer;
  partition?: number;
}

interface ProducerClient {
  connect(): Promise<void>;
  /** Resolves once the broker stored every record (acks all). */
  send(topic: string, records: readonly OutRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

function kafkajsProducer(kafka: Kafka, timeoutMs: number): ProducerClient {
  // Not idempotent: kafkajs then serialises requests per broker; a retried put may duplicate (at-least-once).
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: false, allowAutoTopicCreation: false });
  return {
    connect: () => producer.connect(),
    send: async (topic, records) => {
      await producer.sendBatch({ acks: -1, timeout: timeoutMs, topicMessages: [{ topic, messages: records as OutRecord[] }] });
    },
    disconnect: () => producer.disconnect(),
  };
}

const EMPTY = Buffer.alloc(0);

// ---- the channel -------------------------------------------------------------------------------

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
 * - **Take**: a member of consumer group `groupId` reads the topic and emits batches of up to
 *   `transactionCapacity` events (a smaller one after `pollTimeoutMs`) while fewer than `maxInFlight`
 *   are unsettled. Offsets are committed only after the take holding them and every earlier take of
 *   its partition were acked; a nacked take is held and emitted again after min(n × retryBackoffMs,
 *   maxRetryBackoffMs), and no commit passes it meanwhile.
 * - **Completion**: when upstream completes (or errors), every put is settled, then the channel keeps
 *   taking until the group's committed offsets reach the topic's end offsets of that moment; then it
 *   completes (or forwards the error).
 *
 * Delivery: at-least-once, across restarts. What was put and not taken (or taken and not acked) is
 * taken after a restart by a channel in the same group, from the committed offsets. **Duplicates
 * are possible** — a put retried after a lost confirmation, takes in flight at a restart or a
 * rebalance (Flume: "duplicate events when the agent first starts up") — **loss is not**. Unlike
 * Flume, a group without committed offsets starts from the earliest record (`fromBeginning`), so
 * events put before the take side first joined are not skipped.
 *
 * Errors: a topic that does not exist (nothing is auto-created) or a record that is not an
 * AvroFlumeEvent with `parseAsFlumeEvent` ends the stream with `FLUME_CHANNEL_CLOSED`; a bad
 * partition header nacks the put with a non-retriable `FLUME_CHANNEL_FULL`. `ChannelSize` counts the
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
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  const metrics = new ComponentCounters('CHANNEL', opts.name);
  metrics.set('ChannelCapacity', Number.MAX_SAFE_INTEGER);
  for (const key of ['KafkaEventGetTimer', 'KafkaEventSendTimer', 'KafkaCommitTimer', 'RollbackCounter']) metrics.set(key, 0);
  // One client for both sides; its retry delay is clientRetryBackoffMs (retryBackoffMs is the take redelivery back-off).
  const clientConfig = {
    ...opts,
    maxWaitTimeMs: opts.pollTimeoutMs,
    retryBackoffMs: opts.clientRetryBackoffMs,
  };
  const { topic, partitionIdHeader } = opts;

  const toRecord = (e: FlumeEvent, i: number, n: number): OutRecord => {
    const record: OutRecord = { key: e.headers['key'] ?? null, value: opts.parseAsFlumeEvent ? encodeFlumeEvent(e) : e.body };
    let partition = opts.defaultPartitionId;
    const raw = partitionIdHeader === undefined ? undefined : e.headers[partitionIdHeader];
    if (raw !== undefined) {
      if (!/^\s*\d+\s*$/.test(raw)) {
        throw new ComponentError(
          'FLUME_CHANNEL_FULL',
          `${opts.name}: header ${partitionIdHeader}=${JSON.stringify(raw)} is not a partition number (event ${i + 1} of ${n}); the put cannot be stored as is`,
          { component: opts.name, retriable: false },
        );
      }
      partition = Number(raw);
    }
    if (partition !== undefined) record.partition = partition;
    return record;
  };

  const toEvent = (_topic: string, _partition: number, record: InRecord): FlumeEvent =>
    opts.parseAsFlumeEvent ? decodeFlumeEvent(record.value ?? EMPTY) : { headers: {}, body: record.value ?? EMPTY };

  const operator = (upstream: Observable<Batch>): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      const kafka = kafkaClient(clientConfig, brokers);
      let closed = false;
      let upstreamDone = false;
      let upstreamError: { error: unknown } | undefined;
      let draining = false;
      let drainTimer: Subscription | undefined;
      let admin: Admin | undefined;
      const puts = new Set<Promise<void>>();
      let engine: Engine | undefined;
      const publishSize = (): void => metrics.set('ChannelSize', engine?.held() ?? 0);

      interface Connection {
        client: ProducerClient;
        ready: Promise<void>;
      }
      let producer: Connection | undefined;
      const connect = (): Connection => {
        if (producer) return producer;
        const client = kafkajsProducer(kafka, opts.keepAliveMs);
        const conn: Connection = { client, ready: client.connect() };
        conn.ready.catch(() => drop(conn));
        producer = conn;
        return conn;
      };
      const drop = (conn: Connection): void => {
        if (producer !== conn) return;
        producer = undefined;
        conn.client.disconnect().catch(() => undefined);
      };

      const put = (batch: Batch): void => {
        const events = batch.events;
        const n = events.length;
        metrics.inc('EventPutAttemptCount', n);
        if (n === 0) return batch.ack();
        let records: OutRecord[];
        try {
          records = events.map((e, i) => toRecord(e, i, n));
        } catch (error) {
          return batch.nack(error);
        }
        const conn = connect();
        const started = Date.now();
        const done = (async () => {
          try {
            await conn.ready;
            await conn.client.send(topic, records);
          } catch (error) {
            if (isConnectionFailure(error)) drop(conn);
            throw error;
          } finally {
            metrics.inc('KafkaEventSendTimer', Date.now() - started);
          }
        })().then(
          () => {
            metrics.inc('EventPutSuccessCount', n);
            // Stored in Kafka: acked even if this channel was unsubscribed meanwhile.
            batch.ack();
          },
          (error: unknown) => {
            batch.nack(
              new ChannelFullError(`${opts.name}: could not store ${n} events in topic "${topic}" on ${brokers.join(',')}: ${toError(error).message}`, {
                component: opts.name,
                cause: error,
              }),
            );
          },
        );
        puts.add(done);
        void done.finally(() => {
          puts.delete(done);
          maybeDrain();
        });
      };

      const sleep = (ms: number): Promise<void> =>
        new Promise((resolve) => {
          drainTimer = asyncScheduler.schedule(() => resolve(), ms);
        });

      /** True once the group committed everything the topic held when draining began. */
      const drained = async (ends: Array<{ partition: number; high: string; low: string }>): Promise<boolean> => {
        await engine?.commitsSettled();
        const [group] = await admin!.fetchOffsets({ groupId: opts.groupId, topics: [topic] });
        const committed = new Map((group?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        return ends.every((e) => Math.max(committed.get(e.partition) ?? -1, Number(e.low)) >= Number(e.high));
      };

      const drain = async (): Promise<void> => {
        let ends: Array<{ partition: number; high: string; low: string }> | undefined;
        while (!closed) {
          try {
            if (!admin) {
              const a = kafka.admin();
              admin = a;
              await a.connect();
            }
            ends ??= await admin.fetchTopicOffsets(topic);
            if (await drained(ends)) break;
          } catch {
            metrics.inc('GenericProcessingFail');
          }
          await sleep(Math.max(opts.pollTimeoutMs, 50));
        }
        if (closed) return;
        await engine?.stop(opts.stopGraceMs);
        if (closed) return;
        closed = true;
        if (upstreamError) subscriber.error(upstreamError.error);
        else subscriber.complete();
      };

      const maybeDrain = (): void => {
        if (closed || draining || !upstreamDone || puts.size > 0) return;
        draining = true;
        void drain();
      };

      engine = startEngine(
        {
          name: opts.name,
          batchSize: opts.transactionCapacity,
          batchDurationMs: opts.pollTimeoutMs,
          maxInFlight: opts.maxInFlight,
          backoffStepMs: opts.retryBackoffMs,
          backoffMaxMs: opts.maxRetryBackoffMs,
          failCode: 'FLUME_CHANNEL_CLOSED',
          what: `topic "${topic}"`,
          client: kafkajsConsumer(kafka, clientConfig, [topic]),
          toEvent,
          emitted: (n) => {
            metrics.inc('EventTakeAttemptCount', n);
            publishSize();
          },
          acked: (n) => {
            metrics.inc('EventTakeSuccessCount', n);
            publishSize();
          },
          nacked: () => {
            metrics.inc('RollbackCount');
            metrics.inc('RollbackCounter');
            publishSize();
          },
          counters: metrics,
        },
        {
          next: (b) => subscriber.next(b),
          error: (e) => {
            if (closed) return;
            closed = true;
            subscriber.error(e);
          },
        },
      );

      const upstreamSubscription = upstream.subscribe({
        next: (batch) => {
          try {
            put(batch);
          } catch (error) {
            if (!batch.settled) batch.nack(toError(error));
            else throw error;
          }
        },
        error: (error: unknown) => {
          upstreamDone = true;
          upstreamError = { error };
          maybeDrain();
        },
        complete: () => {
          upstreamDone = true;
          maybeDrain();
        },
      });

      return () => {
        closed = true;
        upstreamSubscription.unsubscribe();
        drainTimer?.unsubscribe();
        const take = engine!;
        void (async () => {
          await take.stop(opts.stopGraceMs);
          await Promise.allSettled([...puts]);
          const conn = producer;
          producer = undefined;
          await conn?.client.disconnect().catch(() => undefined);
          await admin?.disconnect().catch(() => undefined);
          metrics.set('ChannelSize', 0);
        })();
      };
    });

  return withMetrics(operator, metrics);
});
