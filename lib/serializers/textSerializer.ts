/**
 * Flume's TEXT serializer (`BodyTextEventSerializer`): each event's body as it is, followed by \n unless
 * `appendNewline` is off. No header.
 */
import { z } from 'zod';
import type { FlumeEvent } from '../core/event.js';
import { defineSerializer } from './defineSerializer.js';

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** The text serializers' one option (Flume `serializer.appendNewline`). */
export const appendNewlineOption = {
  appendNewline: z.boolean().default(true).describe('End each event with \\n (Flume serializer.appendNewline).'),
};

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

export const textSerializer = defineSerializer({
  name: 'TEXT',
  flumeTypes: ['text', 'org.apache.flume.serialization.BodyTextEventSerializer$Builder'],
  schema: z.strictObject(appendNewlineOption),
  create: ({ appendNewline }) => ({ header: EMPTY, serialize: (events) => textBytes(events, appendNewline) }),
});
