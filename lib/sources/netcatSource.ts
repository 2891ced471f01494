import { createServer, type Socket } from 'node:net';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { bindOption, nameOption, portOption } from '../core/options.js';
import { connectionPump, listenTcp, maxConnectionsOption, onListeningOption } from '../net/listen.js';
import { utf8Lead } from '../text/utf8.js';

export type { ListeningCallback } from '../net/listen.js';

export const netcatSourceOptions = z.strictObject({
  ...nameOption('netcatSource'),
  ...bindOption(),
  ...portOption,
  maxLineLength: z
    .number()
    .int()
    .min(2)
    .default(512)
    .describe(
      'Longest line in characters as Flume counts them (UTF-16 code units of the UTF-8 text: 1 for `é`, 2 for an emoji), newline included; a longer one is answered FAILED and the connection closed.',
    ),
  ackEveryEvent: z.boolean().default(true).describe('Answer `OK\\n` for every stored line; failures are answered either way.'),
  batchSize: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe("Lines per batch at most; lines that arrive together on a connection share a batch (≤ the channel's transactionCapacity)."),
  ...maxConnectionsOption(),
  ...onListeningOption,
});

export type NetcatSourceOptions = z.input<typeof netcatSourceOptions>;

export const netcatSourceSpec = defineComponent({
  name: 'netcatSource',
  kind: 'source',
  summary: 'Listens on TCP; each newline-terminated line is an event, answered OK or FAILED (Flume netcat).',
  flumeTypes: ['netcat', 'org.apache.flume.source.NetcatSource'],
  schema: netcatSourceOptions,
  flumeKeys: { 'max-line-length': 'maxLineLength', 'ack-every-event': { option: 'ackEveryEvent', convert: (v) => v.trim().toLowerCase() === 'true' } },
});

interface Item {
  event?: FlumeEvent;
  /** Answer for a line rejected before the channel (too long). */
  reject?: string;
}

/** How long a connection the source hung up on (over-long line, undecodable bytes) may go on sending, discarded, before it is destroyed. */
const HANG_UP_LINGER_MS = 5000;

/**
 * Measures a connection's current line as Flume's reader sees it: the bytes decoded as strict UTF-8
 * (Java's decoder, REPORT on malformed input: overlong forms, surrogates, past U+10FFFF, truncated
 * sequences), counted in UTF-16 code units (a 4-byte sequence is 2). Fed piece by piece, so a
 * character split between reads is counted once.
 */
class LineMeter {
  private units = 0;
  private need = 0;
  private seen = 0;
  private lo = 0x80;
  private hi = 0xbf;

  /**
   * Feeds bytes of the line (without its newline): `long` once the line holds `max` units (no room
   * left for the newline), `bad` at the first byte the decoder rejects, whichever comes first.
   */
  feed(bytes: Buffer, max: number): 'ok' | 'long' | 'bad' {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.need === 0) {
        if (b < 0x80) this.units++;
        else {
          const lead = utf8Lead(b);
          if (lead === undefined) return 'bad';
          this.need = lead.need;
          this.lo = lead.lo;
          this.hi = lead.hi;
        }
      } else {
        if (b < this.lo || b > this.hi) return 'bad';
        this.lo = 0x80;
        this.hi = 0xbf;
        if (++this.seen < this.need) continue;
        this.units += this.need === 3 ? 2 : 1;
        this.need = this.seen = 0;
      }
      if (this.units >= max) return 'long';
    }
    return 'ok';
  }

  /** At the line's newline: false if a character was left unfinished. Starts the next line. */
  endLine(): boolean {
    const complete = this.need === 0;
    this.units = this.need = this.seen = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
    return complete;
  }
}

