import { readFileSync } from 'node:fs';
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import { component, defineComponent, expandHome, parseOptions, pathOption, type FlumeMapped, type FlumeProblem } from '../core/config.js';
import { ConfigError, isRetriable } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { componentLogger, loggerOption } from '../core/log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';
import { pollOptionsOf, pollSource, type PolledBatch, type PollResult } from '../core/pollSource.js';
import { AmqpReceiver, type Received } from './jms/amqpReceiver.js';
import { JMS_CHARSETS, toFlumeEvent } from './jms/jmsMessage.js';

const OPENWIRE =
  "an amqp:// or amqps:// URL. rxflume speaks AMQP 1.0 to the broker, not OpenWire (tcp://, ssl://, failover:, what Java JMS clients use): enable the broker's AMQP transport " +
  '(ActiveMQ: <transportConnector name="amqp" uri="amqp://0.0.0.0:5672"/> in activemq.xml) and give its amqp:// URL';

export const jmsSourceOptions = z
  .strictObject({
    ...nameOption('jmsSource'),
    providerUrl: z
      .string()
      .min(1)
      .describe('The broker\'s AMQP 1.0 address, `amqp://host:port` or `amqps://host:port` (TLS) (Flume providerURL; an OpenWire `tcp://` URL is refused, naming the transport to enable).'),
    destinationName: z.string().min(1).describe('The queue or topic read.'),
    destinationType: z.enum(['QUEUE', 'TOPIC']).describe('QUEUE (each message to one consumer) or TOPIC (to every subscriber); any case in a Flume file.'),
    messageSelector: z.string().min(1).optional().describe("A JMS selector (`priority > 3 AND region = 'eu'`): only matching messages are read. One the broker refuses ends the source."),
    userName: z.string().min(1).optional().describe('User name (SASL PLAIN, with the password); without it the source connects anonymously.'),
    passwordFile: z
      .string()
      .min(1)
      .meta(pathOption('readFile'))
      .optional()
      .describe("File holding the user's password (read as UTF-8 and trimmed when the source is built, as Flume)."),
    password: z.string().optional().describe('The password itself, for programs (a Flume file uses passwordFile).'),
    sslCaFile: z
      .string()
      .min(1)
      .meta(pathOption('readFile'))
      .optional()
      .describe("With amqps://: PEM CA certificate(s) to trust instead of Node's default CAs (the broker's certificate is always checked)."),
    batchSize: z.number().int().min(1).default(100).describe('Messages per batch at most: the first waited for up to pollTimeoutMs, the rest those already received.'),
    converterType: z.enum(['DEFAULT']).default('DEFAULT').describe("The message converter (Flume converter.type): DEFAULT, Flume's DefaultJMSMessageConverter."),
    converterCharset: z.enum(JMS_CHARSETS).default('UTF-8').describe("Charset a text message's body is written in (Flume converter.charset)."),
    createDurableSubscription: z
      .boolean()
      .default(false)
      .describe('Reads a TOPIC through a durable subscription (needs clientId and durableSubscriptionName): messages published while the source is stopped wait for it.'),
    durableSubscriptionName: z.string().min(1).optional().describe('Name of the durable subscription.'),
    clientId: z.string().min(1).optional().describe("The connection's JMS client ID (the AMQP container id); a random one when unset. Two connections with the same one are refused."),
    pollTimeoutMs: z.number().int().min(0).default(1000).describe('How long one poll waits for a first message (Flume pollTimeout), before backing off.'),
    ...maxInFlightOption('no message beyond those batches and one more batch is received'),
    ...backoffOptions('an empty poll, a nack or a lost connection'),
    ...loggerOption,
  })
  .check((ctx) => {
    const o = ctx.value;
    const issue = (path: string, message: string, input: unknown): void => {
      ctx.issues.push({ code: 'custom', path: [path], message, input });
    };
    if (!/^amqps?:\/\/[^/]/i.test(o.providerUrl)) issue('providerUrl', OPENWIRE, o.providerUrl);
    else {
      try {
        new URL(o.providerUrl);
      } catch {
        issue('providerUrl', 'an amqp://host:port or amqps://host:port URL', o.providerUrl);
      }
    }
    if (o.createDurableSubscription) {
      if (o.destinationType !== 'TOPIC') issue('destinationType', 'TOPIC for a durable subscription (createDurableSubscription)', o.destinationType);
      if (o.clientId === undefined) issue('clientId', 'a client ID for a durable subscription (createDurableSubscription)', o.clientId);
      if (o.durableSubscriptionName === undefined) issue('durableSubscriptionName', 'a name for the durable subscription (createDurableSubscription)', o.durableSubscriptionName);
    }
    if (o.sslCaFile !== undefined && !/^amqps:/i.test(o.providerUrl)) issue('sslCaFile', 'an amqps:// providerUrl with sslCaFile', o.providerUrl);
    if (o.passwordFile !== undefined && o.password !== undefined) issue('password', 'one of password and passwordFile', '***');
    if ((o.passwordFile !== undefined || o.password !== undefined) && o.userName === undefined) issue('userName', 'a user name with a password', o.userName);
    if (o.userName !== undefined && o.passwordFile === undefined && o.password === undefined) issue('passwordFile', 'a password file with userName (Flume fails at connect without one)', o.passwordFile);
  });

