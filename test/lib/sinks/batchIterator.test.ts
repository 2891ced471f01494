import { describe, expect, it } from 'vitest';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import { batchIterator } from '../../../lib/sinks/batchIterator.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { batchOf, range, type Recorded } from '../../support/batches.js';
import { sleep } from '../../support/net.js';

const quiet = { logger: () => {} };
const settledOf = (recs: Recorded[]) => recs.map((r) => (r.acked ? 'ack' : r.nacked.length ? 'nack' : '-')).join(' ');

describe('batchIterator', () => {
  it('ends a pipeline with a for await loop: everything comes, in order, and done resolves once the loop ended', async () => {
    const batches = batchIterator({ name: 'loop' });
    const pipeline = pipe(sequenceSource({ totalEvents: 50, batchSize: 10 }), memoryChannel({ transactionCapacity: 10 }), batches);
    const seen: string[] = [];
    let handedDuringBody = -1;
    for await (const events of batches) {
      seen.push(...events.map((e) => text(e)));
      if (seen.length === 10) {
        // Backpressure: the channel hands over nothing more until this batch is acked.
        await sleep(20);
        handedDuringBody = pipeline.metrics()['SINK.loop']!['EventDrainAttemptCount']!;
      }
    }
    await pipeline.done;
    expect(seen).toEqual(range(0, 50).map(String));
    expect(handedDuringBody).toBe(10);
    expect(pipeline.metrics()['SINK.loop']).toMatchObject({ EventDrainSuccessCount: 50, EventWriteFail: 0 });
  });

  it('acks a batch when the loop asks for the next one, not before', async () => {
    const batches = batchIterator(quiet);
    const recs = [batchOf(['a']), batchOf(['b'])];
    for (const r of recs) batches.next(r.batch);
    batches.complete();
    const it = batches[Symbol.asyncIterator]();
    expect((await it.next()).value?.map((e: FlumeEvent) => text(e))).toEqual(['a']);
    await sleep(1);
    expect(settledOf(recs)).toBe('- -');
    expect((await it.next()).value?.map((e: FlumeEvent) => text(e))).toEqual(['b']);
    expect(settledOf(recs)).toBe('ack -');
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(settledOf(recs)).toBe('ack ack');
    await batches.closed;
  });

  it('leaving the loop (break or a throw) nacks the batch in hand and those waiting; later ones are nacked at once', async () => {
    const batches = batchIterator(quiet);
    const recs = range(0, 3).map((i) => batchOf([i]));
    for (const r of recs) batches.next(r.batch);
    await expect(
      (async () => {
        for await (const events of batches) {
          if (text(events[0]!) === '1') throw new Error('app bug');
        }
      })(),
    ).rejects.toThrow('app bug');
    await sleep(1);
    expect(settledOf(recs)).toBe('ack nack nack');
    expect(recs[1]!.nacked[0]).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: true });
    const late = batchOf([9]);
    batches.next(late.batch);
    await sleep(1);
    expect(settledOf([late])).toBe('nack');
    expect(() => batches[Symbol.asyncIterator]()).toThrow(/one loop per batchIterator/);
  });

  it('a pipeline that failed ends the loop with its error, after the batches before it', async () => {
    const batches = batchIterator(quiet);
    const r = batchOf(['a']);
    batches.next(r.batch);
    batches.error(new Error('source gone'));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const events of batches) seen.push(...events.map((e) => text(e)));
      })(),
    ).rejects.toThrow('source gone');
    expect(seen).toEqual(['a']);
    expect(r.acked).toBe(1);
  });

  it('stop() lets the loop finish what the channel holds, then ends it', async () => {
    const batches = batchIterator({ name: 'loop' });
    const pipeline = pipe(sequenceSource({ batchSize: 10 }), memoryChannel({ transactionCapacity: 10 }), batches);
    let stopping: ReturnType<typeof pipeline.stop> | undefined;
    let n = 0;
    for await (const events of batches) {
      n += events.length;
      if (n === 30) stopping = pipeline.stop({ timeoutMs: 10_000 });
    }
    expect(await stopping).toMatchObject({ drained: true, timedOut: false, unsettled: [] });
    const m = pipeline.metrics();
    expect(n).toBe(m['SOURCE.sequenceSource']!['EventAcceptedCount']);
    expect(m['SINK.loop']!['EventDrainSuccessCount']).toBe(n);
  });
});
