import { describe, expect, it } from 'vitest';
import { NEVER, of, tap, throwError, timer, type Observable } from 'rxjs';
import { FlumeError } from '../../../lib/core/errors.js';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import { consumerSink } from '../../../lib/sinks/consumerSink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { batchOf, range, type Recorded } from '../../support/batches.js';
import { sleep, waitFor } from '../../support/net.js';

const quiet = { logger: () => {} };

/** A promise the test resolves or rejects by hand. */
function gate() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const settledOf = (recs: Recorded[]) => recs.map((r) => (r.acked ? 'ack' : r.nacked.length ? 'nack' : '-')).join(' ');

describe('consumerSink', () => {
  it('ends a pipeline with a sync handler: every batch acked once the handler returned', async () => {
    const seen: string[] = [];
    const pipeline = pipe(
      sequenceSource({ totalEvents: 100, batchSize: 10 }),
      memoryChannel(),
      consumerSink((events) => void seen.push(...events.map((e) => text(e))), { name: 'app' }),
    );
    await pipeline.done;
    expect(seen).toEqual(range(0, 100).map(String));
    expect(pipeline.metrics()['SINK.app']).toMatchObject({ EventDrainAttemptCount: 100, EventDrainSuccessCount: 100, EventWriteFail: 0 });
  });

  it('acks when the Promise resolves, nacks when it rejects: the channel redelivers and nothing is lost or thrown', async () => {
    const seen: string[] = [];
    let calls = 0;
    const logged: string[] = [];
    const pipeline = pipe(
      sequenceSource({ totalEvents: 50, batchSize: 10 }),
      memoryChannel({ transactionCapacity: 10, backoffSleepIncrementMs: 1, maxBackoffSleepMs: 5 }),
      consumerSink(
        async (events) => {
          await sleep(0);
          // Every other call fails, as a database that drops connections would.
          if (calls++ % 2 === 0) throw new Error('connection reset');
          seen.push(...events.map((e) => text(e)));
        },
        { name: 'db', logger: (_level, message) => void logged.push(message) },
      ),
    );
    await pipeline.done;
    expect(seen).toEqual(range(0, 50).map(String));
    expect(pipeline.metrics()['SINK.db']).toMatchObject({ EventDrainSuccessCount: 50, EventWriteFail: 50 });
    expect(logged[0]).toMatch(/FLUME_SINK_FAILED|the handler failed: connection reset/);
  });

  it('settles by the Observable the handler returns: ack on complete, nack on error, nothing while it runs', async () => {
    const [done, failed, running] = [batchOf(['done']), batchOf(['fail']), batchOf(['run'])];
    const sink = consumerSink(
      (events: readonly FlumeEvent[]): Observable<unknown> => {
        const body = text(events[0]!);
        if (body === 'done') return of(1, 2, 3);
        if (body === 'fail') return throwError(() => new FlumeError('FLUME_BAD_EVENT', 'cannot parse', { retriable: false }));
        return NEVER;
      },
      { concurrency: 3, ...quiet },
    );
    for (const r of [done, failed, running]) sink.next(r.batch);
    await waitFor(() => done.acked + failed.nacked.length === 2, 'two settled');
    expect(settledOf([done, failed, running])).toBe('ack nack -');
    // A non-retriable failure stays non-retriable, with the handler's error as cause.
    expect(failed.nacked[0]).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: false, cause: { code: 'FLUME_BAD_EVENT' } });
  });

  it('a sync throw nacks, retriable by default', async () => {
    const r = batchOf(['x']);
    const sink = consumerSink(() => {
      throw new TypeError('bug');
    }, quiet);
    sink.next(r.batch);
    await waitFor(() => r.nacked.length === 1, 'the nack');
    expect(r.nacked[0]).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: true, message: /the handler failed: bug/ });
    expect(r.acked).toBe(0);
  });

  it('runs at most `concurrency` batches at once, the others waiting unsettled in arrival order', async () => {
    const gates = range(0, 6).map(() => gate());
    const started: number[] = [];
    let inHandler = 0;
    let most = 0;
    const sink = consumerSink(
      async (events: readonly FlumeEvent[]) => {
        const i = Number(text(events[0]!));
        started.push(i);
        most = Math.max(most, ++inHandler);
        try {
          await gates[i]!.promise;
        } finally {
          inHandler--;
        }
      },
      { concurrency: 2, ...quiet },
    );
    const recs = range(0, 5).map((i) => batchOf([i]));
    for (const r of recs) sink.next(r.batch);
    await sleep(5);
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await waitFor(() => started.length === 3, 'the third batch');
    expect(settledOf(recs)).toBe('- ack - - -');
    // A failed batch frees its slot too; a new arrival queues behind those waiting.
    const late = batchOf([5]);
    gates[0]!.reject(new Error('no'));
    sink.next(late.batch);
    await waitFor(() => started.length === 4, 'the fourth batch');
    expect(started).toEqual([0, 1, 2, 3]);
    for (const g of gates) g.resolve();
    await waitFor(() => late.acked === 1, 'the late batch');
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(settledOf(recs)).toBe('nack ack ack ack ack');
    expect(most).toBe(2);
  });

  it("each: 'event' calls the handler once per event, in order, the next after the previous completed; acks after the last", async () => {
    const calls: string[] = [];
    const r = batchOf(['a', 'b', 'c']);
    const sink = consumerSink(
      (event) => {
        calls.push(`start ${text(event)}`);
        return timer(2).pipe(tap({ complete: () => void calls.push(`end ${text(event)}`) }));
      },
      { each: 'event', ...quiet },
    );
    sink.next(r.batch);
    await waitFor(() => r.acked === 1, 'the ack');
    expect(calls).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it("each: 'event': a failure nacks the whole batch (it will come again, from its first event)", async () => {
    const r = batchOf(['a', 'b', 'c']);
    const seen: string[] = [];
    const sink = consumerSink(
      (event: FlumeEvent) => {
        if (text(event) === 'b') return Promise.reject(new Error('b refused'));
        seen.push(text(event));
        return undefined;
      },
      { each: 'event', ...quiet },
    );
    sink.next(r.batch);
    await waitFor(() => r.nacked.length === 1, 'the nack');
    expect(seen).toEqual(['a']);
  });

  it('closes after the last handler completed', async () => {
    const g = gate();
    const r = batchOf([1]);
    let closed = false;
    const sink = consumerSink(() => g.promise, quiet);
    sink.next(r.batch);
    sink.complete();
    void sink.closed.then(() => (closed = true));
    await sleep(5);
    expect(closed).toBe(false);
    g.resolve();
    await sink.closed;
    expect(r.acked).toBe(1);
  });

  it('refuses bad options and a handler that is not a function', () => {
    expect(() => consumerSink(() => {}, { concurrency: 0 })).toThrow(/consumerSink\.concurrency/);
    expect(() => consumerSink('x' as never)).toThrow(/handler must be a function/);
  });
});
