/**
 * byteCapacity as Flume 1.11's MemoryChannel counts it (and SpillableMemoryChannel, with avgEventSize
 * slots): floor(byteCapacity × (1 − byteCapacityBufferPercentage/100) / 100) slots, under one slot
 * unbounded; ceil(body / 100) slots per event, at least one, headers free; slots freed at take commit.
 * The same configurations were run on a real Flume 1.11.0 agent (netcat → memory): byteCapacity = 0 and
 * = 100 accept everything; = 250 takes two events of 1–100 bytes, or one of 101, then answers
 * "Cannot commit transaction. Byte capacity allocated to store event body 200.0reached".
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { createBatch } from '../../../lib/core/batch.js';
import { ChannelFullError, ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { memoryChannel, memoryChannelSpec, type MemoryChannelOptions } from '../../../operators/channels/memoryChannel.js';
import { spillableMemoryChannel, spillableMemoryChannelSpec } from '../../../operators/channels/spillableMemoryChannel.js';
import type { Recorded } from '../../support/batches.js';
import { harness } from './support/support.js';

const subs: Subscription[] = [];
afterEach(() => {
  for (const s of subs.splice(0)) s.unsubscribe();
});

/** The options a Flume properties file's memory channel keys give. */
function fromFlume(spec: typeof memoryChannelSpec | typeof spillableMemoryChannelSpec, props: Record<string, string>): MemoryChannelOptions {
  const mapped = spec.fromFlume!(new Map(Object.entries(props)));
  expect(mapped.problems ?? []).toEqual([]);
  return mapped.options as MemoryChannelOptions;
}

/** A memory channel whose sink holds every take (so nothing frees space until the test acks). */
function held(options: MemoryChannelOptions) {
  const h = harness(memoryChannel({ capacity: 1000, transactionCapacity: 100, keepAliveMs: 0, ...options }));
  subs.push(h.sub);
  const putEvents = (...events: FlumeEvent[]): Recorded => {
    const rec: Recorded = { batch: undefined as never, acked: 0, nacked: [] };
    rec.batch = createBatch(events, { onAck: () => rec.acked++, onNack: (e) => rec.nacked.push(e) });
    h.input.next(rec.batch);
    return rec;
  };
  const bytes = (n: number, headers: Record<string, string> = {}) => putEvents(event('x'.repeat(n), headers));
  return { ...h, putEvents, bytes };
}

