/**
 * A Flume event: a string map of headers and a body of bytes. Bodies stay bytes end to end;
 * `text()` is a view, never a lossy conversion of the stored event.
 */
export interface FlumeEvent {
  headers: Record<string, string>;
  body: Buffer;
}

export type EventBody = Buffer | Uint8Array | string;

/** Makes an event. Strings are encoded as UTF-8; a Uint8Array is wrapped without copying. */
export function event(body: EventBody, headers: Record<string, string> = {}): FlumeEvent {
  return { headers, body: toBuffer(body) };
}

/** The body decoded as text (UTF-8 unless told otherwise). */
export function text(e: FlumeEvent, encoding: BufferEncoding = 'utf8'): string {
  return e.body.toString(encoding);
}

export function toBuffer(body: EventBody): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

export function isFlumeEvent(value: unknown): value is FlumeEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    Buffer.isBuffer((value as FlumeEvent).body) &&
    typeof (value as FlumeEvent).headers === 'object' &&
    (value as FlumeEvent).headers !== null
  );
}

/** Total body bytes of a list of events, the unit byte capacities are counted in. */
export function bodyBytes(events: readonly FlumeEvent[]): number {
  let n = 0;
  for (let i = 0; i < events.length; i++) n += events[i]!.body.length;
  return n;
}
