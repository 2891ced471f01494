import { describe, expect, it } from 'vitest';
import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { failoverSink } from '../../../lib/sinks/failoverSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { member, sent } from './groupSupport.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const at = (ms: number, fn: () => void): void => void asyncScheduler.schedule(fn, ms);

describe('failoverSink', () => {
  it('sends every batch to the highest-priority member while it is live', () => {
    const k1 = member();
    const k2 = member();
    const g = failoverSink({ k1: k1.sink, k2: k2.sink }, { priority: { k1: 5, k2: 10 } });
    const a = sent(2);
    const b = sent(1);
    g.next(a.batch);
    g.next(b.batch);
    expect([k1.got.length, k2.got.length]).toEqual([0, 2]);
    expect([a.acks, b.acks]).toEqual([1, 1]);
    expect(metricsOf(g)!.snapshot()).toMatchObject({ EventDrainAttemptCount: 3, EventDrainSuccessCount: 3, 'BatchAttemptCount.k2': 2 });
  });

  it('unlisted members get -1, -2, … in member order (the first listed is preferred)', () => {
    const k1 = member();
    const k2 = member();
    const g = failoverSink([k1.sink, k2.sink]);
    g.next(sent().batch);
    expect([k1.got.length, k2.got.length]).toEqual([1, 0]);
  });

  it('when the active member fails, the same batch goes at once to the next one', () => {
    const k1 = member('nack');
    const k2 = member('throw');
    const k3 = member('ack');
    const g = failoverSink({ k1: k1.sink, k2: k2.sink, k3: k3.sink });
    const a = sent(3);
    g.next(a.batch);
    expect(a.acks).toBe(1);
    expect(k3.got[0]!.events).toBe(a.batch.events);
    expect(metricsOf(g)!.snapshot()).toMatchObject({
      'BatchFailCount.k1': 1,
      'BatchFailCount.k2': 1,
      FailoverCount: 2,
      EventDrainSuccessCount: 3,
      EventWriteFail: 0,
    });
  });

  it('penalises a failed member for 2 s, then probes it and fails back to it when it recovers', () => {
    scheduler().run(({ flush }) => {
      const k1 = member('nack');
      const k2 = member('ack');
      const g = failoverSink({ k1: k1.sink, k2: k2.sink }, { priority: { k1: 10, k2: 1 } });
      at(0, () => g.next(sent().batch)); // k1 fails → penalty 2^1 s
      at(1999, () => g.next(sent().batch)); // still penalised: k2 only
      at(2000, () => {
        k1.behaviour = 'ack';
        g.next(sent().batch); // penalty over: k1 probed, recovers
      });
      at(2001, () => g.next(sent().batch));
      flush();
      expect(k1.got.length).toBe(3);
      expect(k2.got.length).toBe(2);
    });
  });

  it('doubles the penalty on consecutive failures, capped at maxPenaltyMs', () => {
    scheduler().run(({ flush }) => {
      const k1 = member('nack');
      const k2 = member('ack');
      const g = failoverSink({ k1: k1.sink, k2: k2.sink }, { maxPenaltyMs: 5000 });
      const probesAt: number[] = [];
      const times = [0, 2000, 5999, 6000, 10_999, 11_000, 15_999, 16_000];
      for (const t of times) {
        at(t, () => {
          const before = k1.got.length;
          g.next(sent().batch);
          if (k1.got.length > before) probesAt.push(t);
        });
      }
      flush();
      // 2 s after the first failure, then 4 s, then capped at 5 s, 5 s
      expect(probesAt).toEqual([0, 2000, 6000, 11_000, 16_000]);
      expect(k2.got.length).toBe(times.length);
    });
  });

  it('nacks with a retriable FLUME_SINK_FAILED when every member failed, and at once while all are penalised', () => {
    scheduler().run(({ flush }) => {
      const k1 = member('nack');
      const k2 = member('nack');
      const g = failoverSink({ k1: k1.sink, k2: k2.sink });
      const a = sent(2);
      const b = sent(1);
      at(0, () => g.next(a.batch));
      at(10, () => g.next(b.batch));
      flush();
      expect(a.errors[0]).toBeInstanceOf(FlumeError);
      expect(a.errors[0]).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: true });
      expect(a.errors[0]!.message).toMatch(/all sinks failed.*member down/);
      expect(b.errors[0]!.message).toMatch(/every sink is penalised/);
      expect([k1.got.length, k2.got.length]).toEqual([1, 1]);
      expect(metricsOf(g)!.get('EventWriteFail')).toBe(3);
    });
  });

  it('a failure seen while a member is already penalised does not lengthen its penalty', () => {
    scheduler().run(({ flush }) => {
      const k1 = member('hold');
      const k2 = member('ack');
      const g = failoverSink({ k1: k1.sink, k2: k2.sink });
      at(0, () => {
        g.next(sent().batch);
        g.next(sent().batch); // both in flight on k1
      });
      at(100, () => k1.held.shift()!.nack(new Error('down'))); // penalty until 2100
      at(500, () => k1.held.shift()!.nack(new Error('down'))); // same outage
      at(2100, () => {
        k1.behaviour = 'ack';
        g.next(sent().batch);
      });
      flush();
      expect(k1.got.length).toBe(3);
    });
  });

  it('forwards complete to every member only once no batch is in flight; closed waits for all', async () => {
    const k1 = member('hold');
    const k2 = member('ack');
    const g = failoverSink({ k1: k1.sink, k2: k2.sink });
    const a = sent();
    g.next(a.batch);
    g.complete();
    expect(k1.ended()).toBeUndefined();
    k1.held[0]!.nack(new Error('down')); // goes to k2, acked, then complete reaches both
    expect(a.acks).toBe(1);
    expect([k1.ended(), k2.ended()]).toEqual(['complete', 'complete']);
    await g.closed;
    const late = sent();
    g.next(late.batch);
    expect(late.errors).toHaveLength(1);
  });

  it('forwards error too, and rejects closed with a member’s close error', async () => {
    const good = createSink('good', { write: () => undefined });
    const bad = createSink('bad', {
      write: () => undefined,
      close: () => {
        throw new Error('close failed');
      },
    });
    const g = failoverSink([good, bad]);
    g.error(new Error('upstream died'));
    await expect(g.closed).rejects.toThrow('close failed');
  });

  it('refuses unknown priority names, duplicate priorities and non-sinks', () => {
    const k1 = member();
    const k2 = member();
    expect(() => failoverSink({ k1: k1.sink, k2: k2.sink }, { priority: { k3: 1 } })).toThrow(ConfigError);
    expect(() => failoverSink({ k1: k1.sink, k2: k2.sink }, { priority: { k1: 1, k2: 1 } })).toThrow(/priority\.k2/);
    expect(() => failoverSink({ k1: k1.sink, k2: 'x' as never })).toThrow(/failoverSink\.sinks\.k2/);
    expect(() => failoverSink([])).toThrow(/at least one sink/);
    expect(() => failoverSink([k1.sink], { maxPenalty: 1 } as never)).toThrow(/did you mean `maxPenaltyMs`/);
  });

  it('names list members by their metrics names, made unique', () => {
    const g = failoverSink([createSink('k', { write: () => undefined }), createSink('k', { write: () => undefined })]);
    expect(Object.keys(metricsOf(g)!.snapshot())).toEqual(expect.arrayContaining(['BatchAttemptCount.k', 'BatchAttemptCount.k-2']));
  });

  it('declares its Flume names and keys', () => {
    expect(failoverSink.spec.flumeTypes).toEqual(['failover', 'org.apache.flume.sink.FailoverSinkProcessor']);
    expect(failoverSink.spec.flumeKeys).toEqual({ maxpenalty: 'maxPenaltyMs' });
  });

  it('end to end: a dead primary, every event delivered by the backup', async () => {
    let n = 0;
    const delivered: string[] = [];
    const primary = createSink('primary', {
      write: async () => {
        await new Promise((r) => setImmediate(r));
        throw new Error('connection refused');
      },
    });
    const backup = createSink('backup', {
      write: async (batch) => {
        await new Promise((r) => setImmediate(r));
        for (const e of batch.events) delivered.push(e.body.toString());
      },
    });
    const group = failoverSink({ primary, backup }, { priority: { primary: 10, backup: 5 } });
    const p = pipe(
      pollSource(() => (n < 300 ? Array.from({ length: 10 }, () => event(String(n++))) : null)),
      memoryChannel({ capacity: 100, transactionCapacity: 20 }),
      group,
    );
    await p.done;
    expect(delivered).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    expect(metricsOf(primary)!.get('EventDrainSuccessCount')).toBe(0);
    expect(metricsOf(group)!.get('EventDrainSuccessCount')).toBe(300);
  });
});
