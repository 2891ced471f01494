import { afterEach, describe, expect, it, vi } from 'vitest';
import { asyncScheduler } from 'rxjs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { httpSink } from '../../../lib/sinks/httpSink.js';
import { batchOf } from '../../support/batches.js';
import { waitFor } from '../../support/net.js';

let server: Server | undefined;
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  server?.close();
  server = undefined;
});

/** An endpoint answering with the statuses given, in turn (the last one repeats). */
async function endpoint(statuses: number[]) {
  const got: { body: string; type: string | undefined; accept?: string | undefined }[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString(), type: req.headers['content-type'], accept: req.headers.accept });
      res.statusCode = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
      res.end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, got };
}

describe('httpSink', () => {
  it('POSTs every event body and acks on 2XX', async () => {
    const { url, got } = await endpoint([200]);
    const sink = httpSink({ endpoint: url, contentTypeHeader: 'application/json' });
    const rec = batchOf(['a', '', 'b']);
    sink.next(rec.batch);
    await waitFor(() => rec.acked === 1, 'ack');
    // acceptHeader's default is Flume's text/plain.
    expect(got).toEqual([
      { body: 'a', type: 'application/json', accept: 'text/plain' },
      { body: 'b', type: 'application/json', accept: 'text/plain' },
    ]);
    expect(metricsOf(sink)!.get('EventDrainSuccessCount')).toBe(2);
    sink.complete();
    await sink.closed;
  });

  it('rolls back on 503 by default and honours per-status overrides', async () => {
    const { url } = await endpoint([503, 404, 200]);
    const sink = httpSink({ endpoint: url, rollback: { '4XX': false }, backoff: { '404': false } });
    const first = batchOf(['x']);
    sink.next(first.batch);
    await waitFor(() => first.nacked.length === 1, 'nack');
    expect(first.nacked[0]!.message).toMatch(/answered 503/);
    const second = batchOf(['y']);
    sink.next(second.batch);
    await waitFor(() => second.acked === 1, 'ack despite 404');
    expect(metricsOf(sink)!.get('EventDrainSuccessCount')).toBe(0);
  });

  it('counts EventDrainSuccessCount by incrementMetrics overrides, then by 2XX or defaultIncrementMetrics (Flume incrementMetrics.<status>)', async () => {
    const { url } = await endpoint([404, 409, 202, 200]);
    const sink = httpSink({ endpoint: url, rollback: { '4XX': false }, backoff: { '4XX': false }, incrementMetrics: { '404': true, '200': false } });
    const rec = batchOf(['a', 'b', 'c', 'd']);
    sink.next(rec.batch);
    await waitFor(() => rec.acked === 1, 'ack');
    // 404: overridden to count; 409: not 2XX, defaultIncrementMetrics false; 202: 2XX; 200: overridden not to.
    expect(metricsOf(sink)!.get('EventDrainSuccessCount')).toBe(2);
    sink.complete();
    await sink.closed;

    server!.close();
    const again = await endpoint([409]);
    const counting = httpSink({ endpoint: again.url, rollback: { '409': false }, backoff: { '409': false }, defaultIncrementMetrics: true });
    const one = batchOf(['x']);
    counting.next(one.batch);
    await waitFor(() => one.acked === 1, 'ack');
    expect(metricsOf(counting)!.get('EventDrainSuccessCount')).toBe(1);
    const { options } = httpSink.spec.fromFlume!(new Map([['incrementMetrics.404', 'true'], ['incrementMetrics.2xx', 'false']]));
    expect(options).toEqual({ incrementMetrics: { '404': true, '2XX': false } });
  });

  it('sends acceptHeader and contentTypeHeader as given, text/plain by default', async () => {
    const { url, got } = await endpoint([200]);
    const plain = httpSink({ endpoint: url });
    const custom = httpSink({ endpoint: url, acceptHeader: 'application/x-ndjson', contentTypeHeader: 'application/octet-stream' });
    const a = batchOf(['a']);
    plain.next(a.batch);
    await waitFor(() => a.acked === 1, 'ack');
    const b = batchOf(['b']);
    custom.next(b.batch);
    await waitFor(() => b.acked === 1, 'ack');
    expect(got).toEqual([
      { body: 'a', type: 'text/plain', accept: 'text/plain' },
      { body: 'b', type: 'application/octet-stream', accept: 'application/x-ndjson' },
    ]);
  });

  // Back-off timers run on RxJS's asyncScheduler (setInterval), faked here, and watched through a spy that
  // calls through (it says when the sink has scheduled one); the HTTP exchange stays real.
  const REQUEST_TIMEOUT = 30_000;
  function watchBackoffs(): () => number[] {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const schedule = vi.spyOn(asyncScheduler, 'schedule');
    return () => schedule.mock.calls.map((call) => call[1] ?? 0).filter((delay) => delay !== REQUEST_TIMEOUT);
  }

  it('backs off after a status that asks for it: the ack waits min(n × backoffSleepIncrementMs, maxBackoffSleepMs), a success resets n', async () => {
    const backoffs = watchBackoffs();
    const { url } = await endpoint([503, 503, 503, 200, 503]);
    const sink = httpSink({ endpoint: url, rollback: { '503': false }, backoffSleepIncrementMs: 1000, maxBackoffSleepMs: 1500, requestTimeoutMs: REQUEST_TIMEOUT });
    /** Sends one event; resolves with how long (fake ms) its ack waited after the response. */
    const waited = async (body: string): Promise<number> => {
      const rec = batchOf([body]);
      const before = backoffs().length;
      sink.next(rec.batch);
      await waitFor(() => rec.acked + rec.nacked.length > 0 || backoffs().length > before, `the answer to ${body}`);
      expect(rec.nacked).toEqual([]);
      if (rec.acked === 1) return 0;
      const delay = backoffs().at(-1)!;
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(rec.acked).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(rec.acked).toBe(1);
      return delay;
    };
    expect(await waited('1')).toBe(1000); // 1 × 1000
    expect(await waited('2')).toBe(1500); // min(2 × 1000, 1500)
    expect(await waited('3')).toBe(1500);
    expect(await waited('4')).toBe(0); // 200: no back-off, and n starts again
    expect(await waited('5')).toBe(1000);
  });

  it('defaultBackoff and defaultRollback decide a non-2XX status without an override', async () => {
    const backoffs = watchBackoffs();
    const { url } = await endpoint([500]);
    const settle = async (options: Partial<Parameters<typeof httpSink>[0]>) => {
      const sink = httpSink({ endpoint: url, backoffSleepIncrementMs: 60_000, requestTimeoutMs: REQUEST_TIMEOUT, ...options });
      const rec = batchOf(['x']);
      const before = backoffs().length;
      sink.next(rec.batch);
      // Settled, or backing off (fake intervals do not advance: the batch stays unsettled until the test advances them).
      await waitFor(() => rec.acked + rec.nacked.length > 0 || backoffs().length > before, 'the answer');
      return rec;
    };
    // Both on (the defaults): rolled back.
    const rolled = await settle({});
    expect(rolled.nacked.map((e) => e.message)).toEqual([expect.stringMatching(/answered 500; rolled back/)]);
    // No rollback, default back-off: acked only after the back-off (still waiting here).
    const backingOff = await settle({ defaultRollback: false });
    expect([backingOff.acked, backingOff.nacked.length]).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(60_000);
    await waitFor(() => backingOff.acked === 1, 'ack after the back-off');
    // Neither: acked at once.
    const committed = await settle({ defaultRollback: false, defaultBackoff: false });
    expect([committed.acked, committed.nacked.length]).toEqual([1, 0]);
    // An override wins over the defaults: 5XX rolls back although defaultRollback is false.
    const overridden = await settle({ defaultRollback: false, defaultBackoff: false, rollback: { '5XX': true } });
    expect(overridden.nacked).toHaveLength(1);
  });

  it('nacks when the endpoint is unreachable', async () => {
    const { url } = await endpoint([200]);
    server!.close();
    await new Promise((r) => setTimeout(r, 20));
    const sink = httpSink({ endpoint: url });
    const rec = batchOf(['x']);
    sink.next(rec.batch);
    await waitFor(() => rec.nacked.length === 1, 'nack');
    expect(metricsOf(sink)!.get('ConnectionFailedCount')).toBe(1);
  });

  it('validates options and gathers Flume override keys', () => {
    expect(() => httpSink({ endpoint: 'ftp://x' })).toThrow(ConfigError);
    expect(() => httpSink({ endpoint: 'http://x', rollback: { '6XX': true } })).toThrow(/rollback/);
    const { options } = httpSink.spec.fromFlume!(new Map([['backoff.503', 'true'], ['rollback.4xx', 'false'], ['endpoint', 'http://x']]));
    expect(options).toEqual({ backoff: { '503': true }, rollback: { '4XX': false } });
  });
});
