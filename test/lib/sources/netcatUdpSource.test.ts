import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import type { Subscription } from 'rxjs';
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
});
