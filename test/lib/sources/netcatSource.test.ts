import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { netcatSource, type NetcatSourceOptions } from '../../../lib/sources/netcatSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { retainedBytes } from '../../support/hostile.js';
import { client, listening, recordingSink, sleep, waitFor } from '../../support/net.js';

let subscription: Subscription | undefined;

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

function start(options: Partial<NetcatSourceOptions> = {}, channel = memoryChannel({ capacity: 1000, transactionCapacity: 100 })) {
  const l = listening();
  const source = netcatSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscription = source.pipe(channel).subscribe(sink);
  return { source, sink, port: l.port, counters: metricsOf(source)! };
}

describe('netcatSource', () => {
  it('makes one event per line and answers OK per line, in order', async () => {
    const { sink, port, counters } = start();
    const c = await client(await port);
    c.socket.write('hello\nwor');
    c.socket.write('ld\r\n\n');
    await waitFor(() => c.received() === 'OK\nOK\nOK\n', 'three OKs');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['hello', 'world\r', '']);
    expect(sink.events[0]!.headers).toEqual({});
    expect(counters.get('EventReceivedCount')).toBe(3);
    expect(counters.get('EventAcceptedCount')).toBe(3);
    expect(counters.get('OpenConnectionCount')).toBe(1);
    c.socket.destroy();
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'connection closed');
  });

  it('keeps the bytes of UTF-8 lines as they came (BOM, NUL, multi-byte)', async () => {
    const { sink, port } = start();
    const c = await client(await port);
    const line = Buffer.from('\ufeffé€😀\u0000x', 'utf8');
    c.socket.write(Buffer.concat([line, Buffer.from('\n')]));
    await waitFor(() => sink.events.length === 1, 'one event');
    expect(sink.events[0]!.body.equals(line)).toBe(true);
    c.socket.destroy();
  });

  it('answers FAILED and closes the connection at bytes that are not UTF-8 (Flume closes without an answer)', async () => {
    for (const bad of [[0xff], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const { sink, port, counters } = start();
      const c = await client(await port);
      // The lines before them, even in the same write, are stored and answered (Flume may lose those).
      c.socket.write(Buffer.concat([Buffer.from('ok\nab'), Buffer.from(bad), Buffer.from('cd\nnever\n')]));
      await c.closed;
      expect(c.received(), bad.join()).toBe('OK\nFAILED: Event is not valid UTF-8\n');
      expect(sink.events.map((e) => e.body.toString())).toEqual(['ok']);
      expect(counters.get('EventReadFail')).toBe(1);
      subscription!.unsubscribe();
    }
  });

  it('answers nothing for stored lines with ackEveryEvent false', async () => {
    const { sink, port } = start({ ackEveryEvent: false });
    const c = await client(await port);
    c.socket.write('a\nb\n');
    await waitFor(() => sink.events.length === 2, 'two events');
    await sleep(50);
    expect(c.received()).toBe('');
    c.socket.destroy();
  });

  it('counts maxLineLength in UTF-16 units, newline included, as Flume', async () => {
    const { sink, port, counters } = start({ maxLineLength: 10 });
    const c = await client(await port);
    // 10 chars each with the newline: 10, 19 and 14 bytes.
    c.socket.write('123456789\n' + 'é'.repeat(9) + '\n' + '😀'.repeat(4) + 'a\n');
    // A character split between writes is counted once.
    c.socket.write(Buffer.from('12345678é\n').subarray(0, 9));
    await sleep(20);
    c.socket.write(Buffer.from('12345678é\n').subarray(9));
    await waitFor(() => c.received() === 'OK\nOK\nOK\nOK\n', 'four OKs');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['123456789', 'é'.repeat(9), '😀'.repeat(4) + 'a', '12345678é']);
    // 10 chars before the newline: one too many, and an emoji straddling the limit is too.
    for (const line of ['1234567890', '12345678😀']) {
      const d = await client(await port);
      d.socket.write(`${line}\nnot read\n`);
      await d.closed;
      expect(d.received()).toBe('FAILED: Event exceeds the maximum length (10 chars, including newline)\n');
    }
    expect(counters.get('EventReadFail')).toBe(2);
    expect(sink.events).toHaveLength(4);
    c.socket.destroy();
  });

  it('answers an over-long line FAILED and hangs up, discarding the rest, as Flume (also with ackEveryEvent false)', async () => {
    for (const ackEveryEvent of [true, false]) {
      const { sink, port, counters } = start({ maxLineLength: 10, ackEveryEvent });
      const c = await client(await port);
      let serverEnded = false;
      c.socket.on('end', () => (serverEnded = true));
      c.socket.write('first\n');
      c.socket.write('x'.repeat(5000)); // no newline yet: rejected as soon as 10 chars are there
      const failed = 'FAILED: Event exceeds the maximum length (10 chars, including newline)\n';
      await waitFor(() => serverEnded, 'the server hanging up');
      expect(c.received()).toBe(`${ackEveryEvent ? 'OK\n' : ''}${failed}`);
      // What the client still sends is read and thrown away; the connection closes when it is done.
      c.socket.write('y'.repeat(100_000) + '\nok\n');
      c.socket.end();
      await c.closed;
      expect(sink.events.map((e) => e.body.toString())).toEqual(['first']);
      expect(counters.get('EventReadFail')).toBe(1);
      await waitFor(() => counters.get('OpenConnectionCount') === 0, 'connection gone');
      subscription!.unsubscribe();
    }
  });

  it('answers a half-closed client before closing', async () => {
    const { sink, port } = start();
    const c = await client(await port);
    c.socket.end('one\ntwo\nthree-without-newline');
    await c.closed;
    expect(c.received()).toBe('OK\nOK\n');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['one', 'two']);
  });

  it('answers FAILED when the channel is full, and the client retry succeeds once it drains', async () => {
    const channel = memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 50 });
    const { sink, port, counters } = start({}, channel);
    sink.hold = true;
    const c = await client(await port);
    c.socket.write('a\nb\n');
    await waitFor(() => c.received() === 'OK\nOK\n', 'stored');
    c.socket.write('c\n');
    await waitFor(() => c.received().length > 6, 'an answer for c');
    expect(c.received()).toMatch(/^OK\nOK\nFAILED: .*no space for 1 events.*\n$/);
    expect(counters.get('ChannelWriteFail')).toBe(1);
    sink.release();
    await waitFor(() => sink.events.length === 2, 'drained');
    c.socket.write('c\n');
    await waitFor(() => c.received().endsWith('\nOK\n') && sink.events.length === 3, 'retry stored');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', 'b', 'c']);
    c.socket.destroy();
  });

  it('stops reading a connection while its batch is unsettled', async () => {
    const channel = memoryChannel({ capacity: 1, transactionCapacity: 1, keepAliveMs: 60_000 });
    const { sink, port, counters } = start({ batchSize: 1 }, channel);
    sink.hold = true;
    const c = await client(await port);
    c.socket.write('a\n');
    await waitFor(() => c.received() === 'OK\n', 'a stored');
    c.socket.write('b\n'); // waits for space in the channel
    await waitFor(() => counters.get('EventReceivedCount') === 2, 'b put');
    c.socket.write('c\n');
    await sleep(100);
    expect(counters.get('EventReceivedCount')).toBe(2);
    expect(c.received()).toBe('OK\n');
    sink.release();
    sink.hold = false;
    await waitFor(() => c.received() === 'OK\nOK\nOK\n', 'b and c stored');
    await waitFor(() => sink.events.length === 3, 'all delivered');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', 'b', 'c']);
    c.socket.destroy();
  });

  it('splits no more than batchSize lines ahead per connection while its batch is unsettled', async () => {
    // No channel: the sink holds every batch, so none settles, and each connection has read 64 kB of empty lines.
    const l = listening();
    const source = netcatSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const sink = recordingSink();
    sink.hold = true;
    subscription = source.subscribe(sink);
    const p = await l.port;
    const before = retainedBytes();
    const clients = await Promise.all(Array.from({ length: 20 }, () => client(p)));
    for (const c of clients) c.socket.write(Buffer.alloc(64 * 1024, 10));
    await waitFor(() => sink.held.length === 20, 'a batch per connection');
    await sleep(300);
    // 20 × 65,536 queued events would be ~200 MB; a batch of 100 and the unsplit chunk per connection stay small.
    expect(retainedBytes() - before).toBeLessThan(30 * 1024 * 1024);
    expect(sink.held.every((b) => b.events.length === 100)).toBe(true);
    sink.release();
    await waitFor(() => clients.every((c) => c.received().length >= 2 * 200), 'later batches answered');
    for (const c of clients) c.socket.destroy();
  });

  it('stops reading a client that does not read its answers, so they do not pile up in memory', async () => {
    // Stored events are dropped at once: only what the source holds is measured.
    const l = listening();
    const source = netcatSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const counters = metricsOf(source)!;
    subscription = source.subscribe({ next: (b) => b.ack() });
    const c = await client(await l.port);
    c.socket.pause();
    const before = retainedBytes();
    // Empty lines, each answered OK\n: 3 bytes of answer per byte sent. Bounded by count and time.
    const chunk = Buffer.alloc(64 * 1024, 10);
    const until = Date.now() + 5000;
    for (let i = 0; i < 320 && Date.now() < until; i++) {
      if (!c.socket.write(chunk)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), sleep(until - Date.now())]);
    }
    await sleep(200);
    // Without the pause: ~60 MB of answers queued in the source's process (and the lines read for them).
    expect(retainedBytes() - before).toBeLessThan(25 * 1024 * 1024);
    expect(counters.get('EventAcceptedCount')).toBeLessThan(320 * 64 * 1024);
    c.socket.destroy();
  });

  it('answers a fast sender of tiny lines one batch at a time without running out of stack (batchSize 1)', async () => {
    const l = listening();
    const source = netcatSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, batchSize: 1 });
    const errors: unknown[] = [];
    let taken = 0;
    subscription = source.pipe(memoryChannel({ capacity: 100_000, transactionCapacity: 100 })).subscribe({ next: (b) => ((taken += b.events.length), b.ack()), error: (e) => errors.push(e) });
    const c = await client(await l.port);
    c.socket.write(Buffer.alloc(4 * 65536, 10));
    await waitFor(() => taken === 4 * 65536 || errors.length > 0, 'every line');
    expect(errors).toEqual([]);
    await waitFor(() => c.received().length === 3 * 4 * 65536, 'every OK');
    c.socket.destroy();
  });

  it('refuses connections past maxConnections, and serves again when one closes', async () => {
    const { sink, port, counters } = start({ maxConnections: 2 });
    const p = await port;
    const open = await Promise.all([client(p), client(p)]);
    await waitFor(() => counters.get('OpenConnectionCount') === 2, 'two connections');
    const third = await client(p);
    await third.closed;
    expect(third.received()).toBe('');
    open[0]!.socket.destroy();
    await waitFor(() => counters.get('OpenConnectionCount') === 1, 'one closed');
    const c = await client(p);
    c.socket.write('served\n');
    await waitFor(() => c.received() === 'OK\n', 'served');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['served']);
    for (const s of [c, open[1]!]) s.socket.destroy();
  });

  it('survives 1,000 connections opened and dropped, and keeps serving', async () => {
    const { sink, port, counters } = start();
    const p = await port;
    await Promise.all(
      Array.from(
        { length: 1000 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const s = connect(p, '127.0.0.1');
            s.on('error', () => resolve());
            s.on('close', () => resolve());
            s.on('connect', () => {
              if (i % 2) s.write('partial line without newline');
              s.destroy();
            });
          }),
      ),
    );
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'all closed');
    const c = await client(p);
    c.socket.write('still here\n');
    await waitFor(() => c.received() === 'OK\n', 'served');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['still here']);
    c.socket.destroy();
  });

  it('closes the server and every connection on unsubscribe', async () => {
    const { port } = start();
    const p = await port;
    const c = await client(p);
    subscription!.unsubscribe();
    await c.closed;
    await expect(client(p)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('fails with FLUME_SOURCE_FAILED when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const error = await new Promise<unknown>((resolve) => {
        subscription = netcatSource({ bind: '127.0.0.1', port }).subscribe({ error: resolve });
      });
      expect(error).toBeInstanceOf(FlumeError);
      expect((error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    } finally {
      blocker.close();
    }
  });

  it('validates its options', () => {
    expect(() => netcatSource({} as NetcatSourceOptions)).toThrow(ConfigError);
    expect(() => netcatSource({ bind: '127.0.0.1', port: 70000 })).toThrow(/netcatSource.port/);
    expect(() => netcatSource({ bind: '127.0.0.1', port: 1, maxLineLength: 1 })).toThrow(/maxLineLength/);
    expect(() => netcatSource({ bind: '127.0.0.1', port: 1, maxConnections: 0 })).toThrow(/maxConnections/);
    expect(netcatSource.spec.flumeTypes).toContain('netcat');
  });
});
