import { afterEach, describe, expect, it } from 'vitest';
import { reverse } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import type { Subscription } from 'rxjs';
import { ConfigError } from '../../../../lib/core/errors.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { multiportSyslogTcpSource } from '../../../../lib/sources/syslog/multiportSyslogTcpSource.js';
import { syslogTcpSource, type SyslogTcpSourceOptions } from '../../../../lib/sources/syslog/syslogTcpSource.js';
import { syslogUdpSource } from '../../../../lib/sources/syslog/syslogUdpSource.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';
import { retainedBytes } from '../../../support/hostile.js';
import { client, listening, recordingSink, sleep, waitFor } from '../../../support/net.js';

let subscription: Subscription | undefined;

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

function startTcp(options: Partial<SyslogTcpSourceOptions> = {}, channel = memoryChannel({ capacity: 1000 })) {
  const l = listening();
  const source = syslogTcpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscription = source.pipe(channel).subscribe(sink);
  return { sink, port: l.port, counters: metricsOf(source)! };
}

/** The name reverse DNS gives `ip`, or `ip` itself when it gives none. */
const hostnameOf = (ip: string): Promise<string> => reverse(ip).then((names) => names[0] ?? ip, () => ip);

describe('syslogTcpSource', () => {
  it('parses newline and octet-counted messages, flags invalid ones, adds client headers', async () => {
    const { sink, port, counters } = startTcp({ clientIPHeader: 'ip', clientHostnameHeader: 'client' });
    const c = await client(await port);
    const octet = '<13>1 - host multi\nline';
    c.socket.write(`<34>Oct 11 22:14:15 mymachine su: hi\n${Buffer.byteLength(octet)} ${octet}garbage line\n`);
    await waitFor(() => sink.events.length === 3, 'three events');
    const [a, b, g] = sink.events;
    expect(a!.headers).toMatchObject({ Facility: '4', Severity: '2', host: 'mymachine', ip: '127.0.0.1' });
    // What reverse DNS says of 127.0.0.1 here (as Flume's getHostName), the address when it says nothing.
    expect(a!.headers['client']).toBe(await hostnameOf('127.0.0.1'));
    expect(a!.body.toString()).toBe('su: hi');
    expect(b!.body.toString()).toBe('multi\nline');
    expect(g!.headers).toMatchObject({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
    expect(g!.body.toString()).toBe('garbage line');
    expect(counters.get('EventReadFail')).toBe(1);
    expect(counters.get('EventAcceptedCount')).toBe(3);
    c.socket.destroy();
  });

  it('cuts messages over eventSize and flags them Incomplete', async () => {
    const { sink, port } = startTcp({ eventSize: 20 });
    const c = await client(await port);
    c.socket.write(`<13>1 - h ${'x'.repeat(30)}\n`);
    // 40 bytes: two pieces of 20; the second has no priority, so Flume calls it Invalid.
    await waitFor(() => sink.events.length === 2, 'pieces');
    expect(sink.events[0]!.headers['flume.syslog.status']).toBe('Incomplete');
    expect(sink.events[0]!.body.toString()).toBe('x'.repeat(10));
    expect(sink.events[1]!.headers['flume.syslog.status']).toBe('Invalid');
    expect(sink.events[1]!.body.toString()).toBe('x'.repeat(20));
    c.socket.destroy();
  });

  it('pushes back on a full channel and re-sends: nothing is lost', async () => {
    const channel = memoryChannel({ capacity: 1, transactionCapacity: 1, keepAliveMs: 20 });
    const { sink, port, counters } = startTcp({ batchSize: 1, backoffSleepIncrementMs: 20, maxBackoffSleepMs: 50 }, channel);
    sink.hold = true;
    const c = await client(await port);
    c.socket.write('<13>1 - h one\n<13>1 - h two\n<13>1 - h three\n');
    await waitFor(() => counters.get('ChannelWriteFail') >= 2, 'refusals');
    expect(counters.get('EventAcceptedCount')).toBe(1);
    sink.release();
    await waitFor(() => sink.events.length === 3, 'all delivered');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['one', 'two', 'three']);
    c.socket.destroy();
  });

  it('keeps serving after many connections dropped mid-message, and closes everything on unsubscribe', async () => {
    const { sink, port, counters } = startTcp();
    const p = await port;
    for (let i = 0; i < 50; i++) {
      const c = await client(p);
      c.socket.write(i % 2 ? '\x00\xff<<<' : '123');
      c.socket.destroy();
    }
    const c = await client(p);
    c.socket.write('<13>1 - h ok\n');
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events[0]!.body.toString()).toBe('ok');
    await waitFor(() => counters.get('OpenConnectionCount') === 1, 'one open');
    subscription!.unsubscribe();
    await c.closed;
    await expect(client(p)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('frames no more than batchSize messages ahead per connection while its batch is unsettled', async () => {
    // No channel: the sink holds every batch, so none settles, and each connection has read 64 kB of tiny messages.
    const l = listening();
    const source = syslogTcpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const sink = recordingSink();
    sink.hold = true;
    subscription = source.subscribe(sink);
    const p = await l.port;
    const before = retainedBytes();
    const clients = await Promise.all(Array.from({ length: 20 }, () => client(p)));
    for (const c of clients) c.socket.write(Buffer.from('x\n'.repeat(32 * 1024)));
    await waitFor(() => sink.held.length === 20, 'a batch per connection');
    await sleep(300);
    // 20 × 32,768 parsed events would be ~300 MB; a batch of 100 and the unframed chunk per connection stay small.
    expect(retainedBytes() - before).toBeLessThan(30 * 1024 * 1024);
    expect(sink.held.every((b) => b.events.length === 100)).toBe(true);
    sink.release();
    await waitFor(() => metricsOf(source)!.get('EventAcceptedCount') >= 20 * 200, 'later batches taken');
    subscription!.unsubscribe();
    for (const c of clients) c.socket.destroy();
  });

  it('delivers every message a client sent before it closed, even those read while a batch was unsettled', async () => {
    const l = listening();
    const source = syslogTcpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, batchSize: 10 });
    const sink = recordingSink();
    sink.hold = true;
    subscription = source.subscribe(sink);
    const c = await client(await l.port);
    c.socket.end(Array.from({ length: 300 }, (_, i) => `<13>1 - h m${i}\n`).join(''));
    await c.closed;
    await waitFor(() => metricsOf(source)!.get('OpenConnectionCount') === 0, 'closed on the server');
    sink.release();
    await waitFor(() => sink.events.length === 300, 'all 300');
    expect(sink.events.map((e) => e.body.toString())).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  });

  it('takes a fast sender of tiny messages one batch at a time without running out of stack (batchSize 1)', async () => {
    const l = listening();
    const source = syslogTcpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, batchSize: 1 });
    const errors: unknown[] = [];
    let taken = 0;
    subscription = source.pipe(memoryChannel({ capacity: 100_000, transactionCapacity: 100 })).subscribe({ next: (b) => ((taken += b.events.length), b.ack()), error: (e) => errors.push(e) });
    const c = await client(await l.port);
    // Two-byte messages: 32,768 one-event batches per 64 kB read, each acked at once.
    c.socket.write(Buffer.from('x\n'.repeat(4 * 32768)));
    await waitFor(() => taken === 4 * 32768 || errors.length > 0, 'every message');
    expect(errors).toEqual([]);
    expect(taken).toBe(4 * 32768);
    c.socket.destroy();
  });

  it('refuses connections past maxConnections, and serves again when one closes', async () => {
    const { sink, port, counters } = startTcp({ maxConnections: 2 });
    const p = await port;
    const open = await Promise.all([client(p), client(p)]);
    await waitFor(() => counters.get('OpenConnectionCount') === 2, 'two connections');
    const third = await client(p);
    await third.closed;
    open[0]!.socket.destroy();
    await waitFor(() => counters.get('OpenConnectionCount') === 1, 'one closed');
    const c = await client(p);
    c.socket.write('<13>1 - h served\n');
    await waitFor(() => sink.events.length === 1, 'served');
    expect(sink.events[0]!.body.toString()).toBe('served');
    for (const s of [c, open[1]!]) s.socket.destroy();
  });

  it("validates options and maps Flume's keepFields and host (the listen address, bind here)", () => {
    expect(() => syslogTcpSource({ port: 1 } as SyslogTcpSourceOptions)).toThrow(ConfigError);
    expect(() => syslogTcpSource({ bind: 'h', port: 1, maxConnections: 0 })).toThrow(/maxConnections/);
    const keep = syslogTcpSource.spec.flumeKeys!['keepFields'] as { convert: (v: string) => unknown };
    expect(keep.convert('timestamp hostname')).toEqual(['timestamp', 'hostname']);
    for (const spec of [syslogTcpSource.spec, syslogUdpSource.spec, multiportSyslogTcpSource.spec]) expect(spec.flumeKeys!['host']).toBe('bind');
  });
});

