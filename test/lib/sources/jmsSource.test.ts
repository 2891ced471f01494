import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { jmsSource, type JmsSourceOptions } from '../../../lib/sources/jmsSource.js';
import { activemqEnv, drainAmqp, requireActiveMq, sendAmqp, sendStomp, uniqueName } from '../../support/activemq.js';
import { thrown } from '../../support/thrown.js';
import { waitFor } from '../../support/net.js';

const base = { providerUrl: 'amqp://127.0.0.1:5672', destinationName: 'q', destinationType: 'QUEUE' } as const;

describe('jmsSource options', () => {
  it('refuses an OpenWire URL, naming the AMQP transport to enable', () => {
    const error = thrown(() => jmsSource({ ...base, providerUrl: 'tcp://127.0.0.1:61616' }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/jmsSource\.providerUrl: expected an amqp:\/\/ or amqps:\/\/ URL\. rxflume speaks AMQP 1\.0 .*not OpenWire.*transportConnector name="amqp".*received "tcp:\/\/127\.0\.0\.1:61616"/);
  });

  it('names every missing piece of a durable subscription, and a user without a password', () => {
    const error = thrown(() => jmsSource({ ...base, createDurableSubscription: true, userName: 'u' })) as ConfigError;
    expect(error.issues.map((i) => i.path).sort()).toEqual(['jmsSource.clientId', 'jmsSource.destinationType', 'jmsSource.durableSubscriptionName', 'jmsSource.passwordFile']);
  });

  it('reads the password file when built; a missing one is a ConfigError naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jms-pw-'));
    try {
      await writeFile(join(dir, 'pw'), ' s3cret\n');
      expect(() => jmsSource({ ...base, userName: 'u', passwordFile: join(dir, 'pw') })).not.toThrow();
      const error = thrown(() => jmsSource({ ...base, userName: 'u', passwordFile: join(dir, 'none') })) as ConfigError;
      expect(error.issues.map((i) => i.path)).toEqual(['jmsSource.passwordFile']);
      expect(error.message).toContain('ENOENT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Subscribes to a source, recording every event; `decide` says whether a batch is acked (default) or nacked. */
function consume(options: JmsSourceOptions, decide: (batch: Batch, n: number) => 'ack' | 'nack' | 'hold' = () => 'ack') {
  const events: FlumeEvent[] = [];
  const held: Batch[] = [];
  let error: unknown;
  const lines: string[] = [];
  let n = 0;
  const source = jmsSource({ backoffSleepIncrementMs: 100, maxBackoffSleepMs: 500, pollTimeoutMs: 200, logger: (_, line) => lines.push(line), ...options });
  const subscription: Subscription = source.subscribe({
    next: (batch) => {
      const what = decide(batch, n++);
      if (what === 'nack') return batch.nack(new FlumeError('FLUME_CHANNEL_FULL', 'full'));
      events.push(...batch.events);
      if (what === 'hold') held.push(batch);
      else batch.ack();
    },
    error: (e: unknown) => (error = e),
  });
  subscriptions.push(subscription);
  const connected = (): boolean => lines.some((l) => l.startsWith('connected to'));
  return { events, held, source, subscription, lines, connected, error: () => error, bodies: () => events.map((e) => e.body.toString('utf8')) };
}

const subscriptions: Subscription[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

const mq = activemqEnv();

describe.skipIf(mq.skip)(`jmsSource against ActiveMQ${mq.note}`, () => {
  it('makes Flume\'s events of text, bytes and map messages sent over AMQP and STOMP, and accepts them once acked', async () => {
    const broker = requireActiveMq();
    const queue = uniqueName('convert');
    await sendAmqp(broker.amqpUrl, `queue://${queue}`, [
      { body: 'héllo', properties: { s: 'x', i: 42, b: true, d: 2.5 } },
      { body: Buffer.from([0, 1, 2, 255]) },
      { body: { k: 'v' }, properties: { kind: 'map' } },
    ]);
    await sendStomp(broker.stompPort, `/queue/${queue}`, [{ body: 'stomp text', headers: { h: 'v' } }, { body: Buffer.from('stomp bytes'), bytes: true }]);
    const run = consume({ providerUrl: broker.amqpUrl, destinationName: queue, destinationType: 'QUEUE' });
    await waitFor(() => run.events.length >= 5, '5 events', 30_000);
    expect(run.events.map((e) => e.body.toString('latin1'))).toEqual(['hÃ©llo', '\x00\x01\x02\xff', '', 'stomp text', 'stomp bytes']);
    expect(run.events[0]!.headers).toEqual({ s: 'x', i: '42', b: 'true', d: '2.5' });
    expect(run.events[2]!.headers).toEqual({ kind: 'map' });
    expect(run.events[3]!.headers).toEqual({ h: 'v' });
    const counters = metricsOf(run.source)!;
    expect([counters.get('EventReceivedCount'), counters.get('EventAcceptedCount'), counters.get('EventReadFail')]).toEqual([5, 5, 0]);
    run.subscription.unsubscribe();
    expect(await drainAmqp(broker.amqpUrl, `queue://${queue}`)).toEqual([]);
  });

  it('gives a nacked batch back: the broker redelivers it, with JMSXDeliveryCount, and nothing is left once acked', async () => {
    const broker = requireActiveMq();
    const queue = uniqueName('nack');
    await sendAmqp(broker.amqpUrl, `queue://${queue}`, ['a', 'b', 'c'].map((body) => ({ body })));
    const nacks: Record<string, number> = {};
    const run = consume({ providerUrl: broker.amqpUrl, destinationName: queue, destinationType: 'QUEUE' }, (batch, n) => {
      if (n >= 2) return 'ack';
      for (const e of batch.events) nacks[e.body.toString()] = (nacks[e.body.toString()] ?? 0) + 1;
      return 'nack';
    });
    await waitFor(() => run.events.length >= 3, '3 events after two nacks', 30_000);
    expect(run.bodies().sort()).toEqual(['a', 'b', 'c']);
    // The n-th delivery of a message says n, as Flume's ActiveMQ client counts it; a first one says nothing.
    for (const e of run.events) expect([e.body.toString(), e.headers['JMSXDeliveryCount']]).toEqual([e.body.toString(), nacks[e.body.toString()] ? String(nacks[e.body.toString()]! + 1) : undefined]);
    expect(Object.values(nacks).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    expect(metricsOf(run.source)!.get('ChannelWriteFail')).toBe(Object.values(nacks).reduce((a, b) => a + b, 0));
    run.subscription.unsubscribe();
    expect(await drainAmqp(broker.amqpUrl, `queue://${queue}`)).toEqual([]);
  });

  it('holds at most batchSize × (maxInFlight + 1) messages; unsettled ones go back to the broker when it stops', async () => {
    const broker = requireActiveMq();
    const queue = uniqueName('credit');
    await sendAmqp(broker.amqpUrl, `queue://${queue}`, Array.from({ length: 50 }, (_, i) => ({ body: String(i) })));
    const run = consume({ providerUrl: broker.amqpUrl, destinationName: queue, destinationType: 'QUEUE', batchSize: 5, maxInFlight: 2 }, () => 'hold');
    await waitFor(() => run.held.length === 2, 'two batches in flight', 30_000);
    // The link's credit: 10 messages in flight and one batch more received; the other 35 are still the broker's to give.
    const others = await drainAmqp(broker.amqpUrl, `queue://${queue}`);
    expect(others.length).toBe(35);
    expect(run.held.length).toBe(2);
    run.subscription.unsubscribe();
    // Unsettled (in flight or queued) messages go back to the broker with the link.
    expect((await drainAmqp(broker.amqpUrl, `queue://${queue}`)).length).toBe(15);
  });

  it('reads only what messageSelector matches; a selector the broker refuses ends the source, not retried', async () => {
    const broker = requireActiveMq();
    const queue = uniqueName('selector');
    await sendAmqp(broker.amqpUrl, `queue://${queue}`, [1, 5, 2, 7].map((p) => ({ body: `p${p}`, properties: { p } })));
    const run = consume({ providerUrl: broker.amqpUrl, destinationName: queue, destinationType: 'QUEUE', messageSelector: 'p > 3' });
    await waitFor(() => run.events.length >= 2, '2 events', 30_000);
    expect(run.bodies()).toEqual(['p5', 'p7']);
    run.subscription.unsubscribe();
    expect((await drainAmqp(broker.amqpUrl, `queue://${queue}`)).map((m) => m.body)).toEqual(['p1', 'p2']);

    const bad = consume({ providerUrl: broker.amqpUrl, destinationName: queue, destinationType: 'QUEUE', messageSelector: 'p >>> 3' });
    await waitFor(() => bad.error() !== undefined, 'the source to fail', 30_000);
    expect(bad.error()).toMatchObject({ code: 'FLUME_SOURCE_FAILED', retriable: false });
    expect((bad.error() as Error).message).toContain(`queue://${queue}`);
  });

  it('keeps a durable topic subscription across a stop: what is published meanwhile arrives after', async () => {
    const broker = requireActiveMq();
    const topic = uniqueName('durable');
    const options: JmsSourceOptions = {
      providerUrl: broker.amqpUrl,
      destinationName: topic,
      destinationType: 'TOPIC',
      createDurableSubscription: true,
      clientId: uniqueName('client'),
      durableSubscriptionName: 'sub1',
    };
    const first = consume(options);
    // A topic keeps nothing for a subscriber that is not there yet: wait until the source is.
    await waitFor(() => first.connected(), 'the subscription', 30_000);
    await sendAmqp(broker.amqpUrl, `topic://${topic}`, [{ body: 'before' }]);
    await waitFor(() => first.events.length === 1, 'the first message', 30_000);
    first.subscription.unsubscribe();
    // The broker drops the client's connection asynchronously: let it before the same clientId comes back.
    await new Promise((r) => setTimeout(r, 500));
    await sendAmqp(broker.amqpUrl, `topic://${topic}`, [{ body: 'while stopped' }]);
    const second = consume(options);
    await waitFor(() => second.events.length === 1, 'the message published while stopped', 30_000);
    expect([...first.bodies(), ...second.bodies()]).toEqual(['before', 'while stopped']);
  });
});
