import { describe, expect, it } from 'vitest';
import { registry } from '../../../lib/agent/components.js';

describe('Registry', () => {
  it('finds every kind by Flume type or class name, whatever the case — selectors and sink processors too', () => {
    expect(registry.find('channel', 'MEMORY')?.spec.name).toBe('memoryChannel');
    expect(registry.find('selector', 'org.apache.flume.channel.multiplexingchannelselector')?.spec.name).toBe('multiplexing');
    expect(registry.find('selector', 'load_balancing')?.spec.name).toBe('loadBalancing');
    expect(registry.find('sinkProcessor', 'default')?.spec.name).toBe('competingSinks');
    expect(registry.find('sinkProcessor', 'org.apache.flume.sink.FailoverSinkProcessor')?.spec.name).toBe('failoverSink');
    // A type is looked up within its kind only.
    expect(registry.find('sink', 'failover')).toBeUndefined();
  });

  it('lists the first type of each component of a kind, and knows the Flume types it does not support', () => {
    expect(registry.typesOf('selector')).toEqual(['replicating', 'multiplexing', 'load_balancing']);
    expect(registry.typesOf('sinkProcessor')).toEqual(['default', 'failover', 'load_balance']);
    expect(registry.isUnsupported('sink', 'HBase')).toBe(true);
    expect(registry.isUnsupported('sink', 'hdfs')).toBe(false);
    expect(registry.isUnsupported('selector', 'hdfs')).toBe(false);
  });

  it('holds the library-only sinks too, so each gets a reference page, and no Flume type finds them', () => {
    const names = registry.components.map((c) => c.spec.name);
    expect(names).toEqual(expect.arrayContaining(['fromObservable', 'observerSink', 'consumerSink', 'batchIterator']));
    for (const name of ['consumerSink', 'batchIterator']) expect(registry.components.find((c) => c.spec.name === name)?.spec.flumeTypes).toEqual([]);
    expect(registry.find('sink', 'consumerSink')).toBeUndefined();
  });
});
