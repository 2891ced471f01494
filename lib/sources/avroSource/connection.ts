/**
 * One Avro RPC connection of an Avro source: its layers (zlib, TLS), its Netty frames, the handshake,
 * its calls handled in order and answered, and what it holds counted against the source's budget.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { asyncScheduler } from 'rxjs';
import { createBatch, createDeferredBatch, deferEvents, type Batch, type DeferredEvents, type Settlement } from '../../core/batch.js';
import { isRetriable } from '../../core/errors.js';
import type { FlumeEvent } from '../../core/event.js';
import type { ComponentCounters } from '../../core/metrics.js';
import {
  AVRO_SOURCE_PROTOCOL_HASH,
  BOTH,
  CLIENT,
  NONE,
  Reader,
  STATUS_FAILED,
  STATUS_OK,
  readCallHeader,
  readHandshakeRequest,
  systemError,
  writeHandshakeResponse,
} from '../../avro/rpc.js';
import {
  FrameDecoder,
  PART_COST,
  backingBytes,
  encodeFrame,
  type FrameError,
  type FrameViews,
} from '../../avro/frames.js';
import { zlibStream } from '../../avro/zlibStream.js';
import type { Budget, Slots } from './budget.js';
import type { ClientProtocol, ClientProtocols } from './clientProtocols.js';
import { NoRoom, TooManyEvents, pinsTooMuch, readCall, scanCall, type DecodedCall } from './events.js';
import type { LoopLoad } from './loopLoad.js';
import { allowed, type Rule } from './ipFilter.js';

/** Estimated heap bytes of a decoded frame waiting in a connection's queue, beyond its message and views. */
const FRAME_COST = 192;
/** What a received frame holds: its bytes, the views they stay in, the frame. */
const frameCost = (frame: FrameViews): number => frame.size + frame.views.length * PART_COST + FRAME_COST;
/** Answers not yet taken by a client, at most: past this its calls are not handled (nor its socket read) until it reads. */
const WRITE_BACKLOG_BYTES = 1024 * 1024;
/** How long a connection closed over a limit may take to flush its error answer before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Longest message name read (Flume's are `append` and `appendBatch`; error answers echo it). */
const MAX_NAME_BYTES = 256;

export interface ConnectionOptions {
  compressionType: 'none' | 'deflate';
  compressionLevel: number;
  maxMessageBytes: number;
  maxBuffersPerFrame: number;
  maxEventsPerBatch: number;
  maxPendingFrames: number;
}

/** What the server shares with its connections. */
export interface ConnectionContext {
  options: ConnectionOptions;
  metrics: ComponentCounters;
  budget: Budget;
  slots: Slots;
  protocols: ClientProtocols;
  secureContext: SecureContext | undefined;
  rules: readonly Rule[];
  sockets: Set<Socket>;
  /** Whether the loop is saturated: calls are then made at once, else checked, answered and made after. */
  load: LoopLoad;
  closed(): boolean;
  emit(batch: Batch): void;
}

/** A checked call's events, made when asked; outside serveConnection, so that what it keeps is only what making them needs. */
function deferCall(views: readonly Buffer[], start: number, single: boolean, pinned: number, count: number): DeferredEvents {
  return deferEvents(count, () => {
    const r = new Reader(views);
    r.pos = start;
    return readCall(r, single, Infinity, Infinity, pinned).events;
  });
}

