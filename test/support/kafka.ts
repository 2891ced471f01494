/**
 * Test-side helpers for the real Kafka broker that test/support/kafkaGlobalSetup.ts starts for the
 * run (auto-create off, 1 partition by default: create topics with `createTopic`).
 *
 *   const kafka = kafkaEnv();
 *   describe.skipIf(kafka.skip)(`kafkaX${kafka.note}`, () => {
 *     it('…', async () => {
 *       const bootstrap = requireKafka();      // fails the test when the broker could not start
 *       const topic = await createTopic(bootstrap, 'x', 3);
 *       …
 *     });
 *   });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, inject } from 'vitest';
import { startBroker, type Broker, type KafkaMajor } from '../../scripts/kafka.js';
import { requireService, serviceSkip, type ServiceOutcome, type ServiceSkip } from './serviceGlobalSetup.js';

/** skipReason: why Kafka tests are skipped (Java or Maven missing, no Kafka test in the run); failure: why the broker could not start although it should have (Kafka tests fail with it). */
export interface KafkaTestEnv extends ServiceOutcome {
  /** `127.0.0.1:<port>` of the run's broker; null when there is none. */
  bootstrap: string | null;
  major?: KafkaMajor;
  version?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: KafkaTestEnv;
  }
}

export interface KafkaEnv extends KafkaTestEnv, ServiceSkip {}

export function kafkaEnv(): KafkaEnv {
  const env: KafkaTestEnv = inject('kafka') ?? {
    bootstrap: null,
    skipReason: 'the Kafka global setup (test/support/kafkaGlobalSetup.ts) did not run',
  };
  return { ...env, ...serviceSkip(env.bootstrap !== null, env, 'RXFLUME_REQUIRE_KAFKA') };
}

/** The broker's address; throws the global setup's failure, so a broker that should run but did not fails the test (call it in each test). */
export function requireKafka(): string {
  const env = kafkaEnv();
  return requireService(env.bootstrap, env, 'Kafka broker');
}

/**
 * A broker of the describe block's own, for tests that stop and restart it (SIGKILL, then `start()` on the
 * same port and data) without disturbing any other test: started in beforeAll, closed and its data
 * removed in afterAll. Call inside `describe.skipIf(kafka.skip)`; `broker()` in a test, after `requireKafka()`.
 */
export function ownBroker(prefix: string): { broker(): Broker } {
  const env = kafkaEnv();
  let broker: Broker | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    if (env.failure !== undefined) return; // the test reports it
    dataDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    broker = await startBroker({ dataDir, autoCreateTopics: false, ...(env.major ? { major: env.major } : {}) });
  }, 240_000);
  afterAll(async () => {
    await broker?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);
  return { broker: () => broker! };
}

export function testKafka(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'rxflume-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

let counter = 0;
/** A topic name no other test (or earlier run on a reused broker) has used. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

export async function withAdmin<T>(bootstrap: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka(bootstrap).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a fresh topic (unique name from `prefix`) and waits for its leaders. */
export async function createTopic(bootstrap: string, prefix: string, numPartitions = 1): Promise<string> {
  const topic = uniqueTopic(prefix);
  await withAdmin(bootstrap, (admin) => admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true }));
  return topic;
}

/** Records stored in `topic` (sum over partitions of high − low watermark): an exact count, duplicates included. */
export async function topicRecordCount(bootstrap: string, topic: string): Promise<number> {
  const offsets = await withAdmin(bootstrap, (admin) => admin.fetchTopicOffsets(topic));
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

export interface ConsumedRecord {
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads `topic` from the beginning with a plain kafkajs consumer (fresh group) until `count`
 * records were seen, handing each batch to `onBatch`. Rejects after `timeoutMs` with how many came.
 */
export async function consumeRecords(
  bootstrap: string,
  topic: string,
  count: number,
  onBatch: (records: ConsumedRecord[]) => void,
  timeoutMs = 120_000,
): Promise<number> {
  const consumer = testKafka(bootstrap).consumer({
    groupId: uniqueTopic('test-reader'),
    maxWaitTimeInMs: 100,
    maxBytes: 50 * 1024 * 1024,
    maxBytesPerPartition: 10 * 1024 * 1024,
  });
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen} of ${count} records from ${topic} within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            onBatch(batch.messages.map((message) => ({ partition: batch.partition, message })));
            seen += batch.messages.length;
            if (seen >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** Polls `condition` every `intervalMs` until it holds; rejects after `timeoutMs` with `what`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