describe('multiportSyslogTcpSource', () => {
  it("listens on every port and names the port in a header; parses as Flume's multiport parser (Priority, Version)", async () => {
    const ports: number[] = [];
    const source = multiportSyslogTcpSource({ bind: '127.0.0.1', ports: [0, 0], portHeader: 'port', onListening: (a) => ports.push(a.port) });
    const sink = recordingSink();
    subscription = source.pipe(memoryChannel()).subscribe(sink);
    await waitFor(() => ports.length === 2, 'two servers');
    for (const p of ports) {
      const c = await client(p);
      c.socket.end(`<13>1 - h to ${p}\n`);
    }
    await waitFor(() => sink.events.length === 2, 'two events');
    const got = sink.events.map((e) => [e.headers['port'], e.body.toString()]).sort();
    expect(got).toEqual(ports.map((p) => [String(p), `to ${p}`]).sort());
    const { port, ...headers } = sink.events[0]!.headers;
    expect(headers).toEqual({ Facility: '1', Severity: '5', Priority: '13', Version: '1', timestamp: expect.stringMatching(/^\d+$/), host: 'h' });
  });
});

describe('syslogUdpSource', () => {
  it('makes one event per datagram, with client headers, flagging invalid ones', async () => {
    const l = listening();
    const source = syslogUdpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, clientIPHeader: 'ip', clientHostnameHeader: 'name' });
    const sink = recordingSink();
    subscription = source.pipe(memoryChannel()).subscribe(sink);
    const p = await l.port;
    const sender = createSocket('udp4');
    const send = (m: string) => new Promise<void>((r) => sender.send(m, p, '127.0.0.1', () => r()));
    await send('<165>1 2003-10-11T22:14:15.003Z host app - - - msg');
    await send('not syslog');
    await waitFor(() => sink.events.length === 2, 'events');
    expect(sink.events[0]!.headers).toMatchObject({ Facility: '20', Severity: '5', host: 'host', ip: '127.0.0.1' });
    expect(sink.events[0]!.headers['name']).toBe(await hostnameOf('127.0.0.1'));
    expect(sink.events[0]!.body.toString()).toBe('app - - - msg');
    expect(sink.events[1]!.headers['flume.syslog.status']).toBe('Invalid');
    expect(metricsOf(source)!.get('EventReadFail')).toBe(1);
    subscription!.unsubscribe();
    await send('<13>1 - h late');
    await sleep(50);
    expect(sink.events).toHaveLength(2);
    sender.close();
  });

  it('as Flume: skips newlines before the message, drops a datagram with none, and takes 64 KiB by default', async () => {
    const l = listening();
    const source = syslogUdpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening });
    const sink = recordingSink();
    subscription = source.pipe(memoryChannel()).subscribe(sink);
    const p = await l.port;
    const sender = createSocket('udp4');
    const send = (m: string | Buffer) => new Promise<void>((r) => sender.send(m, p, '127.0.0.1', () => r()));
    await send('\n\n<13>1 - host a\n\n<13>1 - host b\n');
    await send('\n');
    await send(Buffer.alloc(0));
    const long = `<13>1 - host ${'x'.repeat(3000)}`;
    await send(long);
    await waitFor(() => sink.events.some((e) => e.body.toString().startsWith('x')), 'the long datagram');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', 'x'.repeat(3000)]);
    expect(sink.events[1]!.headers['flume.syslog.status']).toBeUndefined();
    expect(metricsOf(source)!.get('EventReadFail')).toBe(2);
    // Flume's syslogudp reads no eventSize: every datagram is taken up to 65536 bytes.
    const eventSize = syslogUdpSource.spec.flumeKeys!['eventSize'] as { convert: (v: string) => unknown };
    expect(eventSize.convert('100')).toBe(65_536);
    sender.close();
  });

  it('keeps at most eventSize bytes of each waiting datagram, not the whole datagram', async () => {
    const l = listening();
    const source = syslogUdpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, batchSize: 1000, eventSize: 2500 });
    const sink = recordingSink();
    sink.hold = true;
    subscription = source.subscribe(sink);
    const p = await l.port;
    const sender = createSocket('udp4');
    const datagram = Buffer.concat([Buffer.from('<13>1 - h '), Buffer.alloc(60_000, 'x')]);
    const before = retainedBytes();
    for (let i = 0; i < 400; i++) {
      await new Promise<void>((r) => sender.send(datagram, p, '127.0.0.1', () => r()));
      if (i % 10 === 9) await sleep(5);
    }
    await sleep(200);
    const grown = retainedBytes() - before;
    sink.release();
    await waitFor(() => sink.events.length > 0 && metricsOf(source)!.get('EventAcceptedCount') === metricsOf(source)!.get('EventReceivedCount'), 'all taken');
    await sleep(100);
    const received = metricsOf(source)!.get('EventReceivedCount');
    expect(received).toBeGreaterThan(100);
    expect(sink.events.every((e) => e.body.length === 2500 - 10 && e.headers['flume.syslog.status'] === 'Incomplete')).toBe(true);
    // A 60 kB datagram pinned per event would be ~60 kB each.
    expect(grown / received).toBeLessThan(10_000);
    sender.close();
  });
});