/**
 * Flume's netcat source: a TCP server on `bind:port` where every `\n`-terminated line is one event
 * whose body is the line's bytes without the `\n` (a `\r` before it is kept, as in Flume).
 *
 * Lines that arrive together on one connection form one batch (one transaction, at most
 * `batchSize` lines). The answers are written after the batch settled, in line order: `OK\n` per
 * line when acked (only with `ackEveryEvent`), `FAILED: <message>\n` per line when nacked (e.g.
 * `ChannelFullError` from a full channel). While a connection's batch is unsettled the socket is not
 * read (`socket.pause()`), so a full channel pushes back on the client through TCP; what was read is
 * split into lines only a batch at a time, so a connection holds at most one read chunk, one line
 * (up to 3 bytes per char of `maxLineLength`) and `batchSize` events; a client that does not read
 * its answers is not read until it does.
 * Connections past `maxConnections` are closed at once.
 *
 * Lines are read as Flume reads them, as UTF-8 text; the body is the line's bytes. `maxLineLength`
 * counts characters as Java does, in UTF-16 code units (`é` is 1, an emoji 2), newline included. A
 * longer line is answered `FAILED: Event exceeds the maximum length (N chars, including newline)\n`
 * (with or without `ackEveryEvent`) and the connection is closed: the rest of what the client sent
 * is discarded, as in Flume. Bytes that are not UTF-8 (a stray `0xff`, a truncated or overlong
 * sequence, an encoded surrogate, past U+10FFFF) close the connection too, as Flume's decoder does,
 * but answered `FAILED: Event is not valid UTF-8\n` first (Flume closes without a word), and the
 * lines before them are always stored and answered (Flume may lose them unanswered). Both are counted in `EventReadFail`. The source closes its side once the answers before
 * are written; what the client sends after that is read and discarded, and the connection destroyed
 * 5 s later if the client has not closed it. Counters:
 * `EventReceivedCount`, `EventAcceptedCount`, `ChannelWriteFail` (events of nacked batches),
 * `OpenConnectionCount`, `GenericProcessingFail` (socket errors).
 *
 * Delivery: a line answered `OK` is in the channel; a line answered `FAILED` is not, and the client
 * must resend it (Flume does not retry either). Unsubscribing closes the server and every connection.
 * A server that cannot listen (EADDRINUSE) fails the source with `FLUME_SOURCE_FAILED`.
 *
 * @example
 * pipe(netcatSource({ bind: '127.0.0.1', port: 44444 }), memoryChannel(), loggerSink());
 */
