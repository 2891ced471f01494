import { describe, expect, it } from 'vitest';
import { partitionOf, ProducerConnection, type ProducerClient, type TopicRecords } from '../../../lib/kafka/producer.js';

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
