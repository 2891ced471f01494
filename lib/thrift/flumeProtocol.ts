/**
 * Flume's `flume.thrift` (flume-ng-sdk): `struct ThriftFlumeEvent { 1: required map<string,string>
 * headers, 2: required binary body }`, `enum Status { OK, FAILED, ERROR, UNKNOWN }` and `service
 * ThriftSourceProtocol { Status append(1: ThriftFlumeEvent event), Status appendBatch(1:
 * list<ThriftFlumeEvent> events) }`, read and written against the thrift package's TProtocol as the
 * Thrift compiler's generated code does (field loops, skipping unknown fields, required fields
 * checked). Written by hand: Debian's compiler (0.17) generates code for a thrift package that still
 * had `Q`, which 0.24 dropped. Reading is bounded: see `CallLimits`.
 */
import type { FlumeEvent } from '../core/event.js';
import { M, T, encodeMessage, skip, type TProtocol, type ThriftProtocolName } from './codec.js';

export const STATUS = { OK: 0, FAILED: 1, ERROR: 2, UNKNOWN: 3 } as const;
export const STATUS_NAMES = ['OK', 'FAILED', 'ERROR', 'UNKNOWN'] as const;

/** Estimated heap bytes of one decoded event beyond its bytes (the object, its headers, the body view). */
const EVENT_COST = 256;
/** Estimated heap bytes of one header entry beyond its bytes (two strings and the property). */
const HEADER_COST = 128;

/** Past a limit while decoding a call: it is refused whole. */
export class CallTooLarge extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CallTooLarge';
  }
}

/**
 * What one call may decode to: `maxEvents` events, and an estimated heap cost of at most `maxCost`
 * (events and header entries are charged before they are made, so a frame of 2-byte headers cannot
 * become gigabytes of objects).
 */
export class CallLimits {
  events = 0;
  private cost = 0;

  constructor(
    readonly maxEvents: number,
    readonly maxCost: number,
  ) {}

  admitEvents(n: number): void {
    this.events += n;
    if (this.events > this.maxEvents) throw new CallTooLarge(`more than ${this.maxEvents} events in one call (at least ${this.events}; maxEventsPerBatch)`);
    this.charge(n * EVENT_COST);
  }

  admitHeaders(n: number): void {
    this.charge(n * HEADER_COST);
  }

  private charge(n: number): void {
    this.cost += n;
    if (this.cost > this.maxCost) throw new CallTooLarge(`the call would decode to more than ${this.maxCost} bytes of events and headers`);
  }
}

const missing = (struct: string, field: string): Error => new Error(`${struct}: required field ${field} is unset`);

export function readEvent(input: TProtocol, limits: CallLimits): FlumeEvent {
  let headers: Record<string, string> | undefined;
  let body: Buffer | undefined;
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 1 && f.ftype === T.MAP) {
      const map = input.readMapBegin();
      limits.admitHeaders(map.size);
      headers = {};
      for (let i = 0; i < map.size; i++) {
        const key = input.readString();
        const value = input.readString();
        // defineProperty: a `__proto__` header must stay an ordinary key.
        if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
        else headers[key] = value;
      }
      input.readMapEnd();
    } else if (f.fid === 2 && f.ftype === T.STRING) {
      body = input.readBinary();
    } else {
      skip(input, f.ftype);
    }
    input.readFieldEnd();
  }
  input.readStructEnd();
  if (headers === undefined) throw missing('ThriftFlumeEvent', 'headers');
  if (body === undefined) throw missing('ThriftFlumeEvent', 'body');
  return { headers, body };
}

export function writeEvent(out: TProtocol, event: FlumeEvent): void {
  out.writeStructBegin('ThriftFlumeEvent');
  out.writeFieldBegin('headers', T.MAP as never, 1);
  const entries = Object.entries(event.headers);
  out.writeMapBegin(T.STRING as never, T.STRING as never, entries.length);
  for (const [k, v] of entries) {
    out.writeString(k);
    out.writeString(v);
  }
  out.writeMapEnd();
  out.writeFieldEnd();
  out.writeFieldBegin('body', T.STRING as never, 2);
  out.writeBinary(event.body);
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
}

/**
 * A call's argument struct whose one field (id 1) is of `type`: `read` reads it; other fields are
 * skipped. Undefined when the field is unset.
 */
export function readArgs<V>(input: TProtocol, type: number, read: () => V): V | undefined {
  let value: V | undefined;
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 1 && f.ftype === type) value = read();
    else skip(input, f.ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  return value;
}

/** A `list<struct>` whose items count as events against `limits` before they are made. */
export function readStructList<V>(input: TProtocol, struct: string, limits: CallLimits, item: () => V): V[] {
  const list = input.readListBegin();
  if (list.etype !== T.STRUCT && list.size > 0) throw new Error(`${struct}: a list of type ${list.etype}, not of structs`);
  limits.admitEvents(list.size);
  const items: V[] = [];
  for (let i = 0; i < list.size; i++) items.push(item());
  input.readListEnd();
  return items;
}

/** The events of an `append` (one) or `appendBatch` (a list) call's argument struct. */
export function readAppendArgs(input: TProtocol, batch: boolean, limits: CallLimits): FlumeEvent[] {
  const event = () => readEvent(input, limits);
  const events = batch
    ? readArgs(input, T.LIST, () => readStructList(input, 'appendBatch_args', limits, event))
    : readArgs(input, T.STRUCT, () => (limits.admitEvents(1), [event()]));
  if (events === undefined) throw missing(batch ? 'appendBatch_args' : 'append_args', batch ? 'events' : 'event');
  return events;
}

/** A whole `append` / `appendBatch` call frame (the client side). */
export function encodeAppend(protocol: ThriftProtocolName, seqid: number, events: readonly FlumeEvent[], batch = true): Buffer {
  const name = batch ? 'appendBatch' : 'append';
  return encodeMessage(protocol, name, M.CALL, seqid, (out) => {
    out.writeStructBegin(`${name}_args`);
    if (batch) {
      out.writeFieldBegin('events', T.LIST as never, 1);
      out.writeListBegin(T.STRUCT as never, events.length);
      for (const e of events) writeEvent(out, e);
      out.writeListEnd();
    } else {
      out.writeFieldBegin('event', T.STRUCT as never, 1);
      writeEvent(out, events[0]!);
    }
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
  });
}

/** The result struct of a service call returning an i32 enum (Status, Scribe's ResultCode): `0: success`. */
export function writeEnumResult(out: TProtocol, struct: string, value: number): void {
  out.writeStructBegin(struct);
  out.writeFieldBegin('success', T.I32 as never, 0);
  out.writeI32(value);
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
}

/** Reads such a result; throws when `success` is unset (the server sent no result). */
export function readEnumResult(input: TProtocol, struct: string): number {
  let value: number | undefined;
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 0 && f.ftype === T.I32) value = input.readI32();
    else skip(input, f.ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  if (value === undefined) throw new Error(`${struct}: the answer has no result`);
  return value;
}
