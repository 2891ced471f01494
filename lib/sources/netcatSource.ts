import { createServer, type Socket } from 'node:net';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { bindOption, nameOption, portOption } from '../core/options.js';
import { connectionPump, listenTcp, maxConnectionsOption, onListeningOption } from '../net/listen.js';

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
    .describe('Longest line in bytes, newline included; a longer one is answered FAILED and skipped.'),
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
 * and `batchSize` events; a client that does not read its answers is not read until it does.
 * Connections past `maxConnections` are closed at once.
 *
 * A line longer than `maxLineLength` bytes (newline included) is answered
 * `FAILED: Event exceeds the maximum length (N chars, including newline)\n`, counted in
 * `EventReadFail` and skipped up to its newline; unlike Flume the connection stays open. Counters:
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

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;

    const serve = (socket: Socket): void => {
      let partial: Buffer[] = [];
      let partialBytes = 0;
      let discarding = false;
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
        while (unsplit !== undefined && queue.length < opts.batchSize) {
          const chunk = unsplit;
          const nl = chunk.indexOf(10);
          const end = nl < 0 ? chunk.length : nl;
          const piece = chunk.subarray(0, end);
          unsplit = nl < 0 || nl + 1 === chunk.length ? undefined : chunk.subarray(nl + 1);
          if (discarding) {
            if (nl >= 0) discarding = false;
          } else if (partialBytes + piece.length + 1 > opts.maxLineLength) {
            // Over-long (even if the newline comes next): answer once, then drop bytes up to its newline.
            metrics.inc('EventReadFail');
            queue.push({ reject: tooLong });
            partial = [];
            partialBytes = 0;
            discarding = nl < 0;
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

      const pump = connectionPump(
        (budget) => drain(budget),
        () => {
          if (closed || socket.destroyed) return false;
          // A client not reading its answers is not read either: they would pile up here.
          if (inFlight || queue.length > 0 || unsplit !== undefined || socket.writableNeedDrain) socket.pause();
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
