/**
 * One AMQP 1.0 consumer of a JMS destination (rhea), standing in for Flume's transacted JMS session:
 * messages stay unsettled while the channel holds their batch, and are accepted (the commit) or handed
 * back `modified` with `delivery_failed` (the rollback: the broker redelivers them and counts the
 * redelivery) once it answered. Credit is given back only as messages are settled, so at most `window`
 * messages are held here, queued or in flight, whatever the broker holds.
 *
 * A connection that is lost (broker restart, network) is not reopened here: every unsettled message
 * returns to the broker by itself, what was queued is discarded, and the next `connect()` — the
 * source's back-off decides when — starts a new link. Settling a message of a lost link does nothing:
 * the broker sends it again (a duplicate if its batch was committed meanwhile).
 */
import { isIP } from 'node:net';
import type * as Rhea from 'rhea';
import { lazyRequire } from '../../core/lazyRequire.js';
import { FlumeError } from '../../core/errors.js';
import type { AmqpMessage } from './jmsMessage.js';

const loadRhea = lazyRequire<typeof Rhea>('rhea', 'the JMS source');

const CONNECT_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;

export interface AmqpReceiverOptions {
  /** For messages, e.g. "jmsSource r1". */
  name: string;
  host: string;
  port: number;
  tls: boolean;
  /** PEM CA certificates to trust (with tls) instead of Node's defaults. */
  ca?: string | undefined;
  /** SASL PLAIN with `password`, ANONYMOUS without. */
  username: string;
  password?: string | undefined;
  /** The AMQP container id: ActiveMQ's JMS clientID. */
  containerId: string;
  /** `queue://name` or `topic://name`. */
  address: string;
  selector?: string | undefined;
  /** A durable topic subscription of this name (the link's name), kept when the source stops. */
  durableName?: string | undefined;
  /** Messages held here at most (queued and unsettled): the link credit. */
  window: number;
}

export interface Received {
  message: AmqpMessage;
  delivery: Rhea.Delivery;
  /** The link it came on: settling it on a later one is meaningless. */
  link: number;
}

export class AmqpReceiver {
  private connection: Rhea.Connection | undefined;
  private receiver: Rhea.Receiver | undefined;
  private queue: Received[] = [];
  private link = 0;
  private ready = false;

  constructor(
    private readonly opts: AmqpReceiverOptions,
    /** A message was queued. */
    private readonly onMessage: () => void,
    /** The link or connection went away after it was open; queued messages were discarded. */
    private readonly onLost: (error: Error) => void,
  ) {}

