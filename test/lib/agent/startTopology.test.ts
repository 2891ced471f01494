import { describe, expect, it } from 'vitest';
import { NEVER, of, Subject, throwError, type Observable } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import type { ComponentSpec } from '../../../lib/core/config.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { PipelineCounters } from '../../../lib/core/pipe.js';
import type { Sink } from '../../../lib/core/sink.js';
import { failoverSink } from '../../../lib/sinks/failoverSink.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { replicating } from '../../../operators/routing/replicating.js';
import type { GroupPlan, SinkPlan, SourcePlan, Topology } from '../../../lib/agent/build.js';
import type { ChannelSet } from '../../../lib/agent/channelSet.js';
import type { Planned } from '../../../lib/agent/plan.js';
import { startTopology, type StartHooks } from '../../../lib/agent/startTopology.js';
import { member } from '../sinks/groupSupport.js';

const planned = (name: string, factory: unknown, options: Record<string, unknown> = {}, spec: ComponentSpec = nullSink.spec): Planned => ({
  name,
  spec,
  factory: factory as never,
  options,
  line: 1,
  locations: new Map(),
});
const sink = (name: string, channel: string, s: Sink): SinkPlan => ({ ...planned(name, () => s, { name }), channel });
const source = (name: string, channels: string[], make: () => Observable<Batch>): SourcePlan => ({
  ...planned(name, make),
  channels,
  selector: planned(name, replicating, {}, replicating.spec),
  interceptors: [],
});
const topology = (t: Partial<Topology>): Topology => ({ agent: 'a1', sources: [], channels: [], sinks: [], groups: [], ...t });

/** A stand-in for the running channels: records what each is fed and which sink it is connected to. */
function channels(...names: string[]) {
  const fed: Record<string, Observable<Batch>[]> = {};
  const connected: Record<string, Sink | undefined> = {};
  const set = { names: () => names, connect: (n: string, s: Sink | undefined) => (connected[n] = s), feed: (n: string, p: Observable<Batch>) => (fed[n] ??= []).push(p) };
  return { set: set as unknown as ChannelSet, fed, connected };
}
const hooks = (over: Partial<StartHooks> = {}): StartHooks => ({ counters: new PipelineCounters(), stop$: NEVER, fail: () => expect.unreachable(), sourceEnded: () => undefined, ...over });

describe('startTopology', () => {
  it('connects each channel to its one sink, or to its sinks competing when it has several', () => {
    const [k1, k2, k3] = [member('hold'), member('hold'), member()];
    const { set, connected } = channels('c1', 'c2', 'c3');
    startTopology(topology({ sinks: [sink('k1', 'c1', k1.sink), sink('k2', 'c1', k2.sink), sink('k3', 'c2', k3.sink)] }), set, hooks());
    expect(connected['c2']).toBe(k3.sink);
    expect(connected['c3']).toBeUndefined();
    // Competing: each batch to the member with the fewest unsettled ones.
    connected['c1']!.next(createBatch([event('a')]));
    connected['c1']!.next(createBatch([event('b')]));
    expect([k1.got.length, k2.got.length]).toEqual([1, 1]);
  });

  it("connects a group's channel to its sink processor, built with the group's options over its sinks", () => {
    const [k1, k2] = [member(), member()];
    const { set, connected } = channels('c1');
    const counters = new PipelineCounters();
    const group: GroupPlan = { name: 'g1', sinks: ['k1', 'k2'], processor: planned('g1', failoverSink, { name: 'g1', priority: { k2: 10, k1: 5 } }, failoverSink.spec), line: 1 };
    startTopology(topology({ sinks: [sink('k1', 'c1', k1.sink), sink('k2', 'c1', k2.sink)], groups: [group] }), set, hooks({ counters }));
    expect(metricsOf(connected['c1'])!.name).toBe('g1');
    connected['c1']!.next(createBatch([event('a')]));
    expect([k1.got.length, k2.got.length]).toEqual([0, 1]);
    expect(Object.keys(counters.snapshot())).toEqual(['SINK.g1']);
  });

  it('feeds a source to its one channel as it is, and through its selector to several', async () => {
    const { set, fed } = channels('c1', 'c2');
    const sources = [source('r1', ['c1'], () => of(createBatch([event('1')]))), source('r2', ['c1', 'c2'], () => of(createBatch([event('2')])))];
    startTopology(topology({ sources }), set, hooks());
    expect([fed['c1']!.length, fed['c2']!.length]).toEqual([2, 1]);
    const seen: string[] = [];
    // r2's two branches: the source is subscribed once both are.
    for (const part of [fed['c1']![1]!, fed['c2']![0]!]) part.subscribe((b) => (seen.push(b.events[0]!.body.toString()), b.ack()));
    expect(seen).toEqual(['2', '2']);
  });

  it('stops the sources on stop$, and tells when a source ended or failed', () => {
    const stop$ = new Subject<void>();
    const failure = new Error('port in use');
    const ended: string[] = [];
    const failed: unknown[] = [];
    const { set, fed } = channels('c1');
    const sources = [source('r1', ['c1'], () => NEVER), source('r2', ['c1'], () => throwError(() => failure))];
    startTopology(topology({ sources }), set, hooks({ stop$, fail: (e) => failed.push(e), sourceEnded: () => ended.push('end') }));
    const subs = fed['c1']!.map((p) => p.subscribe({ error: () => undefined }));
    expect([failed, ended]).toEqual([[failure], ['end']]);
    stop$.next();
    expect(ended).toEqual(['end', 'end']);
    subs.forEach((s) => s.unsubscribe());
  });
});
