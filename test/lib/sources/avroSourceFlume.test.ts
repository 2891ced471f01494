/**
 * avroSource's default limits against the largest calls a real Apache Flume 1.11.0 avro sink makes:
 * batch-size 10,000 and ~65 MB per appendBatch (Java sends it as ~8,000 buffers of 8 KiB), all
 * taken whole. Skipped like test/interop when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { metricsOf } from '../../../lib/core/metrics.js';
import { avroSource } from '../../../lib/sources/avroSource.js';
import { flumeEnv, startFlumeAgent, type FlumeAgent } from '../../support/flume.js';
import { listening, waitFor } from '../../support/net.js';

const env = flumeEnv();
const EVENTS = 20_000;
const BODY = 6500;

describe.skipIf(env.skip)(`avroSource default limits vs Flume 1.11.0's avro sink${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  let subscription: Subscription | undefined;
  afterAll(async () => {
    subscription?.unsubscribe();
    await agent?.stop();
  });

  it('takes appendBatch calls of 10,000 events and ~65 MB each, one call per batch', async () => {
    const l = listening();
    const source = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    let events = 0;
    let wrongSize = 0;
    subscription = source.subscribe((batch) => {
      events += batch.events.length;
      for (const e of batch.events) if (e.body.length !== BODY) wrongSize++;
      batch.ack();
    });
    const port = await l.port;
    agent = await startFlumeAgent({
      heapMb: 1024,
      conf: `
a1.sources = s1
a1.channels = c1
a1.sinks = k1
a1.sources.s1.type = org.apache.flume.source.StressSource
a1.sources.s1.size = ${BODY}
a1.sources.s1.maxTotalEvents = ${EVENTS}
a1.sources.s1.batchSize = 10000
a1.sources.s1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = ${EVENTS}
a1.channels.c1.transactionCapacity = 10000
a1.sinks.k1.type = avro
a1.sinks.k1.hostname = 127.0.0.1
a1.sinks.k1.port = ${port}
a1.sinks.k1.batch-size = 10000
a1.sinks.k1.request-timeout = 120000
a1.sinks.k1.channel = c1
`,
    });
    await waitFor(() => events >= EVENTS, `${EVENTS} events from Flume`, 180_000);
    const m = metricsOf(source)!;
    expect(events).toBe(EVENTS);
    expect(wrongSize).toBe(0);
    expect(m.get('AppendBatchReceivedCount')).toBe(EVENTS / 10_000);
    expect(m.get('EventReadFail')).toBe(0);
    expect(await agent.log()).not.toMatch(/EventDeliveryException|Unable to deliver/);
  }, 240_000);
});
