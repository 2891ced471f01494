import { from, type OperatorFunction } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';

/** Settlements of one upstream batch, as its source sees them. */
export interface Settlements {
  acks: number;
  nacks: number;
  errors: Error[];
}

export function tracked(events: FlumeEvent[]): { batch: Batch; log: Settlements } {
  const log: Settlements = { acks: 0, nacks: 0, errors: [] };
  const batch = createBatch(events, {
    onAck: () => log.acks++,
    onNack: (e) => {
      log.nacks++;
      log.errors.push(e);
    },
  });
  return { batch, log };
}

/** Events with the given bodies (each with its own headers object). */
export function events(...bodies: string[]): FlumeEvent[] {
  return bodies.map((b) => event(b));
}

/** Runs `batches` synchronously through `op`; returns what came out. */
export function run(op: OperatorFunction<Batch, Batch>, ...batches: Batch[]): Batch[] {
  const out: Batch[] = [];
  from(batches).pipe(op).subscribe((b) => out.push(b));
  return out;
}

/** Runs one batch of `evs` through `op` and acks what came out; returns the output events. */
export function through(op: OperatorFunction<Batch, Batch>, evs: FlumeEvent[]): readonly FlumeEvent[] {
  const { batch, log } = tracked(evs);
  const out = run(op, batch);
  for (const b of out) b.ack();
  if (log.acks + log.nacks !== 1) throw new Error(`upstream batch settled ${log.acks + log.nacks} times`);
  return out.flatMap((b) => b.events);
}
