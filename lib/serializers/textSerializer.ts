/**
 * Flume's TEXT serializer (`BodyTextEventSerializer`): each event's body as it is, followed by \n unless
 * `appendNewline` is off. No header.
 */
import type { FlumeEvent } from '../core/event.js';
import type { EventSerializer } from './eventSerializer.js';

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** The TEXT bytes of `events`, in one buffer. */
export function textBytes(events: readonly FlumeEvent[], appendNewline: boolean): Buffer {
  let length = 0;
  for (const e of events) length += e.body.length + (appendNewline ? 1 : 0);
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const e of events) {
    at += e.body.copy(out, at);
    if (appendNewline) out[at++] = NEWLINE;
  }
  return out;
}

export function textSerializer(appendNewline: boolean): EventSerializer {
  return { header: EMPTY, serialize: (events) => textBytes(events, appendNewline) };
}
