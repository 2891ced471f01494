import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { bindOption, nameOption } from '../core/options.js';
import { listenTcp, maxConnectionsOption, onListeningOption } from '../net/listen.js';
import { DEFAULT_MAX_FRAME_BYTES, type TProtocol } from '../thrift/codec.js';
import { writeEnumResult } from '../thrift/flumeProtocol.js';
import { RESULT_CODE, readLogArgs } from '../thrift/scribeProtocol.js';
import { offerCall, serveThrift, ByteBudget, maxBufferedBytesOption } from '../thrift/thriftServer.js';

/** Flume gives the default for a value ≤ 0. */
const positiveOr = (fallback: number) => (v: string) => (Number(v) > 0 ? Number(v) : fallback);

export const scribeSourceOptions = z.strictObject({
  ...nameOption('scribeSource'),
  ...bindOption('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(1499).describe("Port to listen on (Flume's default 1499); 0 picks a free one (see onListening)."),
  maxReadBufferBytes: z
    .number()
    .int()
    .min(1024)
    .default(DEFAULT_MAX_FRAME_BYTES)
    .describe('Largest Log call (one frame): a frame announcing more closes its connection before it is read (Flume maxReadBufferBytes).'),
  workerThreads: z.number().int().optional().describe("Flume's worker thread count: accepted and ignored (Node serves every connection on one loop)."),
  maxEventsPerBatch: z
    .number()
    .int()
    .min(1)
    .default(20_000)
    .describe('Entries in one Log call: a call with more is answered with a Thrift error, counted in EventReadFail, and its connection closed.'),
  ...maxBufferedBytesOption,
  ...maxConnectionsOption(),
  ...onListeningOption,
}).check((ctx) => {
  const v = ctx.value;
  if (v.maxBufferedBytes < v.maxReadBufferBytes) ctx.issues.push({ code: 'custom', path: ['maxBufferedBytes'], message: `at least maxReadBufferBytes (${v.maxReadBufferBytes}), or the largest frame could never be held`, input: v.maxBufferedBytes });
});

export type ScribeSourceOptions = z.input<typeof scribeSourceOptions>;

export const scribeSourceSpec = defineComponent({
  name: 'scribeSource',
  kind: 'source',
  summary: "Scribe server (Log(messages) over framed binary Thrift): one event per entry with its category header; TRY_LATER when the channel is full (Flume ScribeSource).",
  flumeTypes: ['org.apache.flume.source.scribe.ScribeSource'],
  schema: scribeSourceOptions,
  flumeKeys: {
    port: { option: 'port', convert: positiveOr(1499) },
    maxReadBufferBytes: { option: 'maxReadBufferBytes', convert: positiveOr(DEFAULT_MAX_FRAME_BYTES) },
    workerThreads: { option: 'workerThreads', convert: Number },
  },
});

/**
 * Flume's Scribe source: a server for Scribe clients (Facebook's Scribe, or anything generated from
 * `scribe.thrift`) on `bind:port`, speaking `ResultCode Log(list<LogEntry> messages)` over framed
 * Thrift with the binary protocol (answers with the old unversioned header, as Flume's). Each entry
 * becomes an event whose body is the message's bytes and whose `category` header is the entry's
 * category (left out when unset). Flume listens on every interface; `bind` defaults to `0.0.0.0`
 * for that and may narrow it.
 *
 * Each `Log` call is **one batch** (one transaction): answered `OK` once the channel stored it, and
 * `TRY_LATER` when it was nacked (a full channel) or an entry has no message — the Scribe client
 * then keeps the messages and retries. An empty list is answered `OK`. A connection's calls are
 * handled one at a time and it is not read while one is unsettled: a full channel pushes back.
 *
 * Bad input never stops the server: bytes that are not framed binary Thrift, or a frame past
 * `maxReadBufferBytes`, close that connection; an unknown method gets a Thrift `TApplicationException`;
 * more than `maxEventsPerBatch` entries get one and the connection closed; past `maxBufferedBytes`
 * held across connections, those holding the most are closed. Each counts in `EventReadFail`.
 * `workerThreads` is accepted and ignored.
 *
 * Counters: Flume's source counters: `EventReceivedCount`, `EventAcceptedCount`,
 * `AppendBatchReceivedCount`/`AppendBatchAcceptedCount` (per Log call), `ChannelWriteFail`,
 * `GenericProcessingFail`, `EventReadFail`, `OpenConnectionCount`.
 *
 * Delivery: `OK` means stored in the channel; `TRY_LATER` means nothing of that call was. A port
 * that cannot be bound fails the source with `FLUME_SOURCE_FAILED`.
 *
 * @example
 * // scribed or a Scribe client sends to port 1499
 * pipe(scribeSource({ port: 1499 }), memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }), loggerSink());
 */
export const scribeSource = component(scribeSourceSpec, function scribeSource(options: ScribeSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(scribeSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  metrics.set('OpenConnectionCount', 0);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    const emit = (batch: Batch): void => subscriber.next(batch);
    const result = (code: number) => (out: TProtocol) => writeEnumResult(out, 'Log_result', code);
    const service = {
      protocol: 'binary' as const,
      strictWrite: false,
      maxFrameBytes: opts.maxReadBufferBytes,
      maxEventsPerBatch: opts.maxEventsPerBatch,
      methods: {
        // Decoded at once (bad bytes throw here, closing the connection); answered when the batch settles.
        Log: (input: TProtocol, limits: Parameters<typeof readLogArgs>[1]) => {
          metrics.inc('AppendBatchReceivedCount');
          const entries = readLogArgs(input, limits);
          // Flume: a null list or a null message fails the call, answered TRY_LATER.
          if (entries === undefined || entries.some((e) => e.message === undefined)) {
            metrics.inc('GenericProcessingFail');
            return Promise.resolve(result(RESULT_CODE.TRY_LATER));
          }
          const events = entries.map((e): FlumeEvent => ({ headers: e.category !== undefined ? { category: e.category } : {}, body: e.message! }));
          return offerCall(emit, metrics, events, 'AppendBatchAcceptedCount').then((ok) => result(ok ? RESULT_CODE.OK : RESULT_CODE.TRY_LATER));
        },
      },
      metrics,
      budget: new ByteBudget(opts.maxBufferedBytes),
      closed: () => closed,
    };
    const server = createServer((socket: Socket) => serveThrift(socket, service));
    const listener = listenTcp(server, { ...opts, onListening: (a: AddressInfo) => opts.onListening?.(a) }, metrics, (error) => subscriber.error(error));
    return () => {
      closed = true;
      listener.close();
    };
  });
  return withMetrics(source, metrics);
});
