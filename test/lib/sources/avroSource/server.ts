/** An avroSource → channel → recording sink under test, and what it reports. */
import type { Subscription } from 'rxjs';
import { metricsOf, type ComponentCounters } from '../../../../lib/core/metrics.js';
import { avroSource, type AvroSourceOptions } from '../../../../lib/sources/avroSource.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, type RecordingSink } from '../../../support/net.js';

export interface Running {
  sink: RecordingSink;
  port: number;
  counters: ComponentCounters;
  /** Errors the source's Observable raised (none, ever, for bad input). */
  errors: unknown[];
  subscription: Subscription;
}

/** With `direct`, the sink takes the source's batches itself (no channel), so holding it holds them unsettled. */
export async function startSource(options: Partial<AvroSourceOptions> = {}, direct = false): Promise<Running> {
  const l = listening();
  const source = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  const errors: unknown[] = [];
  const batches = direct ? source : source.pipe(memoryChannel({ capacity: 100_000, transactionCapacity: 20_000 }));
  const subscription = batches.subscribe({ next: (b) => sink.next(b), error: (e) => errors.push(e), complete: () => undefined });
  return { sink, port: await l.port, counters: metricsOf(source)!, errors, subscription };
}
