import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { serverSecureContext, serverTlsIssues, serverTlsOptions } from '../tls/serverTls.js';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { bindOption, maxInFlightOption, nameOption, portOption } from '../core/options.js';
import { DEFAULT_MAX_BUFFERS } from '../avro/frames.js';
import { Budget, Slots } from './avroSource/budget.js';
import { ClientProtocols } from './avroSource/clientProtocols.js';
import { serveConnection, type ConnectionContext } from './avroSource/connection.js';
import { RULE, parseRules, splitRules } from './avroSource/ipFilter.js';
import { LoopLoad } from './avroSource/loopLoad.js';

const MiB = 1024 * 1024;

export const avroSourceOptions = z
  .strictObject({
    ...nameOption('avroSource'),
    ...bindOption(),
    ...portOption,
    compressionType: z
      .enum(['none', 'deflate'])
      .default('none')
      .describe("'deflate': the whole connection is a zlib stream, as Netty's ZlibEncoder/Decoder; must match the sender."),
    compressionLevel: z.number().int().min(0).max(9).default(6).describe('zlib level of the answers with deflate.'),
    ssl: z.boolean().default(false).describe('Serve TLS with sslKeyFile and sslCertFile, or keystore.'),
    ...serverTlsOptions,
    ipFilter: z.boolean().default(false).describe('Apply ipFilterRules to every new connection.'),
    ipFilterRules: z
      .string()
      .default('')
      .describe("Flume's `allow|deny:ip|name:pattern,...` (`*` and `?` wildcards); the first matching rule wins, no match allows."),
    threads: z.number().int().min(0).optional().describe("Flume's worker thread count: accepted and ignored (Node serves every connection on one loop)."),
    ...maxInFlightOption('counted across connections: further calls wait and their connections are not read', 64),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * MiB)
      .describe('Largest RPC message (one frame, after inflation with deflate): a buffer length taking a frame past it gets that connection an error and closes it (64 MiB).'),
    maxBuffersPerFrame: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_MAX_BUFFERS)
      .describe("Buffers one frame may announce (Java's client sends a 64 MiB message as ~8,200 buffers of 8 KiB): a frame announcing more gets its connection an error and closes it, before any is read."),
    maxEventsPerBatch: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe("Events in one appendBatch call (Flume's avro sink sends batch-size, commonly up to 10,000): a call with more is answered with an Avro error, counted in EventReadFail, and its connection closed."),
    maxPendingFrames: z
      .number()
      .int()
      .min(1)
      .default(1024)
      .describe("Calls received on one connection and waiting behind the one being handled (Flume's clients send one at a time); the connection is not read while any wait, and one that still has more gets an error and is closed."),
    maxBufferedBytes: z
      .number()
      .int()
      .min(1024)
      .default(96 * MiB)
      .describe('Memory the source may hold across connections: received bytes not yet answered plus an estimate of their decoded events (256 bytes per event, 128 per header). Past it, the connections holding the most unhandled bytes get an error and are closed; a call that would not fit waits for emitted batches to settle.'),
    onListening: z
      .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
      .optional()
      .describe('Called with the bound address once the server listens (useful with port 0).'),
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const issue of serverTlsIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
    if (v.maxBufferedBytes < v.maxMessageBytes) {
      ctx.issues.push({ code: 'custom', path: ['maxBufferedBytes'], message: `at least maxMessageBytes (${v.maxMessageBytes}), or the largest message could never be taken`, input: v.maxBufferedBytes });
    }
    if (v.ipFilter) {
      const rules = splitRules(v.ipFilterRules);
      if (rules.length === 0 || rules.some((r) => !RULE.test(r))) {
        ctx.issues.push({ code: 'custom', path: ['ipFilterRules'], message: 'rules `allow|deny:ip|name:pattern` separated by commas when ipFilter is true', input: v.ipFilterRules });
      }
    }
  });

export type AvroSourceOptions = z.input<typeof avroSourceOptions>;

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

