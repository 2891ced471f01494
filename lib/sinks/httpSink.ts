import type { IncomingMessage } from 'node:http';
import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions, type FlumeKeyMapping } from '../core/config.js';
import { ComponentError, describeError } from '../core/errors.js';
import { componentLogger, loggerOption, RateLimitedLog } from '../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { deferred } from '../core/deferred.js';
import type { Sink } from '../core/sink.js';
import { nameOption } from '../core/options.js';
import { Backoff, backoffOf, backoffOptions } from '../core/backoff.js';

const STATUS_KEY = /^([1-5]\d\d|[1-5]XX)$/;
const overrides = z
  .record(z.string().regex(STATUS_KEY), z.boolean())
  .default({})
  .describe("Per status code ('503') or class ('5XX') overrides; an exact code wins over its class.");

export const httpSinkOptions = z.strictObject({
  ...nameOption('httpSink'),
  ...loggerOption,
  endpoint: z.url({ protocol: /^https?$/ }).describe('URL every event is POSTed to.'),
  connectTimeoutMs: z.number().int().min(1).default(5000).describe('Longest wait for the connection.'),
  requestTimeoutMs: z.number().int().min(1).default(5000).describe('Longest wait for the response.'),
  contentTypeHeader: z.string().default('text/plain').describe('Content-Type of each request.'),
  acceptHeader: z.string().default('text/plain').describe('Accept header of each request.'),
  defaultBackoff: z.boolean().default(true).describe('Back off after a non-2XX status without an override.'),
  defaultRollback: z.boolean().default(true).describe('Roll back (nack, redeliver) after a non-2XX status without an override.'),
  defaultIncrementMetrics: z.boolean().default(false).describe('Count a non-2XX status without an override in EventDrainSuccessCount.'),
  backoff: overrides,
  rollback: overrides,
  incrementMetrics: overrides,
  ...backoffOptions('a response that asks for back-off (a commit then waits before acking, as Flume\'s SinkRunner)'),
});

export type HttpSinkOptions = z.input<typeof httpSinkOptions>;

/** Flume's `backoff.503 = true` style keys, gathered into the override records. */
function fromFlume(props: ReadonlyMap<string, string>): { options: Record<string, unknown>; consumed: string[] } {
  const options: Record<string, Record<string, boolean>> = {};
  const consumed: string[] = [];
  for (const [key, value] of props) {
    const m = /^(backoff|rollback|incrementMetrics)\.(.+)$/.exec(key);
    if (!m) continue;
    (options[m[1]!] ??= {})[m[2]!.toUpperCase()] = value.trim().toLowerCase() === 'true';
    consumed.push(key);
  }
  return { options, consumed };
}

const bool = (option: string): FlumeKeyMapping => ({ option, convert: (v) => v.trim().toLowerCase() === 'true' });

export const httpSinkSpec = defineComponent({
  name: 'httpSink',
  kind: 'sink',
  summary: 'POSTs each event body to an HTTP endpoint; the status decides commit, rollback and back-off (Flume http sink).',
  flumeTypes: ['http', 'org.apache.flume.sink.http.HttpSink'],
  schema: httpSinkOptions,
  flumeKeys: {
    connectTimeout: 'connectTimeoutMs',
    requestTimeout: 'requestTimeoutMs',
    defaultBackoff: bool('defaultBackoff'),
    defaultRollback: bool('defaultRollback'),
    defaultIncrementMetrics: bool('defaultIncrementMetrics'),
  },
  fromFlume,
});

/**
 * Flume's HTTP sink: POSTs each event's body (one request per event, in order; empty bodies are
 * skipped as in Flume) to `endpoint` with `contentTypeHeader` and `acceptHeader`. The response status
 * decides, looked up as the exact code (`503`), then its class (`5XX`), then the default:
 * - `rollback`: the batch is nacked and the channel redelivers it;
 * - `backoff` (without rollback): the batch is acked after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`;
 * - `incrementMetrics`: the event counts in `EventDrainSuccessCount`.
 * Unlike Flume, whose defaults roll back even a 200 unless told otherwise, a 2XX commits without
 * back-off and counts by default (overrides still apply). A connection failure or timeout nacks the
 * batch (`ConnectionFailedCount`).
 *
 * Delivery: at-least-once. Events of a batch sent before the one that caused a rollback are sent
 * again on redelivery, so the endpoint must tolerate duplicates.
 *
 * @example
 * pipe(httpSource({ port: 8080 }), memoryChannel(), httpSink({ endpoint: 'http://collector:8080/ingest', rollback: { '4XX': false } }));
 */
