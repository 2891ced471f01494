import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { event } from '../../../lib/core/event.js';
import type { Sink } from '../../../lib/core/sink.js';

export type Behaviour = 'ack' | 'nack' | 'hold' | 'throw';

/** A scripted group member: records what it got and settles it as `behaviour` says. */
export function member(behaviour: Behaviour | (() => Behaviour) = 'ack') {
  const got: Batch[] = [];
  const held: Batch[] = [];
  let ended: 'complete' | { error: unknown } | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const state = { behaviour, got, held, ended: () => ended, closeNow: () => resolveClosed() };
  const sink: Sink = {
    next(batch) {
      got.push(batch);
      const b = typeof state.behaviour === 'function' ? state.behaviour() : state.behaviour;
      if (b === 'ack') batch.ack();
      else if (b === 'nack') batch.nack(new Error('member down'));
      else if (b === 'throw') throw new Error('member threw');
      else held.push(batch);
    },
    error(error) {
      ended = { error };
      resolveClosed();
    },
    complete() {
      ended = 'complete';
      resolveClosed();
    },
    closed,
  };
  return Object.assign(state, { sink });
}

export interface Sent {
  batch: Batch;
  acks: number;
  errors: Error[];
}

let seq = 0;
export function sent(n = 1): Sent {
  const s: Sent = { batch: undefined as unknown as Batch, acks: 0, errors: [] };
  s.batch = createBatch(
    Array.from({ length: n }, () => event(String(seq++))),
    { onAck: () => s.acks++, onNack: (e) => s.errors.push(e) },
  );
  return s;
}
