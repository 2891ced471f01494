/**
 * The IRC sink's connection: an irc-framework client registered and joined in the channel, lines
 * written under flood control, each batch confirmed by the PONG to a PING sent after it; its
 * lifecycle (lazy open, reconnect back-off, drop on loss) is RpcEndpoint's.
 */
import { asyncScheduler } from 'rxjs';
import type { Batch } from '../../core/batch.js';
import { ComponentError } from '../../core/errors.js';
import { lazyRequire } from '../../core/lazyRequire.js';
import type { ComponentCounters } from '../../core/metrics.js';
import { RpcEndpoint, type RpcConnection } from '../../core/rpcEndpoint.js';
import { ircTexts, maxTextBytes } from './ircLines.js';

/** What the endpoint is built from (the sink's options). */
export interface IrcEndpointConfig {
  name: string;
  hostname: string;
  port: number;
  nick: string;
  user?: string | undefined;
  password?: string | undefined;
  chan: string;
  realName: string;
  splitlines: boolean;
  splitchars: string;
  linesPerSecond: number;
  burstLines: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  reconnectBackoffMs: number;
  maxReconnectBackoffMs: number;
}

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

/** Lines per second with a burst: a token bucket on the scheduler's clock. */
export class FloodControl {
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
    const token = `rxflume-${++this.seq}`;
    const refusals: string[] = [];
    // Pending from the first line: a refusal of an early line can come while later ones are still paced out.
    const answered = new Promise<void>((resolve, reject) => (this.pending = { token, refusals, resolve, reject }));
    answered.catch(() => undefined); // a write failing first is what the caller sees
    let timer: { unsubscribe(): void } | undefined;
    try {
      for (const text of texts) {
        await this.flood.take();
        await this.write(`PRIVMSG ${this.channel} :${text}`);
      }
      await this.flood.take();
      await this.write(`PING ${token}`);
      timer = asyncScheduler.schedule(() => this.pending?.reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
      await answered;
      return refusals;
    } finally {
      timer?.unsubscribe();
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
export class IrcEndpoint extends RpcEndpoint<IrcConnection> {
  private readonly flood: FloodControl;

  constructor(
    private readonly opts: IrcEndpointConfig,
    counters: ComponentCounters,
  ) {
    super(
      { hostname: opts.hostname, port: opts.port, resetConnectionIntervalS: 0, reconnectBackoffMs: opts.reconnectBackoffMs, maxReconnectBackoffMs: opts.maxReconnectBackoffMs },
      { counters, failure: (message, cause) => new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable: true, cause }) },
    );
    this.flood = new FloodControl(opts.linesPerSecond, opts.burstLines);
    // irc-framework is an optional peer dependency (its core-js would give every install of rxflume a script
    // warning): a sink built without it fails now, naming the package, not at its first batch.
    loadIrc();
  }

  send(batch: Batch): Promise<void> {
    return this.serialized(async () => {
      const texts = ircTexts(batch, this.opts, maxTextBytes(this.opts.nick, this.opts.user ?? this.opts.nick, `#${this.opts.chan}`));
      const refusals = await this.call('sending', batch.events.length, (conn) => conn.send(texts, this.opts.requestTimeoutMs));
      // Answers over a healthy connection: it is kept, the batch is nacked.
      if (refusals.length > 0) throw this.owner.failure(`the server refused lines of ${batch.events.length} events: ${refusals.join('; ')}`);
    });
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
