import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Consumer, type IHeaders, type Producer } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../../lib/core/batch.js';
import { component, defineComponent, parseOptions, secondsToMs } from '../../lib/core/config.js';
import { ChannelFullError, ComponentError, isRetriable, toError, type ErrorCode } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { decodeFlumeEvent, encodeFlumeEvent } from '../../lib/core/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../../lib/core/metrics.js';

export const kafkaChannelOptions = z.strictObject({
  name: z.string().min(1).default('kafkaChannel').describe('Component name in metrics.'),
  brokers: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe("Bootstrap brokers, `host:port` each (an array, or one comma-separated string as Flume's kafka.bootstrap.servers)."),
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
  clientId: z.string().min(1).default('rxflume').describe('Kafka client id.'),
  ssl: z
    .union([z.boolean(), z.record(z.string(), z.unknown())])
    .optional()
    .describe('TLS: true, or Node tls.connect options (ca, cert, key, rejectUnauthorized, …), passed to kafkajs.'),
  sasl: z
    .looseObject({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'aws', 'oauthbearer']) })
    .optional()
    .describe('SASL options as kafkajs takes them ({ mechanism, username, password } …).'),
  sessionTimeoutMs: z.number().int().min(1).default(30_000).describe('Group session timeout (Kafka session.timeout.ms).'),
  heartbeatIntervalMs: z.number().int().min(1).default(3000).describe('Group heartbeat interval (Kafka heartbeat.interval.ms).'),
  maxBytesPerPartition: z.number().int().min(1).default(1_048_576).describe('Bytes fetched per partition per request at most (Kafka max.partition.fetch.bytes).'),
  connectionTimeoutMs: z.number().int().min(1).default(3000).describe('Time to open a broker connection.'),
  requestTimeoutMs: z.number().int().min(1).default(30_000).describe('Time for the broker to answer a request.'),
  retries: z.number().int().min(0).default(5).describe('Client retries of a failing request before it counts as failed.'),
  clientRetryBackoffMs: z.number().int().min(1).default(300).describe('First client retry delay; doubles per retry.'),
  logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('error').describe('kafkajs log level (its logs go to the console).'),
});

export type KafkaChannelOptions = z.input<typeof kafkaChannelOptions>;

const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const kafkaChannelSpec = defineComponent({
  name: 'kafkaChannel',
  kind: 'channel',
  summary: 'A Kafka topic as the channel: put = produce (acked once stored), take = consume, offsets committed after the sink acked (Flume KafkaChannel).',
  flumeTypes: ['org.apache.flume.channel.kafka.KafkaChannel'],
  schema: kafkaChannelOptions,
  flumeKeys: {
    'kafka.bootstrap.servers': { option: 'brokers', convert: splitList },
    brokerList: { option: 'brokers', convert: splitList },
    'kafka.topic': 'topic',
    'kafka.consumer.group.id': 'groupId',
    groupId: 'groupId',
    pollTimeout: 'pollTimeoutMs',
    'keep-alive': { option: 'keepAliveMs', convert: secondsToMs },
    'kafka.consumer.auto.offset.reset': { option: 'fromBeginning', convert: (v: string) => v.trim().toLowerCase() === 'earliest' },
    'kafka.consumer.client.id': 'clientId',
    'kafka.producer.client.id': 'clientId',
    'kafka.consumer.session.timeout.ms': 'sessionTimeoutMs',
    'kafka.consumer.heartbeat.interval.ms': 'heartbeatIntervalMs',
    'kafka.consumer.max.partition.fetch.bytes': 'maxBytesPerPartition',
    'kafka.producer.request.timeout.ms': 'requestTimeoutMs',
    'kafka.consumer.security.protocol': { option: 'ssl', convert: (v: string) => /SSL$/i.test(v.trim()) },
    'kafka.producer.security.protocol': { option: 'ssl', convert: (v: string) => /SSL$/i.test(v.trim()) },
  },
});

// ---- the Kafka client, behind the little the take side needs of it ----------------------------
// (From here to the put side, the same code as lib/sources/kafkaSource.ts: components never import each other.)

interface InRecord {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
  headers?: IHeaders;
}

interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