export const avroSourceSpec = defineComponent({
  name: 'avroSource',
  kind: 'source',
  summary: "Avro RPC server speaking Flume's AvroSourceProtocol (append/appendBatch, Netty framing); answers FAILED when the channel is full (Flume avro).",
  flumeTypes: ['avro', 'org.apache.flume.source.AvroSource'],
  schema: avroSourceOptions,
  flumeKeys: {
    'compression-type': { option: 'compressionType', convert: (v) => v.trim().toLowerCase() },
    'compression-level': { option: 'compressionLevel', convert: Number },
    ssl: bool('ssl'),
    'exclude-protocols': { option: 'excludeProtocols', convert: (v) => v.split(/[\s,]+/).filter(Boolean) },
    'keystore-password': 'keystorePassword',
    'keystore-type': 'keystoreType',
    ipFilter: bool('ipFilter'),
    threads: { option: 'threads', convert: Number },
  },
});

/**
 * Flume's Avro source: an Avro RPC server on `bind:port` implementing `AvroSourceProtocol`
 * (`append(AvroFlumeEvent)` and `appendBatch(array<AvroFlumeEvent>)` → `Status`), over Avro's Netty
 * framing (`serial, count, count × (length, bytes)` per message, big-endian) with the stateful
 * handshake: the first call of a connection carries a `HandshakeRequest`, answered `BOTH` when the
 * client uses Flume's protocol (MD5 `86aadae2…`, see `AVRO_SOURCE_PROTOCOL`), `NONE` (resend with your
 * protocol) for an unknown hash, `CLIENT` when a client protocol differs only in docs/names. Empty
 * message names are handshake pings. Java Flume agents (avro sink, `flume-ng avro-client`, the SDK's
 * `NettyAvroRpcClient`) and avsc 5 stateful clients can send to it.
 *
 * Each `append` / `appendBatch` is **one batch** (one transaction), answered `OK` only after the
 * channel stored it and `FAILED` when it was nacked (a full channel, too many events for its
 * transaction capacity): the Flume client then rolls back and retries. A connection's calls are
 * handled in order, one at a time; while one is unsettled the connection is not read, and at most
 * `maxInFlight` batches are unsettled across connections, so a full channel pushes back through TCP.
 *
 * Bad input never stops the server: a message that does not decode (truncated, not the protocol,
 * unknown message name) is answered with an Avro system error on its serial and counted in
 * `EventReadFail`; bytes that are not Netty framing (garbage, negative lengths, a broken deflate
 * stream, a bad handshake) close that connection and count the same.
 *
 * Memory is bounded before it is allocated, per frame, per connection and across connections. A
 * frame's buffer count (`maxBuffersPerFrame`) and each buffer's length (`maxMessageBytes` for their
 * sum, after inflation) are checked as their headers arrive; zero-length buffers cost nothing; a
 * call's events (`maxEventsPerBatch`) are counted per Avro block before they are made. A connection
 * holds at most `maxPendingFrames` calls behind the one being handled, and is not read while any
 * wait or while its answers are not read (1 MiB of them). Everything held — bytes received and not
 * yet answered, and an estimate of the decoded events of unsettled batches — counts against
 * `maxBufferedBytes` across connections: past it, the connections holding the most unhandled bytes
 * are closed, and a call that does not fit waits for batches to settle. Over a limit, a connection
 * gets an Avro error on the call's serial (once past its handshake), is closed, and `EventReadFail`
 * counts it; other connections go on. Memory is then about 75 MB plus up to twice
 * `maxBufferedBytes` (the GC's slack over live objects): with the defaults the hostile-client test
 * (test/lib/sources/avroSourceHostile.test.ts) holds the process under 350 MB RSS (usually under 300; the
 * GC's slack grows when the process is starved of CPU: 303 MB once, beside two other test files). Not bounded: the
 * number of connections (each costs a few KB, ~300 KB more with deflate's zlib state).
 *
 * Options: `compressionType: 'deflate'` (zlib stream both ways, flushed per message — Netty's
 * `ZlibEncoder`/`ZlibDecoder`); `ssl` with PEM `sslKeyFile`/`sslCertFile` or Flume's `keystore` as a
 * PKCS#12 file (a JKS one is refused with the keytool command converting it). With both, the zlib stream is next to the socket and TLS runs inside
 * it, the order of Flume's Netty pipeline (checked against Flume 1.11.0 both ways); `ipFilter` with
 * `ipFilterRules` such as `allow:ip:127.*,allow:name:localhost,deny:ip:*` — `name:` patterns match the
 * reverse-DNS name (and `localhost` for loopback), the first matching rule wins, no match allows,
 * denied connections are closed at once and counted in `ConnectionRejectedCount`. `threads` is accepted
 * and ignored.
 *
 * Counters: Flume's `AppendReceivedCount`/`AppendAcceptedCount` (append),
 * `AppendBatchReceivedCount`/`AppendBatchAcceptedCount` (appendBatch), `EventReceivedCount`/
 * `EventAcceptedCount`, `ChannelWriteFail` (retriable nacks), `GenericProcessingFail` (other nacks,
 * socket errors), `EventReadFail` (undecodable calls, bad framing, limits), `OpenConnectionCount`,
 * plus `ConnectionRejectedCount`.
 *
 * Delivery: `OK` means stored in the channel; anything else means nothing of that call was. Calls
 * are decoded in place: event bodies are views of the chunks the call arrived in, not copies (a body
 * spanning two chunks is copied, and all of a call's bodies are copied out when the chunks would keep
 * more than twice their bytes alive, so a small event does not keep a large chunk alive). When a
 * call's connection is the only one open and the event loop has idle time (under 85% busy over the last
 * 100 ms), the call is checked whole first — every length, the event count, the memory limits — and its
 * events are made only when the memory channel hands them on, after the answer went out: the client's
 * next call overlaps the making (~175 ns per event) instead of waiting for it. With other connections
 * open, or a busy loop, they are made at once, since their calls fill that time anyway and checking
 * apart costs ~45 ns per event more; so do interceptors, selectors and the other channels, which read
 * the events before they store them (there the check is work done twice). Unsubscribing closes the server and every
 * connection; a port that cannot be bound fails the source with `FLUME_SOURCE_FAILED`. TLS files are
 * read when the source is built: a missing or unreadable one, a JKS store or a wrong password throws
 * `ConfigError` naming the option.
 *
 * @example
 * // Flume agent: a1.sinks.k1.type = avro, hostname = this host, port = 41414
 * pipe(avroSource({ bind: '0.0.0.0', port: 41414 }), memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }), loggerSink());
 */
