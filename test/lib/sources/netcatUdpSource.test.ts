import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import type { Subscription } from 'rxjs';
import { loadAgentConfigTexts } from '../../../lib/agent/loadConfig.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { netcatUdpSource, type NetcatUdpSourceOptions } from '../../../lib/sources/netcatUdpSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, sleep, waitFor } from '../../support/net.js';

let subscription: Subscription | undefined;
const sender = createSocket('udp4');

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

function send(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => sender.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

function start(options: Partial<NetcatUdpSourceOptions> = {}, channel = memoryChannel({ capacity: 1000 })) {
  const l = listening();
  const source = netcatUdpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscription = source.pipe(channel).subscribe(sink);
  return { sink, port: l.port, counters: metricsOf(source)! };
}

describe('netcatUdpSource', () => {
  it('makes one event per datagram, cut at its first newline, with the remote address header', async () => {
    const { sink, port, counters } = start({ remoteAddressHeader: 'remote' });
    const p = await port;
    await send(p, 'one');
    await send(p, 'two\nignored');
    await send(p, Buffer.from([0xff, 0x01]));
    await waitFor(() => sink.events.length === 3, 'three events');
    expect(sink.events.map((e) => e.body.toString('latin1'))).toEqual(['one', 'two', '\xff\x01']);
    expect(sink.events[0]!.headers['remote']).toBe(`/127.0.0.1:${sender.address().port}`);
    expect(counters.get('EventAcceptedCount')).toBe(3);
  });

  it('drops and counts what a full channel refuses, then accepts again', async () => {
    const { sink, port, counters } = start({}, memoryChannel({ capacity: 1, transactionCapacity: 1, keepAliveMs: 10 }));
    sink.hold = true;
    const p = await port;
    await send(p, 'a');
    await waitFor(() => counters.get('EventAcceptedCount') === 1, 'a stored');
    await send(p, 'b');
    await waitFor(() => counters.get('ChannelWriteFail') === 1, 'b refused');
    sink.release();
    await send(p, 'c');
    await waitFor(() => sink.events.length === 2, 'c delivered');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', 'c']);
  });

  it('drops and counts datagrams past maxBufferedBytes while a batch is unsettled, and holds only the bytes up to a newline', async () => {
    const l = listening();
    const source = netcatUdpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, maxBufferedBytes: 100_000 });
    const sink = recordingSink();
    sink.hold = true;
    subscription = source.subscribe(sink);
    const p = await l.port;
    const counters = metricsOf(source)!;
    await send(p, 'first');
    await waitFor(() => sink.held.length === 1, 'first batch in flight');
    // Paced: the kernel's receive buffer would drop a burst of large datagrams before the source sees them.
    for (let i = 0; i < 10; i++) await send(p, Buffer.alloc(30_000, 'x')).then(() => sleep(15));
    // A long datagram cut at its newline holds 4 bytes, not 30 kB: these all fit.
    for (let i = 0; i < 20; i++) await send(p, Buffer.concat([Buffer.from('line\n'), Buffer.alloc(30_000, 'y')])).then(() => sleep(15));
    await waitFor(() => counters.get('EventDroppedCount') >= 7, 'the datagrams past the bound dropped');
    await sleep(50);
    expect(counters.get('EventDroppedCount')).toBe(7);
    sink.release();
    await waitFor(() => sink.events.length === 24, 'the rest delivered');
    expect(sink.events.slice(4).every((e) => e.body.toString() === 'line')).toBe(true);
  });

  it('closes its socket on unsubscribe', async () => {
    const { port, counters } = start();
    const p = await port;
    subscription!.unsubscribe();
    await send(p, 'lost');
    await sleep(50);
    expect(counters.get('EventReceivedCount')).toBe(0);
    // The port is free again.
    const again = start({ port: p });
    expect(await again.port).toBe(p);
  });

  it('validates its options', () => {
    expect(() => netcatUdpSource({ port: 1 } as NetcatUdpSourceOptions)).toThrow(ConfigError);
    expect(netcatUdpSource.spec.flumeTypes).toContain('netcatudp');
  });

  it("reads the header's name from Flume 1.11's key `remoteAddress`, and from the User Guide's `remoteAddressHeader`", async () => {
    for (const key of ['remoteAddress', 'remoteAddressHeader']) {
      const text = `a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = netcatudp\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = 0\na1.sources.r1.${key} = ip\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n`;
      const loaded = await loadAgentConfigTexts([{ file: 'udp.conf', text }], 'a1');
      expect(loaded.diagnostics.map((d) => d.message)).toEqual([]);
    }
  });
});
