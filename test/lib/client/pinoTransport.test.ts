import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { pino } from 'pino';
import type { Subscription } from 'rxjs';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pinoTransport, type PinoTransportOptions } from '../../../lib/client/pinoTransport.js';
import { avroSource } from '../../../lib/sources/avroSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { freePort } from '../../support/flume.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../../support/net.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(port = 0): Promise<{ sink: RecordingSink; port: number; counters: () => Record<string, number> }> {
  const l = listening();
  const source = avroSource({ bind: '127.0.0.1', port, onListening: l.onListening });
  const sink = recordingSink();
  const subscription: Subscription = source.pipe(memoryChannel({ capacity: 100_000, transactionCapacity: 1000 })).subscribe(sink);
  cleanup.push(() => subscription.unsubscribe());
  return { sink, port: await l.port, counters: () => metricsOf(source)!.snapshot() };
}

async function transport(options: PinoTransportOptions) {
  const stream = await pinoTransport({ connectTimeoutMs: 2000, requestTimeoutMs: 2000, reconnectBackoffMs: 20, maxReconnectBackoffMs: 100, retryBackoffMs: 20, maxRetryBackoffMs: 100, ...options });
  cleanup.push(() => {
    if (!stream.destroyed) stream.destroy();
  });
  return { stream, counters: () => metricsOf(stream)!.snapshot() };
}

async function end(stream: NodeJS.WritableStream & { destroyed: boolean }): Promise<void> {
  const closed = once(stream as unknown as NodeJS.EventEmitter, 'close');
  stream.end();
  await closed;
}

