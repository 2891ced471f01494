import type { Observable } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { createBatch } from '../core/batch.js';
import type { Sink } from '../core/sink.js';
import { fanOut } from '../../operators/routing/fanOut.js';
import { replicating } from '../../operators/routing/replicating.js';
import { multiplexing } from '../../operators/routing/multiplexing.js';
import { loadBalancing } from '../../operators/routing/loadBalancing.js';
import { failoverSink } from '../sinks/failoverSink.js';
import { loadBalanceSink } from '../sinks/loadBalanceSink.js';
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

/** The agent's fan-out (Flume channel selectors) and sink grouping (Flume sink processors). */
export const defaultWiring: Wiring = {
  fanOut(source: Observable<Batch>, plan: SourcePlan) {
    const s = plan.selector;
    const selector =
      s.type === 'replicating'
        ? replicating({ optional: s.optional })
        : s.type === 'load_balancing'
          ? loadBalancing({ policy: s.policy })
          : multiplexing({ header: s.header, mapping: s.mapping, optional: s.optional, default: s.default });
    return fanOut(source, selector, plan.channels, { name: plan.name });
  },
  group(members, processor, name) {
    const byName = Object.fromEntries(members.map((m) => [m.name, m.sink]));
    switch (processor.type) {
      case 'failover':
        return failoverSink(byName, { name, maxPenaltyMs: processor.maxPenaltyMs, priority: processor.priorities });
      case 'load_balance':
        return loadBalanceSink(byName, { name, selector: processor.selector, backoff: processor.backoff, maxTimeOutMs: processor.maxTimeOutMs });
      default:
        return competingSinks(members.map((m) => m.sink));
    }
  },
};