export type JmsSourceOptions = z.input<typeof jmsSourceOptions>;

const upper = (v: string): string => v.trim().toUpperCase();

/** Keys of Flume's JMS source that name JNDI and Java client machinery: accepted, and said to do nothing here. */
const IGNORED: Readonly<Record<string, string>> = {
  initialContextFactory: 'ignored: rxflume connects over AMQP 1.0 without JNDI',
  connectionFactory: 'ignored: rxflume connects over AMQP 1.0 without JNDI',
  destinationLocator: 'ignored: the destination is always destinationName itself (Flume CDI)',
  errorThreshold: 'ignored: a lost connection is reopened after the back-off, whatever the count',
};

function ignoredFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const consumed = Object.keys(IGNORED).filter((k) => props.has(k));
  const problems: FlumeProblem[] = consumed.map((key) => ({ key, message: IGNORED[key]!, severity: 'warning' }));
  return { options: {}, consumed, problems };
}

export const jmsSourceSpec = defineComponent({
  name: 'jmsSource',
  kind: 'source',
  summary: "Reads a JMS queue or topic over AMQP 1.0 (ActiveMQ and other brokers); messages are accepted only once the channel took their batch (Flume's JMS source).",
  flumeTypes: ['jms', 'org.apache.flume.source.jms.JMSSource'],
  flumeChecksBatchSize: true, // Flume 1.11's JMSSource implements BatchSizeSupported
  schema: jmsSourceOptions,
  flumeKeys: {
    providerURL: 'providerUrl',
    destinationType: { option: 'destinationType', convert: upper },
    'converter.type': { option: 'converterType', convert: upper },
    'converter.charset': { option: 'converterCharset', convert: upper },
    pollTimeout: 'pollTimeoutMs',
    ...backoffFlumeKeys,
  },
  fromFlume: ignoredFromFlume,
});

/**
 * Flume's JMS source: reads the queue or topic `destinationName` from a broker over AMQP 1.0 — ActiveMQ
 * Classic and Artemis, Qpid, Solace, Azure Service Bus and others speak it — in batches of up to
 * `batchSize` messages: a poll waits up to `pollTimeoutMs` for the first, then takes those already
 * received, as Flume does. A message becomes an event as Flume's DefaultJMSMessageConverter makes it:
 * a text message's text (in `converterCharset`) or a bytes message's bytes as the body (an empty body for
 * map, stream and plain messages), its properties as headers, as Java prints them (`true`, `42`,
 * `2.5`), with `JMSXDeliveryCount` on a redelivered message. `messageSelector` filters on the broker;
 * `createDurableSubscription` reads a topic through a durable subscription named
 * `durableSubscriptionName` of client `clientId`, which keeps what is published while the source is
 * stopped. `userName` with `passwordFile` logs in (SASL PLAIN; send it over amqps:// outside a trusted
 * network). With `amqps://` the connection is TLS, the broker's certificate checked against Node's CAs or
 * those of `sslCaFile`.
 *
 * The broker must have its AMQP transport enabled (ActiveMQ: an `amqp://` transportConnector, with
 * `?transport.transformer=jms` so that messages sent over AMQP are stored as JMS text and bytes
 * messages); an OpenWire `tcp://` URL, what Flume's Java client uses, is refused with that advice.
 * Flume's JNDI keys (`initialContextFactory`, `connectionFactory`, `destinationLocator`) and
 * `errorThreshold` are accepted and reported as ignored.
 *
 * Delivery: at-least-once. Messages stay unsettled on the broker while their batch is in the channel's
 * hands: accepted once it was acked (Flume's session commit); given back with `delivery_failed` when
 * nacked (the rollback: the broker redelivers them, counting the redelivery in `JMSXDeliveryCount`),
 * and read again after Flume's back-off. Nothing is ever dead-lettered for being nacked often (Flume's
 * ActiveMQ client moves a message to `ActiveMQ.DLQ` after 6 rollbacks). At most `batchSize ×
 * (maxInFlight + 1)` messages are held, queued or in flight: that is the link credit, given back only as
 * messages are settled. A lost connection (broker restart, network) hands every unsettled message
 * back to the broker; the source reconnects after its back-off. A batch acked after its connection was
 * lost is delivered again: **duplicates are possible after a broker restart or a stop, loss is not**
 * (for persistent messages; the broker drops non-persistent ones when it restarts).
 *
 * Errors: a broker that cannot be reached, refuses the login or the client ID, or goes away is
 * retried after `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`, counted in
 * `GenericProcessingFail`; a selector the broker refuses ends the source with `FLUME_SOURCE_FAILED`.
 * A missing `passwordFile` or `sslCaFile` is a `FLUME_CONFIG` error when the source is built; a broker
 * certificate that does not verify is retried like a refused connection, and logged.
 *
 * @example
 * pipe(
 *   jmsSource({ providerUrl: 'amqp://127.0.0.1:5672', destinationName: 'orders', destinationType: 'QUEUE', batchSize: 500 }),
 *   memoryChannel({ capacity: 10_000, transactionCapacity: 500 }),
 *   loggerSink(),
 * );
 */