export const httpSink = component(httpSinkSpec, function httpSink(options: HttpSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(httpSinkSpec, options);
  const metrics = new ComponentCounters('SINK', opts.name);
  const url = new URL(opts.endpoint);
  // Looked up, not imported (an ES import of node:http(s) loads undici through its lazy exports: start time).
  const send = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http').request;
  const backoffs = new Backoff(backoffOf(opts));
  let pending = 0;
  let finished = false;
  const { promise: closed, resolve: resolveClosed } = deferred();
  const idle = (): void => {
    if (finished && pending === 0) resolveClosed();
  };

  const decide = (table: Record<string, boolean>, status: number, fallback: boolean): boolean => {
    const code = String(status);
    return table[code] ?? table[`${code[0]}XX`] ?? fallback;
  };

  const post = (body: Buffer): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = send(url, {
        method: 'POST',
        headers: { 'content-type': opts.contentTypeHeader, accept: opts.acceptHeader, 'content-length': body.length },
        timeout: opts.connectTimeoutMs,
      });
      const timer = asyncScheduler.schedule(() => req.destroy(new Error(`no response within ${opts.requestTimeoutMs} ms`)), opts.requestTimeoutMs);
      req.on('timeout', () => req.destroy(new Error(`no connection within ${opts.connectTimeoutMs} ms`)));
      req.on('error', (e) => {
        timer.unsubscribe();
        reject(e);
      });
      req.on('response', (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => {
          timer.unsubscribe();
          resolve(res.statusCode ?? 0);
        });
        res.on('error', reject);
      });
      req.end(body);
    });

  const write = async (batch: Batch): Promise<void> => {
    let backoff = false;
    for (const event of batch.events) {
      if (event.body.length === 0) continue;
      metrics.inc('EventDrainAttemptCount');
      let status: number;
      try {
        status = await post(event.body);
      } catch (error) {
        metrics.inc('ConnectionFailedCount');
        metrics.inc('EventWriteFail');
        throw new ComponentError('FLUME_SINK_FAILED', `${opts.name}: POST ${opts.endpoint} failed: ${(error as Error).message}`, {
          component: opts.name,
          retriable: true,
          cause: error,
        });
      }
      const ok = status >= 200 && status < 300;
      if (decide(opts.incrementMetrics, status, ok || opts.defaultIncrementMetrics)) metrics.inc('EventDrainSuccessCount');
      if (decide(opts.rollback, status, !ok && opts.defaultRollback)) {
        metrics.inc('EventWriteFail');
        throw new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${opts.endpoint} answered ${status}; rolled back`, { component: opts.name, retriable: true });
      }
      if (decide(opts.backoff, status, !ok && opts.defaultBackoff)) backoff = true;
    }
    if (backoff) {
      const delay = backoffs.next();
      await new Promise<void>((r) => asyncScheduler.schedule(() => r(), delay));
    } else backoffs.reset();
  };

  // Counters alone do not say why nothing arrives: each kind of failure is logged, rate-limited.
  const failures = new RateLimitedLog(componentLogger(opts.name, opts.logger));
  let failing = false;

  const sink: Sink = {
    next(batch) {
      const n = batch.events.length;
      if (n === 0) {
        metrics.inc('BatchEmptyCount');
        batch.ack();
        return;
      }
      metrics.inc('BatchCompleteCount');
      pending++;
      write(batch).then(
        () => {
          if (failing) {
            failing = false;
            failures.flush();
          }
          batch.ack();
        },
        (error: unknown) => {
          failing = true;
          failures.write('warn', String((error as { cause?: { code?: string } }).cause?.code ?? 'status'), `${describeError(error)}; ${n} events go back to the channel, which offers them again after a back-off`);
          batch.nack(error);
        },
      ).finally(() => {
        pending--;
        idle();
      });
    },
    error() {
      finished = true;
      idle();
    },
    complete() {
      finished = true;
      idle();
    },
    closed,
  };
  return withMetrics(sink, metrics);
});
