import { reverse } from 'node:dns/promises';
import { createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import avro from 'avsc';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { serverCredentials, serverTlsIssues, serverTlsOptions } from '../core/serverTls.js';
import { createBatch, type Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import {
  AVRO_SOURCE_PROTOCOL,
  AVRO_SOURCE_PROTOCOL_HASH,
  BOTH,
  CLIENT,
  FrameDecoder,
  NONE,
  Reader,
  STATUS_FAILED,
  STATUS_OK,
  TLS_PROTOCOLS,
  encodeFrame,
  protocolRange,
  readCallHeader,
  readHandshakeRequest,
  systemError,
  writeHandshakeResponse,
  zlibStream,
  type Frame,
  type HandshakeRequest,
} from '../avro/rpc.js';

// Kept exported from here: the protocol text and framing were this component's API before lib/avro.
export { AVRO_SOURCE_PROTOCOL, FrameDecoder, encodeFrame } from '../avro/rpc.js';

const RULE = /^(allow|deny):(ip|name):(.+)$/;
const MAX_CLIENT_PROTOCOLS = 256;

export const avroSourceOptions = z
  .strictObject({
    name: z.string().min(1).default('avroSource').describe('Component name in metrics.'),
    bind: z.string().min(1).describe('Address to listen on, e.g. 127.0.0.1 or 0.0.0.0.'),
    port: z.number().int().min(0).max(65535).describe('TCP port; 0 picks a free one (see onListening).'),
    compressionType: z
      .enum(['none', 'deflate'])
      .default('none')
      .describe("'deflate': the whole connection is a zlib stream, as Netty's ZlibEncoder/Decoder; must match the sender."),
    compressionLevel: z.number().int().min(0).max(9).default(6).describe('zlib level of the answers with deflate.'),
    ssl: z.boolean().default(false).describe('Serve TLS with sslKeyFile and sslCertFile, or keystore.'),
    ...serverTlsOptions,
    excludeProtocols: z
      .array(z.enum(TLS_PROTOCOLS))
      .default(['SSLv3'])
      .describe('TLS protocol versions refused (Flume exclude-protocols); the rest must be a contiguous range.'),
    ipFilter: z.boolean().default(false).describe('Apply ipFilterRules to every new connection.'),
    ipFilterRules: z
      .string()
      .default('')
      .describe("Flume's `allow|deny:ip|name:pattern,...` (`*` and `?` wildcards); the first matching rule wins, no match allows."),
    threads: z.number().int().min(0).optional().describe("Flume's worker thread count: accepted and ignored (Node serves every connection on one loop)."),
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(64)
      .describe('RPC batches emitted and not yet settled, across connections; further calls wait and their connections are not read.'),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024)
      .describe('Largest RPC message (one frame); a connection announcing more is closed (64 MiB by default).'),
    onListening: z
      .custom<(address: AddressInfo) => void>((v) => typeof v === 'function', { message: 'a function (address) => void' })
      .optional()
      .describe('Called with the bound address once the server listens (useful with port 0).'),
  })
  .check((ctx) => {
    const v = ctx.value;
    for (const issue of serverTlsIssues(v)) ctx.issues.push({ code: 'custom', ...issue });
    if (v.ssl) {
      if (protocolRange(v.excludeProtocols) === undefined) {
        ctx.issues.push({ code: 'custom', path: ['excludeProtocols'], message: 'exclusions leaving a contiguous, non-empty range of TLSv1…TLSv1.3', input: v.excludeProtocols });
      }
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
 * `EventReadFail`; bytes that are not Netty framing (garbage, negative or over-`maxMessageBytes`
 * lengths, a broken deflate stream, a bad handshake) close that connection and count the same.
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
 * socket errors), `EventReadFail`, `OpenConnectionCount`, plus `ConnectionRejectedCount`.
 *
 * Delivery: `OK` means stored in the channel; anything else means nothing of that call was. Event
 * bodies are views of the received message, not copies. Unsubscribing closes the server and every
 * connection; a port that cannot be bound or unreadable TLS files fail the source with
 * `FLUME_SOURCE_FAILED`.
 *
 * @example
 * // Flume agent: a1.sinks.k1.type = avro, hostname = this host, port = 41414
 * pipe(avroSource({ bind: '0.0.0.0', port: 41414 }), memoryChannel({ capacity: 10_000, transactionCapacity: 1000 }), loggerSink());
 */
export const avroSource = component(avroSourceSpec, function avroSource(options: AvroSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(avroSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['AppendReceivedCount', 'AppendAcceptedCount', 'OpenConnectionCount', 'ConnectionRejectedCount']) metrics.set(key, 0);
  const rules = opts.ipFilter ? parseRules(opts.ipFilterRules) : [];
  // Server-wide, as Java's Responder: client protocols by hash, once parsed.
  const clients = new Map<string, ClientProtocol>([[AVRO_SOURCE_PROTOCOL_HASH.toString('hex'), FLUME_CLIENT]]);

  const source = new Observable<Batch>((subscriber) => {
    let closed = false;
    const sockets = new Set<Socket>();
    let inFlight = 0;
    const waiting = new Set<() => void>();

    const fail = (message: string, cause?: unknown): void => {
      if (closed) return;
      subscriber.error(new ComponentError('FLUME_SOURCE_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: false, cause }));
    };

    const wakeWaiting = (): void => {
      for (const pump of [...waiting]) {
        if (inFlight >= opts.maxInFlight) return;
        waiting.delete(pump);
        pump();
      }
    };

    const serve = (socket: Socket): void => {
      const decoder = new FrameDecoder(opts.maxMessageBytes);
      // What frames are read from and written to: the socket, or TLS and/or zlib layered on it.
      let io: Duplex | undefined;
      let client: ClientProtocol | undefined;
      const queue: Frame[] = [];
      let busy = false;
      let dead = false;

      const kill = (): void => {
        if (dead) return;
        dead = true;
        queue.length = 0;
        waiting.delete(pump);
        io?.destroy();
        socket.destroy();
      };
      const badInput = (): void => {
        metrics.inc('EventReadFail');
        kill();
      };

      const send = (serial: number, parts: readonly Buffer[]): void => {
        if (dead || closed) return;
        io?.write(encodeFrame(serial, parts));
      };

      const onBytes = (chunk: Buffer): void => {
        if (dead) return;
        try {
          for (const frame of decoder.push(chunk)) queue.push(frame);
        } catch {
          badInput();
          return;
        }
        pump();
      };

      // Pausing the top stream is enough: the zlib layer passes the back-pressure on to the socket.
      const pause = (): void => {
        io?.pause();
      };
      const resume = (): void => {
        io?.resume();
      };

      function pump(): void {
        while (!busy && !dead && !closed && queue.length > 0) {
          if (inFlight >= opts.maxInFlight) {
            waiting.add(pump);
            break;
          }
          handle(queue.shift()!);
        }
        if (dead || closed) return;
        if (busy || queue.length > 0) pause();
        else resume();
      }

      const handle = (frame: Frame): void => {
        const reader = new Reader(frame.message);
        let handshake: Buffer | undefined;
        if (client === undefined) {
          let hs: HandshakeRequest;
          try {
            hs = readHandshakeRequest(reader);
          } catch {
            badInput();
            return;
          }
          const key = hs.clientHash.toString('hex');
          let known = clients.get(key);
          if (known === undefined && hs.clientProtocol !== null) {
            known = parseClientProtocol(hs.clientProtocol);
            // Bounded: clients choose the hashes, so an unbounded cache would be theirs to fill.
            if (clients.size < MAX_CLIENT_PROTOCOLS) clients.set(key, known);
          }
          const serverMatches = hs.serverHash.equals(AVRO_SOURCE_PROTOCOL_HASH);
          const match = known === undefined ? NONE : serverMatches ? BOTH : CLIENT;
          handshake = writeHandshakeResponse(match);
          if (match === NONE) {
            send(frame.serial, [handshake]);
            return;
          }
          client = known;
        }
        const leading = handshake ? [handshake] : [];
        let call: { name: 'append' | 'appendBatch'; events: FlumeEvent[] } | undefined;
        try {
          const name = readCallHeader(reader);
          if (name === '') {
            send(frame.serial, leading); // a handshake ping
            return;
          }
          if (name !== 'append' && name !== 'appendBatch') throw new Error(`No message named ${name} in ${client!.name}`);
          if (!client!.messages.has(name)) throw new Error(`message ${name} of ${client!.name} does not match Flume's AvroSourceProtocol`);
          call = { name, events: name === 'append' ? [readEvent(reader)] : readEvents(reader) };
        } catch (error) {
          metrics.inc('EventReadFail');
          send(frame.serial, [...leading, systemError((error as Error).message)]);
          return;
        }

        const { name, events } = call;
        const single = name === 'append';
        metrics.inc(single ? 'AppendReceivedCount' : 'AppendBatchReceivedCount');
        metrics.inc('EventReceivedCount', events.length);
        if (events.length === 0) {
          // Flume puts nothing and answers OK for an empty batch.
          metrics.inc(single ? 'AppendAcceptedCount' : 'AppendBatchAcceptedCount');
          send(frame.serial, [...leading, STATUS_OK]);
          return;
        }
        busy = true;
        inFlight++;
        const settle = (status: Buffer): void => {
          busy = false;
          inFlight--;
          send(frame.serial, [...leading, status]);
          pump();
          wakeWaiting();
        };
        subscriber.next(
          createBatch(events, {
            onAck: () => {
              metrics.inc(single ? 'AppendAcceptedCount' : 'AppendBatchAcceptedCount');
              metrics.inc('EventAcceptedCount', events.length);
              settle(STATUS_OK);
            },
            onNack: (error) => {
              metrics.inc(isRetriable(error) ? 'ChannelWriteFail' : 'GenericProcessingFail');
              settle(STATUS_FAILED);
            },
          }),
        );
      };

      const start = (): void => {
        if (dead || closed) return;
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
      };

      sockets.add(socket);
      metrics.set('OpenConnectionCount', sockets.size);
      socket.on('error', () => metrics.inc('GenericProcessingFail'));
      socket.once('close', () => {
        sockets.delete(socket);
        metrics.set('OpenConnectionCount', sockets.size);
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
    };

    let secureContext: SecureContext | undefined;
    if (opts.ssl) {
      const range = protocolRange(opts.excludeProtocols)!;
      let identity: ReturnType<typeof serverCredentials>;
      try {
        identity = serverCredentials(opts);
      } catch (error) {
        fail((error as Error).message, error);
        return;
      }
      try {
        secureContext = createSecureContext({ ...identity, minVersion: range[0], maxVersion: range[1] });
      } catch (error) {
        fail(`bad TLS key, certificate or keystore password: ${(error as Error).message}`, error);
        return;
      }
    }
    const server: Server = createServer(serve);
    server.on('error', (error: Error) => fail(`cannot listen on ${opts.bind}:${opts.port}: ${error.message}`, error));
    server.listen(opts.port, opts.bind, () => {
      if (!closed) opts.onListening?.(server.address() as AddressInfo);
    });

    return () => {
      closed = true;
      waiting.clear();
      server.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      metrics.set('OpenConnectionCount', 0);
    };
  });
  return withMetrics(source, metrics);
});

// ---- events ------------------------------------------------------------------------------------

function readEvent(r: Reader): FlumeEvent {
  const headers: Record<string, string> = {};
  for (let n = r.block(); n > 0; n = r.block()) {
    for (let i = 0; i < n; i++) {
      const key = r.string();
      const value = r.string();
      // defineProperty: a `__proto__` header must stay an ordinary key.
      if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
      else headers[key] = value;
    }
  }
  return { headers, body: r.bytes() };
}

function readEvents(r: Reader): FlumeEvent[] {
  const out: FlumeEvent[] = [];
  for (let n = r.block(); n > 0; n = r.block()) {
    for (let i = 0; i < n; i++) out.push(readEvent(r));
  }
  return out;
}

// ---- client protocols --------------------------------------------------------------------------

interface ClientProtocol {
  name: string;
  /** The messages whose request and response match Flume's, so their bytes decode as ours. */
  messages: ReadonlySet<string>;
}

const FLUME_SERVICE = avro.Service.forProtocol(JSON.parse(AVRO_SOURCE_PROTOCOL));
const FLUME_CLIENT: ClientProtocol = { name: 'AvroSourceProtocol', messages: new Set(['append', 'appendBatch']) };

/** Which messages of a client protocol are wire-compatible with ours (same parameter and response schemas). */
function parseClientProtocol(text: string): ClientProtocol {
  let service: avro.Service;
  try {
    service = avro.Service.forProtocol(JSON.parse(text));
  } catch {
    return { name: 'an unparseable protocol', messages: new Set() };
  }
  const messages = new Set<string>();
  for (const name of ['append', 'appendBatch']) {
    const theirs = service.message(name);
    const ours = FLUME_SERVICE.message(name)!;
    if (!theirs) continue;
    const params = (m: typeof ours) =>
      (m.requestType as avro.types.RecordType).fields.map((f) => f.type.fingerprint().toString('hex')).join(',');
    if (params(theirs) === params(ours) && theirs.responseType.fingerprint().equals(ours.responseType.fingerprint())) messages.add(name);
  }
  return { name: service.name, messages };
}

// ---- ip filter ---------------------------------------------------------------------------------

interface Rule {
  allow: boolean;
  kind: 'ip' | 'name';
  pattern: RegExp;
  localhost: boolean;
}

function splitRules(text: string): string[] {
  return text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
}

function parseRules(text: string): Rule[] {
  return splitRules(text).map((r) => {
    const [, verdict, kind, pattern] = RULE.exec(r)!;
    const glob = pattern!.trim();
    const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return { allow: verdict === 'allow', kind: kind as 'ip' | 'name', pattern: new RegExp(`^${source}$`, 'i'), localhost: glob.toLowerCase() === 'localhost' };
  });
}

async function allowed(rules: readonly Rule[], remote: string): Promise<boolean> {
  const ip = remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote;
  const loopback = ip === '::1' || ip.startsWith('127.');
  let names: string[] | undefined;
  for (const rule of rules) {
    let match: boolean;
    if (rule.kind === 'ip') {
      match = rule.pattern.test(ip);
    } else if (rule.localhost && loopback) {
      match = true;
    } else {
      names ??= await reverse(ip).catch(() => [] as string[]);
      match = names.some((n) => rule.pattern.test(n));
    }
    if (match) return rule.allow;
  }
  return true;
}
