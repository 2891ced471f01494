import type * as Avsc from 'avsc';
import { avsc } from './avsc.js';
import type { FlumeEvent } from '../core/event.js';

/**
 * Flume's `AvroFlumeEvent` record (flume-ng-sdk `flume.avdl`): the value Flume's Kafka sink writes
 * with `useFlumeEventFormat=true`, what its Kafka channel stores with `parseAsFlumeEvent=true`, and
 * the event of its Avro RPC.
 */
export const AVRO_FLUME_EVENT_SCHEMA = {
  type: 'record',
  name: 'AvroFlumeEvent',
  namespace: 'org.apache.flume.source.avro',
  fields: [
    { name: 'headers', type: { type: 'map', values: 'string' } },
    { name: 'body', type: 'bytes' },
  ],
} as const;

// Built on first use, so that importing this module does not load avsc.
let writer: Avsc.Type | undefined;
const writerType = (): Avsc.Type => (writer ??= avsc().Type.forSchema(AVRO_FLUME_EVENT_SCHEMA as unknown as Avsc.Schema));

// Avro writes map<string> exactly as an array of {key, value} string pairs (same blocks, same
// counts), so this reader decodes the same bytes while letting us build the headers object
// ourselves: avsc's map reader assigns `obj[key]`, which silently drops a `__proto__` header.
let reader: Avsc.Type | undefined;
const readerType = (): Avsc.Type =>
  (reader ??= avsc().Type.forSchema({
    type: 'record',
    name: 'AvroFlumeEventPairs',
    fields: [
      {
        name: 'headers',
        type: { type: 'array', items: { type: 'record', name: 'Header', fields: [{ name: 'key', type: 'string' }, { name: 'value', type: 'string' }] } },
      },
      { name: 'body', type: 'bytes' },
    ],
  }));

interface PairsDatum {
  headers: Array<{ key: string; value: string }>;
  body: Buffer;
}

/**
 * The Avro binary datum of `event` as an `AvroFlumeEvent`: no container, no schema header, no
 * fingerprint — the bytes Flume's `SpecificDatumWriter` + `BinaryEncoder` produce (header order
 * follows the object's key order; Java's follows its HashMap, and either order decodes the same).
 */
export function encodeFlumeEvent(event: FlumeEvent): Buffer {
  return writerType().toBuffer(event);
}

/**
 * Decodes one `AvroFlumeEvent` datum (the whole buffer); the body is a copy. Throws
 * an `Error` naming the problem when the bytes are not exactly one such datum.
 */
export function decodeFlumeEvent(buf: Buffer | Uint8Array): FlumeEvent {
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let datum: PairsDatum;
  try {
    datum = readerType().fromBuffer(bytes) as PairsDatum;
  } catch (error) {
    throw new Error(`not an AvroFlumeEvent datum (${bytes.length} bytes): ${(error as Error).message}`, { cause: error });
  }
  const headers: Record<string, string> = {};
  for (const { key, value } of datum.headers) {
    if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
    else headers[key] = value;
  }
  return { headers, body: datum.body };
}
