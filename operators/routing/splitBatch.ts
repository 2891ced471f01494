import type { FlumeEvent } from '../../lib/core/event.js';
import type { BoundSelector } from './channelSelector.js';

/** A source batch's events by channel: what each must store, what each gets best-effort, and how many go nowhere. */
export interface Split {
  required: (FlumeEvent[] | undefined)[];
  optional: (FlumeEvent[] | undefined)[];
  unrouted: number;
}

/**
 * Splits `events` over `width` channels by the selector's routes, each channel's events in source
 * order. An event is shared with the first channel it goes to (required ones first); every further
 * channel gets a copy with its own `headers` object (bodies are shared, never mutated), so what one
 * channel's interceptors do cannot change what another sees. Throws what the selector throws.
 */
export function splitBatch(events: readonly FlumeEvent[], bound: BoundSelector, width: number): Split {
  const required: (FlumeEvent[] | undefined)[] = new Array(width);
  const optional: (FlumeEvent[] | undefined)[] = new Array(width);
  const constant = bound.constant;
  if (constant) {
    // The same route for every event: whole lists, no lookup per event.
    let first = true;
    const take = (): FlumeEvent[] => (first ? ((first = false), events as FlumeEvent[]) : events.map(copyEvent));
    for (const i of constant.required) required[i] = take();
    for (const i of constant.optional) optional[i] = take();
    return { required, optional, unrouted: first ? events.length : 0 };
  }
  let unrouted = 0;
  for (const e of events) {
    const route = bound.route(e);
    let first = true;
    for (const i of route.required) {
      (required[i] ??= []).push(first ? e : copyEvent(e));
      first = false;
    }
    for (const i of route.optional) {
      (optional[i] ??= []).push(first ? e : copyEvent(e));
      first = false;
    }
    if (first) unrouted++;
  }
  return { required, optional, unrouted };
}

function copyEvent(e: FlumeEvent): FlumeEvent {
  return { headers: { ...e.headers }, body: e.body };
}
