import { createBatch, createDeferredBatch, deferEvents, type Batch } from '../../lib/core/batch.js';
import { event, type FlumeEvent } from '../../lib/core/event.js';

export interface Recorded {
  batch: Batch;
  acked: number;
  nacked: Error[];
}

/** A batch of events with the given bodies, recording how it was settled. */
export function batchOf(bodies: readonly (string | number)[]): Recorded {
  const rec: Recorded = { batch: undefined as unknown as Batch, acked: 0, nacked: [] };
  rec.batch = createBatch(
    bodies.map((b) => event(String(b))),
    { onAck: () => rec.acked++, onNack: (e) => rec.nacked.push(e) },
  );
  return rec;
}

/** A batch like batchOf's whose events are deferred (createDeferredBatch): `makes` counts their making. */
export function deferredBatchOf(bodies: readonly (string | number)[], make: () => FlumeEvent[] = () => bodies.map((b) => event(String(b)))): Recorded & { makes: number } {
  const rec = { batch: undefined as unknown as Batch, acked: 0, nacked: [] as Error[], makes: 0 };
  rec.batch = createDeferredBatch(
    deferEvents(bodies.length, () => {
      rec.makes++;
      return make();
    }),
    { onAck: () => rec.acked++, onNack: (e) => rec.nacked.push(e) },
  );
  return rec;
}

export function bodies(batch: { events: readonly FlumeEvent[] }): string[] {
  return batch.events.map((e) => e.body.toString());
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
