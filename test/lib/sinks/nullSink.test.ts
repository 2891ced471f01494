import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

function tracked(events: FlumeEvent[]) {
  const calls: string[] = [];
  const batch = createBatch(events, { onAck: () => calls.push('ack'), onNack: () => calls.push('nack') });
  return { batch, calls };
}

const events = (n: number, prefix = 'e'): FlumeEvent[] => Array.from({ length: n }, (_, i) => event(`${prefix}${i}`));

describe('nullSink', () => {
  it('acks every batch exactly once and counts complete, underflow and empty batches', async () => {
    const sink = nullSink({ batchSize: 3 });
    const full = tracked(events(3));
    const under = tracked(events(2));
    const over = tracked(events(5));
    const empty = tracked([]);
    for (const t of [full, under, over, empty]) sink.next(t.batch);
    for (const t of [full, under, over, empty]) {
      expect(t.calls).toEqual(['ack']);
      expect(t.batch.settled).toBe(true);
    }
    sink.complete();
    await sink.closed;
    const m = metricsOf(sink)!.snapshot();
    expect(m).toMatchObject({
      BatchCompleteCount: 2,
      BatchUnderflowCount: 1,
      BatchEmptyCount: 1,
      EventDrainAttemptCount: 10,
      EventDrainSuccessCount: 10,
      EventWriteFail: 0,
    });
    expect(metricsOf(sink)!.type).toBe('SINK');
    expect(metricsOf(sink)!.name).toBe('nullSink');
  });

  it('uses Flume defaults: batchSize 100, name nullSink', () => {
    expect(nullSink.spec.flumeTypes).toEqual(['null', 'org.apache.flume.sink.NullSink']);
    const sink = nullSink();
    sink.next(createBatch(events(100)));
    sink.next(createBatch(events(99)));
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ BatchCompleteCount: 1, BatchUnderflowCount: 1 });
  });

  it('closes on error as on complete', async () => {
    const sink = nullSink();
    sink.error(new Error('upstream failed'));
    await expect(sink.closed).resolves.toBeUndefined();
  });

  it('rejects bad options with a ConfigError naming each of them', () => {
    expect(() => nullSink({ batchSize: 0 })).toThrow(ConfigError);
    expect(() => nullSink({ batchSize: 0 })).toThrow('nullSink.batchSize: expected integer ≥ 1, received 0');
    expect(() => nullSink({ batchsize: 5 } as never)).toThrow('did you mean `batchSize`');
  });

  it('end to end: pollSource → memoryChannel → nullSink drains every event', async () => {
    let n = 0;
    const total = 1234;
    const poll = (): FlumeEvent[] | null => {
      if (n >= total) return null;
      const out = events(Math.min(50, total - n), `p${n}-`);
      n += out.length;
      return out;
    };
    const pipeline = pipe(
      pollSource(poll),
      memoryChannel({ capacity: 1000, transactionCapacity: 100 }),
      nullSink({ name: 'devnull' }),
    );
    await pipeline.done;
    const m = pipeline.metrics();
    expect(m['SINK.devnull']).toMatchObject({ EventDrainAttemptCount: total, EventDrainSuccessCount: total, EventWriteFail: 0 });
    expect(m['SINK.devnull']!.BatchCompleteCount + m['SINK.devnull']!.BatchUnderflowCount).toBeGreaterThan(0);
    expect(m['CHANNEL.memoryChannel']).toMatchObject({ EventTakeSuccessCount: total, ChannelSize: 0 });
    expect(m['SOURCE.pollSource']).toMatchObject({ EventAcceptedCount: total });
  });

  it('end to end: a plain Observable of batches, every batch acked', async () => {
    const acked: number[] = [];
    const source = new Observable<Batch>((subscriber) => {
      for (let i = 0; i < 20; i++) subscriber.next(createBatch(events(5), { onAck: () => acked.push(i) }));
      subscriber.complete();
    });
    const pipeline = pipe(source, memoryChannel(), nullSink());
    await pipeline.done;
    expect(acked).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(pipeline.metrics()['SINK.nullSink']).toMatchObject({ EventDrainSuccessCount: 100 });
  });
});
