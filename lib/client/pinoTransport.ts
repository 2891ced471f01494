import { networkInterfaces } from 'node:os';
import type { Transform } from 'node:stream';
import build from 'pino-abstract-transport';
import { asyncScheduler, type Subscription } from 'rxjs';
import { z } from 'zod';
import { Backoff, exponential } from '../core/backoff.js';
import { parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { createRpcClient, rpcClientFields, rpcClientIssues, type RpcClientOptions } from './rpcClient.js';

export const pinoTransportOptions = z
  .strictObject({
    ...rpcClientFields,
    ...nameOption('pino'),
    lingerMs: z.number().int().min(0).default(200).describe('Longest a log line waits for its batch to fill before it is sent (ms).'),
    maxBufferedEvents: z.number().int().min(1).default(10_000).describe('Lines held at most (being sent and waiting); past it lines are dropped and counted.'),
    maxBufferedBytes: z.number().int().min(1).default(16 * 1024 * 1024).describe('Bytes of lines held at most; past it lines are dropped and counted.'),
    whenFull: z
      .enum(['dropNewest', 'dropOldest'])
      .default('dropNewest')
      .describe("With the buffer full: 'dropNewest' drops the arriving line, 'dropOldest' the oldest waiting one (never one being sent)."),
    retryBackoffMs: z.number().int().min(0).default(500).describe('After a failed send, wait this long before the next, doubling per failure.'),
    maxRetryBackoffMs: z.number().int().min(0).default(10_000).describe('Longest wait between sends while the agent is unreachable.'),
    closeTimeoutMs: z.number().int().min(0).default(5000).describe('On close, longest time spent delivering what is buffered; the rest is counted as lost.'),
    reportIntervalMs: z.number().int().min(0).default(10_000).describe('At most one stderr line per interval about dropped lines; 0 never writes one.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers added to every event (e.g. the application name).'),
  })
  .check((ctx) => {
    ctx.issues.push(...rpcClientIssues(ctx.value));
  });

export type PinoTransportOptions = z.input<typeof pinoTransportOptions>;

const SPEC = { name: 'pino', schema: pinoTransportOptions };

/** pino's default level numbers and their log4j equivalents (Level.toInt()). */
const LEVELS: Readonly<Record<number, { label: string; log4j: number }>> = {
  10: { label: 'trace', log4j: 5000 },
  20: { label: 'debug', log4j: 10_000 },
  30: { label: 'info', log4j: 20_000 },
  40: { label: 'warn', log4j: 30_000 },
  50: { label: 'error', log4j: 40_000 },
  60: { label: 'fatal', log4j: 50_000 },
};

/** Flume's Log4jAppender sets the host's address (InetAddress.getLocalHost()); the first external IPv4 here. */
function clientAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

interface Line {
  event: FlumeEvent;
  bytes: number;
}

/**
 * A pino transport (`pino.transport({ target: 'rxflume/pino', options: { hosts: ['collector:41414'] } })`)
 * that ships every log line to a Flume agent's `avro` source or rxflume's `avroSource` through
 * `createRpcClient` (every client option applies: failover, load balancing, TLS, deflate). The body
 * is the JSON line as pino wrote it; the headers are those of Flume's Log4jAppender
 * (`flume.client.log4j.timestamp` from `time`, `flume.client.log4j.log.level` as log4j's number,
 * `flume.client.log4j.logger.name` from `name`, `flume.client.log4j.address`,
 * `flume.client.log4j.message.encoding` UTF8), `level` (pino's label) and `headers`.
 *
 * Lines are sent as one `appendBatch` when `batchSize` are waiting or `lingerMs` after the first,
 * one call at a time. A failed call keeps its lines at the head of the buffer and is tried again
 * after `retryBackoffMs`, doubling up to `maxRetryBackoffMs`.
 *
 * When the agent is down: the buffer holds at most `maxBufferedEvents` lines and `maxBufferedBytes`
 * bytes; past either, lines are dropped (`whenFull`) and counted (`EventDroppedCount`), with one
 * stderr line per `reportIntervalMs` saying how many. Logging never blocks and memory never grows
 * past the bounds. On close (pino's end, process exit via pino's flush) the buffer is delivered
 * for up to `closeTimeoutMs`; what is left is counted in `EventLostOnCloseCount` and reported.
 *
 * Delivery: at-least-once while the buffer holds (a call cut off by a lost connection is sent again),
 * at-most-once past it: the transport drops rather than block the application.
 *
 * Counters (`SINK`, under `name`): `EventReceivedCount` (lines), `EventDrainSuccessCount`,
 * `EventDroppedCount`, `EventLostOnCloseCount`, `BatchCompleteCount`, `SendFailCount`, and the
 * gauges `BufferedEventCount`, `BufferedByteCount`.
 */
export async function pinoTransport(options: PinoTransportOptions): Promise<Transform & HasMetrics> {
  // pino's worker adds its own keys to the options it passes on.
  const { $context: _context, pinoWillSendConfig: _config, ...own } = (options ?? {}) as PinoTransportOptions & { $context?: unknown; pinoWillSendConfig?: unknown };
  const opts = parseOptions(SPEC, own);
  const clientOptions = Object.fromEntries(Object.keys(rpcClientFields).map((k) => [k, opts[k as keyof typeof opts]]));
  const client = createRpcClient({ ...(clientOptions as RpcClientOptions), name: `${opts.name}.client` });
  const counters = new ComponentCounters('SINK', opts.name);
  for (const c of ['EventReceivedCount', 'EventDroppedCount', 'EventLostOnCloseCount', 'SendFailCount', 'BufferedEventCount', 'BufferedByteCount']) counters.set(c, 0);
  const address = clientAddress();
  const retry = new Backoff(exponential(opts.retryBackoffMs, opts.maxRetryBackoffMs));

  const waiting: Line[] = [];
  let sending: Line[] = [];
  let bytes = 0;
  let timer: Subscription | undefined;
  let inFlight: Promise<void> | undefined;
  let retryAt = 0;
  let closing = false;
  let droppedSinceReport = 0;
  let lastReport = -Infinity;

  const gauge = (): void => {
    counters.set('BufferedEventCount', waiting.length + sending.length);
    counters.set('BufferedByteCount', bytes);
  };

  const report = (force = false): void => {
    if (droppedSinceReport === 0 || opts.reportIntervalMs === 0) return;
    const now = asyncScheduler.now();
    if (!force && now - lastReport < opts.reportIntervalMs) return;
    lastReport = now;
    process.stderr.write(
      `rxflume/pino ${opts.name}: ${droppedSinceReport} log line(s) dropped, the buffer is full (${opts.maxBufferedEvents} lines / ${opts.maxBufferedBytes} bytes) while ${opts.hosts.join(', ')} does not take them\n`,
    );
    droppedSinceReport = 0;
  };

  const drop = (n: number): void => {
    counters.inc('EventDroppedCount', n);
    droppedSinceReport += n;
    report();
  };

  const toLine = (line: string): Line => {
    let level: number | undefined;
    let time: unknown;
    let name: unknown;
    try {
      ({ level, time, name } = JSON.parse(line) as { level?: number; time?: unknown; name?: unknown });
    } catch {
      // Not JSON (a custom serializer): shipped as it is, without the log headers.
    }
    const known = typeof level === 'number' ? LEVELS[level] : undefined;
    const headers: Record<string, string> = { ...opts.headers, 'flume.client.log4j.address': address, 'flume.client.log4j.message.encoding': 'UTF8' };
    if (typeof time === 'number') headers['flume.client.log4j.timestamp'] = String(time);
    if (typeof name === 'string') headers['flume.client.log4j.logger.name'] = name;
    if (typeof level === 'number') {
      headers['flume.client.log4j.log.level'] = String(known?.log4j ?? level);
      headers.level = known?.label ?? String(level);
    }
    const body = Buffer.from(line, 'utf8');
    let size = body.length;
    for (const k in headers) size += k.length + headers[k]!.length;
    return { event: { headers, body }, bytes: size };
  };

  const schedule = (delay: number): void => {
    if (timer) return;
    timer = asyncScheduler.schedule(() => {
      timer = undefined;
      void send();
    }, delay);
  };

  /** Sends the head of the buffer unless a call is under way; on failure the lines stay and a retry is scheduled. */
  const send = (): Promise<void> => {
    if (inFlight) return inFlight;
    if (waiting.length === 0) return Promise.resolve();
    const wait = retryAt - asyncScheduler.now();
    if (wait > 0) {
      schedule(wait);
      return Promise.resolve();
    }
    sending = waiting.splice(0, client.batchSize);
    const batch = sending;
    inFlight = client.appendBatch(batch.map((l) => l.event)).then(
      () => {
        retry.reset();
        retryAt = 0;
        for (const l of batch) bytes -= l.bytes;
        counters.inc('EventDrainSuccessCount', batch.length);
        counters.inc('BatchCompleteCount');
      },
      () => {
        counters.inc('SendFailCount');
        waiting.unshift(...batch);
        retryAt = asyncScheduler.now() + retry.next();
      },
    );
    return inFlight.finally(() => {
      inFlight = undefined;
      sending = [];
      gauge();
      if (waiting.length >= client.batchSize || (closing && waiting.length > 0)) void send();
      else if (waiting.length > 0) schedule(Math.max(opts.lingerMs, retryAt - asyncScheduler.now()));
    });
  };

  const push = (text: string): void => {
    counters.inc('EventReceivedCount');
    const line = toLine(text);
    const full = (): boolean => waiting.length + sending.length >= opts.maxBufferedEvents || bytes + line.bytes > opts.maxBufferedBytes;
    if (opts.whenFull === 'dropOldest') {
      let n = 0;
      while (full() && waiting.length > 0) {
        bytes -= waiting.shift()!.bytes;
        n++;
      }
      if (n > 0) drop(n);
    }
    if (full()) {
      drop(1);
      gauge();
      return;
    }
    waiting.push(line);
    bytes += line.bytes;
    gauge();
    if (waiting.length >= client.batchSize) void send();
    else schedule(opts.lingerMs);
  };

  const close = async (): Promise<void> => {
    closing = true;
    timer?.unsubscribe();
    timer = undefined;
    const deadline = asyncScheduler.now() + opts.closeTimeoutMs;
    // Deliver what is buffered, retrying after failures, until the deadline.
    while ((waiting.length > 0 || inFlight) && asyncScheduler.now() < deadline) {
      const wait = Math.min(retryAt - asyncScheduler.now(), deadline - asyncScheduler.now());
      const step = inFlight ?? (wait > 0 ? new Promise<void>((r) => asyncScheduler.schedule(r, wait)) : send());
      await Promise.race([step, new Promise<void>((r) => asyncScheduler.schedule(r, Math.max(0, deadline - asyncScheduler.now())))]);
    }
    const lost = waiting.length + sending.length;
    if (lost > 0) {
      counters.inc('EventLostOnCloseCount', lost);
      if (opts.reportIntervalMs > 0) process.stderr.write(`rxflume/pino ${opts.name}: ${lost} log line(s) not delivered within closeTimeoutMs (${opts.closeTimeoutMs} ms) on close\n`);
    }
    report(true);
    (timer as Subscription | undefined)?.unsubscribe(); // a retry scheduled by a send during the loop
    timer = undefined;
    waiting.length = 0;
    bytes = 0;
    gauge();
    counters.stopTime = asyncScheduler.now();
    // Bounded: a call still under way ends by its request timeout; nothing waits for it here.
    void client.close().catch(() => undefined);
  };

  counters.startTime = asyncScheduler.now();
  const stream = build(
    async (source) => {
      for await (const { line } of source as AsyncIterable<{ line: string }>) push(line);
    },
    // Each line parsed once, in toLine; a line that is not JSON is shipped too.
    { parseLine: (line: string) => ({ line }), metadata: false, close: () => close() },
  );
  return withMetrics(stream, counters);
}

export default pinoTransport;