export const netcatSource = component(netcatSourceSpec, function netcatSource(options: NetcatSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(netcatSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);
  const tooLong = `FAILED: Event exceeds the maximum length (${opts.maxLineLength} chars, including newline)\n`;
  const notUtf8 = 'FAILED: Event is not valid UTF-8\n';

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;

    const serve = (socket: Socket): void => {
      let partial: Buffer[] = [];
      let partialBytes = 0;
      const meter = new LineMeter();
      // Over-long line or undecodable bytes: nothing more is read; hang up once the answers are out.
      let stopped = false;
      let hungUp = false;
      // Read but not yet split: lines are split only as the queue has room, so a chunk of a
      // million short lines costs its bytes, not a million waiting events.
      let unsplit: Buffer | undefined;
      const queue: Item[] = [];
      let inFlight = false;
      let ended = false;

      const write = (text: string): void => {
        if (!closed && !socket.destroyed && socket.writable) socket.write(text);
      };

      /** Splits `unsplit` into the queue until it holds a batch. */
      const split = (): void => {
        while (unsplit !== undefined && queue.length < opts.batchSize && !stopped) {
          const chunk = unsplit;
          const nl = chunk.indexOf(10);
          const end = nl < 0 ? chunk.length : nl;
          const piece = chunk.subarray(0, end);
          unsplit = nl < 0 || nl + 1 === chunk.length ? undefined : chunk.subarray(nl + 1);
          let verdict = meter.feed(piece, opts.maxLineLength);
          if (verdict === 'ok' && nl >= 0 && !meter.endLine()) verdict = 'bad';
          if (verdict !== 'ok') {
            // Over-long (even if the newline comes next) or undecodable: Flume's handler ends the connection here.
            metrics.inc('EventReadFail');
            // Flume closes without a word on undecodable bytes; the client is told why before the same close.
            queue.push({ reject: verdict === 'long' ? tooLong : notUtf8 });
            stopped = true;
            unsplit = undefined;
            partial = [];
            partialBytes = 0;
          } else if (nl >= 0) {
            const body = partialBytes === 0 ? Buffer.from(piece) : Buffer.concat([...partial, piece]);
            partial = [];
            partialBytes = 0;
            queue.push({ event: { headers: {}, body } });
          } else if (piece.length > 0) {
            // Copied so that a short leftover does not pin the whole chunk.
            partial.push(Buffer.from(piece));
            partialBytes += piece.length;
          }
        }
      };

      /** Closes our side once every answer is written; what the client still sends is read and discarded for a while. */
      const hangUp = (): void => {
        socket.resume();
        if (hungUp) return;
        hungUp = true;
        socket.end();
        const linger = setTimeout(() => socket.destroy(), HANG_UP_LINGER_MS);
        linger.unref();
        socket.once('close', () => clearTimeout(linger));
      };

      const pump = connectionPump(
        (budget) => drain(budget),
        () => {
          if (closed || socket.destroyed) return false;
          // A client not reading its answers is not read either: they would pile up here.
          if (inFlight || queue.length > 0 || unsplit !== undefined || socket.writableNeedDrain) socket.pause();
          else if (stopped) hangUp();
          else if (ended) socket.end();
          else socket.resume();
          return true;
        },
      );

      /** Sends and answers batches until one is in flight or `budget` events went; returns what is left of it. */
      const drain = (budget: number): number => {
        for (split(); budget > 0 && !inFlight && queue.length > 0 && !closed; split()) {
          // A group: leading rejects plus up to batchSize events, answered together and in order.
          let events = 0;
          let end = 0;
          while (end < queue.length && (events < opts.batchSize || queue[end]!.event === undefined)) {
            if (queue[end]!.event) events++;
            end++;
          }
          const group = queue.splice(0, end);
          if (events === 0) {
            for (const item of group) write(item.reject!);
            continue;
          }
          const batchEvents = group.filter((i) => i.event).map((i) => i.event!);
          budget -= batchEvents.length;
          inFlight = true;
          metrics.inc('EventReceivedCount', batchEvents.length);
          const answer = (failed: string | undefined): void => {
            inFlight = false;
            let out = '';
            for (const item of group) {
              if (item.reject) out += item.reject;
              else if (failed !== undefined) out += failed;
              else if (opts.ackEveryEvent) out += 'OK\n';
            }
            if (out) write(out);
            pump();
          };
          subscriber.next(
            createBatch(batchEvents, {
              onAck: () => {
                metrics.inc('EventAcceptedCount', batchEvents.length);
                answer(undefined);
              },
              onNack: (error) => {
                metrics.inc('ChannelWriteFail', batchEvents.length);
                answer(`FAILED: ${error.message.replace(/\r?\n/g, ' ')}\n`);
              },
            }),
          );
        }
        return budget;
      };

      socket.on('data', (chunk: Buffer) => {
        if (stopped) return;
        // Paused sockets may still deliver what they had read.
        unsplit = unsplit === undefined ? chunk : Buffer.concat([unsplit, chunk]);
        pump();
      });
      // The client half-closed: answer what it sent, then close (a last line without newline is dropped, as in Flume).
      socket.on('end', () => {
        ended = true;
        pump();
      });
      socket.on('drain', pump);
      socket.on('error', () => metrics.inc('GenericProcessingFail'));
      socket.on('close', () => {
        queue.length = 0;
        unsplit = undefined;
      });
    };

    const listener = listenTcp(createServer({ allowHalfOpen: true }, serve), opts, metrics, (error) => subscriber.error(error));
    return () => {
      closed = true;
      listener.close();
    };
  });
  return withMetrics(source, metrics);
});
