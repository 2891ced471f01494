import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../lib/core/batch.js';
import { deferred } from '../../../lib/core/deferred.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { ComponentCounters, metricsOf } from '../../../lib/core/metrics.js';
import { createSink } from '../../../lib/core/sink.js';

function tracked(events: readonly FlumeEvent[]) {
  const calls: Array<'ack' | Error> = [];
  const batch = createBatch(events, { onAck: () => calls.push('ack'), onNack: (e) => calls.push(e) });
  return { batch, calls };
}

const events = (n: number): FlumeEvent[] => Array.from({ length: n }, (_, i) => event(`e${i}`));
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createSink', () => {
  it('acks after a synchronous write returned, nacks with the thrown error', () => {
    const boom = new Error('boom');
    const sink = createSink('s', {
      write: (batch) => {
        if (batch.events.length === 2) throw boom;
      },
    });
    const ok = tracked(events(1));
    const bad = tracked(events(2));
    sink.next(ok.batch);
    sink.next(bad.batch);
    expect(ok.calls).toEqual(['ack']);
    expect(bad.calls).toEqual([boom]);
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventDrainAttemptCount: 3, EventDrainSuccessCount: 1, EventWriteFail: 2 });
  });

  it('acks only once an async write resolved, nacks once it rejected', async () => {
    const writes = [deferred(), deferred()];
    let i = 0;
    const sink = createSink('s', { write: () => writes[i++]!.promise });
    const a = tracked(events(3));
    const b = tracked(events(4));
    sink.next(a.batch);
    sink.next(b.batch);
    await tick();
    expect(a.calls).toEqual([]);
    expect(b.calls).toEqual([]);
    writes[1]!.reject(new Error('broker down'));
    writes[0]!.resolve();
    await tick();
    expect(a.calls).toEqual(['ack']);
    expect(b.calls).toHaveLength(1);
    expect((b.calls[0] as Error).message).toBe('broker down');
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventDrainAttemptCount: 7, EventDrainSuccessCount: 3, EventWriteFail: 4 });
  });

  it('turns a non-Error rejection into an Error on nack', async () => {
    const sink = createSink('s', { write: () => Promise.reject('plain string') });
    const t = tracked(events(1));
    sink.next(t.batch);
    await tick();
    expect(t.calls[0]).toBeInstanceOf(Error);
    expect((t.calls[0] as Error).message).toBe('plain string');
  });

  it('counts empty, underflow and complete batches against batchSize; empty batches are acked without a write', () => {
    let written = 0;
    const sink = createSink('s', { batchSize: 10, write: () => void written++ });
    const empty = tracked([]);
    sink.next(empty.batch);
    sink.next(createBatch(events(9)));
    sink.next(createBatch(events(10)));
    sink.next(createBatch(events(11)));
    expect(empty.calls).toEqual(['ack']);
    expect(written).toBe(3);
    expect(metricsOf(sink)!.snapshot()).toMatchObject({
      BatchEmptyCount: 1,
      BatchUnderflowCount: 1,
      BatchCompleteCount: 2,
      EventDrainAttemptCount: 30,
    });
  });

  it('counts every non-empty batch as complete without a batchSize', () => {
    const sink = createSink('s', { write: () => undefined });
    sink.next(createBatch(events(1)));
    sink.next(createBatch(events(1000)));
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ BatchCompleteCount: 2, BatchUnderflowCount: 0 });
  });

  it('does not settle a batch the writer settled itself', async () => {
    const sink = createSink('s', {
      write: async (batch) => {
        batch.nack(new Error('partial failure'));
      },
    });
    const t = tracked(events(2));
    sink.next(t.batch);
    await tick();
    expect(t.calls).toHaveLength(1);
    expect((t.calls[0] as Error).message).toBe('partial failure');
  });

  it('resolves closed only after pending writes settled and close() resolved, calling close once', async () => {
    const order: string[] = [];
    const write = deferred();
    const close = deferred();
    let closes = 0;
    const sink = createSink('s', {
      write: () => write.promise.then(() => void order.push('written')),
      close: () => {
        closes++;
        order.push('close called');
        return close.promise.then(() => void order.push('close done'));
      },
    });
    const t = tracked(events(2));
    sink.next(t.batch);
    let closed = false;
    void sink.closed.then(() => {
      closed = true;
      order.push('closed');
    });
    sink.complete();
    sink.complete();
    sink.error(new Error('late'));
    await tick();
    expect(order).toEqual([]);
    expect(closes).toBe(0);
    write.resolve();
    await tick();
    expect(t.calls).toEqual(['ack']);
    expect(order).toEqual(['written', 'close called']);
    expect(closed).toBe(false);
    close.resolve();
    await sink.closed;
    expect(order).toEqual(['written', 'close called', 'close done', 'closed']);
    expect(closes).toBe(1);
    expect(metricsOf(sink)!.stopTime).toBeGreaterThan(0);
  });

  it('closes on error as on complete', async () => {
    let closes = 0;
    const sink = createSink('s', { write: () => undefined, close: () => void closes++ });
    sink.error(new Error('upstream failed'));
    await expect(sink.closed).resolves.toBeUndefined();
    expect(closes).toBe(1);
  });

  it('rejects closed when close throws or rejects', async () => {
    const throwing = createSink('a', {
      write: () => undefined,
      close: () => {
        throw new Error('flush failed');
      },
    });
    throwing.complete();
    await expect(throwing.closed).rejects.toThrow('flush failed');

    const rejecting = createSink('b', { write: () => undefined, close: () => Promise.reject(new Error('disconnect failed')) });
    rejecting.complete();
    await expect(rejecting.closed).rejects.toThrow('disconnect failed');
  });

  it('uses the counters it is given, as a SINK named after the sink', () => {
    const counters = new ComponentCounters('SINK', 'custom');
    const sink = createSink('custom', { write: () => undefined }, counters);
    expect(metricsOf(sink)).toBe(counters);
    expect(metricsOf(createSink('other', { write: () => undefined }))!.name).toBe('other');
    sink.next(createBatch(events(1)));
    expect(counters.get('EventDrainSuccessCount')).toBe(1);
    expect(counters.startTime).toBeGreaterThan(0);
  });
});

describe('createSink failure log', () => {
  it('logs a failed write with its cause and the retry plan, rate-limited, and says when writes succeed again', async () => {
    const lines: [string, string][] = [];
    let fail = true;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const sink = createSink('k1', {
      write: () => (fail ? Promise.reject(refused) : Promise.resolve()),
      logger: (level, message) => lines.push([level, message]),
    });
    for (let i = 0; i < 5; i++) sink.next(tracked(events(3)).batch);
    await tick();
    expect(lines).toEqual([['warn', expect.stringMatching(/^write of 3 events failed: connect ECONNREFUSED 127\.0\.0\.1:9; rolled back to the channel, which offers them again after a back-off/)]]);
    fail = false;
    sink.next(tracked(events(1)).batch);
    await tick();
    expect(lines.slice(1)).toEqual([
      ['warn', expect.stringMatching(/^4 more like this in the last \d+ s; the last: write of 3 events failed/)],
      ['info', 'writes succeed again'],
    ]);
  });
});
