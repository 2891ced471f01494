/**
 * A raw Avro RPC client for avroSource tests: writes any bytes or frames (plain or through a zlib
 * stream, as Netty's deflate), collects the answers by serial, and tells when the server closed.
 */
import { connect, type Socket } from 'node:net';
import { constants, createDeflate, createInflate } from 'node:zlib';
import avro from 'avsc';
import { AVRO_SOURCE_PROTOCOL_HASH, writeCallHeader, zigzag } from '../../../../lib/avro/rpc.js';
import { FrameDecoder, encodeFrame } from '../../../../lib/avro/frames.js';
import { AVRO_FLUME_EVENT_SCHEMA } from '../../../../lib/avro/flumeEventAvro.js';
import type { FlumeEvent } from '../../../../lib/core/event.js';

const HASH = AVRO_SOURCE_PROTOCOL_HASH;
/** HandshakeRequest with Flume's hash both ways: answered BOTH. */
export const HANDSHAKE = Buffer.concat([HASH, Buffer.from([0]), HASH, Buffer.from([0])]);
/** An empty message name after empty call metadata: a ping. */
export const PING = Buffer.from([0, 0]);
export const OK = Buffer.from([0, 0, 0]);

const eventsType = avro.Type.forSchema({ type: 'array', items: AVRO_FLUME_EVENT_SCHEMA } as unknown as avro.Schema);

/** An appendBatch call message (metadata, name, events). */
export function appendBatch(events: readonly FlumeEvent[]): Buffer {
  return Buffer.concat([writeCallHeader('appendBatch'), eventsType.toBuffer(events)]);
}

/** An appendBatch of `count` empty events written as one Avro block: 2 bytes each. */
export function emptyEvents(count: number): Buffer {
  return Buffer.concat([writeCallHeader('appendBatch'), zigzag(count), Buffer.alloc(count * 2), Buffer.from([0])]);
}

/** One event with `count` distinct headers (keys of 4–6 bytes, empty values) and body 'x'. */
export function manyHeaders(count: number): Buffer {
  const parts: Buffer[] = [writeCallHeader('appendBatch'), Buffer.from([0x02]), zigzag(count)];
  for (let i = 0; i < count; i++) {
    const key = Buffer.from(i.toString(36));
    parts.push(zigzag(key.length), key, Buffer.from([0]));
  }
  parts.push(Buffer.from([0, 0x02, 0x78, 0]));
  return Buffer.concat(parts);
}

/** Frame header only: serial and buffer count. */
export function frameHeader(serial: number, count: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(serial, 0);
  b.writeInt32BE(count, 4);
  return b;
}

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

export interface RawClient {
  socket: Socket;
  /** Sends bytes (deflated and sync-flushed with deflate); resolves once handed to the socket. */
  send(bytes: Buffer): Promise<void>;
  /** A whole frame. */
  frame(serial: number, parts: readonly Buffer[]): Promise<void>;
  /** Answers so far, by serial (the message bytes). */
  answers: Map<number, Buffer>;
  /** Resolves with the answer to `serial`, or rejects after `timeoutMs`. */
  answer(serial: number, timeoutMs?: number): Promise<Buffer>;
  closed: Promise<void>;
  isClosed(): boolean;
  /** Bytes received from the server (after inflation). */
  received(): number;
  destroy(): void;
}

export async function rawClient(port: number, opts: { deflate?: boolean; read?: boolean } = {}): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let isClosed = false;
  /** With deflate, what the inflater still holds when the socket closes is answers too. */
  let flushed: () => Promise<void> = () => Promise.resolve();
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      isClosed = true;
      void flushed().then(r);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  const answers = new Map<number, Buffer>();
  const waiters = new Map<number, (b: Buffer) => void>();
  let received = 0;
  const onAnswerBytes = (c: Buffer): void => {
    received += c.length;
    let frames;
    try {
      frames = decoder.push(c);
    } catch {
      socket.destroy();
      return;
    }
    for (const f of frames) {
      answers.set(f.serial, f.message);
      waiters.get(f.serial)?.(f.message);
    }
  };
  let send: (bytes: Buffer) => Promise<void>;
  if (opts.deflate) {
    const deflate = createDeflate();
    const inflate = createInflate();
    deflate.on('data', (c: Buffer) => socket.write(c));
    deflate.on('error', () => undefined);
    inflate.on('error', () => undefined);
    socket.on('data', (c: Buffer) => inflate.write(c));
    inflate.on('data', onAnswerBytes);
    flushed = () =>
      new Promise<void>((resolve) => {
        inflate.once('close', resolve);
        inflate.end();
      });
    send = (bytes) =>
      new Promise<void>((resolve) => {
        if (isClosed) return resolve();
        deflate.write(bytes);
        deflate.flush(constants.Z_SYNC_FLUSH, () => resolve());
      });
  } else {
    socket.on('data', onAnswerBytes);
    send = (bytes) => new Promise<void>((resolve) => (isClosed ? resolve() : socket.write(bytes, () => resolve())));
  }
  if (opts.read === false) socket.pause();
  return {
    socket,
    send,
    frame: (serial, parts) => send(encodeFrame(serial, parts)),
    answers,
    answer: (serial, timeoutMs = 10_000) => {
      const have = answers.get(serial);
      if (have) return Promise.resolve(have);
      return new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to serial ${serial} within ${timeoutMs} ms`)), timeoutMs);
        waiters.set(serial, (b) => {
          clearTimeout(timer);
          resolve(b);
        });
        void closed.then(() => {
          if (!answers.has(serial)) {
            clearTimeout(timer);
            reject(new Error(`closed before answering serial ${serial}`));
          }
        });
      });
    },
    closed,
    isClosed: () => isClosed,
    received: () => received,
    destroy: () => socket.destroy(),
  };
}

/** Is this answer an Avro system error (meta, error flag 1, union branch 0)? Its text if so. */
export function errorText(answer: Buffer): string | undefined {
  // The first answer on a connection starts with the 4-byte BOTH handshake response.
  const at = answer.length >= 7 && answer.subarray(0, 4).equals(Buffer.from([0, 0, 0, 0])) && answer[5] === 1 ? 4 : 0;
  if (answer[at] !== 0 || answer[at + 1] !== 1 || answer[at + 2] !== 0) return undefined;
  return answer.subarray(at + 3).toString('utf8');
}
