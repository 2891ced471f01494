/**
 * kafkaSource when the broker goes away while records flow (issue #19, item 4): the broker process is
 * SIGKILLed mid-stream and started again on the same port and data. Every record must arrive (offsets are
 * committed only after their batches were acked) and the duplicates stay within what was taken but not
 * yet committed when the broker died — the batches in flight — and again when it came back (a rebalance
 * drops what was unacked).
 */
import type { Observer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../../lib/core/batch.js';
import { pipe } from '../../../lib/core/pipe.js';
import { kafkaSource } from '../../../lib/sources/kafkaSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { createTopic, kafkaEnv, ownBroker, requireKafka, testKafka, uniqueTopic, waitFor } from '../../support/kafka.js';

const kafka = kafkaEnv();
const TOTAL = 30_000;
const BATCH = 500;
const IN_FLIGHT = 2;

/** A sink that acks each batch after `delayMs`, counting every event it acked (by value). */
function slowCountingSink(total: number, delayMs: number): Observer<Batch> & { counts: Uint16Array; acked(): number; distinct(): number } {
  const counts = new Uint16Array(total);
  let acked = 0;
  let distinct = 0;
  return {
    counts,
    acked: () => acked,
    distinct: () => distinct,
    next(batch) {
      setTimeout(() => {
        for (const e of batch.events) {
          const n = Number(e.body.toString());
          if (counts[n]++ === 0) distinct++;
        }
        acked += batch.events.length;
        batch.ack();
      }, delayMs);
    },
    error() {},
    complete() {},
  };
}

describe.skipIf(kafka.skip)(`kafkaSource when the broker goes away mid-stream${kafka.note}`, () => {
  const own = ownBroker('rxflume-kafka-source-fault');

  it('loses no record when the broker is killed and restarted; duplicates within the batches in flight at each change', async () => {
    requireKafka();
    const b = own.broker();
    const topic = await createTopic(b.bootstrap, 'source-fault', 3);
    const producer = testKafka(b.bootstrap).producer();
    await producer.connect();
    for (let i = 0; i < TOTAL; i += 5000) await producer.send({ topic, acks: -1, messages: Array.from({ length: 5000 }, (_, j) => ({ value: String(i + j) })) });
    await producer.disconnect();

    const sink = slowCountingSink(TOTAL, 40);
    const pipeline = pipe(
      kafkaSource({
        brokers: b.bootstrap,
        topics: [topic],
        groupId: uniqueTopic('source-fault'),
        batchSize: BATCH,
        maxInFlight: IN_FLIGHT,
        batchDurationMs: 100,
        fromBeginning: true,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 1000,
        connectionTimeoutMs: 1000,
        logLevel: 'nothing',
      }),
      memoryChannel({ capacity: 2000, transactionCapacity: BATCH }),
      sink,
    );
    try {
      await waitFor(() => sink.acked() >= TOTAL / 5, 'a fifth of the records through', 120_000);
      await b.stop({ signal: 'SIGKILL' });
      const ackedAtKill = sink.distinct();
      expect(ackedAtKill).toBeLessThan(TOTAL);
      // Down past the session timeout: on its return the member is gone from the group, rejoins, and the
      // positions restart from the committed offsets (what was taken and not committed comes again).
      await new Promise((r) => setTimeout(r, 8000));
      await b.start();
      await waitFor(() => sink.distinct() === TOTAL, `all ${TOTAL} records (seen ${sink.distinct()})`, 180_000);
    } finally {
      await pipeline.stop();
    }
    const duplicates = sink.acked() - TOTAL;
    console.log(`[kafkaSource broker failure] ${TOTAL} records, ${sink.distinct()} distinct, ${duplicates} duplicates`);
    expect(sink.distinct()).toBe(TOTAL);
    // Taken and not committed when the broker died, and again when it came back: the batches in flight and
    // the acked ones whose commit was not confirmed (at most maxInFlight + 1, lib/kafka/consumer.ts).
    expect(duplicates).toBeLessThanOrEqual(2 * (2 * IN_FLIGHT + 1) * BATCH);
  }, 600_000);
});
