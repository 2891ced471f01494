/**
 * Flume's `scribe-source.thrift`: `struct LogEntry { 1: string category, 2: string message }`,
 * `enum ResultCode { OK, TRY_LATER }`, `service Scribe { ResultCode Log(1: list<LogEntry> messages) }`,
 * read and written against the thrift package's TProtocol as generated code does (see
 * flumeProtocol.ts for why by hand). A message is kept as bytes: Flume turns it into the body with
 * `getBytes()`, so the UTF-8 bytes on the wire are the body.
 */
import { M, T, encodeMessage, skip, type TProtocol, type ThriftProtocolName } from './codec.js';
import { readArgs, readStructList, type CallLimits } from './flumeProtocol.js';

export const RESULT_CODE = { OK: 0, TRY_LATER: 1 } as const;

export interface LogEntry {
  category?: string | undefined;
  /** The message's bytes; undefined when the field is unset (Flume answers TRY_LATER then). */
  message?: Buffer | undefined;
}

function readLogEntry(input: TProtocol, limits: CallLimits): LogEntry {
  const entry: LogEntry = {};
  input.readStructBegin();
  for (;;) {
    const f = input.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 1 && f.ftype === T.STRING) {
      entry.category = input.readString();
      limits.admitHeaders(1);
    } else if (f.fid === 2 && f.ftype === T.STRING) {
      entry.message = input.readBinary();
    } else {
      skip(input, f.ftype);
    }
    input.readFieldEnd();
  }
  input.readStructEnd();
  return entry;
}

/** The entries of a `Log` call; undefined when the list is unset. */
export function readLogArgs(input: TProtocol, limits: CallLimits): LogEntry[] | undefined {
  return readArgs(input, T.LIST, () => readStructList(input, 'Log_args', limits, () => readLogEntry(input, limits)));
}

/** A `Log` call's argument struct. */
export function writeLogArgs(out: TProtocol, entries: readonly LogEntry[]): void {
  out.writeStructBegin('Log_args');
  out.writeFieldBegin('messages', T.LIST as never, 1);
  out.writeListBegin(T.STRUCT as never, entries.length);
  for (const e of entries) {
    out.writeStructBegin('LogEntry');
    if (e.category !== undefined) {
      out.writeFieldBegin('category', T.STRING as never, 1);
      out.writeString(e.category);
      out.writeFieldEnd();
    }
    if (e.message !== undefined) {
      out.writeFieldBegin('message', T.STRING as never, 2);
      out.writeBinary(e.message);
      out.writeFieldEnd();
    }
    out.writeFieldStop();
    out.writeStructEnd();
  }
  out.writeListEnd();
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
}

/** A whole `Log` call frame, as a Scribe client sends it. */
export function encodeLog(protocol: ThriftProtocolName, seqid: number, entries: readonly LogEntry[]): Buffer {
  return encodeMessage(protocol, 'Log', M.CALL, seqid, (out) => writeLogArgs(out, entries));
}
