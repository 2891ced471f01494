/**
 * A Scribe client as the Thrift compiler generates one from `scribe-source.thrift` for the thrift
 * npm package (`send_Log` / `recv_Log`, `_reqs` by seqid), for `thrift.createClient` over a framed
 * binary `thrift.createConnection`: the kind of client Flume's Scribe source serves.
 */
import type * as ThriftTypes from 'thrift';
import { M, thrift, type TProtocol } from '../../../lib/thrift/codec.js';
import { readEnumResult } from '../../../lib/thrift/flumeProtocol.js';
import { writeLogArgs, type LogEntry } from '../../../lib/thrift/scribeProtocol.js';

export class ScribeClient {
  _seqid = 0;
  _reqs: Record<number, (error: Error | null, result?: number) => void> = {};

  constructor(
    readonly output: ThriftTypes.TTransport,
    readonly pClass: new (t: ThriftTypes.TTransport) => TProtocol,
  ) {}

  seqid(): number {
    return this._seqid;
  }

  new_seqid(): number {
    return (this._seqid += 1);
  }

  Log(messages: LogEntry[]): Promise<number> {
    this._seqid = this.new_seqid();
    return new Promise((resolve, reject) => {
      this._reqs[this.seqid()] = (error, result) => (error ? reject(error) : resolve(result!));
      this.send_Log(messages);
    });
  }

  send_Log(messages: LogEntry[]): void {
    const output = new this.pClass(this.output);
    output.writeMessageBegin('Log', M.CALL as ThriftTypes.Thrift.MessageType, this.seqid());
    writeLogArgs(output, messages);
    output.writeMessageEnd();
    this.output.flush();
  }

  recv_Log(input: TProtocol, mtype: number, rseqid: number): void {
    const callback = this._reqs[rseqid] ?? (() => undefined);
    delete this._reqs[rseqid];
    if (mtype === M.EXCEPTION) {
      const x = new (thrift().Thrift.TApplicationException)();
      x.read(input);
      input.readMessageEnd();
      return callback(x);
    }
    callback(null, readEnumResult(input, 'Log_result'));
  }
}

/** Connects a ScribeClient to `port` (framed transport, binary protocol). */
export async function scribeClient(port: number): Promise<{ client: ScribeClient; close(): void }> {
  const t = thrift();
  const connection = t.createConnection('127.0.0.1', port, { transport: t.TFramedTransport, protocol: t.TBinaryProtocol });
  connection.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => connection.once('connect', resolve).once('error', reject));
  const client = t.createClient(ScribeClient as never, connection) as unknown as ScribeClient;
  return { client, close: () => connection.end() };
}