interface ConsumerHandlers {
  /** One partition's records, in offset order; called synchronously, never concurrently. */
  records(topic: string, partition: number, records: readonly InRecord[]): void;
  /** A group (re)join completed: the positions restart from the committed offsets of `assignment`. */
  assigned(assignment: Record<string, number[]>): void;
  /** A fetch returned after `durationMs`. */
  fetched(durationMs: number): void;
  /** The consumer stopped on an error; `restarting` when the client re-joins by itself. */
  crashed(error: Error, restarting: boolean): void;
}

/** One group member. Swapping kafkajs for another client means rewriting this. */
interface ConsumerClient {
  /** Connects, subscribes and starts fetching; rejects when that fails. */
  start(handlers: ConsumerHandlers): Promise<void>;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(topics: readonly string[]): void;
  resume(topics: readonly string[]): void;
  /** Stops fetching and leaves the group. */
  stop(): Promise<void>;
}

const LOG_LEVELS = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
} as const;

/** What the kafkajs client and consumer are built from. */
interface ClientConfig {
  clientId: string;
  groupId: string;
  fromBeginning: boolean;
  ssl?: boolean | Record<string, unknown> | undefined;
  sasl?: Record<string, unknown> | undefined;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  maxBytesPerPartition: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  logLevel: keyof typeof LOG_LEVELS;
}

function kafkaClient(opts: ClientConfig, brokers: string[]): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers,
    connectionTimeout: opts.connectionTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    retry: { retries: opts.retries, initialRetryTime: opts.retryBackoffMs },
    logLevel: LOG_LEVELS[opts.logLevel],
    ...(opts.ssl !== undefined ? { ssl: opts.ssl as ConnectionOptions | boolean } : {}),
    ...(opts.sasl !== undefined ? { sasl: opts.sasl as never } : {}),
  });
}

function kafkajsConsumer(kafka: Kafka, opts: ClientConfig, topics: Array<string | RegExp>): ConsumerClient {
  const retry = { retries: opts.retries, initialRetryTime: opts.retryBackoffMs };
  let consumer: Consumer | undefined;
  return {
    async start(h) {
      const c = kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: opts.sessionTimeoutMs,
        heartbeatInterval: opts.heartbeatIntervalMs,
        maxWaitTimeInMs: opts.maxWaitTimeMs,
        maxBytesPerPartition: opts.maxBytesPerPartition,
        allowAutoTopicCreation: false,
        retry,
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, (e) => h.assigned(e.payload.memberAssignment));
      c.on(c.events.FETCH, (e) => h.fetched(e.payload.duration));
      c.on(c.events.CRASH, (e) => h.crashed(e.payload.error, e.payload.restart));
      await c.connect();
      await c.subscribe({ topics, fromBeginning: opts.fromBeginning });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (!isRunning() || isStale()) return;
          if (batch.messages.length > 0) h.records(batch.topic, batch.partition, batch.messages);
          // Only the in-memory fetch position moves; the committed offset is ours to move.
          resolveOffset(batch.lastOffset());
          await heartbeat();
        },
      });
    },
    async commit(offsets) {
      await consumer?.commitOffsets(offsets.map((o) => ({ ...o })));
    },
    pause(topics) {
      consumer?.pause(topics.map((topic) => ({ topic })));
    },
    resume(topics) {
      consumer?.resume(topics.map((topic) => ({ topic })));
    },
    async stop() {
      await consumer?.disconnect();
    },
  };
}

