import { describe, expect, it } from 'vitest';
import { asyncScheduler, filter, NEVER, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, FlumeError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import type { LogLevel } from '../../../lib/core/log.js';
import { ComponentCounters, withMetrics } from '../../../lib/core/metrics.js';
import { pipe, PipelineCounters, stopWithin } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { mapEvents } from '../../../operators/interceptors/mapEvents.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { bodies } from '../../support/batches.js';
import { waitFor } from '../../support/net.js';

function counter(limit = Infinity) {
  let n = 0;
  return () => (n < limit ? Array.from({ length: 10 }, () => event(String(n++))) : null);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLog() {
  const lines: { level: LogLevel; message: string; fields?: Readonly<Record<string, unknown>> | undefined }[] = [];
  return { lines, logger: (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void lines.push({ level, message, fields }) };
}

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

  it('stop() gives up after timeoutMs and resolves with what was left and which stage held it; done rejects', async () => {
    const { lines, logger } = recordingLog();
    const pipeline = pipe(
      { logger },
      pollSource(counter()),
      memoryChannel({ capacity: 100, transactionCapacity: 10 }),
      createSink('stuck', { write: () => new Promise<void>(() => {}) }),
    );
    await waitFor(() => pipeline.metrics()['CHANNEL.memoryChannel']!['EventPutSuccessCount'] === 100, 'a full channel');
    const result = await pipeline.stop({ timeoutMs: 50 });
    expect(result).toMatchObject({ drained: false, timedOut: true, backlog: 90, error: { code: 'FLUME_STOP_TIMEOUT', message: /90 events/ } });
    expect(result.unsettled).toEqual([{ index: 1, name: 'SINK.stuck', batches: 1, oldestMs: expect.any(Number) }]);
    await expect(pipeline.done).rejects.toMatchObject({ code: 'FLUME_STOP_TIMEOUT' });
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(lines[0]!.message).toMatch(/^stop incomplete: .*did not drain within 50 ms; 90 events/);
    expect(lines[1]!.message).toMatch(/^1 batch still unsettled at the stop deadline: the sink SINK.stuck holds 1/);
  });

  it('stop() never makes an unhandled rejection: a slow sink, a short timeout, stop() and done unobserved', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const pipeline = pipe(
        { logger: () => {} },
        pollSource(counter()),
        memoryChannel({ capacity: 100, transactionCapacity: 10 }),
        createSink('slow', { write: () => sleep(1_000).then(() => undefined) }),
      );
      await waitFor(() => pipeline.metrics()['SINK.slow']!['EventDrainAttemptCount']! > 0, 'a write under way');
      // As a SIGTERM handler does: the promise is dropped, and nobody awaits done.
      void pipeline.stop({ timeoutMs: 10 });
      await waitFor(() => pipeline.metrics()['SINK.slow']!['StopTime']! > 0 || pipeline.metrics()['SOURCE.pollSource']!['StopTime']! > 0, 'the teardown');
      // Node reports unhandled rejections once the microtasks ran; give it a few turns.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('stop() resolves with the fatal error that ended the pipeline, instead of rejecting', async () => {
    const fatal = new ComponentError('FLUME_SOURCE_FAILED', 'disk gone', { retriable: false });
    const pipeline = pipe(new Observable<Batch>((s) => s.error(fatal)), memoryChannel(), createSink('k', { write: () => {} }));
    expect(await pipeline.stop()).toEqual({ drained: false, timedOut: false, backlog: 0, error: fatal, unsettled: [] });
    await expect(pipeline.done).rejects.toBe(fatal);
  });

  it('a stage that drops a batch without settling it is named when the pipeline ends, in the log and the stop result', async () => {
    const { lines, logger } = recordingLog();
    const pipeline = pipe(
      { logger, name: 'p1' },
      sequenceSource({ totalEvents: 100, batchSize: 10 }),
      mapEvents((e) => e, { name: 'same' }),
      filter((b: Batch) => text(b.events[0]!) !== '20'), // wrong: drops batch 20…29 unsettled
      memoryChannel(),
      nullSink({ name: 'k1' }),
    );
    await waitFor(() => pipeline.metrics()['SINK.k1']!['EventDrainSuccessCount'] === 20, 'the batches before the dropped one');
    const result = await pipeline.stop();
    // The source waits for the dropped batch forever; the stop still drains what the channel holds.
    expect(result).toMatchObject({ drained: true, timedOut: false, backlog: 0 });
    expect(result.unsettled).toEqual([{ index: 1, name: 'an unnamed operator', batches: 1, oldestMs: expect.any(Number) }]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: expect.stringMatching(/^1 batch never settled: stage 1 \(an unnamed operator\) holds 1, the oldest for \d+ ms\. Every stage must ack, nack or pass on/) });
  });

  it('watchdogMs warns while running, once per stall, naming the stage; a healthy pipeline logs nothing', async () => {
    const { lines, logger } = recordingLog();
    const pipeline = pipe(
      { logger, watchdogMs: 10 },
      sequenceSource({ totalEvents: 100, batchSize: 10 }),
      filter((b: Batch) => text(b.events[0]!) !== '20'),
      memoryChannel({ name: 'c1' }),
      nullSink(),
    );
    await waitFor(() => lines.length > 0, 'a watchdog warning');
    expect(lines[0]).toMatchObject({ level: 'warn', message: expect.stringMatching(/^1 batch unsettled for over 10 ms: stage 0 \(an unnamed operator\) holds 1/) });
    expect(lines[0]!.fields).toMatchObject({ unsettled: [{ index: 0, batches: 1 }] });
    // Further ticks see the same stalled batch: nothing new to say.
    const ticksLater = pipeline.metrics()['SOURCE.sequenceSource']!['EventReceivedCount'];
    await sleep(50);
    expect(lines).toHaveLength(1);
    expect(pipeline.metrics()['SOURCE.sequenceSource']!['EventReceivedCount']).toBe(ticksLater);
    await pipeline.stop();

    const healthy = recordingLog();
    const ok = pipe({ logger: healthy.logger, watchdogMs: 1 }, sequenceSource({ totalEvents: 2000, batchSize: 10 }), mapEvents((e) => e), memoryChannel(), nullSink());
    await ok.done;
    expect(healthy.lines).toEqual([]);
  });

  it('RXFLUME_DEBUG_UNSETTLED=<ms> turns the watchdog on for a pipeline given no watchdogMs', async () => {
    const { lines, logger } = recordingLog();
    process.env['RXFLUME_DEBUG_UNSETTLED'] = '10';
    try {
      const pipeline = pipe({ logger }, sequenceSource({ totalEvents: 100, batchSize: 10 }), filter((b: Batch) => text(b.events[0]!) !== '0'), nullSink());
      await waitFor(() => lines.length > 0, 'a watchdog warning');
      expect(lines[0]!.message).toMatch(/^1 batch unsettled for over 10 ms: stage 0/);
      await pipeline.stop();
    } finally {
      delete process.env['RXFLUME_DEBUG_UNSETTLED'];
    }
  });

  it('takes its options first, validated', () => {
    expect(() => pipe({ watchdogMs: 0 }, NEVER, nullSink())).toThrow(expect.objectContaining({ code: 'FLUME_CONFIG', message: expect.stringMatching(/pipe\.watchdogMs/) }));
    expect(() => pipe({ name: 'x' } as never, memoryChannel() as never, nullSink())).toThrow(/source must be an Observable/);
    expect(() => pipe({ name: 'x' }, NEVER, ...([] as unknown as [ReturnType<typeof nullSink>]))).toThrow(/last argument must be a sink/);
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
  it('resolves as done settles when it settles first; a rejection of done becomes the error, not a rejection', async () => {
    const counters = new PipelineCounters();
    await expect(stopWithin(Promise.resolve(), 1000, 'x', () => counters, () => expect.unreachable())).resolves.toEqual({ drained: true, timedOut: false, backlog: 0 });
    const fatal = new Error('fatal');
    await expect(stopWithin(Promise.reject(fatal), 1000, 'x', () => counters, () => expect.unreachable())).resolves.toEqual({ drained: false, timedOut: false, backlog: 0, error: fatal });
  });

  it('past the timeout, tears down and resolves with FLUME_STOP_TIMEOUT naming the events left in the channels', async () => {
    const channel = new ComponentCounters('CHANNEL', 'c1');
    channel.set('ChannelSize', 42);
    const counters = new PipelineCounters().add(channel);
    const tornDown: FlumeError[] = [];
    const result = await stopWithin(new Promise<void>(() => {}), 20, 'agent', () => counters, (e) => tornDown.push(e));
    expect(result).toMatchObject({ drained: false, timedOut: true, backlog: 42 });
    expect(result.error).toMatchObject({ code: 'FLUME_STOP_TIMEOUT', message: 'agent did not drain within 20 ms; 42 events were still in its channels' });
    expect(tornDown).toEqual([result.error]);
  });

  it('resolves with what the teardown threw, rather than throwing it in a timer', async () => {
    const failure = new Error('teardown failed');
    const stop = stopWithin(new Promise<void>(() => {}), 1, 'x', () => new PipelineCounters(), () => {
      throw failure;
    });
    await expect(stop).resolves.toEqual({ drained: false, timedOut: true, backlog: 0, error: failure });
  });
});
