import { describe, expect, it } from 'vitest';
import { throwError, type Observable } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import type { ComponentSpec } from '../../../lib/core/config.js';
import { createSink, type Sink } from '../../../lib/core/sink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { replicating } from '../../../operators/routing/replicating.js';
import type { Topology } from '../../../lib/agent/build.js';
import type { Planned } from '../../../lib/agent/plan.js';
import { runAgent } from '../../../lib/agent/runAgent.js';
import { listenersOf } from '../../../lib/agent/startTopology.js';
import { member } from '../sinks/groupSupport.js';
import { createSocket } from 'node:dgram';
import { netcatUdpSource } from '../../../lib/sources/netcatUdpSource.js';
import { multiportSyslogTcpSource } from '../../../lib/sources/syslog/multiportSyslogTcpSource.js';

const planned = (name: string, factory: unknown, options: Record<string, unknown>, spec: ComponentSpec = nullSink.spec): Planned => ({
  name,
  spec,
  factory: factory as never,
  options,
  line: 1,
  locations: new Map(),
});

/** seq (`totalEvents`, batches of 10) → memory channel c1 → the given sinks. */
function topology(totalEvents: number, sinks: Record<string, () => Sink>, source?: () => Observable<Batch>): Topology {
  return {
    agent: 'a1',
    channels: [planned('c1', memoryChannel, { name: 'c1', capacity: 1000 }, memoryChannel.spec)],
    sinks: Object.entries(sinks).map(([name, make]) => ({ ...planned(name, make, { name }), channel: 'c1' })),
    sources: [
      {
        ...planned('r1', source ?? sequenceSource, { name: 'r1', totalEvents, batchSize: 10 }, sequenceSource.spec),
        channels: ['c1'],
        selector: planned('r1', replicating, {}, replicating.spec),
        interceptors: [],
      },
    ],
    groups: [],
  };
}

const counting = (got: string[]) => () => createSink('k1', { write: (b) => void got.push(...b.events.map((e) => e.body.toString())) });
const until = async (probe: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !probe(); ) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('runAgent', () => {
  it('runs channels, sinks and sources; with finishWhenSourcesEnd it drains and finishes once the sources ended', async () => {
    const got: string[] = [];
    const agent = runAgent(topology(50, { k1: counting(got) }), { finishWhenSourcesEnd: true });
    await agent.done;
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    const m = agent.metrics();
    expect(Object.keys(m)).toEqual(['CHANNEL.c1', 'SINK.k1', 'SOURCE.r1']);
    expect(m['SINK.k1']).toMatchObject({ EventDrainSuccessCount: 50 });
    expect(m['SOURCE.r1']!['StopTime']).toBeGreaterThanOrEqual(m['SOURCE.r1']!['StartTime']!);
    expect(agent.counters.map((c) => c.name)).toEqual(['c1', 'k1', 'r1']);
  });

  it('a reload keeps an unchanged channel with its content and hands it to the new sinks', async () => {
    const agent = runAgent(topology(30, {}));
    // No sink yet: the channel holds what the source put.
    await until(() => agent.metrics()['CHANNEL.c1']!['EventPutSuccessCount'] === 30);
    const got: string[] = [];
    agent.reload(topology(30, { k1: counting(got) }));
    await until(() => got.length === 60);
    await agent.stop();
    // 0…29 held in the kept channel, and 0…29 again from the restarted source.
    expect([...got].sort()).toEqual([...Array.from({ length: 30 }, (_, i) => String(i)), ...Array.from({ length: 30 }, (_, i) => String(i))].sort());
  });

  it('refuses a reload once stopped, with FLUME_STOPPED', async () => {
    const agent = runAgent(topology(0, { k1: () => member().sink }));
    await agent.stop();
    expect(() => agent.reload(topology(0, {}))).toThrow(expect.objectContaining({ code: 'FLUME_STOPPED' }));
  });

  it('stop gives up after timeoutMs and resolves with FLUME_STOP_TIMEOUT, naming the events left in the channels', async () => {
    const agent = runAgent(topology(100, { k1: () => member('hold').sink }));
    await until(() => agent.metrics()['CHANNEL.c1']!['EventPutSuccessCount'] === 100);
    // What the channel stores (the batch the sink holds is no longer counted), nothing moving now.
    const left = agent.metrics()['CHANNEL.c1']!['ChannelSize']!;
    expect(left).toBeGreaterThan(0);
    const result = await agent.stop({ timeoutMs: 50 });
    expect(result).toMatchObject({ drained: false, timedOut: true, backlog: left, error: { code: 'FLUME_STOP_TIMEOUT' } });
    expect((result.error as Error).message).toBe(`agent did not drain within 50 ms; ${left} events were still in its channels`);
  });

  it('reports the first fatal error at once and rejects done with it after the drain', async () => {
    const failure = new Error('cannot bind');
    const fatal: unknown[] = [];
    const agent = runAgent(topology(0, { k1: () => member().sink }, () => throwError(() => failure)), { finishWhenSourcesEnd: true, onFatal: (e) => fatal.push(e) });
    await expect(agent.done).rejects.toBe(failure);
    expect(fatal).toEqual([failure]);
  });

  it('ready resolves once every network source listens (multiport: every port), and a datagram sent then arrives', async () => {
    const got: string[] = [];
    const heard: string[] = [];
    const base = topology(0, { k1: counting(got) });
    const source = (name: string, factory: unknown, options: Record<string, unknown>, spec: ComponentSpec) => ({
      ...planned(name, factory, { name, ...options }, spec),
      channels: ['c1'],
      selector: planned(name, replicating, {}, replicating.spec),
      interceptors: [],
    });
    const sources = [
      source('udp', netcatUdpSource, { bind: '127.0.0.1', port: 0 }, netcatUdpSource.spec),
      source('multi', multiportSyslogTcpSource, { bind: '127.0.0.1', ports: [0, 0] }, multiportSyslogTcpSource.spec),
    ];
    expect(sources.map(listenersOf)).toEqual([1, 2]);
    expect(listenersOf(base.sources[0]!)).toBe(0);
    const agent = runAgent(
      { ...base, sources },
      { onListening: (name, a) => heard.push(`${name} ${a.address}:${a.port}`) },
    );
    await agent.ready;
    expect(heard).toHaveLength(3);
    expect(heard.filter((h) => h.startsWith('multi 127.0.0.1:'))).toHaveLength(2);
    const udpPort = Number(heard.find((h) => h.startsWith('udp '))!.split(':')[1]);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => socket.send('right after ready\n', udpPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    socket.close();
    await until(() => got.length === 1);
    expect(got).toEqual(['right after ready']);
    await agent.stop();
  });

  it('ready resolves at once without network sources, and when the agent fails before listening', async () => {
    const quiet = runAgent(topology(5, { k1: counting([]) }), { finishWhenSourcesEnd: true });
    await quiet.ready;
    await quiet.done;
    const failure = new Error('bind refused');
    const failing = runAgent(topology(0, { k1: () => member().sink }, () => throwError(() => failure)), { finishWhenSourcesEnd: true });
    await failing.ready;
    await expect(failing.done).rejects.toBe(failure);
  });
});