/** The error and everything it wraps (kafkajs: originalError, cause, errors of an aggregate). */
function errorChain(error: unknown): Array<Error & { type?: string }> {
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

const isUnknownTopic = (error: unknown): boolean => errorChain(error).some((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION');

// ---- batches over a consumer: buffering, pacing, ordered commits --------------------------------

interface EngineConfig {
  name: string;
  batchSize: number;
  batchDurationMs: number;
  maxInFlight: number;
  backoffStepMs: number;
  backoffMaxMs: number;
  /** The code of the errors that end the stream. */
  failCode: ErrorCode;
  /** What the group reads, for error messages. */
  what: string;
  client: ConsumerClient;
  /** Builds the event of one record; a throw fails the stream (nothing past it is committed). */
  toEvent(topic: string, partition: number, record: InRecord): FlumeEvent;
  /** Counter hooks, named as the component's own counters. */
  emitted(n: number): void;
  acked(n: number): void;
  nacked(n: number): void;
  counters: ComponentCounters;
}

interface Range {
  topic: string;
  partition: number;
  key: string;
  last: string;
}

interface Taken {
  /** Cut order, so held batches go out again oldest first. */
  seq: number;
  events: FlumeEvent[];
  ranges: Range[];
  epoch: number;
  acked: boolean;
}

interface Engine {
  /** Events buffered or emitted and not yet acked by this member. */
  held(): number;
  /** Resolves once every commit requested so far went out (or failed). */
  commitsSettled(): Promise<void>;
  /**
   * Stops emitting, waits up to `graceMs` for the batches in flight to settle (committing the acked
   * ones), flushes commits, stops the consumer and leaves the group.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `client` and emits its records as batches through `out`. Offsets are committed per
 * partition only up to the end of the longest prefix of acked batches. A nacked batch is held and
 * emitted again after back-off. A group (re)join starts a new epoch: the client restarts from the
 * committed offsets, so buffered and held work of the old epoch is dropped and its acks no longer
 * commit (at-least-once: it comes back, to this member or the new owner).
 */
function startEngine(cfg: EngineConfig, out: { next(batch: Batch): void; error(error: unknown): void }): Engine {
  const { counters } = cfg;
  let closed = false; // no more emissions
  let left = false; // no more commits
  let settledWhileStopping: (() => void) | undefined;
  let epoch = 0;
  let assignedTopics: string[] = [];
  let assignedKeys = new Set<string>();
  const buf: FlumeEvent[] = [];
  const bufTopic: string[] = [];
  const bufPartition: number[] = [];
  const bufOffset: string[] = [];
  let held: Taken[] = [];
  let tracks = new Map<string, Taken[]>();
  let inFlight = 0;
  let inFlightEvents = 0;
  let due = false;
  let durationTimer: Subscription | undefined;
  let backoffTimer: Subscription | undefined;
  let startTimer: Subscription | undefined;
  let nacks = 0;
  let cuts = 0;
  let paused = false;
  let recordsSinceFetch = true;
  const toCommit = new Map<string, TopicPartitionOffset>();
  let committing: Promise<void> | undefined;

  const fail = (error: unknown): void => {
    if (closed) return;
    closed = true;
    clearTimers();
    out.error(error);
    void cfg.client.stop().catch(() => undefined);
  };

  const clearTimers = (): void => {
    durationTimer?.unsubscribe();
    durationTimer = undefined;
    backoffTimer?.unsubscribe();
    backoffTimer = undefined;
    startTimer?.unsubscribe();
    startTimer = undefined;
  };

  const flushCommits = (): Promise<void> => {
    if (committing) return committing;
    if (toCommit.size === 0) return Promise.resolve();
    committing = (async () => {
      while (toCommit.size > 0) {
        const offsets = [...toCommit.values()];
        toCommit.clear();
        const started = Date.now();
        try {
          await cfg.client.commit(offsets);
        } catch {
          // Lost only as a commit: the records come back after a restart or rebalance (duplicates, never loss).
          counters.inc('GenericProcessingFail');
        } finally {
          counters.inc('KafkaCommitTimer', Date.now() - started);
        }
      }
    })().finally(() => {
      committing = undefined;
      // An ack that landed between the loop's last check and here must not wait for the next one.
      if (toCommit.size > 0) void flushCommits();
    });
    return committing;
  };

  const settleCommits = async (): Promise<void> => {
    while (committing || toCommit.size > 0) await flushCommits();
  };

  /** Commits the end of each partition's acked prefix. */
  const advance = (taken: Taken): void => {
    for (const r of taken.ranges) {
      const queue = tracks.get(r.key);
      if (!queue) continue;
      let last: string | undefined;
      while (queue.length > 0 && queue[0]!.acked) {
        const head = queue.shift()!;
        last = head.ranges.find((x) => x.key === r.key)!.last;
      }
      if (last !== undefined) toCommit.set(r.key, { topic: r.topic, partition: r.partition, offset: (BigInt(last) + 1n).toString() });
    }
    void flushCommits();
  };

  const emit = (taken: Taken): void => {
    const n = taken.events.length;
    inFlight++;
    inFlightEvents += n;
    cfg.emitted(n);
    out.next(
      createBatch(taken.events, {
        onAck: () => {
          inFlight--;
          inFlightEvents -= n;
          cfg.acked(n);
          // Still committed while stopping: the group is left only once in-flight batches settled.
          if (!left && taken.epoch === epoch) {
            taken.acked = true;
            advance(taken);
          }
          if (closed) return settledWhileStopping?.();
          nacks = 0;
          pump();
        },
        onNack: (error) => {
          inFlight--;
          inFlightEvents -= n;
          if (closed) return settledWhileStopping?.();
          cfg.nacked(n);
          if (!isRetriable(error)) return fail(error);
          // Held (not sought back): the same events go out again, and no commit passes them meanwhile.
          if (taken.epoch === epoch) {
            let i = 0;
            while (i < held.length && held[i]!.seq < taken.seq) i++;
            held.splice(i, 0, taken);
          }
          nacks++;
          if (backoffTimer === undefined) {
            backoffTimer = asyncScheduler.schedule(
              () => {
                backoffTimer = undefined;
                pump();
              },
              Math.min(nacks * cfg.backoffStepMs, cfg.backoffMaxMs),
            );
          }
          updatePause();
        },
      }),
    );
  };

  const cut = (): Taken => {
    const n = Math.min(cfg.batchSize, buf.length);
    const events = buf.splice(0, n);
    const topics = bufTopic.splice(0, n);
    const partitions = bufPartition.splice(0, n);
    const offsets = bufOffset.splice(0, n);
    const byKey = new Map<string, Range>();
    for (let i = 0; i < n; i++) {
      const key = `${topics[i]}\u0000${partitions[i]}`;
      const r = byKey.get(key);
      if (r) r.last = offsets[i]!;
      else byKey.set(key, { topic: topics[i]!, partition: partitions[i]!, key, last: offsets[i]! });
    }
    const taken: Taken = { seq: ++cuts, events, ranges: [...byKey.values()], epoch, acked: false };
    for (const r of taken.ranges) {
      let queue = tracks.get(r.key);
      if (!queue) tracks.set(r.key, (queue = []));
      queue.push(taken);
    }
    return taken;
  };

  const pump = (): void => {
    while (!closed && backoffTimer === undefined && inFlight < cfg.maxInFlight) {
      if (held.length > 0) {
        emit(held.shift()!);
        continue;
      }
      if (buf.length >= cfg.batchSize || (buf.length > 0 && due)) {
        emit(cut());
        continue;
      }
      break;
    }
    if (closed) return;
    if (buf.length === 0) {
      due = false;
      durationTimer?.unsubscribe();
      durationTimer = undefined;
    } else if (durationTimer === undefined && !due) {
      durationTimer = asyncScheduler.schedule(() => {
        durationTimer = undefined;
        due = true;
        pump();
      }, cfg.batchDurationMs);
    }
    updatePause();
  };

  /** Stops fetching while a whole batch waits for a free slot; the client keeps heart-beating. */
  const updatePause = (): void => updatePauseTo(buf.length >= cfg.batchSize || held.length > 0);

  const handlers: ConsumerHandlers = {
    records(topic, partition, records) {
      if (closed) return;
      recordsSinceFetch = true;
      // A batch of a partition no longer ours: its new owner reads it from the committed offset.
      if (!assignedKeys.has(`${topic}\u0000${partition}`)) return;
      for (const record of records) {
        let e: FlumeEvent;
        try {
          e = cfg.toEvent(topic, partition, record);
        } catch (error) {
          counters.inc('EventReadFail');
          return fail(
            new ComponentError(
              cfg.failCode,
              `${cfg.name}: cannot read the record at ${topic}/${partition}@${record.offset}: ${toError(error).message}`,
              { component: cfg.name, retriable: false, cause: error },
            ),
          );
        }
        buf.push(e);
        bufTopic.push(topic);
        bufPartition.push(partition);
        bufOffset.push(record.offset);
      }
      pump();
    },
    assigned(assignment) {
      if (closed) return;
      epoch++;
      assignedTopics = Object.keys(assignment);
      assignedKeys = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}\u0000${p}`)));
      buf.length = bufTopic.length = bufPartition.length = bufOffset.length = 0;
      held = [];
      tracks = new Map();
      toCommit.clear();
      due = false;
      durationTimer?.unsubscribe();
      durationTimer = undefined;
      // kafkajs keeps pause state across a re-join; start the new epoch unpaused.
      paused = true;
      updatePauseTo(false);
      pump();
    },
    fetched(durationMs) {
      counters.inc('KafkaEventGetTimer', durationMs);
      if (!recordsSinceFetch) counters.inc('KafkaEmptyCount');
      recordsSinceFetch = false;
    },
    crashed(error, restarting) {
      counters.inc('GenericProcessingFail');
      if (!restarting) fail(new ComponentError(cfg.failCode, `${cfg.name}: the Kafka consumer stopped: ${error.message}`, { component: cfg.name, cause: error }));
    },
  };

  const updatePauseTo = (value: boolean): void => {
    if (paused === value || assignedTopics.length === 0) return;
    paused = value;
    try {
      if (value) cfg.client.pause(assignedTopics);
      else cfg.client.resume(assignedTopics);
    } catch {
      paused = !value;
    }
  };

  let starts = 0;
  const start = (): void => {
    cfg.client.start(handlers).then(
      () => undefined,
      (error: unknown) => {
        if (closed) return;
        counters.inc('GenericProcessingFail');
        if (isUnknownTopic(error)) {
          return fail(
            new ComponentError(
              cfg.failCode,
              `${cfg.name}: ${cfg.what} does not exist (broker auto.create.topics.enable=false?): create it first: ${toError(error).message}`,
              { component: cfg.name, retriable: false, cause: error },
            ),
          );
        }
        // Brokers unreachable or not ready: try again after Flume's back-off, as a polled source would.
        void cfg.client.stop().catch(() => undefined);
        starts++;
        startTimer = asyncScheduler.schedule(() => {
          startTimer = undefined;
          if (!closed) start();
        }, Math.min(starts * cfg.backoffStepMs, cfg.backoffMaxMs));
      },
    );
  };
  start();

  return {
    held: () => buf.length + inFlightEvents + held.reduce((n, t) => n + t.events.length, 0),
    commitsSettled: settleCommits,
    async stop(graceMs = 0) {
      if (!closed) {
        closed = true;
        clearTimers();
      }
      updatePauseTo(true);
      // Batches already downstream usually settle at once (a channel stores them): wait for them, so
      // their offsets are committed instead of read again by the next owner.
      if (inFlight > 0 && graceMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = asyncScheduler.schedule(() => resolve(), graceMs);
          settledWhileStopping = () => {
            if (inFlight > 0) return;
            timer.unsubscribe();
            resolve();
          };
        });
      }
      left = true;
      await settleCommits();
      await cfg.client.stop().catch(() => undefined);
    },
  };
}

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

const CONNECTION_ERRORS = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound', 'KafkaJSMetadataNotLoaded']);

function isConnectionFailure(error: unknown): boolean {
  return errorChain(error).some((e) => CONNECTION_ERRORS.has(e.name) || /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(e.message));
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
 * @example
 * const pipeline = pipe(
 *   taildirSource({ filegroups: { f1: '/var/log/app/.*\\.log' }, positionFile: '/var/lib/rxflume/pos.json' }),
 *   kafkaChannel({ brokers: ['127.0.0.1:9092'], topic: 'flume-channel', transactionCapacity: 500 }),
 *   fileRollSink({ directory: '/var/spool/out' }),
 * );
 */
export const kafkaChannel = component(kafkaChannelSpec, function kafkaChannel(options: KafkaChannelOptions): OperatorFunction<Batch, Batch> & HasMetrics {
  const opts = parseOptions(kafkaChannelSpec, options);
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  const metrics = new ComponentCounters('CHANNEL', opts.name);
  metrics.set('ChannelCapacity', Number.MAX_SAFE_INTEGER);
  for (const key of ['KafkaEventGetTimer', 'KafkaEventSendTimer', 'KafkaCommitTimer', 'RollbackCounter']) metrics.set(key, 0);
  const clientConfig: ClientConfig = {
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
