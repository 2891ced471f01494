/**
 * The client protocols an Avro source has seen, by MD5, as Java's `Responder` keeps them server-wide:
 * which of their messages are wire-compatible with Flume's `AvroSourceProtocol`. Bounded in entries
 * and in the text it agrees to parse, since clients choose both.
 */
import type * as Avsc from 'avsc';
import { avsc } from '../../avro/avsc.js';
import { AVRO_SOURCE_PROTOCOL, AVRO_SOURCE_PROTOCOL_HASH } from '../../avro/rpc.js';

/** Cached protocols at most: clients choose the hashes, so an unbounded cache would be theirs to fill. */
const MAX_CLIENT_PROTOCOLS = 256;
/** Longest protocol text parsed (Flume's is 1,334 bytes); JSON.parse of megabytes would cost many times that in objects. */
export const MAX_PROTOCOL_BYTES = 64 * 1024;
const MAX_NAME_CHARS = 200;

export interface ClientProtocol {
  name: string;
  /** The messages whose request and response match Flume's, so their bytes decode as ours. */
  messages: ReadonlySet<string>;
}

// Parsed when a client first sends a protocol of its own: importing this module does not load avsc.
let flumeServiceParsed: Avsc.Service | undefined;
const flumeService = (): Avsc.Service => (flumeServiceParsed ??= avsc().Service.forProtocol(JSON.parse(AVRO_SOURCE_PROTOCOL)));
const FLUME_CLIENT: ClientProtocol = { name: 'AvroSourceProtocol', messages: new Set(['append', 'appendBatch']) };

export class ClientProtocols {
  private readonly known = new Map<string, ClientProtocol>([[AVRO_SOURCE_PROTOCOL_HASH.toString('hex'), FLUME_CLIENT]]);

  /** The protocol of `hash`, parsing and caching `text` when it is new; undefined when unknown and no text came. */
  lookup(hash: Buffer, text: Buffer | null): ClientProtocol | undefined {
    const key = hash.toString('hex');
    let found = this.known.get(key);
    if (found === undefined && text !== null) {
      found = parseClientProtocol(text);
      if (this.known.size < MAX_CLIENT_PROTOCOLS) this.known.set(key, found);
    }
    return found;
  }
}

/** Which messages of a client protocol are wire-compatible with ours (same parameter and response schemas). */
function parseClientProtocol(text: Buffer): ClientProtocol {
  if (text.length > MAX_PROTOCOL_BYTES) return { name: `a protocol of ${text.length} bytes (limit ${MAX_PROTOCOL_BYTES})`, messages: new Set() };
  let service: Avsc.Service;
  try {
    service = avsc().Service.forProtocol(JSON.parse(text.toString('utf8')));
  } catch {
    return { name: 'an unparseable protocol', messages: new Set() };
  }
  const messages = new Set<string>();
  for (const name of ['append', 'appendBatch']) {
    const theirs = service.message(name);
    const ours = flumeService().message(name)!;
    if (!theirs) continue;
    const params = (m: typeof ours) =>
      (m.requestType as Avsc.types.RecordType).fields.map((f) => f.type.fingerprint().toString('hex')).join(',');
    if (params(theirs) === params(ours) && theirs.responseType.fingerprint().equals(ours.responseType.fingerprint())) messages.add(name);
  }
  return { name: service.name.slice(0, MAX_NAME_CHARS), messages };
}
