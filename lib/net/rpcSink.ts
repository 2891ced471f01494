/**
 * What Flume's RPC sinks (AbstractRpcSink: avro, thrift) share beside the connection lifecycle of
 * lib/core/rpcEndpoint.ts: a sink on an endpoint.
 */
import type { FlumeEvent } from '../core/event.js';
import { ComponentError } from '../core/errors.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import type { RpcOwner } from '../core/rpcEndpoint.js';
import { createSink, type Sink } from '../core/sink.js';

/**
 * Flume's RPC sinks (AbstractRpcSink: avro, thrift) on an endpoint: each batch goes out with
 * `appendBatch` and is acked once it resolved; failures are retriable `FLUME_SINK_FAILED`, connections
 * counted in the sink's counters; the endpoint closes after the last write.
 */
export function rpcSink(
  name: string,
  batchSize: number,
  endpoint: (owner: RpcOwner) => { appendBatch(events: readonly FlumeEvent[]): Promise<void>; close(): Promise<void> },
): Sink & HasMetrics {
  const metrics = new ComponentCounters('SINK', name);
  const target = endpoint({
    counters: metrics,
    failure: (message, cause) => new ComponentError('FLUME_SINK_FAILED', `${name}: ${message}`, { component: name, retriable: true, cause }),
  });
  const sink = createSink(name, { batchSize, write: (batch) => target.appendBatch(batch.events), close: () => target.close() }, metrics);
  return withMetrics(sink, metrics);
}
