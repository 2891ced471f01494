import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildTopology, coerce } from '../../../lib/agent/build.js';
import { formatDiagnostic } from '../../../lib/agent/diagnostic.js';
import { readAgentConfig } from '../../../lib/agent/flumeConfig.js';
import { registry } from '../../../lib/agent/components.js';

async function load(text: string, agent = 'a1') {
  const read = await readAgentConfig(text, agent, 'agent.properties');
  const built = buildTopology(read.config, registry);
  const diagnostics = [...read.diagnostics, ...built.diagnostics];
  return { topology: built.topology, diagnostics, messages: diagnostics.map(formatDiagnostic) };
}

const base = `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`;

describe('buildTopology', () => {
  it('maps Flume keys, units and case-insensitive types onto options', async () => {
    const { topology, diagnostics } = await load(
      base +
        `a1.channels.c1.keep-alive = 2
a1.channels.c1.capacity = 500
a1.channels.c1.type = MEMORY
a1.sources.r1.totalEvents = 42
a1.sources.r1.interceptors = i1 i2
a1.sources.r1.interceptors.i1.type = org.apache.flume.interceptor.TimestampInterceptor$Builder
a1.sources.r1.interceptors.i1.headerName = ts
a1.sources.r1.interceptors.i2.type = regex_extractor
a1.sources.r1.interceptors.i2.regex = (\\\\d):(\\\\d)
a1.sources.r1.interceptors.i2.serializers = s1 s2
a1.sources.r1.interceptors.i2.serializers.s1.name = one
a1.sources.r1.interceptors.i2.serializers.s2.name = two
`,
    );
    expect(diagnostics).toEqual([]);
    expect(topology.channels[0]!.options).toMatchObject({ name: 'c1', keepAliveMs: 2000, capacity: 500 });
    expect(topology.sources[0]!.options).toMatchObject({ name: 'r1', totalEvents: 42 });
    const [i1, i2] = topology.sources[0]!.interceptors;
    expect(i1!.spec.name).toBe('timestampInterceptor');
    expect(i1!.options).toMatchObject({ header: 'ts' });
    expect(i2!.options['serializers']).toEqual([{ name: 'one' }, { name: 'two' }]);
  });

  it("counts Flume's byteCapacity less byteCapacityBufferPercentage (default 20) as body bytes", async () => {
    expect((await load(base + 'a1.channels.c1.byteCapacity = 800000\n')).topology.channels[0]!.options).toMatchObject({ byteCapacity: 640_000 });
    const both = await load(base + 'a1.channels.c1.byteCapacity = 800000\na1.channels.c1.byteCapacityBufferPercentage = 50\n');
    expect(both.diagnostics).toEqual([]);
    expect(both.topology.channels[0]!.options).toMatchObject({ byteCapacity: 400_000 });
    const bad = await load(base + 'a1.channels.c1.byteCapacity = 800000\na1.channels.c1.byteCapacityBufferPercentage = lots\n');
    expect(bad.messages.join('\n')).toMatch(/agent.properties:11.*byteCapacityBufferPercentage.*"lots".*integer percentage 0–99/);
  });

  it('drops a key with an empty value with a warning, as Flume: the default applies', async () => {
    const { topology, diagnostics } = await load(base + 'a1.channels.c1.capacity =\n');
    expect(diagnostics.map((d) => [d.severity, d.line, d.key])).toEqual([['warning', 10, 'a1.channels.c1.capacity']]);
    expect(topology.channels[0]!.options).not.toHaveProperty('capacity');
  });

  it('reports every problem at once with file:line, key and a way out', async () => {
    const { messages, diagnostics } = await load(`a1.sources = r1 r2
a1.channels = c1 c2
a1.sinks = k1 k2 k3
a1.sources.r1.type = seq
a1.sources.r1.batchSize = 500
a1.sources.r1.channels = c1
a1.sources.r2.type = org.apache.flume.source.twitter.TwitterSource
a1.sources.r2.channels = c9
a1.channels.c1.type = memory
a1.channels.c1.transactionCapacty = 100
a1.channels.c1.capacity = -1
a1.channels.c2.type = memory
a1.sinks.k1.type = loger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = hbase
a1.sinks.k2.channel = c1
a1.sinks.k3.type = null
`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agent\.properties:7: error: a1\.sources\.r2\.type: source type `org\.apache\.flume\.source\.twitter\.TwitterSource` is a Flume type rxflume does not support yet/),
        expect.stringMatching(/^agent\.properties:8: error: a1\.sources\.r2\.channels: unknown channel `c9`/),
        expect.stringMatching(/^agent\.properties:10: error: a1\.channels\.c1\.transactionCapacty: unknown property .*did you mean `transactionCapacity`\?/),
        expect.stringMatching(/^agent\.properties:11: error: a1\.channels\.c1\.capacity: expected integer ≥ 1, received -1/),
        expect.stringMatching(/^agent\.properties:12: warning: a1\.channels\.c2: no source or sink uses this channel/),
        expect.stringMatching(/^agent\.properties:13: error: a1\.sinks\.k1\.type: unknown sink type `loger` \(did you mean `logger`\?\)/),
        expect.stringMatching(/^agent\.properties:15: error: a1\.sinks\.k2\.type: sink type `hbase` is a Flume type rxflume does not support yet/),
        expect.stringMatching(/a1\.sinks\.k3\.channel: a sink needs `channel`/),
      ]),
    );
    expect(diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThanOrEqual(7);
  });

  it("enforces Flume's rule: a batch size must not exceed the channel's transactionCapacity", async () => {
    const { messages } = await load(base + 'a1.sources.r1.batchSize = 500\na1.channels.c1.transactionCapacity = 100\n');
    expect(messages.join('\n')).toMatch(/batchSize 500 exceeds channel `c1`'s transactionCapacity 100/);
  });

  it('reads selectors and sink groups', async () => {
    const { topology, diagnostics } = await load(`a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1 c2
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c2
a1.sources.r1.selector.default = c1
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 5
a1.sinkgroups.g1.processor.priority.k2 = 10
a1.sinkgroups.g1.processor.maxpenalty = 10000
`);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const selector = topology.sources[0]!.selector;
    expect(selector.spec.name).toBe('multiplexing');
    expect(selector.spec.schema.parse(selector.options)).toEqual({ header: 'state', mapping: { CZ: ['c1'], US: ['c2'] }, optional: {}, default: ['c1'] });
    expect(topology.groups[0]).toMatchObject({ name: 'g1', sinks: ['k1', 'k2'] });
    expect(topology.groups[0]!.processor).toMatchObject({ spec: { name: 'failoverSink' }, options: { name: 'g1', priority: { k1: 5, k2: 10 }, maxPenaltyMs: 10000 } });
  });

  const twoChannels = `a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
`;

  it("resolves selectors and sink processors through the registry, by Flume's class names too, with their defaults", async () => {
    const named = await load(
      twoChannels +
        `a1.sources.r1.selector.type = org.apache.flume.channel.LoadBalancingChannelSelector
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = org.apache.flume.sink.LoadBalancingSinkProcessor
a1.sinkgroups.g1.processor.selector = RANDOM
a1.sinkgroups.g1.processor.selector.maxTimeOut = 5000
`,
    );
    expect(named.diagnostics).toEqual([]);
    expect(named.topology.sources[0]!.selector.spec.name).toBe('loadBalancing');
    expect(named.topology.groups[0]!.processor).toMatchObject({ spec: { name: 'loadBalanceSink' }, options: { name: 'g1', selector: 'random', maxTimeOutMs: 5000 } });
    const defaults = await load(twoChannels + 'a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1 k2\n');
    expect(defaults.topology.sources[0]!.selector.spec.name).toBe('replicating');
    expect(defaults.topology.groups[0]!.processor.spec.name).toBe('competingSinks');
  });

  it("maps a multiplexing value with dots whole, and reports what a selector or processor refuses at its property's line", async () => {
    const dots = await load(twoChannels + 'a1.sources.r1.selector.type = multiplexing\na1.sources.r1.selector.mapping.v1.2 = c2\n');
    expect(dots.diagnostics).toEqual([]);
    expect(dots.topology.sources[0]!.selector.options).toMatchObject({ mapping: { 'v1.2': 'c2' } });
    const { messages } = await load(
      twoChannels +
        `a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.mapping.CZ = c1 c9
a1.sources.r1.selector.default = c1
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k3 = 1
a1.sinkgroups.g1.processor.priority.k1 = 5
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.backoff = true
a1.sinkgroups.g1.color = red
`,
    );
    expect(messages.sort()).toEqual([
      'agent.properties:13: error: a1.sources.r1.selector.mapping.CZ: expected one of the channels c1, c2, received "c9" (did you mean `c1`?)',
      'agent.properties:18: error: a1.sinkgroups.g1.processor.priority.k3: expected a member of the group (k1, k2), received "k3"',
      'agent.properties:20: error: a1.sinkgroups.g1.processor.priority.k2: expected a priority no other member has (k1 has 5), received 5',
      'agent.properties:21: error: a1.sinkgroups.g1.processor.backoff: unknown property `backoff` for failoverSink; known: maxpenalty, maxPenaltyMs, priority',
      'agent.properties:22: error: a1.sinkgroups.g1.color: unknown sink group property `color`; a group has `sinks` and `processor.…`',
    ]);
  });

  it('says when the agent is not in the file', async () => {
    const { messages } = await load(base.replace(/a1\./g, 'other.'));
    expect(messages).toContain('agent.properties: error: no configuration for agent `a1`; the file defines `other`');
  });
});

