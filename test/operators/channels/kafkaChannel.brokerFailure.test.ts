/**
 * kafkaChannel when the broker goes away while events flow (issue #19, item 4): puts and takes run
 * while the broker process is SIGKILLed and then started again on the same port and data. Nothing put
 * (acked to the source) may be missing from what the sink acked, and the duplicates stay within what
 * was in flight when the broker died and when it came back: puts whose confirmation was lost (retried by
 * the source) and takes acked but not committed (taken again). It found two causes of duplicates growing
 * with the outage (about a third of the stream): kafkajs's commitOffsets returning without committing
 * while its consumer restarts, and takes going on while commits failed (lib/kafka/consumer.ts,
 * kafkajsConsumer.ts now fail such a commit, keep and retry it, and hold back new batches meanwhile).
 */
import type { Observer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../../lib/core/batch.js';
import { pipe } from '../../../lib/core/pipe.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { kafkaChannel } from '../../../operators/channels/kafkaChannel.js';
import { createTopic, kafkaEnv, ownBroker, requireKafka, topicRecordCount, uniqueTopic, waitFor } from '../../support/kafka.js';

const kafka = kafkaEnv();
const TOTAL = 30_000;
const PUT_BATCH = 500;
const TAKE_BATCH = 500;
const IN_FLIGHT = 2;

describe.skipIf(kafka.skip)(`kafkaChannel when the broker goes away mid-stream${kafka.note}`, () => {
  const own = ownBroker('rxflume-kafka-channel-fault');

  it('loses no event put when the broker is killed and restarted; duplicates within the puts and takes in flight at each change', async () => {
    requireKafka();
    const b = own.broker();
    const topic = await createTopic(b.bootstrap, 'channel-fault', 3);
    const counts = new Uint16Array(TOTAL);
    let acked = 0;
    let distinct = 0;
    // Acks each take after 20 ms, so that events are still flowing when the broker dies.
    const sink: Observer<Batch> = {
      next: (batch) =>
        void setTimeout(() => {
          for (const e of batch.events) if (counts[Number(e.body.toString())]++ === 0) distinct++;
          acked += batch.events.length;
          batch.ack();
        }, 20),
      error: () => undefined,
      complete: () => undefined,
    };
    const pipeline = pipe(
      sequenceSource({ totalEvents: TOTAL, batchSize: PUT_BATCH, maxInFlight: IN_FLIGHT, backoffSleepIncrementMs: 200, maxBackoffSleepMs: 1000 }),
      kafkaChannel({
        brokers: b.bootstrap,
        topic,
        groupId: uniqueTopic('channel-fault'),
        transactionCapacity: TAKE_BATCH,
        maxInFlight: IN_FLIGHT,
        pollTimeoutMs: 100,
        keepAliveMs: 3000,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 1000,
        connectionTimeoutMs: 1000,
        logLevel: 'nothing',
      }),
      sink,
    );
    try {
      await waitFor(() => acked >= TOTAL / 5, 'a fifth of the events through', 120_000);
      await b.stop({ signal: 'SIGKILL' });
      expect(distinct).toBeLessThan(TOTAL);
      await new Promise((r) => setTimeout(r, 2000));
      await b.start();
      await waitFor(() => distinct === TOTAL, `all ${TOTAL} events`, 180_000);
    } finally {
      await pipeline.stop();
    }
    const duplicates = acked - TOTAL;
    const stored = await topicRecordCount(b.bootstrap, topic);
    console.log(`[kafkaChannel broker failure] ${TOTAL} events, ${distinct} distinct, ${duplicates} duplicates taken, ${stored - TOTAL} duplicates stored by puts`);
    expect(distinct).toBe(TOTAL);
    // Per change (the kill, the restart): the puts in flight (retried), and the takes in flight plus the
    // acked ones whose commit was not confirmed (at most maxInFlight + 1, lib/kafka/consumer.ts), taken again.
    expect(stored - TOTAL).toBeLessThanOrEqual(2 * IN_FLIGHT * PUT_BATCH);
    expect(duplicates).toBeLessThanOrEqual(2 * (IN_FLIGHT * PUT_BATCH + (2 * IN_FLIGHT + 1) * TAKE_BATCH));
  }, 600_000);
});
