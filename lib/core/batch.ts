import type { FlumeEvent } from './event.js';
import { TransactionError, toError } from './errors.js';

/**
 * A batch is a Flume transaction travelling through the pipeline. `ack()` commits ("the next stage
 * owns these events now"), `nack(error)` rolls back ("they are still yours"). It is settled exactly
 * once: a second `ack`/`nack` throws `TransactionError`, because a double commit would lose or
 * duplicate events silently.
 */
export interface Batch {
  readonly events: readonly FlumeEvent[];
  readonly settled: boolean;
  ack(): void;
  nack(error?: unknown): void;
}

export interface Settlement {
  onAck?: () => void;
  onNack?: (error: Error) => void;
}

class Transaction implements Batch {
  private state: 'open' | 'acked' | 'nacked' = 'open';

  constructor(
    readonly events: readonly FlumeEvent[],
    private readonly settlement: Settlement,
  ) {}

  get settled(): boolean {
    return this.state !== 'open';
  }

  ack(): void {
    this.settle('acked');
    this.settlement.onAck?.();
  }

  nack(error?: unknown): void {
    this.settle('nacked');
    this.settlement.onNack?.(toError(error ?? new Error('batch rolled back')));
  }

  private settle(next: 'acked' | 'nacked'): void {
    if (this.state !== 'open') {
      throw new TransactionError(
        `batch of ${this.events.length} events already ${this.state}; cannot ${next === 'acked' ? 'ack' : 'nack'} it again`,
      );
    }
    this.state = next;
  }
}

/** Opens a transaction over `events`; the callbacks run synchronously on settle. */
export function createBatch(events: readonly FlumeEvent[], settlement: Settlement = {}): Batch {
  return new Transaction(events, settlement);
}

/** A batch carrying other events (rewritten, filtered) that settles its parent when settled. */
export function deriveBatch(parent: Batch, events: readonly FlumeEvent[]): Batch {
  return new Transaction(events, {
    onAck: () => parent.ack(),
    onNack: (e) => parent.nack(e),
  });
}

export function isBatch(value: unknown): value is Batch {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as Batch).events) &&
    typeof (value as Batch).ack === 'function' &&
    typeof (value as Batch).nack === 'function'
  );
}