export const avroSource = component(avroSourceSpec, function avroSource(options: AvroSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(avroSourceSpec, options);
  // Key store and certificate files are read now: a bad one is a configuration error naming its option.
  const secureContext = opts.ssl ? serverSecureContext(opts, opts.name).context : undefined;
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['AppendReceivedCount', 'AppendAcceptedCount', 'OpenConnectionCount', 'ConnectionRejectedCount']) metrics.set(key, 0);
  const rules = opts.ipFilter ? parseRules(opts.ipFilterRules) : [];
  // Server-wide, as Java's Responder: client protocols by hash, once parsed.
  const protocols = new ClientProtocols();

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    const sockets = new Set<Socket>();
    const slots = new Slots(opts.maxInFlight);

    const fail = (message: string, cause?: unknown): void => {
      if (closed) return;
      subscriber.error(new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: false, cause }));
    };

    const context: ConnectionContext = {
      options: opts,
      metrics,
      budget: new Budget(opts.maxBufferedBytes),
      slots,
      protocols,
      secureContext,
      rules,
      sockets,
      load: new LoopLoad(),
      closed: () => closed,
      emit: (batch) => subscriber.next(batch),
    };
    const server: Server = createServer((socket) => serveConnection(socket, context));
    server.on('error', (error: Error) => fail(`cannot listen on ${opts.bind}:${opts.port}: ${error.message}`, error));
    server.listen(opts.port, opts.bind, () => {
      if (!closed) opts.onListening?.(server.address() as AddressInfo);
    });

    return () => {
      closed = true;
      slots.clear();
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    };
  });
  return withMetrics(source, metrics);
});
