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
  /**
   * Present while a source has checked its events but not made them yet (`createDeferredBatch`); reading
   * `events` makes them. A stage that only stores events (the memory channel) may keep this instead and
   * make them when they leave it, so that the source can answer its client first.
   */
  readonly deferred?: DeferredEvents | undefined;
  readonly settled: boolean;
  ack(): void;
  nack(error?: unknown): void;
}

export interface Settlement {
  onAck?: () => void;
  onNack?: (error: Error) => void;
}

/** Events counted and checked, made on first need; `make` returns the same array every time. */
export interface DeferredEvents {
  readonly count: number;
  make(): FlumeEvent[];
}

/** `make` run once, its array returned to every later call. */
export function deferEvents(count: number, make: () => FlumeEvent[]): DeferredEvents {
  let made: FlumeEvent[] | undefined;
  return { count, make: () => (made ??= make()) };
}

class Transaction implements Batch {
  private state: 'open' | 'acked' | 'nacked' = 'open';
  private made: readonly FlumeEvent[] | undefined;
  private pending: DeferredEvents | undefined;

  constructor(events: readonly FlumeEvent[] | DeferredEvents, private readonly settlement: Settlement) {
    if (Array.isArray(events)) this.made = events;
    else this.pending = events as DeferredEvents;
  }

  get events(): readonly FlumeEvent[] {
    if (this.made === undefined) {
      this.made = this.pending!.make();
      this.pending = undefined;
    }
    return this.made;
  }

  get deferred(): DeferredEvents | undefined {
    return this.pending;
  }

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
        `batch of ${this.made?.length ?? this.pending!.count} events already ${this.state}; cannot ${next === 'acked' ? 'ack' : 'nack'} it again`,
      );
    }
    this.state = next;
  }
}

/** Opens a transaction over `events`; the callbacks run synchronously on settle. */
export function createBatch(events: readonly FlumeEvent[], settlement: Settlement = {}): Batch {
  return new Transaction(events, settlement);
}

/**
 * Opens a transaction over events not made yet: `deferred.make()` runs when a stage reads `events`, or
 * when a store that kept `deferred` hands them on. It must not fail: the source checked the bytes.
 */
export function createDeferredBatch(deferred: DeferredEvents, settlement: Settlement = {}): Batch {
  return new Transaction(deferred, settlement);
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
