import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { httpSink } from '../../../lib/sinks/httpSink.js';
import { batchOf } from '../../support/batches.js';
import { waitFor } from '../../support/net.js';

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** An endpoint answering with the statuses given, in turn (the last one repeats). */
async function endpoint(statuses: number[]) {
  const got: { body: string; type: string | undefined }[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString(), type: req.headers['content-type'] });
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
    expect(got).toEqual([
      { body: 'a', type: 'application/json' },
      { body: 'b', type: 'application/json' },
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
