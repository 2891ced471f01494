/**
 * What an Avro source holds across its connections — bytes received and not yet answered, plus the
 * estimated cost of decoded events in unsettled batches — against `maxBufferedBytes`, and the
 * batch slots of `maxInFlight`.
 */

/** A connection holding part of the budget. */
export interface Holder {
  /** What closing it would give back (not what its emitted batch holds: that goes when the batch settles). */
  evictable(): number;
  /** Closes it with an error naming the budget. */
  reject(reason: string): void;
}

export class Budget {
  /** Held across connections. */
  total = 0;
  /** Of `total`, what emitted batches hold. */
  inFlight = 0;
  private readonly holders = new Set<Holder>();

  constructor(readonly limit: number) {}

  add(holder: Holder): void {
    this.holders.add(holder);
  }

  delete(holder: Holder): void {
    this.holders.delete(holder);
  }

  /**
   * Closes the connections holding the most unhandled bytes (never `keep`) until `need` more fits:
   * a hostile client filling the budget with partial frames is closed before a small good one.
   * False when it cannot make room.
   */
  shed(need: number, keep?: Holder): boolean {
    while (this.total + need > this.limit) {
      let worst: Holder | undefined;
      let most = 0;
      for (const h of this.holders) {
        const n = h !== keep ? h.evictable() : 0;
        if (n > most) [worst, most] = [h, n];
      }
      if (worst === undefined) return false;
      worst.reject(`the source holds more than maxBufferedBytes (${this.limit}) across connections, and this connection the most unhandled (${most})`);
    }
    return true;
  }
}

/** At most `max` batches emitted and unsettled; connections waiting for a slot (or for room) are woken as batches settle. */
export class Slots {
  used = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly max: number) {}

  get full(): boolean {
    return this.used >= this.max;
  }

  wait(wake: () => void): void {
    this.waiting.add(wake);
  }

  cancel(wake: () => void): void {
    this.waiting.delete(wake);
  }

  wake(): void {
    for (const wake of [...this.waiting]) {
      if (this.full) return;
      this.waiting.delete(wake);
      wake();
    }
  }

  clear(): void {
    this.waiting.clear();
  }
}
