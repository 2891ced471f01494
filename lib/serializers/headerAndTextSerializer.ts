/**
 * Flume's HEADER_AND_TEXT serializer (`HeaderAndBodyTextEventSerializer`): Java's `Map.toString()` of
 * the headers (`{k1=v1, k2=v2}`, here in the headers' own order — Java's HashMap order is arbitrary), a
 * space, the body, and \n unless `appendNewline` is off. No header.
 */
import { z } from 'zod';
import type { FlumeEvent } from '../core/event.js';
import { defineSerializer } from './defineSerializer.js';
import { appendNewlineOption } from './textSerializer.js';

const NEWLINE = Buffer.from([0x0a]);
const EMPTY = Buffer.alloc(0);

/** Java's `AbstractMap.toString()`: `{k1=v1, k2=v2}`. */
export function javaMapString(headers: Readonly<Record<string, string>>): string {
  let out = '{';
  let first = true;
  for (const key of Object.keys(headers)) {
    out += `${first ? '' : ', '}${key}=${headers[key]}`;
    first = false;
  }
  return out + '}';
}

/** The HEADER_AND_TEXT bytes of `events`, in one buffer. */
export function headerAndTextBytes(events: readonly FlumeEvent[], appendNewline: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    parts.push(Buffer.from(`${javaMapString(e.headers)} `, 'utf8'), e.body);
    if (appendNewline) parts.push(NEWLINE);
  }
  return Buffer.concat(parts);
}

export const headerAndTextSerializer = defineSerializer({
  name: 'HEADER_AND_TEXT',
  flumeTypes: ['header_and_text', 'org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder'],
  schema: z.strictObject(appendNewlineOption),
  create: ({ appendNewline }) => ({ header: EMPTY, serialize: (events) => headerAndTextBytes(events, appendNewline) }),
});
