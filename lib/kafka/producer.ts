/**
 * The producer side shared by kafkaSink and kafkaChannel's put side: a kafkajs producer behind the
 * little they need of it, one lazily opened connection that is dropped when it breaks (the next send
 * opens a new one), and the partition of an event. Not a component: components never import each
 * other, so their common mechanism lives here; it imports only kafkajs (through ./client.ts, when first used).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { backoffDelay, exponential } from '../core/backoff.js';
import { kafkajs } from './client.js';
import { KAFKAJS_COMPRESSION, type KafkaCompression } from './compression.js';

export interface OutRecord {
  key: string | null;
  value: Buffer;
  partition?: number;
  timestamp?: string;
  headers?: Record<string, string>;
}

/** One produce request: records of one topic. */
export interface TopicRecords {
  topic: string;
  messages: OutRecord[];
}

/** One producer connection. Swapping kafkajs for another client means rewriting this and client.ts. */
export interface ProducerClient {
  connect(): Promise<void>;
  /** Sends the requests side by side; resolves once the broker confirmed every record with the configured acks. */
  send(requests: readonly TopicRecords[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface ProducerConfig {
  /** -1: every in-sync replica; 1: the leader; 0: none. */
  acks: -1 | 0 | 1;
  compression?: KafkaCompression | undefined;
  /** Time for the broker to confirm a request (the acks wait included). */
  timeoutMs: number;
  /** Resends of a failed produce request before the send fails (the delay doubling from initialRetryTime up to maxRetryTime, 30 s by default). */
  retry: { retries: number; initialRetryTime: number; maxRetryTime?: number };
  /** kafkajs creates a missing topic on first use unless this is false. */
  allowAutoTopicCreation?: boolean | undefined;
}

/** Opens kafkajs producers of `kafka` with `cfg`. */
export function kafkajsProducer(kafka: Kafka, cfg: ProducerConfig): () => ProducerClient {
  const { CompressionTypes, Partitioners } = kafkajs();
  const compression = CompressionTypes[KAFKAJS_COMPRESSION[cfg.compression ?? 'none']];
  const delays = exponential(cfg.retry.initialRetryTime, cfg.retry.maxRetryTime ?? 30_000);
  return () => {
    // Not idempotent: kafkajs then serialises every request per broker; duplicates on retry are the
    // at-least-once price anyway. DefaultPartitioner is Java's murmur2, so keys land as with Flume.
    // kafkajs itself never retries a produce (retries 0): its retry (2.2.4, producer/sendMessages.js) resends
    // only to the brokers that had not answered, so the records of a partition whose leader died and moved to a
    // broker that had answered are never sent, and the send resolves — acked records missing from the topic
    // (found by the tiered chaos test killing a partition leader). A failed request is sent again whole here:
    // the partitions that had succeeded get duplicates, none gets a gap.
    const producer: Producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: false,
      retry: { ...cfg.retry, retries: 0 },
      ...(cfg.allowAutoTopicCreation !== undefined ? { allowAutoTopicCreation: cfg.allowAutoTopicCreation } : {}),
    });
    let disconnected = false;
    const sendWhole = async (r: TopicRecords): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.sendBatch({ acks: cfg.acks, compression, timeout: cfg.timeoutMs, topicMessages: [r] });
          return;
        } catch (error) {
          if (attempt >= cfg.retry.retries || disconnected || !retriable(error)) throw error;
          await sleep(backoffDelay(delays, attempt + 1));
        }
      }
    };
    return {
      connect: () => producer.connect(),
      send: async (requests) => {
        await Promise.all(requests.map(sendWhole));
      },
      disconnect: () => {
        disconnected = true;
        return producer.disconnect();
      },
    };
  };
}

/** Whether kafkajs says trying again may succeed: with its own retries at 0, a retriable failure comes wrapped as 'retries exceeded'. */
function retriable(error: unknown): boolean {
  const e = error as { name?: string; retriable?: boolean };
  return e.name === 'KafkaJSNumberOfRetriesExceeded' || e.retriable === true;
}

export interface Connection {
  readonly client: ProducerClient;
  /** Resolves once connected; rejects with the client's error when connecting failed (the connection is forgotten then). */
  readonly ready: Promise<void>;
}

/** What a component counts of its connection (the sink's Flume counters). */
export interface ConnectionEvents {
  created?(): void;
  /** Connecting failed, or the connection broke and was dropped. */
  failed?(): void;
  /** A connection that had opened was closed. */
  closed?(): void;
}

/** One producer connection, opened on first use and replaced after it broke. */
export class ProducerConnection {
  private current: Connection | undefined;

  constructor(
    private readonly open: () => ProducerClient,
    private readonly events: ConnectionEvents = {},
  ) {}

  /** The open connection, or a new one. */
  get(): Connection {
    if (this.current) return this.current;
    const client = this.open();
    const conn: Connection = {
      client,
      ready: client.connect().then(
        () => this.events.created?.(),
        (error: unknown) => {
          if (this.current === conn) this.current = undefined;
          this.events.failed?.();
          client.disconnect().catch(() => undefined);
          throw error;
        },
      ),
    };
    // Awaited by the sends; a failure nobody awaits is not unhandled.
    conn.ready.catch(() => undefined);
    this.current = conn;
    return conn;
  }

  /** Forgets a broken connection once (several sends may fail on it); the next `get` opens a new one. */
  drop(conn: Connection): void {
    if (this.current !== conn) return;
    this.current = undefined;
    this.events.failed?.();
    conn.client.disconnect().then(
      () => this.events.closed?.(),
      () => this.events.closed?.(),
    );
  }

  /** Disconnects the connection, once it opened (one that failed to open is already gone). */
  async close(): Promise<void> {
    const conn = this.current;
    this.current = undefined;
    if (!conn) return;
    try {
      await conn.ready;
    } catch {
      return;
    }
    await conn.client.disconnect().catch(() => undefined);
    this.events.closed?.();
  }
}

/**
 * The partition of an event: the number in its `header` header, else `fallback`, else undefined (the
 * partitioner decides). A header value that is not a number throws `invalid(value)`.
 */
export function partitionOf(
  headers: Readonly<Record<string, string>>,
  header: string | undefined,
  fallback: number | undefined,
  invalid: (value: string) => Error,
): number | undefined {
  const raw = header === undefined ? undefined : headers[header];
  if (raw === undefined) return fallback;
  if (!/^\s*\d+\s*$/.test(raw)) throw invalid(raw);
  return Number(raw);
}
