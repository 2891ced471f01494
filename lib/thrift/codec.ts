/**
 * Thrift messages over the framed transport, with Apache's `thrift` package as the codec: its
 * TFramedTransport splits and writes frames, its TCompactProtocol / TBinaryProtocol read and write
 * the messages. What Flume's Thrift source and sink and its Scribe source speak (libthrift 0.14's
 * TFastFramedTransport is the same wire format). Imports only lib/core and this folder.
 */
import type * as ThriftTypes from 'thrift';
import { lazyRequire } from '../core/lazyRequire.js';

export type TProtocol = ThriftTypes.TProtocol;
type ThriftModule = typeof ThriftTypes;

// Loaded on first use: importing this module (as the agent's registry does) does not load thrift.
export const thrift = lazyRequire<ThriftModule>('thrift', "Flume's Thrift and Scribe components");

/** Flume's protocols: `compact` (the default, first byte 0x82) or `binary`. */
export type ThriftProtocolName = 'compact' | 'binary';

/** Thrift's field and element types (thrift.Thrift.Type), as numbers for the struct code. */
export const T = { STOP: 0, BOOL: 2, I32: 8, STRING: 11, STRUCT: 12, MAP: 13, LIST: 15 } as const;
/** Message types (thrift.Thrift.MessageType). */
export const M = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;
/** TApplicationException types used here. */
export const APP_ERROR = { UNKNOWN_METHOD: 1, INTERNAL_ERROR: 6, PROTOCOL_ERROR: 7 } as const;

/** Flume's largest incoming frame (libthrift TConfiguration.DEFAULT_MAX_FRAME_SIZE). */
export const DEFAULT_MAX_FRAME_BYTES = 16_384_000;

/**
 * A protocol over `transport`. Binary reads both the versioned and the old unversioned message header
 * (strictRead false, as Flume's TBinaryProtocol); it writes the versioned one unless `strictWrite` is
 * false (Flume's Scribe source writes the old one).
 */
export function protocolOn(name: ThriftProtocolName, transport: ThriftTypes.TTransport, strictWrite = true): TProtocol {
  const t = thrift();
  if (name === 'compact') return new t.TCompactProtocol(transport);
  return new (t.TBinaryProtocol as unknown as new (tr: ThriftTypes.TTransport, strictRead: boolean, strictWrite: boolean) => TProtocol)(transport, false, strictWrite);
}

export interface MessageHead {
  name: string;
  type: number;
  seqid: number;
  /** The protocol positioned at the message's body (its arguments or result struct). */
  input: TProtocol;
}

/** Reads a message's header from one frame's payload; throws on bytes that are not the protocol. */
export function readMessage(name: ThriftProtocolName, transport: ThriftTypes.TTransport): MessageHead {
  const input = protocolOn(name, transport);
  const head = input.readMessageBegin() as unknown as { fname: string | Buffer; mtype: number; rseqid: number };
  // The old unversioned binary header gives the name as bytes.
  return { name: String(head.fname), type: head.mtype, seqid: head.rseqid, input };
}

/** One whole frame (4-byte big-endian length, then the message): `body` writes the arguments or result struct. */
export function encodeMessage(protocol: ThriftProtocolName, name: string, type: number, seqid: number, body: (out: TProtocol) => void, strictWrite = true): Buffer {
  let frame: Buffer | undefined;
  const transport = new (thrift().TFramedTransport)(undefined, (out) => (frame = out));
  const out = protocolOn(protocol, transport, strictWrite);
  out.writeMessageBegin(name, type as ThriftTypes.Thrift.MessageType, seqid);
  body(out);
  out.writeMessageEnd();
  out.flush();
  return frame!;
}

/** A TApplicationException answer, as a Thrift server sends for an unknown method or a failed handler. */
export function encodeException(protocol: ThriftProtocolName, name: string, seqid: number, type: number, message: string, strictWrite = true): Buffer {
  const t = thrift();
  const error = new t.Thrift.TApplicationException(type as ThriftTypes.Thrift.TApplicationExceptionType, message);
  // thrift 0.24's write() sends `this.code` as the type field, not the `type` its constructor sets.
  (error as unknown as { code: number }).code = type;
  return encodeMessage(protocol, name, M.EXCEPTION, seqid, (out) => error.write(out), strictWrite);
}

/** Reads a TApplicationException body. */
export function readException(input: TProtocol): Error {
  const error = new (thrift().Thrift.TApplicationException)();
  error.read(input);
  return new Error(`Thrift application exception (type ${(error as unknown as { type: number }).type}): ${error.message}`);
}

/**
 * A function that takes the bytes of a connection and calls `onFrame` with each whole frame's
 * transport (TFramedTransport.receiver). It throws when a frame announces more than `maxFrameBytes`
 * or a negative length, before buffering it.
 */
export function frameReceiver(onFrame: (frame: ThriftTypes.TTransport) => void, maxFrameBytes: number): (chunk: Buffer) => void {
  const receiver = (thrift().TFramedTransport as unknown as { receiver: (cb: (t: ThriftTypes.TTransport) => void, seqid: undefined, max: number) => (d: Buffer) => void }).receiver;
  return receiver(onFrame, undefined, maxFrameBytes);
}

/** Skips a field the struct does not know (as generated code does). */
export const skip = (input: TProtocol, type: number): void => input.skip(type as ThriftTypes.Thrift.Type);