describe('coerce', () => {
  it('turns property strings into the option type, or leaves them for the schema to reject', () => {
    expect(coerce(z.number(), '42')).toBe(42);
    expect(coerce(z.number(), 'forty')).toBe('forty');
    expect(coerce(z.boolean(), 'TRUE')).toBe(true);
    expect(coerce(z.enum(['LINE', 'BLOB']), 'line')).toBe('LINE');
    expect(coerce(z.array(z.number()), '1, 2 3')).toEqual([1, 2, 3]);
  });
});

describe('a source that takes many events per request learns what its channels can store', () => {
  const http = (extra: string) => `
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = http
a1.sources.r1.port = 0
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c2
${extra}`;

  it("maxEventsPerRequest defaults to the smallest transactionCapacity of its channels (memory's default 100)", async () => {
    expect((await load(http(''))).topology.sources[0]!.options['maxEventsPerRequest']).toBe(100);
    const { topology } = await load(http('a1.channels.c1.transactionCapacity = 500\na1.channels.c1.capacity = 1000\na1.channels.c2.transactionCapacity = 50'));
    expect(topology.sources[0]!.options['maxEventsPerRequest']).toBe(50);
  });

  it('keeps a maxEventsPerRequest the user set, and leaves other sources alone', async () => {
    expect((await load(http('a1.sources.r1.maxEventsPerRequest = 7'))).topology.sources[0]!.options['maxEventsPerRequest']).toBe(7);
    expect((await load(base)).topology.sources[0]!.options).not.toHaveProperty('maxEventsPerRequest');
  });
});

