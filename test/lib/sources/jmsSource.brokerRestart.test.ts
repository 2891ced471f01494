/**
 * A broker restart (SIGKILL, then the same ports and KahaDB) while the JMS source is half-way through a
 * queue: every message arrives, and the duplicates stay within what was unsettled at the crash.
 */
import { describe, expect, it } from 'vitest';
import { metricsOf } from '../../../lib/core/metrics.js';
import { jmsSource } from '../../../lib/sources/jmsSource.js';
import { activemqEnv, drainAmqp, ownActiveMq, requireActiveMq, sendAmqp, uniqueName } from '../../support/activemq.js';
import { waitFor } from '../../support/net.js';

const mq = activemqEnv();

describe.skipIf(mq.skip)(`jmsSource across a broker restart${mq.note}`, () => {
  const own = ownActiveMq('jms-restart');

  it('loses nothing when the broker is killed and restarted mid-stream; duplicates stay within the link credit', async () => {
    requireActiveMq();
    const broker = own.broker();
    const queue = uniqueName('restart');
    const total = 3000;
    const batchSize = 100;
    const maxInFlight = 2;
    await sendAmqp(broker.amqpUrl, `queue://${queue}`, Array.from({ length: total }, (_, i) => ({ body: String(i) })));

    const seen = new Map<string, number>();
    let received = 0;
    const lines: string[] = [];
    const source = jmsSource({
      providerUrl: broker.amqpUrl,
      destinationName: queue,
      destinationType: 'QUEUE',
      batchSize,
      maxInFlight,
      pollTimeoutMs: 200,
      backoffSleepIncrementMs: 200,
      maxBackoffSleepMs: 1000,
      logger: (_, line) => lines.push(line),
    });
    // A channel that takes a few milliseconds per batch, so the crash finds batches in flight.
    const subscription = source.subscribe({
      next: (batch) => {
        for (const e of batch.events) {
          const body = e.body.toString();
          seen.set(body, (seen.get(body) ?? 0) + 1);
        }
        received += batch.events.length;
        setTimeout(() => batch.ack(), 5);
      },
    });
    try {
      await waitFor(() => received >= total / 3, `a third of ${total} messages`, 60_000);
      await broker.stop({ signal: 'SIGKILL' });
      const atCrash = received;
      await broker.start();
      await waitFor(() => seen.size === total, `all ${total} distinct messages (${seen.size} so far)`, 120_000);
      // The last batches' acks settle their messages before the link closes.
      await waitFor(() => metricsOf(source)!.get('EventAcceptedCount') + metricsOf(source)!.get('ChannelWriteFail') === received, 'every batch settled', 30_000);
      const duplicates = received - total;
      console.log(`[jms restart] ${total} messages, crash after ${atCrash} received, ${duplicates} duplicates, ${metricsOf(source)!.get('GenericProcessingFail')} failed polls or connects`);
      expect(atCrash).toBeLessThan(total);
      // What may come twice: the batches in flight and queued at the crash (the link credit), and
      // acks the broker had not yet written when killed (at most as many again).
      expect(duplicates).toBeLessThanOrEqual(2 * batchSize * (maxInFlight + 1));
      expect(lines.some((l) => /^lost .* reconnecting after the back-off/.test(l))).toBe(true);
      expect(metricsOf(source)!.get('GenericProcessingFail')).toBeGreaterThan(0);
    } finally {
      subscription.unsubscribe();
    }
    expect(await drainAmqp(broker.amqpUrl, `queue://${queue}`)).toEqual([]);
  }, 240_000);
});
