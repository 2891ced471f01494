import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, text, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

function tracked(events: readonly FlumeEvent[]) {
  const calls: Array<'ack' | Error> = [];
  const batch = createBatch(events, { onAck: () => calls.push('ack'), onNack: (e) => calls.push(e) });
  return { batch, calls };
}

const events = (from: number, n: number): FlumeEvent[] => Array.from({ length: n }, (_, i) => event(String(from + i)));

/** Polls `total` numbered events in batches of `size`, then ends. */
function counting(total: number, size: number) {
  let n = 0;
  return () => {
    if (n >= total) return null;
    const out = events(n, Math.min(size, total - n));
    n += out.length;
    return out;
  };
}

describe('observerSink', () => {
  it('hands each event in order to a function, then acks the batch once', () => {
    const seen: string[] = [];
    const sink = observerSink((e) => seen.push(text(e)), { batchSize: 3 });
    const a = tracked(events(0, 3));
    const b = tracked(events(3, 2));
    sink.next(a.batch);
    sink.next(b.batch);
    expect(seen).toEqual(['0', '1', '2', '3', '4']);
    expect(a.calls).toEqual(['ack']);
    expect(b.calls).toEqual(['ack']);
    expect(metricsOf(sink)!.snapshot()).toMatchObject({
      BatchCompleteCount: 1,
      BatchUnderflowCount: 1,
      EventDrainAttemptCount: 5,
      EventDrainSuccessCount: 5,
      EventWriteFail: 0,
    });
    expect(metricsOf(sink)!.name).toBe('observerSink');
  });

  it('acks only after next returned: the batch is still open while the observer runs', () => {
    let openDuringNext: boolean | undefined;
    const t = tracked(events(0, 1));
    observerSink({ next: () => (openDuringNext = !t.batch.settled) }).next(t.batch);
    expect(openDuringNext).toBe(true);
    expect(t.calls).toEqual(['ack']);
  });

  it('forwards complete to the observer after the last batch, then resolves closed', async () => {
    const log: string[] = [];
    const sink = observerSink({ next: (e) => log.push(text(e)), complete: () => log.push('complete'), error: () => log.push('error') });
    sink.next(createBatch(events(0, 2)));
    sink.complete();
    await sink.closed;
    expect(log).toEqual(['0', '1', 'complete']);
  });

  it('forwards error to the observer, once, and still resolves closed', async () => {
    const errors: unknown[] = [];
    const sink = observerSink({ error: (e) => errors.push(e) });
    const boom = new Error('upstream failed');
    sink.error(boom);
    sink.error(new Error('again'));
    sink.complete();
    await sink.closed;
    expect(errors).toEqual([boom]);
  });

  it('acks batches for an observer without next', () => {
    const t = tracked(events(0, 2));
    observerSink({}).next(t.batch);
    expect(t.calls).toEqual(['ack']);
  });

  it('a throwing next nacks the batch once with a retriable FLUME_SINK_FAILED carrying the cause', () => {
    const seen: string[] = [];
    const cause = new Error('handler busy');
    const sink = observerSink((e) => {
      if (text(e) === '2') throw cause;
      seen.push(text(e));
    });
    const t = tracked(events(0, 4));
    sink.next(t.batch);
    expect(seen).toEqual(['0', '1']); // already handed over; they come again on redelivery
    expect(t.calls).toHaveLength(1);
    const error = t.calls[0] as ComponentError;
    expect(error).toBeInstanceOf(ComponentError);
    expect(error.code).toBe('FLUME_SINK_FAILED');
    expect(error.component).toBe('observerSink');
    expect(error.retriable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('event 3 of 4');
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventWriteFail: 4, EventDrainSuccessCount: 0, EventDrainAttemptCount: 4 });
  });

  it('keeps retriable: false when the observer threw a non-retriable FlumeError', () => {
    const fatal = new ComponentError('FLUME_SINK_FAILED', 'poison', { retriable: false });
    const t = tracked(events(0, 1));
    observerSink(() => {
      throw fatal;
    }).next(t.batch);
    expect((t.calls[0] as FlumeError).retriable).toBe(false);
    expect((t.calls[0] as FlumeError).cause).toBe(fatal);
  });

  it('a throwing complete rejects closed', async () => {
    const sink = observerSink({
      complete: () => {
        throw new Error('complete failed');
      },
    });
    sink.complete();
    await expect(sink.closed).rejects.toThrow('complete failed');
  });

  it('rejects a missing observer and bad options', () => {
    expect(() => observerSink(undefined as never)).toThrow(TypeError);
    expect(() => observerSink(() => undefined, { batchSize: 1.5 })).toThrow(ConfigError);
    expect(() => observerSink(() => undefined, { batchSize: 1.5 })).toThrow('observerSink.batchSize: expected integer');
  });

  it('end to end: pollSource → memoryChannel → observerSink delivers every event in order', async () => {
    const seen: string[] = [];
    let completed = 0;
    const total = 777;
    const pipeline = pipe(
      pollSource(counting(total, 64)),
      memoryChannel({ capacity: 1000, transactionCapacity: 100 }),
      observerSink({ next: (e) => seen.push(text(e)), complete: () => completed++ }, { name: 'obs' }),
    );
    await pipeline.done;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => String(i)));
    expect(completed).toBe(1);
    expect(pipeline.metrics()['SINK.obs']).toMatchObject({ EventDrainAttemptCount: total, EventDrainSuccessCount: total, EventWriteFail: 0 });
  });

  it('end to end: a throwing observer gets redelivery through memoryChannel; every event arrives at least once', async () => {
    const seen: string[] = [];
    const failuresLeft = new Map([['10', 1], ['55', 2]]);
    let completed = 0;
    const total = 120;
    const pipeline = pipe(
      pollSource(counting(total, 15)),
      memoryChannel({ capacity: 200, transactionCapacity: 20, backoffSleepIncrementMs: 1, maxBackoffSleepMs: 5 }),
      observerSink({
        next: (e) => {
          const left = failuresLeft.get(text(e)) ?? 0;
          if (left > 0) {
            failuresLeft.set(text(e), left - 1);
            throw new Error(`transient failure on ${text(e)}`);
          }
          seen.push(text(e));
        },
        complete: () => completed++,
      }),
    );
    await pipeline.done;
    expect(completed).toBe(1);
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: total }, (_, i) => String(i))));
    expect(seen.length).toBeGreaterThan(total); // events before a thrower in its batch were handed over twice
    const m = pipeline.metrics();
    expect(m['CHANNEL.memoryChannel']!.RollbackCount).toBe(3);
    expect(m['CHANNEL.memoryChannel']).toMatchObject({ EventTakeSuccessCount: total, ChannelSize: 0 });
    expect(m['SINK.observerSink']!.EventDrainSuccessCount).toBe(total);
    expect(m['SINK.observerSink']!.EventWriteFail).toBeGreaterThan(0);
  });

  it('end to end: a failing source reaches observer.error after the channel drained, and done rejects', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const boom = new Error('source broke');
    const source = new Observable<Batch>((subscriber) => {
      subscriber.next(createBatch(events(0, 3)));
      subscriber.error(boom);
    });
    const pipeline = pipe(source, memoryChannel(), observerSink({ next: (e) => seen.push(text(e)), error: (e) => errors.push(e) }));
    await expect(pipeline.done).rejects.toBe(boom);
    expect(seen).toEqual(['0', '1', '2']);
    expect(errors).toEqual([boom]);
  });
});
