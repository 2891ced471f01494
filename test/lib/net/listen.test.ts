import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { FlumeError } from '../../../lib/core/errors.js';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { bindUdp, listenTcp, type Listener } from '../../../lib/net/listen.js';
import { listening, waitFor } from '../../support/net.js';

const open: Listener[] = [];
const clients: Socket[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
  for (const c of clients.splice(0)) c.destroy();
});

function tcp(options: { port?: number; maxConnections?: number } = {}) {
  const metrics = new ComponentCounters('SOURCE', 'src');
  const l = listening();
  const failures: Error[] = [];
  const listener = listenTcp(createServer(() => undefined), { name: 'src', bind: '127.0.0.1', port: options.port ?? 0, onListening: l.onListening, ...options }, metrics, (e) => failures.push(e));
  open.push(listener);
  return { metrics, port: l.port, failures, listener };
}

const dial = (port: number): Socket => {
  const c = connect(port, '127.0.0.1');
  c.on('error', () => undefined);
  clients.push(c);
  return c;
};

describe('listenTcp', () => {
  it('counts open connections, closes those past maxConnections, and destroys every one on close', async () => {
    const { metrics, port, listener } = tcp({ maxConnections: 2 });
    const p = await port;
    const [a, b, c] = [dial(p), dial(p), dial(p)];
    await waitFor(() => metrics.get('OpenConnectionCount') === 2 && metrics.get('GenericProcessingFail') === 1, 'two open, one refused');
    await waitFor(() => c.destroyed, 'the third closed by the server');
    listener.close();
    expect(metrics.get('OpenConnectionCount')).toBe(0);
    await waitFor(() => a.destroyed && b.destroyed, 'the others closed');
  });

  it('fails with FLUME_SOURCE_FAILED naming the address when the port is taken', async () => {
    const first = tcp();
    const taken = tcp({ port: await first.port });
    await waitFor(() => taken.failures.length === 1, 'the failure');
    expect(taken.failures[0]).toBeInstanceOf(FlumeError);
    expect((taken.failures[0] as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect(taken.failures[0]!.message).toMatch(/^src: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});

describe('bindUdp', () => {
  it('hands over every datagram with its sender, and fails on a port it cannot bind', async () => {
    const metrics = new ComponentCounters('SOURCE', 'udp');
    const l = listening();
    const got: string[] = [];
    const failures: Error[] = [];
    open.push(bindUdp({ name: 'udp', bind: '127.0.0.1', port: 0, onListening: l.onListening }, metrics, (e) => failures.push(e), (m, s) => got.push(`${m} from ${s.address}`)));
    const p = await l.port;
    const sender = createSocket('udp4');
    sender.send('hello', p, '127.0.0.1');
    await waitFor(() => got.length === 1, 'the datagram');
    expect(got).toEqual(['hello from 127.0.0.1']);
    sender.close();
    open.push(bindUdp({ name: 'udp', bind: '127.0.0.1', port: p }, metrics, (e) => failures.push(e), () => undefined));
    await waitFor(() => failures.length === 1, 'the bind failure');
    expect((failures[0] as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect(failures[0]!.message).toMatch(/^udp: cannot listen on 127\.0\.0\.1:\d+/);
  });
});
