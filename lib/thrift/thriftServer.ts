/**
 * The server side of a framed Thrift service, once: what the Thrift and Scribe sources share. It
 * serves one connection's calls in order, one at a time (Flume's clients wait for each answer), and
 * does not read the connection while a call is being handled or its answers are not read, so a slow
 * channel pushes back through TCP. Frames past `maxFrameBytes` are refused before they are buffered.
 *
 * Bad input never stops the server: bytes that are not framed Thrift of the configured protocol close
 * that connection; a call to a method the service lacks is answered with a TApplicationException
 * (as Thrift servers do) and the connection goes on; a call past the decoding limits is answered the
 * same way and its connection closed. Each is counted in `EventReadFail`.
 */
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type * as ThriftTypes from 'thrift';
import { createBatch, type Batch } from '../core/batch.js';
import { isRetriable } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import type { ComponentCounters } from '../core/metrics.js';
import { APP_ERROR, M, encodeException, encodeMessage, frameReceiver, readMessage, type TProtocol, type ThriftProtocolName } from './codec.js';
import { CallLimits, CallTooLarge } from './flumeProtocol.js';

/**
 * A method of the service: decodes its arguments from `input` (throwing on bad bytes or CallTooLarge),
 * and gives the promise of its result writer (the `<name>_result` struct).
 */
export type ThriftMethod = (input: TProtocol, limits: CallLimits) => Promise<(out: TProtocol) => void>;

export interface ThriftService {
  protocol: ThriftProtocolName;
  /** False for Flume's Scribe source, which answers with the old unversioned binary header. */
  strictWrite?: boolean;
  maxFrameBytes: number;
  maxEventsPerBatch: number;
  methods: Readonly<Record<string, ThriftMethod>>;
  metrics: ComponentCounters;
  /** What the server's connections may hold together (one per subscription). */
  budget: ByteBudget;
  /** True once the source was unsubscribed: nothing more is read or answered. */
  closed(): boolean;
}

interface Holder {
  held: number;
  evict(): void;
}

/**
 * The bytes a server's connections hold — received and not yet answered, partial frames included —
 * against `limit`: past it, the connections holding the most are closed (EventReadFail) until the
 * total fits, so many clients sending large frames slowly cannot exhaust memory.
 */
export class ByteBudget {
  total = 0;
  private readonly holders = new Set<Holder>();

  constructor(readonly limit: number) {}

  add(holder: Holder): void {
    this.holders.add(holder);
  }

  /** `holder` got `n` more bytes (negative: gave them back). */
  charge(holder: Holder, n: number): void {
    holder.held += n;
    this.total += n;
    while (this.total > this.limit) {
      let worst: Holder | undefined;
      for (const h of this.holders) if (!worst || h.held > worst.held) worst = h;
      if (!worst || worst.held === 0) return;
      worst.evict();
    }
  }

  /** `holder` is gone: all it held is free. */
  release(holder: Holder): void {
    if (!this.holders.delete(holder)) return;
    this.total -= holder.held;
    holder.held = 0;
  }
}

/**
 * One call's events as one batch (one transaction), emitted through `emit`: resolves true once it
 * was acked (counted in `accepted` and EventAcceptedCount), false when it was nacked (ChannelWriteFail
 * for a retriable error such as a full channel, else GenericProcessingFail). No events: true at once.
 */
export function offerCall(emit: (batch: Batch) => void, metrics: ComponentCounters, events: FlumeEvent[], accepted: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    metrics.inc('EventReceivedCount', events.length);
    if (events.length === 0) return resolve(true);
    emit(
      createBatch(events, {
        onAck: () => {
          metrics.inc(accepted);
          metrics.inc('EventAcceptedCount', events.length);
          resolve(true);
        },
        onNack: (error) => {
          metrics.inc(isRetriable(error) ? 'ChannelWriteFail' : 'GenericProcessingFail');
          resolve(false);
        },
      }),
    );
  });
}

/** The option both Thrift-speaking sources declare for their ByteBudget. */
export const maxBufferedBytesOption = {
  maxBufferedBytes: z
    .number()
    .int()
    .min(1024)
    .default(96 * 1024 * 1024)
    .describe('Bytes all connections may hold together, received and not yet answered (partial frames included): past it the connections holding the most are closed (EventReadFail). At least the largest frame (96 MiB).'),
};