describe('memoryChannel byteCapacity — Flume slots', () => {
  it('byteCapacity 0 from a Flume file is unbounded: events of any size are stored', () => {
    const options = fromFlume(memoryChannelSpec, { byteCapacity: '0' });
    const h = held(options);
    for (let i = 0; i < 20; i++) expect(h.bytes(10_000).acked).toBe(1);
    expect(h.takes.length).toBeGreaterThan(0);
  });

  it('byteCapacity 0 and values under one 100-byte slot are unbounded in the API too', () => {
    for (const byteCapacity of [0, 1, 99]) {
      const h = held({ byteCapacity });
      expect(h.bytes(5000).acked, `byteCapacity ${byteCapacity}`).toBe(1);
      expect(h.bytes(5000).acked, `byteCapacity ${byteCapacity}`).toBe(1);
    }
  });

  it('Flume byteCapacity 100 (80 after the 20% buffer: no whole slot) is unbounded, as in Flume', () => {
    const options = fromFlume(memoryChannelSpec, { byteCapacity: '100' });
    expect(options.byteCapacity).toBe(0);
    const h = held(options);
    for (let i = 0; i < 5; i++) expect(h.bytes(400).acked).toBe(1);
  });

  it('Flume byteCapacity 250 with the default 20% buffer is 2 slots: exactly two events of 1–100 bytes fit', () => {
    const options = fromFlume(memoryChannelSpec, { byteCapacity: '250' });
    expect(options.byteCapacity).toBe(200);
    const h = held(options);
    expect(h.bytes(1).acked).toBe(1);
    expect(h.bytes(100).acked).toBe(1);
    const third = h.bytes(1);
    expect(third.acked).toBe(0);
    expect(third.nacked[0]).toBeInstanceOf(ChannelFullError);
    expect((third.nacked[0] as Error).message).toMatch(/byteCapacity 200 \(2 slots of 100 body bytes\), holding 2 events in 2 slots \(put of 1 in 1 slot\)/);
  });

  it('a 101-byte event takes 2 slots; an empty body takes 1', () => {
    const h = held({ byteCapacity: 200 });
    expect(h.bytes(101).acked).toBe(1);
    expect(h.bytes(1).nacked[0]).toBeInstanceOf(ChannelFullError);
    const h2 = held({ byteCapacity: 200 });
    expect(h2.bytes(0).acked).toBe(1);
    expect(h2.bytes(0).acked).toBe(1);
    expect(h2.bytes(0).nacked[0]).toBeInstanceOf(ChannelFullError);
  });

  it('headers are not counted', () => {
    const h = held({ byteCapacity: 100 });
    expect(h.bytes(100, { big: 'h'.repeat(10_000) }).acked).toBe(1);
    expect(h.bytes(1).nacked[0]).toBeInstanceOf(ChannelFullError);
  });

  it('slots are freed when a take is acked, not when it is taken or nacked', () => {
    const h = held({ byteCapacity: 200, transactionCapacity: 1, capacity: 10 });
    expect(h.bytes(150).acked).toBe(1);
    expect(h.takes).toHaveLength(1);
    expect(h.bytes(1).nacked[0]).toBeInstanceOf(ChannelFullError);
    h.takes[0]!.ack();
    expect(h.bytes(100).acked).toBe(1);
    expect(h.bytes(100).acked).toBe(1);
  });

  it('a put larger than the whole byte capacity is refused at once, non-retriable, not left to wait forever', () => {
    const h = held({ byteCapacity: 300, keepAliveMs: 60_000 });
    // 2 × 101 bytes = 4 slots of the 3 there are: it could never be stored.
    const big = h.putEvents(event('x'.repeat(101)), event('x'.repeat(101)));
    expect(big.nacked[0]).toMatchObject({ code: 'FLUME_BATCH_TOO_LARGE', retriable: false });
    expect((big.nacked[0] as Error).message).toMatch(/a put of 2 events \(202 bytes\) exceeds byteCapacity 300/);
    // Three slots' worth does fit.
    expect(h.putEvents(event('x'.repeat(101)), event('x')).acked).toBe(1);
  });

  it('maps byteCapacityBufferPercentage with Flume double arithmetic, to whole slots', () => {
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '800000' }).byteCapacity).toBe(640_000);
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '800000', byteCapacityBufferPercentage: '50' }).byteCapacity).toBe(400_000);
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '250', byteCapacityBufferPercentage: '0' }).byteCapacity).toBe(200);
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '125' }).byteCapacity).toBe(100);
    // Flume: (int)((42000 * (1 - 30 * .01)) / 100) = 293, one less than exact arithmetic.
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '42000', byteCapacityBufferPercentage: '30' }).byteCapacity).toBe(29_300);
    // Beyond Integer.MAX_VALUE slots Flume saturates.
    expect(fromFlume(memoryChannelSpec, { byteCapacity: '999999999999999' }).byteCapacity).toBe((2 ** 31 - 1) * 100);
  });

  it('rejects a negative byteCapacity in the API', () => {
    expect(() => memoryChannel({ byteCapacity: -1 })).toThrow(ConfigError);
  });
});

describe('spillableMemoryChannel byteCapacity — avgEventSize slots', () => {
  it('counts memory bytes in avgEventSize slots (default 500) and 0 is unbounded', () => {
    const options = fromFlume(spillableMemoryChannelSpec, { byteCapacity: '1250' });
    expect(options.byteCapacity).toBe(1000);
    const h = harness(spillableMemoryChannel({ overflowCapacity: 0, keepAliveMs: 0, logger: () => undefined, ...options }));
    subs.push(h.sub);
    expect(h.put('x'.repeat(500)).acked).toBe(1);
    expect(h.put('x'.repeat(1)).acked).toBe(1);
    expect(h.put('x').nacked[0]).toBeInstanceOf(ChannelFullError);

    const zero = harness(spillableMemoryChannel({ overflowCapacity: 0, keepAliveMs: 0, logger: () => undefined, byteCapacity: 0 }));
    subs.push(zero.sub);
    for (let i = 0; i < 5; i++) expect(zero.put('x'.repeat(10_000)).acked).toBe(1);
  });

  it('takes avgEventSize from the Flume file for the slot arithmetic', () => {
    const options = fromFlume(spillableMemoryChannelSpec, { byteCapacity: '250', avgEventSize: '100' });
    expect(options.byteCapacity).toBe(200);
    const h = harness(spillableMemoryChannel({ overflowCapacity: 0, keepAliveMs: 0, logger: () => undefined, ...options, avgEventSize: 100 }));
    subs.push(h.sub);
    expect(h.put('x'.repeat(101)).acked).toBe(1);
    expect(h.put('x').nacked[0]).toBeInstanceOf(ChannelFullError);
  });
});
