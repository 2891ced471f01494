import { Kafka, logLevel as KafkaLogLevel, type Consumer, type IHeaders } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { asyncScheduler, Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable, toError, type ErrorCode } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { decodeFlumeEvent } from '../core/flumeEventAvro.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';

export const kafkaSourceOptions = z
  .strictObject({
    name: z.string().min(1).default('kafkaSource').describe('Component name in metrics.'),
    brokers: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe("Bootstrap brokers, `host:port` each (an array, or one comma-separated string as Flume's kafka.bootstrap.servers)."),
    topics: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Topics read (an array or a comma-separated string). Exactly one of topics and topicPattern.'),
    topicPattern: z
      .string()
      .min(1)
      .optional()
      .describe('Regular expression of the topics read (Flume kafka.topics.regex); matched against the topics existing when the source subscribes.'),
    groupId: z.string().min(1).default('flume').describe('Consumer group: sources in one group share the partitions.'),
    batchSize: z.number().int().min(1).default(1000).describe('Events per batch at most.'),
    batchDurationMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('A batch smaller than batchSize is emitted once its first event waited this long (Flume batchDurationMillis).'),
    maxInFlight: z.number().int().min(1).default(1).describe('Batches emitted and not yet settled, at most; then the partitions are paused.'),
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
    maxWaitTimeMs: z.number().int().min(0).default(500).describe('How long the broker holds a fetch waiting for records (Kafka fetch.max.wait.ms).'),
    maxBytesPerPartition: z.number().int().min(1).default(1_048_576).describe('Bytes fetched per partition per request at most (Kafka max.partition.fetch.bytes).'),
    backoffSleepIncrementMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('Back-off step after a nack or a failed start; the wait is min(n × this, maxBackoffSleepMs) (Flume backoffSleepIncrement).'),
    maxBackoffSleepMs: z.number().int().min(0).default(5000).describe('Longest back-off (Flume maxBackoffSleep).'),
    stopGraceMs: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe('On unsubscribe, how long the member stays in the group for the batches in flight to settle and be committed.'),
    connectionTimeoutMs: z.number().int().min(1).default(3000).describe('Time to open a broker connection.'),
    requestTimeoutMs: z.number().int().min(1).default(30_000).describe('Time for the broker to answer a request.'),
    retries: z.number().int().min(0).default(5).describe('Client retries of a failing request before it counts as failed.'),
    retryBackoffMs: z.number().int().min(1).default(300).describe('First client retry delay; doubles per retry.'),
    logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('error').describe('kafkajs log level (its logs go to the console).'),
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

const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const kafkaSourceSpec = defineComponent({
  name: 'kafkaSource',
  kind: 'source',
  summary: 'Consumes Kafka topics in a consumer group; commits offsets only after the batches holding them were acked (Flume Kafka source).',
  flumeTypes: ['kafka', 'org.apache.flume.source.kafka.KafkaSource'],
  schema: kafkaSourceOptions,
  flumeKeys: {
    'kafka.bootstrap.servers': { option: 'brokers', convert: splitList },
    'kafka.topics': { option: 'topics', convert: splitList },
    'kafka.topics.regex': 'topicPattern',
    'kafka.consumer.group.id': 'groupId',
    groupId: 'groupId',
    batchDurationMillis: 'batchDurationMs',
    backoffSleepIncrement: 'backoffSleepIncrementMs',
    maxBackoffSleep: 'maxBackoffSleepMs',
    'kafka.consumer.auto.offset.reset': { option: 'fromBeginning', convert: (v: string) => v.trim().toLowerCase() === 'earliest' },
    'kafka.consumer.client.id': 'clientId',
    'kafka.consumer.session.timeout.ms': 'sessionTimeoutMs',
    'kafka.consumer.heartbeat.interval.ms': 'heartbeatIntervalMs',
    'kafka.consumer.fetch.max.wait.ms': 'maxWaitTimeMs',
    'kafka.consumer.max.partition.fetch.bytes': 'maxBytesPerPartition',
    'kafka.consumer.request.timeout.ms': 'requestTimeoutMs',
    'kafka.consumer.security.protocol': { option: 'ssl', convert: (v: string) => /SSL$/i.test(v.trim()) },
  },
});

type Options = z.output<typeof kafkaSourceOptions>;

// ---- the Kafka client, behind the little the source needs of it --------------------------------

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
 * possible after a rebalance, a restart or a crash, loss is not**. On unsubscribe the source stops
 * reading, stays in the group up to `stopGraceMs` for its batches in flight to settle (committing the
 * acked ones), then leaves.
 *
 * Errors: a topic that does not exist (auto-create is never asked for) ends the source with
 * `FLUME_SOURCE_FAILED`; so does a record that is not an AvroFlumeEvent with `useFlumeEventFormat`
 * (nothing past it is committed) and a non-retriable nack. Unreachable brokers are retried after
 * back-off, counted in `GenericProcessingFail`. Metrics add Flume's `KafkaEventGetTimer` (ms
 * fetching), `KafkaCommitTimer` (ms committing) and `KafkaEmptyCount` (fetches that returned nothing).
 *
 * @example
 * const pipeline = pipe(
 *   kafkaSource({ brokers: ['127.0.0.1:9092'], topics: ['app-logs'], groupId: 'collectors', batchSize: 500 }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   loggerSink(),
 * );
 */
export const kafkaSource = component(kafkaSourceSpec, function kafkaSource(options: KafkaSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(kafkaSourceSpec, options);
  const brokers = typeof opts.brokers === 'string' ? splitList(opts.brokers) : opts.brokers;
  const topics: Array<string | RegExp> =
    opts.topicPattern !== undefined ? [new RegExp(opts.topicPattern)] : typeof opts.topics === 'string' ? splitList(opts.topics) : opts.topics!;
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
