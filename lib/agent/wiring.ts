import type { Observable } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { createBatch } from '../core/batch.js';
import type { Sink } from '../core/sink.js';
import type { SourcePlan } from './build.js';
import type { Wiring } from './runAgent.js';

/**
 * Several sinks on one channel, as several Flume sink runners competing for its takes: each batch
 * goes to the member with the fewest unsettled batches (ties by turn). The member's settle settles
 * the channel's batch. Closes when every member closed.
 */
export function competingSinks(members: readonly Sink[]): Sink {
  const inFlight = members.map(() => 0);
  let turn = 0;
  return {
    next(batch: Batch) {
      let best = -1;
      for (let k = 0; k < members.length; k++) {
        const i = (turn + k) % members.length;
        if (best < 0 || inFlight[i]! < inFlight[best]!) best = i;
      }
      turn = (best + 1) % members.length;
      inFlight[best]!++;
      const done = () => inFlight[best]!--;
      members[best]!.next(
        createBatch(batch.events, {
          onAck: () => (done(), batch.ack()),
          onNack: (e) => (done(), batch.nack(e)),
        }),
      );
    },
    error(e: unknown) {
      for (const m of members) m.error(e);
    },
    complete() {
      for (const m of members) m.complete();
    },
    closed: Promise.all(members.map((m) => m.closed)).then(() => undefined),
  };
}

export const defaultWiring: Wiring = {
  fanOut(_source: Observable<Batch>, plan: SourcePlan) {
    throw new Error(`source ${plan.name}: fan-out to several channels is not wired yet`);
  },
  group(members, processor) {
    if (processor.type === 'competing' || processor.type === 'default') return competingSinks(members.map((m) => m.sink));
    throw new Error(`sink processor ${processor.type} is not wired yet`);
  },
};