  get open(): boolean {
    return this.ready;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Opens the connection and the receiving link; rejects (a FlumeError) when either is refused or lost first. */
  connect(): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.teardown();
    const o = this.opts;
    const rhea = loadRhea();
    const link = ++this.link;
    const container = rhea.create_container({ id: o.containerId });
    // What reaches no handler of ours (events of a link we already gave up) must not throw.
    container.on('error', () => undefined);
    const connection = container.connect({
      host: o.host,
      port: o.port,
      transport: o.tls ? 'tls' : 'tcp',
      // SNI names a host, never an address (RFC 6066): '' keeps rhea from sending the address; the
      // certificate is still checked against it.
      ...(o.tls ? { servername: isIP(o.host) ? '' : o.host, ...(o.ca !== undefined ? { ca: o.ca } : {}) } : {}),
      username: o.username,
      ...(o.password !== undefined ? { password: o.password } : {}),
      container_id: o.containerId,
      reconnect: false,
    } as Rhea.ConnectionOptions);
    this.connection = connection;
    // ActiveMQ's selector filter (described by apache.org:selector-filter:string).
    const filter = o.selector === undefined ? undefined : (rhea.filter.selector(o.selector) as Record<string, unknown>);
    const receiver = connection.open_receiver({
      ...(o.durableName !== undefined ? { name: o.durableName } : {}),
      source: {
        address: o.address,
        ...(filter ? { filter } : {}),
        ...(o.durableName !== undefined ? { durable: 2, expiry_policy: 'never' } : {}),
      },
      credit_window: 0,
      autoaccept: false,
    });
    this.receiver = receiver;
    receiver.on('message', (context) => {
      if (link !== this.link || !context.message || !context.delivery) return;
      this.queue.push({ message: context.message as AmqpMessage, delivery: context.delivery, link });
      this.onMessage();
    });

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      const fail = (cause: unknown, ofLink = false): void => {
        const error = this.error(cause, ofLink);
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          this.teardown();
          reject(error);
        } else if (link === this.link && this.ready) this.lost(error);
      };
      receiver.once('receiver_open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.ready = true;
        receiver.add_credit(o.window);
        resolve();
      });
      connection.on('connection_error', (c) => fail(c.connection?.error ?? 'the broker closed the connection'));
      connection.on('connection_close', () => fail('the broker closed the connection'));
      connection.on('receiver_error', (c) => fail(c.receiver?.error ?? 'the broker refused the link', true));
      connection.on('receiver_close', (c) => fail(c.receiver?.error ?? 'the broker closed the link', true));
      connection.on('session_error', (c) => fail(c.session?.error ?? 'the broker closed the session'));
      connection.on('disconnected', (c) => fail(c.error ?? 'disconnected'));
      connection.on('error', (e) => fail(e));
    });
  }

  /** Up to `max` queued messages, oldest first. */
  take(max: number): Received[] {
    return this.queue.splice(0, max);
  }

  /** The commit: the broker forgets these messages. Those of a lost link come back anyway. */
  accept(entries: readonly Received[]): void {
    this.settle(entries, (d) => d.accept());
  }

  /** The rollback: the broker sends these messages again, counting the redelivery (JMSXDeliveryCount). */
  giveBack(entries: readonly Received[]): void {
    this.settle(entries, (d) => d.modified({ delivery_failed: true }));
  }

  /** For a message no event can be made of: the broker dead-letters it (ActiveMQ.DLQ when persistent). */
  refuse(entries: readonly Received[]): void {
    this.settle(entries, (d) => d.reject({ condition: 'amqp:decode-error', description: 'no Flume event can be made of this message' }));
  }

  /** Closes the connection; a durable subscription's link is detached first, so the subscription stays. */
  close(): Promise<void> {
    const connection = this.connection;
    const receiver = this.receiver;
    this.ready = false;
    this.link++;
    this.queue = [];
    this.connection = undefined;
    this.receiver = undefined;
    if (!connection || !connection.is_open()) {
      (connection as unknown as { socket?: { destroy(): void } } | undefined)?.socket?.destroy();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        // A broker that does not answer: drop the socket, the messages go back to it anyway.
        (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
        done();
      }, CLOSE_TIMEOUT_MS);
      connection.once('connection_close', done);
      connection.once('disconnected', done);
      if (this.opts.durableName !== undefined && receiver?.is_open()) receiver.detach();
      connection.close();
    });
  }

  private settle(entries: readonly Received[], how: (d: Rhea.Delivery) => void): void {
    let n = 0;
    for (const e of entries) {
      if (e.link !== this.link || !this.ready) continue;
      how(e.delivery);
      n++;
    }
    if (n > 0) this.receiver?.add_credit(n);
  }

  private lost(error: Error): void {
    this.teardown();
    this.onLost(error);
  }

  /** Forgets the current link and connection (their unsettled messages return to the broker). */
  private teardown(): void {
    this.ready = false;
    this.link++;
    this.queue = [];
    const connection = this.connection;
    this.connection = undefined;
    this.receiver = undefined;
    if (connection) {
      // Its handlers stay, and ignore it: they belong to an older link.
      if (connection.is_open()) connection.close();
      // Without reconnect, rhea leaves a dead socket to us.
      (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
    }
  }

  private error(cause: unknown, ofLink: boolean): FlumeError {
    const o = this.opts;
    const amqp = cause as { condition?: unknown; description?: unknown; message?: unknown };
    const text =
      typeof cause === 'string'
        ? cause
        : amqp && (amqp.condition !== undefined || amqp.description !== undefined)
          ? `${String(amqp.condition ?? '')}${amqp.description ? `: ${String(amqp.description)}` : ''}`
          : cause instanceof Error
            ? cause.message
            : String(cause);
    // ActiveMQ detaches a link whose selector it cannot parse with invalid-field (a clientId in use is
    // refused on the connection instead): such a selector never becomes valid, retrying cannot help.
    const badSelector = ofLink && o.selector !== undefined && /invalid-field/.test(text);
    return new FlumeError(
      'FLUME_SOURCE_FAILED',
      `${o.name}: ${o.tls ? 'amqps' : 'amqp'}://${o.host}:${o.port} ${o.address}${o.durableName !== undefined ? ` (durable subscription "${o.durableName}")` : ''}: ${text}`,
      { component: o.name, retriable: !badSelector, ...(cause instanceof Error ? { cause } : {}) },
    );
  }
}