describe('pinoTransport', () => {
  it('ships each log line as an event (body the JSON line, Log4jAppender headers), batchSize lines per call, the rest after lingerMs', async () => {
    const s = await serve();
    const t = await transport({ hosts: [`127.0.0.1:${s.port}`], batchSize: 5, lingerMs: 100, headers: { app: 'shop' } });
    const lines: string[] = [];
    t.stream.on('data', () => undefined);
    const log = pino({ name: 'checkout', base: undefined }, t.stream);
    const tee = pino({ name: 'checkout', base: undefined }, { write: (l: string) => lines.push(l.trimEnd()) });
    for (let i = 0; i < 12; i++) {
      (i % 2 ? log.warn : log.info).call(log, { i }, `line ${i}`);
      (i % 2 ? tee.warn : tee.info).call(tee, { i }, `line ${i}`);
    }
    await waitFor(() => s.sink.events.length === 12, '12 events');
    expect(s.counters().AppendBatchReceivedCount).toBe(3); // 5, 5, then 2 after the linger
    const got = s.sink.events.map((e) => JSON.parse(e.body.toString()) as { i: number; msg: string; time: number });
    expect(got.map((o) => o.msg)).toEqual(Array.from({ length: 12 }, (_, i) => `line ${i}`));
    const first = s.sink.events[0]!;
    const second = s.sink.events[1]!;
    expect(first.body.toString()).toBe(first.body.toString().trim());
    expect(first.headers).toMatchObject({
      app: 'shop',
      level: 'info',
      'flume.client.log4j.log.level': '20000',
      'flume.client.log4j.logger.name': 'checkout',
      'flume.client.log4j.timestamp': String(got[0]!.time),
      'flume.client.log4j.message.encoding': 'UTF8',
    });
    expect(first.headers['flume.client.log4j.address']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(second.headers).toMatchObject({ level: 'warn', 'flume.client.log4j.log.level': '30000' });
    // Bodies are the lines pino wrote, byte for byte (apart from time, which differs between the two loggers).
    const strip = (l: string) => l.replace(/"time":\d+/, '');
    expect(s.sink.events.map((e) => strip(e.body.toString()))).toEqual(lines.map(strip));
    await waitFor(() => t.counters().EventDrainSuccessCount === 12, 'the answers'); // the source has the events before the client has the OK
    expect(t.counters()).toMatchObject({ EventReceivedCount: 12, EventDrainSuccessCount: 12, BatchCompleteCount: 3, EventDroppedCount: 0 });
  });

  it('with the agent down, holds at most maxBufferedEvents lines, drops and counts the rest without blocking; delivers the held ones when it is back', async () => {
    const port = await freePort();
    const t = await transport({ hosts: [`127.0.0.1:${port}`], batchSize: 10, lingerMs: 10, maxBufferedEvents: 50, reportIntervalMs: 0 });
    for (let i = 0; i < 5000; i++) t.stream.write(`{"level":30,"time":1,"msg":"m${i}"}\n`);
    await waitFor(() => t.counters().EventReceivedCount === 5000, 'every line read');
    expect(t.counters()).toMatchObject({ EventDroppedCount: 4950, BufferedEventCount: 50 });
    await waitFor(() => t.counters().SendFailCount >= 2, 'failed sends');

    const s = await serve(port);
    await waitFor(() => s.sink.events.length === 50, 'the 50 held lines');
    expect(s.sink.events.map((e) => JSON.parse(e.body.toString()).msg)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    t.stream.write('{"level":30,"time":2,"msg":"after"}\n');
    await waitFor(() => s.sink.events.length === 51 && t.counters().EventDrainSuccessCount === 51, 'a new line, answered');
    expect(t.counters()).toMatchObject({ EventDrainSuccessCount: 51, BufferedEventCount: 0, BufferedByteCount: 0 });
  });

  it('bounds the bytes held, and dropOldest keeps the newest lines', async () => {
    const port = await freePort();
    const t = await transport({ hosts: [`127.0.0.1:${port}`], batchSize: 1000, lingerMs: 60_000, maxBufferedBytes: 64 * 1024, whenFull: 'dropOldest', reportIntervalMs: 0 });
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < 2000; i++) t.stream.write(`{"level":30,"time":1,"msg":"m${i}","pad":"${pad}"}\n`);
    await waitFor(() => t.counters().EventReceivedCount === 2000, 'every line read');
    const c = t.counters();
    expect(c.BufferedByteCount).toBeLessThanOrEqual(64 * 1024);
    expect(c.BufferedEventCount).toBeGreaterThan(30);
    expect(c.EventDroppedCount + c.BufferedEventCount).toBe(2000);
    const s = await serve(port);
    await end(t.stream);
    expect(s.sink.events.at(-1)!.body.toString()).toContain('"msg":"m1999"');
    expect(s.sink.events.length).toBe(c.BufferedEventCount);
  });

  it('flushes what is buffered on close, and gives up after closeTimeoutMs when the agent is down', async () => {
    const s = await serve();
    const t = await transport({ hosts: [`127.0.0.1:${s.port}`], batchSize: 1000, lingerMs: 60_000 });
    for (let i = 0; i < 7; i++) t.stream.write(`{"level":50,"time":1,"msg":"c${i}"}\n`);
    await end(t.stream);
    expect(s.sink.events.map((e) => JSON.parse(e.body.toString()).msg)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(s.sink.events[0]!.headers.level).toBe('error');

    const down = await transport({ hosts: [`127.0.0.1:${await freePort()}`], lingerMs: 10, closeTimeoutMs: 300, reportIntervalMs: 0 });
    for (let i = 0; i < 3; i++) down.stream.write(`{"level":30,"time":1,"msg":"d${i}"}\n`);
    await end(down.stream);
    expect(down.counters()).toMatchObject({ EventLostOnCloseCount: 3, BufferedEventCount: 0 });
  });

  it("takes the keys pino's worker adds to the options ($context, pinoWillSendConfig)", async () => {
    const s = await serve();
    const options = { hosts: [`127.0.0.1:${s.port}`], lingerMs: 10, $context: { threadStreamVersion: '3.2.0' }, pinoWillSendConfig: true };
    const t = await transport(options as PinoTransportOptions);
    t.stream.write('{"level":30,"time":1,"msg":"from the worker"}\n');
    await waitFor(() => s.sink.events.length === 1, 'the line');
  });

  it('refuses bad options with their names', async () => {
    await expect(pinoTransport({ hosts: [] })).rejects.toThrow(/pino\.hosts/);
    await expect(pinoTransport({ hosts: ['h:1'], maxBufferedEvents: 0 })).rejects.toThrow(/pino\.maxBufferedEvents.*0/);
  });
});
