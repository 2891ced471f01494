import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { kafkajsProducer, partitionOf, ProducerConnection, type ProducerClient, type TopicRecords } from '../../../lib/kafka/producer.js';

/** A client whose connect resolves or rejects as told, recording what was asked of it. */
function fakeClients(connects: Array<'ok' | Error>) {
  const made: Array<{ connected: boolean; disconnects: number; sent: TopicRecords[][] }> = [];
  const open = (): ProducerClient => {
    const outcome = connects.shift() ?? 'ok';
    const state = { connected: false, disconnects: 0, sent: [] as TopicRecords[][] };
    made.push(state);
    return {
      connect: async () => {
        if (outcome !== 'ok') throw outcome;
        state.connected = true;
      },
      send: async (requests) => void state.sent.push([...requests]),
      disconnect: async () => void state.disconnects++,
    };
  };
  return { made, open };
}

function counting() {
  const counts = { created: 0, failed: 0, closed: 0 };
  return { counts, events: { created: () => counts.created++, failed: () => counts.failed++, closed: () => counts.closed++ } };
}

describe('ProducerConnection', () => {
  it('opens one connection on first use and shares it', async () => {
    const { made, open } = fakeClients([]);
    const { counts, events } = counting();
    const producer = new ProducerConnection(open, events);
    expect(made).toHaveLength(0);
    const a = producer.get();
    const b = producer.get();
    expect(a).toBe(b);
    await a.ready;
    await a.client.send([{ topic: 't', messages: [{ key: null, value: Buffer.from('x') }] }]);
    expect(made).toHaveLength(1);
    expect(made[0]!.sent).toHaveLength(1);
    expect(counts).toEqual({ created: 1, failed: 0, closed: 0 });
  });

  it('a failed connect rejects ready, disconnects the client and is forgotten: the next use reconnects', async () => {
    const { made, open } = fakeClients([new Error('ECONNREFUSED')]);
    const { counts, events } = counting();
    const producer = new ProducerConnection(open, events);
    const first = producer.get();
    await expect(first.ready).rejects.toThrow('ECONNREFUSED');
    expect(made[0]!.disconnects).toBe(1);
    const second = producer.get();
    expect(second).not.toBe(first);
    await second.ready;
    expect(counts).toEqual({ created: 1, failed: 1, closed: 0 });
  });

  it('drop forgets a broken connection once, however many sends failed on it', async () => {
    const { made, open } = fakeClients([]);
    const { counts, events } = counting();
    const producer = new ProducerConnection(open, events);
    const conn = producer.get();
    await conn.ready;
    producer.drop(conn);
    producer.drop(conn);
    await new Promise((r) => setImmediate(r));
    expect(made[0]!.disconnects).toBe(1);
    expect(counts).toEqual({ created: 1, failed: 1, closed: 1 });
    expect(producer.get()).not.toBe(conn);
  });

  it('close disconnects a connection that opened, and counts nothing for one that never did', async () => {
    const opened = fakeClients([]);
    const a = counting();
    const producer = new ProducerConnection(opened.open, a.events);
    await producer.close(); // nothing opened yet
    await producer.get().ready;
    await producer.close();
    expect(opened.made[0]!.disconnects).toBe(1);
    expect(a.counts).toEqual({ created: 1, failed: 0, closed: 1 });

    const refused = fakeClients([new Error('down')]);
    const b = counting();
    const other = new ProducerConnection(refused.open, b.events);
    void other.get();
    await other.close();
    expect(b.counts).toEqual({ created: 0, failed: 1, closed: 0 });
  });
});

describe('partitionOf', () => {
  const invalid = (raw: string) => new Error(`bad ${raw}`);

  it('takes the header, else the default, else leaves it to the partitioner', () => {
    expect(partitionOf({ p: ' 3 ' }, 'p', 7, invalid)).toBe(3);
    expect(partitionOf({}, 'p', 7, invalid)).toBe(7);
    expect(partitionOf({ p: '3' }, undefined, 7, invalid)).toBe(7);
    expect(partitionOf({}, 'p', undefined, invalid)).toBeUndefined();
  });

  it('throws the caller’s error for a value that is not a partition number', () => {
    expect(() => partitionOf({ p: '-1' }, 'p', undefined, invalid)).toThrow('bad -1');
    expect(() => partitionOf({ p: 'x' }, 'p', 0, invalid)).toThrow('bad x');
  });
});

/**
 * A kafkajs client whose producer's sendBatch answers from `outcomes` in turn (an Error rejects), recording
 * the options it was made with and every request. kafkajs's own produce retry is the subject: it must be off.
 */
function fakeKafka(outcomes: Array<'ok' | Error>) {
  const made: Record<string, unknown>[] = [];
  const calls: unknown[] = [];
  const kafka = {
    producer: (options: Record<string, unknown>) => {
      made.push(options);
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        sendBatch: async (request: unknown) => {
          calls.push(request);
          const outcome = outcomes.shift() ?? 'ok';
          if (outcome !== 'ok') throw outcome;
          return [];
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, made, calls };
}

/** An error as kafkajs rejects a produce with when its retries (0 here) are spent on a retriable failure. */
const retriesExceeded = (message: string): Error => Object.assign(new Error(message), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false });

describe('kafkajsProducer: a failed produce request is sent again whole', () => {
  const request: TopicRecords = { topic: 't', messages: [0, 1, 2].map((i) => ({ key: String(i), value: Buffer.from(`m${i}`) })) };

  it("turns kafkajs's own produce retry off (it resends only to brokers that had not answered, losing a partition whose leader moved to one that had)", () => {
    const { kafka, made } = fakeKafka([]);
    kafkajsProducer(kafka, { acks: -1, timeoutMs: 1000, retry: { retries: 5, initialRetryTime: 1 } })();
    expect(made).toHaveLength(1);
    expect(made[0]!['retry']).toMatchObject({ retries: 0, initialRetryTime: 1 });
  });

  it('resends every record of the request after a retriable failure, up to `retries` times, then fails', async () => {
    const { kafka, calls } = fakeKafka([retriesExceeded('leader gone'), retriesExceeded('leader gone'), 'ok']);
    const client = kafkajsProducer(kafka, { acks: -1, timeoutMs: 1000, retry: { retries: 2, initialRetryTime: 1 } })();
    await client.send([request]);
    expect(calls).toHaveLength(3);
    for (const call of calls) expect(call).toMatchObject({ acks: -1, topicMessages: [request] });

    const failing = fakeKafka([retriesExceeded('a'), retriesExceeded('b'), retriesExceeded('c')]);
    const out = kafkajsProducer(failing.kafka, { acks: -1, timeoutMs: 1000, retry: { retries: 2, initialRetryTime: 1 } })();
    await expect(out.send([request])).rejects.toThrow('c');
    expect(failing.calls).toHaveLength(3);
  });

  it('does not resend after a failure kafkajs calls non-retriable', async () => {
    const { kafka, calls } = fakeKafka([Object.assign(new Error('record too large'), { name: 'KafkaJSNonRetriableError', retriable: false })]);
    const client = kafkajsProducer(kafka, { acks: -1, timeoutMs: 1000, retry: { retries: 5, initialRetryTime: 1 } })();
    await expect(client.send([request])).rejects.toThrow('record too large');
    expect(calls).toHaveLength(1);
  });
});
