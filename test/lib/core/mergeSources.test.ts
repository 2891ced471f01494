import { describe, expect, it } from 'vitest';
import { from, merge, NEVER, Observable } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { FlumeError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import { mergeSources, mergedSources } from '../../../lib/core/mergeSources.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource, type PollResult } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { batchOf } from '../../support/batches.js';

/** Three batches of `prefix0`… then the end; a nacked batch comes back (rolled back) on the next poll. */
function lettered(prefix: string) {
  let next = 0;
  let again: string[] | undefined;
  return (): PollResult => {
    const bodies = again ?? (next < 30 ? Array.from({ length: 10 }, () => `${prefix}${next++}`) : null);
    again = undefined;
    if (bodies === null) return null;
    return { events: bodies.map((b) => event(b)), rollback: () => void (again = bodies) };
  };
}

describe('mergeSources', () => {
  it("keeps each source's SOURCE.* counters in pipeline.metrics(), as Flume's agent does for several sources on one channel", async () => {
    const pipeline = pipe(
      mergeSources(sequenceSource({ name: 'r1', totalEvents: 50, batchSize: 10 }), sequenceSource({ name: 'r2', totalEvents: 30, batchSize: 5 })),
      memoryChannel({ name: 'c1' }),
      nullSink({ name: 'k1' }),
    );
    await pipeline.done;
    const m = pipeline.metrics();
    expect(Object.keys(m).sort()).toEqual(['CHANNEL.c1', 'SINK.k1', 'SOURCE.r1', 'SOURCE.r2']);
    expect(m['SOURCE.r1']).toMatchObject({ EventReceivedCount: 50, EventAcceptedCount: 50, AppendBatchAcceptedCount: 5 });
    expect(m['SOURCE.r2']).toMatchObject({ EventReceivedCount: 30, EventAcceptedCount: 30, AppendBatchAcceptedCount: 6 });
    expect(m['CHANNEL.c1']).toMatchObject({ EventPutSuccessCount: 80 });
    expect(m['SINK.k1']).toMatchObject({ EventDrainSuccessCount: 80 });
    expect(m['SOURCE.r1']!['StartTime']).toBeGreaterThan(0);
  });

  it('a plain merge loses them (what mergeSources is for)', async () => {
    const pipeline = pipe(merge(sequenceSource({ name: 'r1', totalEvents: 5 }), sequenceSource({ name: 'r2', totalEvents: 5 })), nullSink({ name: 'k1' }));
    await pipeline.done;
    expect(Object.keys(pipeline.metrics())).toEqual(['SINK.k1']);
  });

  it('sends each ack and nack back to the source that read the batch', async () => {
    const seen: string[] = [];
    let refusedB = 0;
    const pipeline = pipe(
      mergeSources(pollSource(lettered('a'), { name: 'a' }), pollSource(lettered('b'), { name: 'b', backoffSleepIncrementMs: 1, maxBackoffSleepMs: 1 })),
      createSink('k', {
        write: (batch) => {
          const first = text(batch.events[0]!);
          // Every batch of b is refused once: only b rolls back and reads it again.
          if (first.startsWith('b') && refusedB++ % 2 === 0) throw new FlumeError('FLUME_SINK_FAILED', 'not now', { retriable: true });
          seen.push(first);
        },
        logger: () => {},
      }),
    );
    await pipeline.done;
    const m = pipeline.metrics();
    expect(m['SOURCE.a']).toMatchObject({ EventAcceptedCount: 30, ChannelWriteFail: 0 });
    expect(m['SOURCE.b']).toMatchObject({ EventAcceptedCount: 30, ChannelWriteFail: 30 });
    expect(seen.filter((s) => s.startsWith('a'))).toEqual(['a0', 'a10', 'a20']);
    expect(seen.filter((s) => s.startsWith('b'))).toEqual(['b0', 'b10', 'b20']);
  });

  it("settles a hand-made batch through its own callbacks, whichever source's it is", () => {
    const a = batchOf(['a']);
    const b = batchOf(['b']);
    const merged = mergeSources(from([a.batch]), from([b.batch]));
    merged.subscribe((batch: Batch) => (text(batch.events[0]!) === 'b' ? batch.nack(new Error('no')) : batch.ack()));
    expect([a.acked, a.nacked.length, b.acked, b.nacked.length]).toEqual([1, 0, 0, 1]);
  });

  it('completes once every source completed; stop() stops them all', async () => {
    const unsubscribed: string[] = [];
    const endless = (name: string) => new Observable<Batch>(() => () => void unsubscribed.push(name));
    const pipeline = pipe(mergeSources(endless('x'), endless('y'), NEVER), nullSink());
    expect((await pipeline.stop()).drained).toBe(true);
    expect(unsubscribed.sort()).toEqual(['x', 'y']);
  });

  it('flattens merged merges, does not mark a single source, and refuses what is not a source', async () => {
    const r1 = sequenceSource({ name: 'r1', totalEvents: 5 });
    const only = mergeSources(r1);
    expect(only).not.toBe(r1);
    expect(mergedSources(r1)).toBeUndefined();
    const pipeline = pipe(mergeSources(only, sequenceSource({ name: 'r2', totalEvents: 5 })), nullSink({ name: 'k' }));
    await pipeline.done;
    expect(Object.keys(pipeline.metrics()).sort()).toEqual(['SINK.k', 'SOURCE.r1', 'SOURCE.r2']);
    expect(() => mergeSources()).toThrow(/at least one source/);
    expect(() => mergeSources(r1, memoryChannel() as never)).toThrow(/argument 2 is not a source/);
  });
});
