import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { nameOption } from '../core/options.js';
import type { Sink } from '../core/sink.js';
import { memberList, type SinkMembers } from '../sinks/sinkGroup.js';

export const competingSinksOptions = z.strictObject({
  ...nameOption('competingSinks'),
});

export type CompetingSinksOptions = z.input<typeof competingSinksOptions>;

export const competingSinksSpec = defineComponent({
  name: 'competingSinks',
  kind: 'sinkProcessor',
  summary: "Sink group of Flume's default processor: its sinks compete for the channel's batches, as several sink runners would.",
  flumeTypes: ['default', 'org.apache.flume.sink.DefaultSinkProcessor'],
  schema: competingSinksOptions,
});

/**
 * Several sinks on one channel, as several Flume sink runners competing for its takes (a group with
 * Flume's `default` processor, or sinks sharing a channel outside any group): each batch goes to the
 * member with the fewest unsettled batches (ties by turn); the member's settle settles the channel's
 * batch. `closed` resolves when every member closed. It keeps no counters of its own: its members count.
 *
 * @example
 * pipe(source, memoryChannel({ maxInFlight: 2 }), competingSinks([fileRollSink({ directory: '/a' }), fileRollSink({ directory: '/b' })]));
 */
export const competingSinks = component(competingSinksSpec, function competingSinks(sinks: SinkMembers, options?: CompetingSinksOptions): Sink {
  const opts = parseOptions(competingSinksSpec, options);
  const members = memberList(opts.name, sinks).map((m) => m.sink);
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
});
