import { asyncScheduler } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions, type FlumeProblem } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import { lazyRequire } from '../core/lazyRequire.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { RpcEndpoint, rpcEndpointOptions, type RpcConnection } from '../core/rpcEndpoint.js';
import { createSink, type Sink } from '../core/sink.js';
import { javaRegex, javaRegexOption } from '../text/javaRegex.js';

const { connectTimeoutMs, requestTimeoutMs, reconnectBackoffMs, maxReconnectBackoffMs } = rpcEndpointOptions('');

export const ircSinkOptions = z.strictObject({
  ...nameOption('ircSink'),
  hostname: z.string().min(1).describe('Host of the IRC server.'),
  port: z.number().int().min(1).max(65535).default(6667).describe('Port of the IRC server (plain TCP, as Flume).'),
  nick: z.string().min(1).regex(/^[^\s:#&!@,*?][^\s,*?!@]*$/, 'an IRC nick (no spaces, no leading digit-free prefix such as #, : or &)').describe('Nick of the sink.'),
  user: z.string().regex(/^[A-Za-z0-9+\-@._]+$/, 'letters, digits and +-@._').optional().describe('User name sent in USER; the nick when unset (Flume sends the literal "null").'),
  password: z.string().min(1).optional().describe('Server password (PASS), sent only when set.'),
  chan: z
    .string()
    .min(1)
    .regex(/^[^\s,\x07]+$/, 'a channel name without spaces or commas')
    .describe("Channel, without its '#': the sink joins '#' + chan, as Flume does (so 'chan = #flume' joins ##flume, as in Flume)."),
  realName: z.string().min(1).default('rxflume').describe('Real name sent in USER (Flume name).'),
  splitlines: z.boolean().default(false).describe('Send each piece of the body split by splitchars as its own message; otherwise one message per event (line breaks become spaces).'),
  splitchars: javaRegexOption().default('\n').describe('Java regular expression the body is split by when splitlines is on (Flume splitchars).'),
  linesPerSecond: z.number().positive().default(2).describe('Lines sent per second at most once the burst is spent: flood control, so the server does not penalise or kill the sink.'),
  burstLines: z.number().int().min(1).default(5).describe('Lines that may go out at once before linesPerSecond applies.'),
  connectTimeoutMs: connectTimeoutMs.describe('Longest wait to connect, register and join the channel.'),
  requestTimeoutMs: requestTimeoutMs.describe("Longest wait for the server's PONG that confirms a batch's lines were read."),
  reconnectBackoffMs,
  maxReconnectBackoffMs,
});

export type IrcSinkOptions = z.input<typeof ircSinkOptions>;

/** Flume keys whose option has another name (`name` is the component's own name here). */
const flumeKeys = { name: 'realName' } as const;

export const ircSinkSpec = defineComponent({
  name: 'ircSink',
  kind: 'sink',
  summary: "Posts each event's body to an IRC channel as PRIVMSG lines; acked once the server answered a PING sent after them (Flume irc sink).",
  flumeTypes: ['irc', 'org.apache.flume.sink.irc.IRCSink'],
  schema: ircSinkOptions,
  flumeKeys,
  // Flume prepends '#' to chan: the User Guide's `chan = #flume` joins ##flume. Kept, and said.
  fromFlume: (props) => {
    const chan = props.get('chan');
    const problems: FlumeProblem[] = [];
    if (chan?.startsWith('#')) {
      problems.push({ key: 'chan', severity: 'warning', message: `joins #${chan}, as Flume does: the sink prepends '#' (write chan = ${chan.replace(/^#+/, '')} for #${chan.replace(/^#+/, '')})` });
    }
    return { options: {}, consumed: [], problems };
  },
});

type Options = z.output<typeof ircSinkOptions>;

/** The little of irc-framework's Client used here (the package has no types). */
interface IrcClient {
  connect(options: Record<string, unknown>): void;
  on(event: string, listener: (payload: never) => void): void;
  removeAllListeners(): void;
  quit(message?: string): void;
  readonly user: { nick: string };
  readonly connection: { connected: boolean; write(line: string, callback: (error?: Error | null) => void): unknown; end(data?: string, hadError?: boolean): void };
}
const loadIrc = lazyRequire<{ Client: new (options: Record<string, unknown>) => IrcClient }>('irc-framework', 'the IRC sink');

// ---- lines ----------------------------------------------------------------------------------------

/** What IRC allows of a message's text: no NUL, and a line break would end the command (the rest would run as raw commands). */
const clean = (text: string): string => text.replace(/\0/g, '').replace(/\r\n|\r|\n/g, ' ');

/** Java's String.split pieces (empty ones too; the caller drops them). */
function javaSplit(text: string, regex: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    if (m[0].length === 0) {
      if (m.index >= text.length) break;
      regex.lastIndex = m.index + (text.codePointAt(m.index)! > 0xffff ? 2 : 1);
      if (m.index === 0) continue; // Java: no leading empty piece from a zero-width match
    }
    out.push(text.slice(last, m.index));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** `text` in pieces of at most `max` UTF-8 bytes, cut between code points. */
function chunks(text: string, max: number): string[] {
  if (Buffer.byteLength(text) <= max) return [text];
  const out: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) {
      out.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += ch;
    bytes += n;
  }
  if (piece) out.push(piece);
  return out;
}

/**
 * The texts a batch becomes: per event, its body (UTF-8) or its splitchars pieces, line breaks made
 * spaces, empty ones dropped (a server answers an empty PRIVMSG with an error), long ones cut to what
 * the server relays whole.
 */
export function ircTexts(batch: Pick<Batch, 'events'>, opts: Pick<Options, 'splitlines' | 'splitchars'>, maxBytes: number): string[] {
  const split = opts.splitlines ? javaRegex(opts.splitchars, { global: true }).regex : undefined;
  const out: string[] = [];
  for (const event of batch.events) {
    const body = event.body.toString('utf8');
    for (const piece of split ? javaSplit(body, split) : [body]) {
      const text = clean(piece);
      if (text.length > 0) out.push(...chunks(text, maxBytes));
    }
  }
  return out;
}

// ---- the connection -----------------------------------------------------------------------------

/** Lines per second with a burst: a token bucket on the scheduler's clock. */
class FloodControl {
  private tokens: number;
  private at = asyncScheduler.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Resolves when one more line may go out. */
  async take(): Promise<void> {
    const now = asyncScheduler.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    this.tokens -= 1;
    if (this.tokens < 0) await new Promise<void>((resolve) => asyncScheduler.schedule(() => resolve(), (-this.tokens / this.rate) * 1000));
  }
}

/** One registered client in the channel. */
class IrcConnection implements RpcConnection {
  readonly openedAt = asyncScheduler.now();
  closed = false;
  onClose: (() => void) | undefined;
  /** Set while a batch waits for its PONG: the connection's end fails it; the server's refusals are kept for its answer. */
  private pending: { token: string; refusals: string[]; resolve(): void; reject(error: Error): void } | undefined;
  private seq = 0;

  constructor(
    private readonly client: IrcClient,
    readonly channel: string,
    private readonly flood: FloodControl,
  ) {
    client.on('pong', (p: { message?: string }) => {
      if (this.pending && p.message === this.pending.token) this.pending.resolve();
    });
    client.on('raw', (r: { line: string; from_server: boolean }) => {
      // Any error numeric (4xx, 5xx) while a batch is out refers to its lines: the server read them and refused.
      const m = r.from_server ? /^(?:@\S+ )?:\S+ ([45]\d\d) ([^\r\n]*)/.exec(r.line) : null; // lines come with their CRLF
      if (m && this.pending) this.pending.refusals.push(`${m[1]} ${m[2]}`);
    });
    client.on('kick', (k: { kicked: string; channel: string }) => {
      if (k.kicked === client.user.nick && k.channel.toLowerCase() === channel.toLowerCase()) this.close();
    });
    client.on('socket close', () => this.ended());
  }

  /**
   * Writes the PRIVMSG lines (flood-controlled), then a PING; resolves on its PONG with the error
   * numerics the server answered meanwhile (empty when it took every line). Rejects when the
   * connection is lost or no PONG comes in time.
   */
  async send(texts: readonly string[], timeoutMs: number): Promise<string[]> {
    for (const text of texts) {
      await this.flood.take();
      await this.write(`PRIVMSG ${this.channel} :${text}`);
    }
    const token = `rxflume-${++this.seq}`;
    const refusals: string[] = [];
    const answered = new Promise<void>((resolve, reject) => (this.pending = { token, refusals, resolve, reject }));
    const timer = asyncScheduler.schedule(() => this.pending?.reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
    try {
      await this.flood.take();
      await this.write(`PING ${token}`);
      await answered;
      return refusals;
    } finally {
      timer.unsubscribe();
      this.pending = undefined;
    }
  }

  private write(line: string): Promise<void> {
    if (this.closed || !this.client.connection.connected) return Promise.reject(new Error('the connection is closed'));
    return new Promise((resolve, reject) => this.client.connection.write(line, (error) => (error ? reject(error) : resolve())));
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending?.reject(new Error('the server closed the connection'));
    this.client.removeAllListeners();
    this.onClose?.();
  }

  close(): boolean {
    if (this.closed) return false;
    this.client.quit('rxflume sink closing');
    this.ended();
    return true;
  }
}

/** Connects, registers and joins on first use; reconnects (with back-off) once the connection is gone. */
class IrcEndpoint extends RpcEndpoint<IrcConnection> {
  private readonly flood: FloodControl;

  constructor(
    private readonly opts: Options,
    counters: ComponentCounters,
  ) {
    super(
      { hostname: opts.hostname, port: opts.port, resetConnectionIntervalS: 0, reconnectBackoffMs: opts.reconnectBackoffMs, maxReconnectBackoffMs: opts.maxReconnectBackoffMs },
      { counters, failure: (message, cause) => new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: true, cause }) },
    );
    this.flood = new FloodControl(opts.linesPerSecond, opts.burstLines);
  }

  send(batch: Batch): Promise<void> {
    return this.serialized(async () => {
      const texts = ircTexts(batch, this.opts, this.maxTextBytes());
      const refusals = await this.call('sending', batch.events.length, (conn) => conn.send(texts, this.opts.requestTimeoutMs));
      // Answers over a healthy connection: it is kept, the batch is nacked.
      if (refusals.length > 0) throw this.owner.failure(`the server refused lines of ${batch.events.length} events: ${refusals.join('; ')}`);
    });
  }

  /**
   * A line is at most 512 bytes with its CRLF, and others receive it with our `:nick!user@host `
   * prefix in front: the text gets what is left after both (host up to 63 bytes, user with a `~`).
   */
  private maxTextBytes(): number {
    const user = this.opts.user ?? this.opts.nick;
    return 510 - Buffer.byteLength(`PRIVMSG #${this.opts.chan} :`) - Buffer.byteLength(`:${this.opts.nick}!~${user}@ `) - 63;
  }

  protected openConnection(): Promise<IrcConnection> {
    const { Client } = loadIrc();
    const o = this.opts;
    const channel = `#${o.chan}`;
    const client = new Client({ auto_reconnect: false, ping_interval: 30, ping_timeout: 120, version: null });
    return new Promise<IrcConnection>((resolve, reject) => {
      let done = false;
      const fail = (why: string): void => {
        if (done) return;
        done = true;
        timer.unsubscribe();
        client.removeAllListeners();
        client.connection.end(undefined, true);
        reject(new Error(why));
      };
      const timer = asyncScheduler.schedule(() => fail(`not registered in ${channel} within ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
      client.on('registered', () => client.connection.write(`JOIN ${channel}`, () => undefined));
      client.on('join', (j: { nick: string; channel: string }) => {
        if (done || j.nick !== client.user.nick || j.channel.toLowerCase() !== channel.toLowerCase()) return;
        done = true;
        timer.unsubscribe();
        resolve(new IrcConnection(client, channel, this.flood));
      });
      client.on('irc error', (e: { error: string; reason?: string }) => fail(`${e.error}${e.reason ? `: ${e.reason}` : ''}`));
      client.on('nick in use', () => fail(`nick ${o.nick} is in use`));
      client.on('nick invalid', () => fail(`nick ${o.nick} is refused by the server`));
      client.on('socket close', (error: Error | undefined) => fail(error ? error.message : 'the server closed the connection'));
      client.connect({
        host: o.hostname,
        port: o.port,
        nick: o.nick,
        username: o.user ?? o.nick,
        gecos: o.realName,
        ...(o.password !== undefined ? { password: o.password } : {}),
        auto_reconnect: false,
        encoding: 'utf8',
      });
    });
  }
}

// ---- the sink -----------------------------------------------------------------------------------

/**
 * Flume's IRC sink: posts every event's body to channel `#chan` on `hostname:port` as `PRIVMSG`
 * lines — one per event, or with `splitlines` one per piece of the body split by the Java regex
 * `splitchars`. The client (irc-framework) connects on the first batch, registers (`PASS` when
 * `password` is set, `NICK`, `USER user 0 * :realName`) and joins the channel before anything is sent.
 *
 * What IRC can confirm: nothing per message — PRIVMSG has no reply when it succeeds. So after a
 * batch's lines the sink sends a `PING` and **acks the batch once the server's `PONG` arrives**: the
 * server handles a client's commands in order, so by then it read every line, and any refusal of
 * them (an error numeric such as 404 "cannot send to channel") came first and nacks the batch. IRC
 * cannot confirm that any member of the channel saw a line (a server keeps no history: members who
 * join later never see it), nor that a line reached other servers of the network.
 *
 * Lines: the body is read as UTF-8; a line break would end the IRC command, so CR and LF become spaces
 * (Flume sends them raw, and the rest of the body runs as IRC commands); empty pieces are not sent
 * (Flume sends them and the server answers with an error); a text longer than what the server
 * relays whole (512 bytes per line, less the command and the sender prefix) is cut into several
 * messages at code point boundaries (Flume sends it and the server disconnects it).
 *
 * Flood control: at most `burstLines` at once, then `linesPerSecond` (2 by default), the PING included,
 * so the server neither slows the sink down nor kills it for flooding.
 *
 * Failures nack the batch (retriable `FLUME_SINK_FAILED`), and the channel offers it again: connection
 * refused, registration or join refused (bad password, nick in use, banned, channel key…), the
 * connection lost, an error numeric, no PONG within `requestTimeoutMs`. A lost connection is noticed
 * (Flume's sink never notices one and loses events until restarted) and the next batch reconnects,
 * after `reconnectBackoffMs` doubling up to `maxReconnectBackoffMs` when attempts fail.
 *
 * Delivery: at-least-once into the server. A batch nacked after some of its lines went out is sent
 * whole again: members may see lines twice. Counters: Flume's sink counters with
 * `ConnectionCreatedCount`, `ConnectionClosedCount`, `ConnectionFailedCount`.
 *
 * @example
 * pipe(netcatSource({ bind: '127.0.0.1', port: 44444 }), memoryChannel(), ircSink({ hostname: 'irc.example.org', nick: 'flume', chan: 'alerts' }));
 */
export const ircSink = component(ircSinkSpec, function ircSink(options: IrcSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(ircSinkSpec, options);
  const metrics = new ComponentCounters('SINK', opts.name);
  const endpoint = new IrcEndpoint(opts, metrics);
  const sink = createSink(opts.name, { write: (batch) => endpoint.send(batch), close: () => endpoint.close() }, metrics);
  return withMetrics(sink, metrics);
});
