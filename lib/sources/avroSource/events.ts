/**
 * The events of an `append` / `appendBatch` call, decoded under limits: the event count is checked
 * per Avro block before its events are made, and every event and header is charged an estimate of its
 * heap cost against an allowance before it is allocated, so a message of 2-byte events or 2-byte
 * headers cannot turn 64 MiB of wire into gigabytes of objects.
 */
import type { FlumeEvent } from '../../core/event.js';
import type { Reader } from '../../avro/rpc.js';

/** Estimated heap bytes of one decoded event beyond its bytes: the event, its headers object, the body view (~200 measured on Node 20). */
export const EVENT_COST = 256;
/** Estimated heap bytes of one header entry beyond its bytes: two strings and the property (~60–110 measured). */
export const HEADER_COST = 128;
/**
 * Bodies are copied out when the memory their views keep alive (the received chunks, see
 * `backingBytes`) is more than twice their total plus this, so a small event does not keep a large
 * chunk alive in the channel (small calls sent back to back share 64 KiB chunks).
 */
const COMPACT_SLACK = 8 * 1024;

/** More events than `maxEventsPerBatch`. */
export class TooManyEvents extends Error {
  constructor(
    readonly count: number,
    readonly limit: number,
  ) {
    super(`more than ${limit} events in one call (at least ${count}; maxEventsPerBatch)`);
    this.name = 'TooManyEvents';
  }
}

/** The estimated cost went past the allowance: nothing decoded is kept; `scanCall` tells the full cost. */
export class NoRoom extends Error {
  constructor() {
    super('no room');
    this.name = 'NoRoom';
  }
}

export interface DecodedCall {
  events: FlumeEvent[];
  /** Estimated heap bytes of the decoded objects beyond the message's bytes. */
  cost: number;
}

/**
 * Decodes the call's events (one for `append`, an array for `appendBatch`), bodies as views of what
 * the reader reads (`pinned`: the bytes that keeps alive, `backingBytes` of its views). Throws
 * TooManyEvents past `maxEvents`, NoRoom past `allowance`, or an Error on bytes that are not the protocol.
 */
export function readCall(r: Reader, single: boolean, maxEvents: number, allowance: number, pinned: number = r.length): DecodedCall {
  const d = new CallDecoder(maxEvents, allowance);
  const events: FlumeEvent[] = [];
  if (single) {
    d.admit(1);
    events.push(d.event(r));
  } else {
    for (let n = r.block(); n > 0; n = r.block()) {
      d.admit(n);
      for (let i = 0; i < n; i++) events.push(d.event(r));
    }
  }
  if (pinsTooMuch(d.bodyBytes, pinned)) compact(events, d.bodyBytes);
  return { events, cost: d.cost };
}

/**
 * The estimated cost `readCall` would charge and the event count, walking the message without making
 * anything. Throws TooManyEvents past `maxEvents`, or an Error on bytes that are not the protocol.
 */
export function scanCall(r: Reader, single: boolean, maxEvents: number): { events: number; cost: number; bodyBytes: number } {
  const d = new CallDecoder(maxEvents, Infinity);
  if (single) {
    d.admit(1);
    d.skipEvent(r);
  } else {
    for (let n = r.block(); n > 0; n = r.block()) {
      d.admit(n);
      for (let i = 0; i < n; i++) d.skipEvent(r);
    }
  }
  return { events: d.events, cost: d.cost, bodyBytes: d.bodyBytes };
}

class CallDecoder {
  cost = 0;
  events = 0;
  bodyBytes = 0;
  /** The previous event's header keys and values, by position. */
  private readonly seen: string[] = [];

  constructor(
    private readonly maxEvents: number,
    private readonly allowance: number,
  ) {}

  /** Counts and charges `n` events before they are made. */
  admit(n: number): void {
    this.events += n;
    if (this.events > this.maxEvents) throw new TooManyEvents(this.events, this.maxEvents);
    this.charge(n * EVENT_COST);
  }

  event(r: Reader): FlumeEvent {
    const headers: Record<string, string> = {};
    const seen = this.seen;
    let slot = 0;
    for (let n = r.block(); n > 0; n = r.block()) {
      this.charge(n * HEADER_COST);
      for (let i = 0; i < n; i++, slot += 2) {
        // Events of a batch mostly repeat their header keys, and often values: the same strings are reused.
        const key = (seen[slot] = r.stringLike(seen[slot]));
        const value = (seen[slot + 1] = r.stringLike(seen[slot + 1]));
        // defineProperty: a `__proto__` header must stay an ordinary key.
        if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
        else headers[key] = value;
      }
    }
    const body = r.bytes();
    this.bodyBytes += body.length;
    return { headers, body };
  }

  skipEvent(r: Reader): void {
    for (let n = r.block(); n > 0; n = r.block()) {
      this.charge(n * HEADER_COST);
      for (let i = 0; i < 2 * n; i++) r.skipBytes();
    }
    this.bodyBytes += r.skipBytes();
  }

  private charge(n: number): void {
    this.cost += n;
    if (this.cost > this.allowance) throw new NoRoom();
  }
}

/** Whether bodies of `bodyBytes` in all, as views, would keep too much more memory (`pinned`) alive. */
export function pinsTooMuch(bodyBytes: number, pinned: number): boolean {
  return bodyBytes * 2 + COMPACT_SLACK < pinned;
}

/** Bodies moved into one buffer of their own size (the message they viewed can then be freed). */
function compact(events: FlumeEvent[], total: number): void {
  const all = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of events) {
    const n = e.body.copy(all, at);
    e.body = all.subarray(at, at + n);
    at += n;
  }
}