/** A decoded call may cost this many times its frame in estimated heap, at least 64 MiB. */
const COST_PER_FRAME_BYTE = 4;

/** Frames received while a call is handled, at most (Flume's clients send one at a time). */
const MAX_QUEUED_FRAMES = 64;

/** Serves the calls arriving on `io` (a TCP or TLS socket) until it closes. */
export function serveThrift(io: Duplex, service: ThriftService): void {
  const { metrics } = service;
  const maxCost = Math.max(64 * 1024 * 1024, service.maxFrameBytes * COST_PER_FRAME_BYTE);
  const queue: ThriftTypes.TTransport[] = [];
  let busy = false;
  let dead = false;
  const { budget } = service;

  const kill = (): void => {
    if (dead) return;
    dead = true;
    queue.length = 0;
    budget.release(holder);
    io.destroy();
  };
  const badInput = (): void => {
    metrics.inc('EventReadFail');
    kill();
  };
  const holder: Holder = { held: 0, evict: badInput };
  budget.add(holder);
  const reply = (frame: Buffer): boolean => io.write(frame);
  /** A handled frame's bytes (its length field and payload) leave the budget. */
  const done = (frame: ThriftTypes.TTransport): void => {
    if (!dead) budget.charge(holder, -(4 + (frame as unknown as { inBuf: Buffer }).inBuf.length));
  };
  /** Not read until the answers written so far were taken (a client that does not read them). */
  const waitDrain = (): void => {
    busy = true;
    io.pause();
    io.once('drain', () => {
      busy = false;
      next();
    });
  };

  const next = (): void => {
    while (!busy && !dead && queue.length > 0) handle(queue.shift()!);
    if (!busy && !dead && !service.closed()) io.resume();
  };

  const handle = (frame: ThriftTypes.TTransport): void => {
    let call: ReturnType<typeof readMessage>;
    try {
      call = readMessage(service.protocol, frame);
    } catch {
      return badInput();
    }
    const { name, seqid } = call;
    const method = Object.hasOwn(service.methods, name) ? service.methods[name] : undefined;
    if (call.type !== M.CALL || method === undefined) {
      metrics.inc('EventReadFail');
      done(frame);
      if (!reply(encodeException(service.protocol, name, seqid, APP_ERROR.UNKNOWN_METHOD, `no method ${JSON.stringify(name)} here`, service.strictWrite))) waitDrain();
      return;
    }
    let result: Promise<(out: TProtocol) => void>;
    try {
      result = method(call.input, new CallLimits(service.maxEventsPerBatch, maxCost));
    } catch (error) {
      if (!(error instanceof CallTooLarge)) return badInput();
      metrics.inc('EventReadFail');
      io.end(encodeException(service.protocol, name, seqid, APP_ERROR.PROTOCOL_ERROR, error.message, service.strictWrite));
      budget.release(holder);
      dead = true;
      return;
    }
    busy = true;
    io.pause();
    const answer = (out: Buffer): void => {
      busy = false;
      done(frame);
      if (dead || service.closed()) return;
      // Read on only once the answer left: a client that does not read its answers is not read either.
      if (reply(out)) next();
      else waitDrain();
    };
    result.then(
      (write) => answer(encodeMessage(service.protocol, name, M.REPLY, seqid, (out) => write(out), service.strictWrite)),
      (error: Error) => answer(encodeException(service.protocol, name, seqid, APP_ERROR.INTERNAL_ERROR, error.message, service.strictWrite)),
    );
  };

  const receive = frameReceiver((frame) => {
    if (dead) return;
    if (queue.length >= MAX_QUEUED_FRAMES) return badInput();
    queue.push(frame);
  }, service.maxFrameBytes);

  io.on('data', (chunk: Buffer) => {
    if (dead) return;
    budget.charge(holder, chunk.length);
    if (dead) return; // closed to make room
    try {
      receive(chunk);
    } catch {
      return badInput(); // a negative or too large frame length
    }
    next();
  });
  io.on('error', () => {
    if (!dead) metrics.inc('GenericProcessingFail');
    kill();
  });
  io.once('close', kill);
}