export const jmsSource = component(jmsSourceSpec, function jmsSource(options: JmsSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(jmsSourceSpec, options);
  const password = opts.passwordFile !== undefined ? readFileOption(opts.name, 'passwordFile', opts.passwordFile, 'the password').trim() : opts.password;
  const ca = opts.sslCaFile !== undefined ? readFileOption(opts.name, 'sslCaFile', opts.sslCaFile, 'PEM CA certificates') : undefined;
  const url = new URL(opts.providerUrl);
  const tls = url.protocol.toLowerCase() === 'amqps:';
  const counters = new ComponentCounters('SOURCE', opts.name);
  counters.inc('EventReadFail', 0);
  const log = componentLogger(opts.name, opts.logger);
  const address = `${opts.destinationType === 'QUEUE' ? 'queue' : 'topic'}://${opts.destinationName}`;
  const where = `'${opts.destinationName}' of type '${opts.destinationType}' at ${url.protocol}//${url.host}`;

  const source = new Observable<Batch>((subscriber) => {
    let waiter: ((result: PollResult) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let gather: NodeJS.Immediate | undefined;
    let fatal: Error | undefined;

    const answer = (result: PollResult | Error): void => {
      const resolve = waiter;
      waiter = undefined;
      clearTimeout(timer);
      if (gather) clearImmediate(gather);
      gather = undefined;
      if (resolve) (result instanceof Error ? reject : resolve)(result as never);
    };
    let reject: (error: Error) => void = () => undefined;

    const receiver = new AmqpReceiver(
      {
        name: opts.name,
        host: url.hostname,
        port: Number(url.port || (tls ? 5671 : 5672)),
        tls,
        ca,
        // rhea offers SASL only with a user name; ActiveMQ insists on SASL (ANONYMOUS without a password).
        username: opts.userName ?? 'anonymous',
        password,
        containerId: opts.clientId ?? `rxflume-${opts.name}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
        address,
        selector: opts.messageSelector,
        durableName: opts.createDurableSubscription ? opts.durableSubscriptionName : undefined,
        window: opts.batchSize * (opts.maxInFlight + 1),
      },
      () => {
        // Messages arrive in bursts (one socket read): take the whole burst into the batch.
        if (waiter && !gather) gather = setImmediate(() => answer(batch()));
      },
      (error) => {
        if (isRetriable(error)) log('warn', `lost ${where}; reconnecting after the back-off: ${error.message}`);
        // Not retriable (a refused selector): the next poll ends the source with it.
        else fatal = error;
        answer(error);
      },
    );

    const batch = (): PolledBatch => {
      const entries: Received[] = [];
      const events: FlumeEvent[] = [];
      for (const entry of receiver.take(opts.batchSize)) {
        try {
          events.push(toFlumeEvent(entry.message, opts.converterCharset));
          entries.push(entry);
        } catch (error) {
          // A message no event can be made of would come back forever: refused, counted, logged.
          counters.inc('EventReadFail');
          log('warn', `refused a message that cannot become an event: ${(error as Error).message}`);
          receiver.refuse([entry]);
        }
      }
      return { events, commit: () => receiver.accept(entries), rollback: () => receiver.giveBack(entries) };
    };

    const next = (): PollResult | Promise<PollResult> => {
      if (receiver.queued > 0) return batch();
      return new Promise<PollResult>((resolve, rejectPoll) => {
        waiter = resolve;
        reject = rejectPoll;
        timer = setTimeout(() => answer([]), opts.pollTimeoutMs);
      });
    };

    const poll = (): PollResult | Promise<PollResult> => {
      if (fatal) throw fatal;
      if (receiver.open) return next();
      return receiver.connect().then(
        () => {
          log('info', `connected to ${where}`);
          return next();
        },
        (error: Error) => {
          log('warn', `cannot connect to ${where}${isRetriable(error) ? '; retrying after the back-off' : ''}: ${error.message}`);
          throw error;
        },
      );
    };

    const inner = pollSource(poll, pollOptionsOf(opts), counters).subscribe({
      next: (b) => subscriber.next(b),
      error: (e: unknown) => subscriber.error(e),
      complete: () => subscriber.complete(),
    });
    return () => {
      inner.unsubscribe();
      answer([]);
      void receiver.close();
    };
  });
  return withMetrics(source, counters);
});

/** A file an option names, read when the source is built (UTF-8); unreadable: a ConfigError naming the option. */
function readFileOption(name: string, option: string, file: string, holding: string): string {
  try {
    return readFileSync(expandHome(file), 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: `${name}.${option}`, expected: `a readable file holding ${holding}`, received: `${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` }], { component: name });
  }
}
