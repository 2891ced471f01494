import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildTopology, coerce } from '../../../lib/agent/build.js';
import { readAgentConfig, formatDiagnostic } from '../../../lib/agent/flumeConfig.js';
import { registry } from '../../../lib/agent/loadConfig.js';

function load(text: string, agent = 'a1') {
  const read = readAgentConfig(text, agent, 'agent.properties');
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
  it('maps Flume keys, units and case-insensitive types onto options', () => {
    const { topology, diagnostics } = load(
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

  it("counts Flume's byteCapacity less byteCapacityBufferPercentage (default 20) as body bytes", () => {
    expect(load(base + 'a1.channels.c1.byteCapacity = 800000\n').topology.channels[0]!.options).toMatchObject({ byteCapacity: 640_000 });
    const both = load(base + 'a1.channels.c1.byteCapacity = 800000\na1.channels.c1.byteCapacityBufferPercentage = 50\n');
    expect(both.diagnostics).toEqual([]);
    expect(both.topology.channels[0]!.options).toMatchObject({ byteCapacity: 400_000 });
    const bad = load(base + 'a1.channels.c1.byteCapacity = 800000\na1.channels.c1.byteCapacityBufferPercentage = lots\n');
    expect(bad.messages.join('\n')).toMatch(/agent.properties:11.*byteCapacityBufferPercentage.*"lots".*integer percentage 0–99/);
  });

  it('drops a key with an empty value with a warning, as Flume: the default applies', () => {
    const { topology, diagnostics } = load(base + 'a1.channels.c1.capacity =\n');
    expect(diagnostics.map((d) => [d.severity, d.line, d.key])).toEqual([['warning', 10, 'a1.channels.c1.capacity']]);
    expect(topology.channels[0]!.options).not.toHaveProperty('capacity');
  });

  it('reports every problem at once with file:line, key and a way out', () => {
    const { messages, diagnostics } = load(`a1.sources = r1 r2
a1.channels = c1 c2
a1.sinks = k1 k2 k3
a1.sources.r1.type = seq
a1.sources.r1.batchSize = 500
a1.sources.r1.channels = c1
a1.sources.r2.type = thrift
a1.sources.r2.channels = c9
a1.channels.c1.type = memory
a1.channels.c1.transactionCapacty = 100
a1.channels.c1.capacity = -1
a1.channels.c2.type = memory
a1.sinks.k1.type = loger
a1.sinks.k1.channel = c1
a1.sinks.k2.type = hdfs
a1.sinks.k2.channel = c1
a1.sinks.k3.type = null
`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agent\.properties:7: error: a1\.sources\.r2\.type: source type `thrift` is a Flume type rxflume does not support yet/),
        expect.stringMatching(/^agent\.properties:8: error: a1\.sources\.r2\.channels: unknown channel `c9`/),
        expect.stringMatching(/^agent\.properties:10: error: a1\.channels\.c1\.transactionCapacty: unknown property .*did you mean `transactionCapacity`\?/),
        expect.stringMatching(/^agent\.properties:11: error: a1\.channels\.c1\.capacity: expected integer ≥ 1, received -1/),
        expect.stringMatching(/^agent\.properties:12: warning: a1\.channels\.c2: no source or sink uses this channel/),
        expect.stringMatching(/^agent\.properties:13: error: a1\.sinks\.k1\.type: unknown sink type `loger` \(did you mean `logger`\?\)/),
        expect.stringMatching(/^agent\.properties:15: error: a1\.sinks\.k2\.type: sink type `hdfs` is a Flume type rxflume does not support yet/),
        expect.stringMatching(/a1\.sinks\.k3\.channel: a sink needs `channel`/),
      ]),
    );
    expect(diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThanOrEqual(7);
  });

  it("enforces Flume's rule: a batch size must not exceed the channel's transactionCapacity", () => {
    const { messages } = load(base + 'a1.sources.r1.batchSize = 500\na1.channels.c1.transactionCapacity = 100\n');
    expect(messages.join('\n')).toMatch(/batchSize 500 exceeds channel `c1`'s transactionCapacity 100/);
  });

  it('reads selectors and sink groups', () => {
    const { topology, diagnostics } = load(`a1.sources = r1
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
    expect(topology.sources[0]!.selector).toEqual({ type: 'multiplexing', header: 'state', mapping: { CZ: ['c1'], US: ['c2'] }, optional: {}, default: ['c1'] });
    expect(topology.groups[0]).toMatchObject({ name: 'g1', sinks: ['k1', 'k2'], processor: { type: 'failover', priorities: { k1: 5, k2: 10 }, maxPenaltyMs: 10000 } });
  });

  it('says when the agent is not in the file', () => {
    const { messages } = load(base.replace(/a1\./g, 'other.'));
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