/** Serves one accepted socket until it closes. */
export function serveConnection(socket: Socket, ctx: ConnectionContext): void {
  const { options: opts, metrics, budget, slots, protocols, secureContext, rules } = ctx;
  const decoder = new FrameDecoder(opts.maxMessageBytes, opts.maxBuffersPerFrame);
  // What frames are read from and written to: the socket, or TLS and/or zlib layered on it.
  let io: Duplex | undefined;
  let client: ClientProtocol | undefined;
  /** Frames decoded and not yet handled; the first is the one being handled. */
  const queue: FrameViews[] = [];
  let queuedBytes = 0;
  /** What this connection's emitted batch holds, and what it counts in the budget in all. */
  let flight = 0;
  let counted = 0;
  let busy = false;
  let dead = false;
  let awaitingDrain = false;

  const account = (): void => {
    const now = dead ? flight : decoder.held + queuedBytes + flight;
    budget.total += now - counted;
    counted = now;
  };
  const holder = {
    evictable: () => (dead ? 0 : counted - flight),
    reject: (reason: string) => reject(reason, decoder.pendingSerial ?? queue[0]?.serial),
  };
  budget.add(holder);

  /** Stops handling: what it holds is released but an emitted batch's share (released as that settles). */
  const stop = (): void => {
    dead = true;
    queue.length = 0;
    queuedBytes = 0;
    slots.cancel(pump);
    budget.delete(holder);
    account();
  };
  const kill = (): void => {
    if (dead) return;
    stop();
    io?.destroy();
    socket.destroy();
  };
  const badInput = (): void => {
    metrics.inc('EventReadFail');
    kill();
  };
  /** Over a limit: counted, answered with an Avro error on `serial` once past the handshake, then closed. */
  const reject = (reason: string, serial: number | undefined): void => {
    if (dead) return;
    metrics.inc('EventReadFail');
    const out = io;
    if (client === undefined || serial === undefined || out === undefined || ctx.closed()) return kill();
    stop();
    out.pause();
    out.write(encodeFrame(serial, [systemError(reason)]));
    if (out === socket) socket.end();
    else out.end(() => socket.end());
    const grace = asyncScheduler.schedule(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => grace.unsubscribe());
  };

  const send = (serial: number, parts: readonly Buffer[]): void => {
    if (dead || ctx.closed()) return;
    io?.write(encodeFrame(serial, parts));
  };
  const backlog = (): number => socket.writableLength + (io !== undefined && io !== socket ? io.writableLength : 0);
  const onDrain = (): void => {
    if (!awaitingDrain || backlog() > WRITE_BACKLOG_BYTES) return;
    awaitingDrain = false;
    pump();
  };

  const onBytes = (chunk: Buffer): void => {
    if (dead) return;
    decoder.write(chunk);
    account();
    if (budget.total > budget.limit && (budget.shed(0), dead)) return;
    pump();
  };

  /** The next frame received, into the queue; false when none (or the connection was closed over a limit). */
  const decode = (): boolean => {
    let frame: FrameViews | undefined;
    try {
      // In place: the call's events are read from the chunks it arrived in, their bodies views of them.
      frame = decoder.nextViews();
    } catch (error) {
      reject((error as Error).message, (error as FrameError).serial);
      return false;
    }
    if (frame === undefined) return false;
    queue.push(frame);
    queuedBytes += frameCost(frame);
    if (queue.length > opts.maxPendingFrames) {
      reject(`more than ${opts.maxPendingFrames} calls waiting on one connection (maxPendingFrames)`, frame.serial);
      return false;
    }
    return true;
  };

  function pump(): void {
    while (!dead && !ctx.closed() && !busy && !awaitingDrain) {
      if (queue.length === 0 && !decode()) break;
      if (slots.full) {
        slots.wait(pump);
        break;
      }
      const frame = queue[0]!;
      if (!handle(frame)) break; // waits for room; handle() queued the wake-up
      if (dead) return;
      if (queue[0] === frame) {
        queue.shift();
        queuedBytes -= frameCost(frame);
      }
      if (backlog() > WRITE_BACKLOG_BYTES) awaitingDrain = true;
    }
    // Frames already received are decoded now (their headers checked as they arrive), up to maxPendingFrames.
    while (!dead && !ctx.closed() && decode());
    account();
    if (dead || ctx.closed()) return;
    if (busy || queue.length > 0 || awaitingDrain) io?.pause();
    else io?.resume();
  }

  /** Handles the frame at the head of the queue; false when its call must wait for room (it stays queued). */
  const handle = (frame: FrameViews): boolean => {
    const reader = new Reader(frame.views);
    let leading: Buffer[] = [];
    if (client === undefined) {
      let known: ClientProtocol | undefined;
      let serverHash: Buffer;
      try {
        const hs = readHandshakeRequest(reader);
        known = protocols.lookup(hs.clientHash, hs.clientProtocol);
        serverHash = hs.serverHash;
      } catch {
        badInput();
        return true;
      }
      const match = known === undefined ? NONE : serverHash.equals(AVRO_SOURCE_PROTOCOL_HASH) ? BOTH : CLIENT;
      const handshake = writeHandshakeResponse(match);
      if (match === NONE) {
        send(frame.serial, [handshake]);
        return true;
      }
      client = known;
      leading = [handshake];
    }
    let single: boolean;
    /** The call's events: made, or counted and checked with their making deferred (see LoopLoad). */
    let events: FlumeEvent[] | DeferredEvents;
    let count: number;
    let cost: number;
    try {
      const name = readCallHeader(reader, MAX_NAME_BYTES);
      if (name === '') {
        send(frame.serial, leading); // a handshake ping
        return true;
      }
      if (name !== 'append' && name !== 'appendBatch') throw new Error(`No message named ${name} in ${client!.name}`);
      if (!client!.messages.has(name)) throw new Error(`message ${name} of ${client!.name} does not match Flume's AvroSourceProtocol`);
      single = name === 'append';
      const start = reader.pos;
      const pinned = backingBytes(frame.views);
      let scanned: ReturnType<typeof scanCall> | undefined;
      let made: DecodedCall | undefined;
      // Deferred only for a lone connection on a loop with idle time: another connection's calls already fill the
      // time the making would overlap (measured: 4 connections 15-23% slower deferred), and so does a busy loop.
      if (ctx.sockets.size === 1 && !ctx.load.saturated()) scanned = scanCall(reader, single, opts.maxEventsPerBatch);
      else {
        try {
          made = readCall(reader, single, opts.maxEventsPerBatch, budget.limit - budget.total, pinned);
        } catch (error) {
          if (!(error instanceof NoRoom)) throw error;
          reader.pos = start;
          scanned = scanCall(reader, single, opts.maxEventsPerBatch);
        }
      }
      if (scanned !== undefined && scanned.cost > budget.limit - budget.total) {
        const { cost } = scanned;
        if (frameCost(frame) + cost > budget.limit) {
          reject(`a call whose ${frame.size} bytes decode to ~${cost} more, past maxBufferedBytes (${budget.limit})`, frame.serial);
          return true;
        }
        if (!budget.shed(cost, holder)) {
          if (budget.inFlight - flight > 0) {
            // Emitted batches hold the room: their settling wakes this connection.
            slots.wait(pump);
            return false;
          }
          reject(`a call needing ~${cost} bytes more while this connection holds ${counted} (maxBufferedBytes ${budget.limit})`, frame.serial);
          return true;
        }
      }
      if (made === undefined && !pinsTooMuch(scanned!.bodyBytes, pinned)) {
        // Checked whole: making them cannot fail later. Their views keep no more than the call's own bytes alive meanwhile.
        events = deferCall(frame.views, start, single, pinned, scanned!.events);
        count = scanned!.events;
        cost = scanned!.cost;
      } else {
        if (made === undefined) {
          // Small bodies in large chunks: made and copied out now, so the chunks are freed.
          reader.pos = start;
          made = readCall(reader, single, opts.maxEventsPerBatch, Infinity, pinned);
        }
        events = made.events;
        count = made.events.length;
        cost = made.cost;
      }
    } catch (error) {
      // More events than allowed is a limit, not a full channel: FAILED would have Flume's sink
      // resend the same batch forever, while an error names the limit in its log (and it
      // reconnects, as it does after any error); the events are not counted as received.
      if (error instanceof TooManyEvents) {
        reject(error.message, frame.serial);
        return true;
      }
      metrics.inc('EventReadFail');
      send(frame.serial, [...leading, systemError((error as Error).message)]);
      return true;
    }

    metrics.inc(single ? 'AppendReceivedCount' : 'AppendBatchReceivedCount');
    metrics.inc('EventReceivedCount', count);
    if (count === 0) {
      // Flume puts nothing and answers OK for an empty batch.
      metrics.inc(single ? 'AppendAcceptedCount' : 'AppendBatchAcceptedCount');
      send(frame.serial, [...leading, STATUS_OK]);
      return true;
    }
    queue.shift();
    queuedBytes -= frameCost(frame);
    busy = true;
    slots.used++;
    flight = frameCost(frame) + cost;
    budget.inFlight += flight;
    account();
    const settle = (status: Buffer): void => {
      busy = false;
      slots.used--;
      budget.inFlight -= flight;
      flight = 0;
      account();
      send(frame.serial, [...leading, status]);
      pump();
      slots.wake();
    };
    const settlement: Settlement = {
      onAck: () => {
        metrics.inc(single ? 'AppendAcceptedCount' : 'AppendBatchAcceptedCount');
        metrics.inc('EventAcceptedCount', count);
        settle(STATUS_OK);
      },
      onNack: (error) => {
        metrics.inc(isRetriable(error) ? 'ChannelWriteFail' : 'GenericProcessingFail');
        settle(STATUS_FAILED);
      },
    };
    ctx.emit(Array.isArray(events) ? createBatch(events, settlement) : createDeferredBatch(events, settlement));
    return true;
  };

  const start = (): void => {
    if (dead || ctx.closed()) return;
    // Flume's Netty pipeline: zlib next to the socket, TLS inside it, then the frames.
    let stream: Duplex = socket;
    if (opts.compressionType === 'deflate') stream = zlibStream(socket, opts.compressionLevel, badInput);
    socket.resume(); // paused while the ip filter decided
    if (secureContext) {
      stream = new TLSSocket(stream as Socket, { isServer: true, secureContext });
      stream.on('error', () => {
        metrics.inc('GenericProcessingFail');
        kill();
      });
    }
    io = stream;
    stream.on('data', onBytes);
    if (stream !== socket) stream.on('drain', onDrain);
  };

  ctx.sockets.add(socket);
  metrics.set('OpenConnectionCount', ctx.sockets.size);
  socket.on('error', () => metrics.inc('GenericProcessingFail'));
  socket.on('drain', onDrain);
  socket.once('close', () => {
    ctx.sockets.delete(socket);
    metrics.set('OpenConnectionCount', ctx.sockets.size);
    kill();
  });
  if (rules.length === 0) {
    start();
    return;
  }
  socket.pause();
  allowed(rules, socket.remoteAddress ?? '').then(
    (ok) => {
      if (ok) return start();
      metrics.inc('ConnectionRejectedCount');
      kill();
    },
    () => kill(),
  );
}
