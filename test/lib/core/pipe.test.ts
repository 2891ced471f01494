import { describe, expect, it } from 'vitest';
import { asyncScheduler, NEVER, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, FlumeError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { ComponentCounters, withMetrics } from '../../../lib/core/metrics.js';
import { pipe, PipelineCounters, stopWithin } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { bodies } from '../../support/batches.js';

function counter(limit = Infinity) {
  let n = 0;
  return () => (n < limit ? Array.from({ length: 10 }, () => event(String(n++))) : null);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pipe', () => {
  it('runs source → channel → sink and resolves done after everything drained and the sink closed', async () => {
    const got: string[] = [];
    let closedAt = -1;
    const pipeline = pipe(
      pollSource(counter(1000), { name: 'seq' }),
      memoryChannel({ name: 'c1', capacity: 100, transactionCapacity: 50 }),
      createSink('k1', {
        write: async (b) => {
          await sleep(0);
          got.push(...bodies(b));
        },
        close: () => void (closedAt = got.length),
      }),
    );
    await pipeline.done;
    expect(got).toHaveLength(1000);
    expect(got.slice(0, 3)).toEqual(['0', '1', '2']);
    expect(closedAt).toBe(1000);
    const m = pipeline.metrics();
    expect(Object.keys(m).sort()).toEqual(['CHANNEL.c1', 'SINK.k1', 'SOURCE.seq']);
    expect(m['SOURCE.seq']).toMatchObject({ EventReceivedCount: 1000, EventAcceptedCount: 1000 });
    expect(m['CHANNEL.c1']).toMatchObject({ EventPutSuccessCount: 1000, EventTakeSuccessCount: 1000, ChannelSize: 0 });
    expect(m['SINK.k1']).toMatchObject({ EventDrainSuccessCount: 1000 });
    expect(m['SINK.k1']!['StopTime']).toBeGreaterThanOrEqual(m['SINK.k1']!['StartTime']!);
  });

  it('stop() stops the source and drains what the channel holds to the sink', async () => {
    const got: string[] = [];
    const pipeline = pipe(
      pollSource(counter()),
      memoryChannel({ capacity: 500, transactionCapacity: 10 }),
      createSink('slow', {
        write: async (b) => {
          await sleep(1);
          got.push(...bodies(b));
        },
      }),
    );
    await sleep(50);
    await pipeline.stop();
    const m = pipeline.metrics();
    const accepted = m['SOURCE.pollSource']!['EventAcceptedCount']!;
    expect(accepted).toBeGreaterThan(0);
    expect(got).toHaveLength(accepted);
    expect(got).toEqual(got.map((_, i) => String(i)));
    expect(m['CHANNEL.memoryChannel']!['ChannelSize']).toBe(0);
  });

  it('stop() gives up after timeoutMs and reports what was left', async () => {
    const pipeline = pipe(
      pollSource(counter()),
      memoryChannel({ capacity: 100, transactionCapacity: 10 }),
      createSink('stuck', { write: () => new Promise<void>(() => {}) }),
    );
    await sleep(20);
    await expect(pipeline.stop({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'FLUME_STOP_TIMEOUT', message: /90 events/ });
  });

  it('rejects done with a fatal error from the chain, after the sink closed', async () => {
    const fatal = new ComponentError('FLUME_SOURCE_FAILED', 'disk gone', { retriable: false });
    let sinkClosed = false;
    const pipeline = pipe(
      new Observable<Batch>((s) => s.error(fatal)),
      memoryChannel(),
      createSink('k', { write: () => {}, close: () => void (sinkClosed = true) }),
    );
    await expect(pipeline.done).rejects.toBe(fatal);
    expect(sinkClosed).toBe(true);
  });

  it('accepts a plain observer as the sink, and stop() on a never-ending source resolves', async () => {
    const seen: Batch[] = [];
    const pipeline = pipe(NEVER, memoryChannel(), { next: (b: Batch) => seen.push(b) });
    await pipeline.stop();
    expect(seen).toEqual([]);
  });

  it('refuses a last argument that is not a sink', () => {
    expect(() => pipe(NEVER, memoryChannel() as never)).toThrow(/last argument must be a sink/);
  });

  it('names two components of the same name apart', async () => {
    const pipeline = pipe(pollSource(counter(10)), memoryChannel(), memoryChannel(), createSink('k', { write: () => {} }));
    await pipeline.done;
    expect(Object.keys(pipeline.metrics())).toContain('CHANNEL.memoryChannel-2');
  });
});

describe('PipelineCounters', () => {
  it("keys counters as Flume's /metrics, a second of the same name with -2, and adds each only once", () => {
    const a = new ComponentCounters('CHANNEL', 'c1');
    const b = new ComponentCounters('CHANNEL', 'c1');
    const sink = withMetrics({}, new ComponentCounters('SINK', 'k1'));
    const counters = new PipelineCounters().add(a, sink, b, a, undefined, {});
    expect(Object.keys(counters.snapshot())).toEqual(['CHANNEL.c1', 'SINK.k1', 'CHANNEL.c1-2']);
    a.set('ChannelSize', 3);
    b.set('ChannelSize', 4);
    expect(counters.backlog()).toBe(7);
  });

  it('stamps start and stop times on scheduler time, once', () => {
    new TestScheduler((x, y) => expect(x).toEqual(y)).run(({ flush }) => {
      const c = new ComponentCounters('SOURCE', 'r1');
      const counters = new PipelineCounters().add(c);
      asyncScheduler.schedule(() => counters.started(), 50);
      asyncScheduler.schedule(() => counters.stopped(), 80);
      flush();
      counters.started(9999);
      counters.stopped(9999);
      // Virtual time, not the wall clock; stamped once.
      expect([c.startTime, c.stopTime]).toEqual([50, 80]);
    });
  });
});

describe('stopWithin', () => {
  it('settles as done does when it settles first', async () => {
    const counters = new PipelineCounters();
    await expect(stopWithin(Promise.resolve(), 1000, 'x', () => counters, () => expect.unreachable())).resolves.toBeUndefined();
    await expect(stopWithin(Promise.reject(new Error('fatal')), 1000, 'x', () => counters, () => expect.unreachable())).rejects.toThrow('fatal');
  });

  it('past the timeout, tears down and rejects with FLUME_STOP_TIMEOUT naming the events left in the channels', async () => {
    const channel = new ComponentCounters('CHANNEL', 'c1');
    channel.set('ChannelSize', 42);
    const counters = new PipelineCounters().add(channel);
    const tornDown: FlumeError[] = [];
    const stop = stopWithin(new Promise<void>(() => {}), 20, 'agent', () => counters, (e) => tornDown.push(e));
    await expect(stop).rejects.toMatchObject({ code: 'FLUME_STOP_TIMEOUT', message: 'agent did not drain within 20 ms; 42 events were still in its channels' });
    expect(tornDown.map((e) => e.code)).toEqual(['FLUME_STOP_TIMEOUT']);
  });
});
