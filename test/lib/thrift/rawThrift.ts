/**
 * A raw Thrift client for the tests: sends bytes (a frame made with lib/thrift's codec, or garbage)
 * and collects the answer frames, decoded with the same codec, until the server answers `count`
 * frames or closes the connection.
 */
import { connect, type Socket } from 'node:net';
import { frameReceiver, readException, readMessage, M, type ThriftProtocolName } from '../../../lib/thrift/codec.js';
import { readEnumResult } from '../../../lib/thrift/flumeProtocol.js';

export interface Answer {
  name: string;
  /** The result's enum value, or the exception's text. */
  value: number | string;
}

export interface RawConnection {
  socket: Socket;
  answers: Answer[];
  closed: Promise<void>;
  send(bytes: Buffer): void;
  /** Waits until `n` answers arrived or the connection closed (at most 20 s). */
  until(n: number): Promise<Answer[]>;
}

export async function rawConnection(port: number, protocol: ThriftProtocolName, resultStruct = (name: string) => `${name}_result`): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const answers: Answer[] = [];
  let isClosed = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => ((isClosed = true), resolve())));
  socket.on('error', () => undefined);
  const receive = frameReceiver((frame) => {
    const head = readMessage(protocol, frame);
    answers.push({ name: head.name, value: head.type === M.EXCEPTION ? readException(head.input).message : readEnumResult(head.input, resultStruct(head.name)) });
  }, 1 << 20);
  socket.on('data', (d: Buffer) => receive(d));
  return {
    socket,
    answers,
    closed,
    send: (bytes) => socket.write(bytes),
    async until(n) {
      const until = Date.now() + 20_000;
      while (answers.length < n && !isClosed && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      return answers;
    },
  };
}