describe('a sink that writes many batches per request gets as many as its channel holds', () => {
  const hdfs = (extra: string) => `
a1.sources = r1
a1.channels = c1 c2 c3
a1.sinks = k1 k2 k3
a1.sources.r1.type = seq
a1.sources.r1.channels = c1 c2 c3
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c2.type = file
a1.channels.c2.checkpointDir = /tmp/rxflume-build-test/cp
a1.channels.c2.dataDirs = /tmp/rxflume-build-test/data
a1.channels.c3.type = memory
a1.sinks.k1.type = hdfs
a1.sinks.k1.hdfs.path = /flume/a
a1.sinks.k1.channel = c1
a1.sinks.k2.type = hdfs
a1.sinks.k2.hdfs.path = /flume/b
a1.sinks.k2.channel = c2
a1.sinks.k3.type = null
a1.sinks.k3.channel = c3
${extra}`;
  const inFlight = (topology: Awaited<ReturnType<typeof load>>['topology'], channel: string) => topology.channels.find((c) => c.name === channel)!.options['maxInFlight'];

  it('the hdfs sink\'s channel hands out min(capacity, 20,000) events as batches; a null sink\'s keeps its default', async () => {
    const { topology, messages } = await load(hdfs(''));
    expect(messages).toEqual([]);
    expect(inFlight(topology, 'c1')).toBe(100); // 10000 / 100
    expect(inFlight(topology, 'c2')).toBe(2); // file: 20,000 of its 1,000,000 / 10,000, not the whole channel in memory
    expect(inFlight(topology, 'c3')).toBeUndefined();
  });

  it('keeps a maxInFlight the user set', async () => {
    const { topology } = await load(hdfs('a1.channels.c1.maxInFlight = 3\na1.channels.c1.transactionCapacity = 1000'));
    expect(inFlight(topology, 'c1')).toBe(3);
    expect(inFlight((await load(hdfs('a1.channels.c1.transactionCapacity = 3000'))).topology, 'c1')).toBe(4); // ceil(10000 / 3000)
  });
});
