import { z } from 'zod';
import { asyncScheduler } from 'rxjs';
import { closest, parseOptions } from '../core/config.js';
import { ComponentError, ConfigError, type ConfigIssue } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { ComponentCounters, withMetrics, type HasMetrics, type METRICS } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { OrderSelector } from '../core/orderSelector.js';
import { AvroRpcEndpoint } from '../avro/avroRpcConnection.js';
import { avroRpcFlumeKeys, avroRpcIssues, avroRpcOptions } from '../avro/avroRpcOptions.js';
import { protocolRange } from '../tls/protocols.js';

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/;

/** The client's options, spread into the schemas of what builds a client (rpcClient, the pino transport). */
export const rpcClientFields = {
  ...nameOption('rpcClient'),
  hosts: z
    .array(z.string().refine((v) => HOST_PORT.test(v), "'host:port', e.g. 'collector:41414'"))
    .min(1)
    .describe("Avro sources to send to, as 'host:port' (Flume hosts and hosts.<alias>); the order matters for failover."),
  type: z
    .enum(['default', 'failover', 'loadBalance'])
    .default('default')
    .describe("'default': one host; 'failover': the current host until it fails, then the next in order; 'loadBalance': spread over the hosts (Flume client.type default, default_failover, default_loadbalance)."),
  ...avroRpcOptions('a longer list is sent as several calls, one at a time, and fails at the first call that fails'),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('failover: hosts tried for one call before it fails; default the number of hosts (Flume max-attempts).'),
  selector: z
    .enum(['round_robin', 'random'])
    .default('round_robin')
    .describe('loadBalance: order in which hosts are tried for each call (Flume host-selector).'),
  backoff: z
    .boolean()
    .default(false)
    .describe('loadBalance: leave a failed host out for min(maxBackoffMs, 2^n s) after n consecutive failures (Flume backoff).'),
  maxBackoffMs: z.number().int().min(1).default(30_000).describe('loadBalance: longest back-off of a failed host (Flume maxBackoff; its 0 means this default).'),
};

/** The cross-option rules of rpcClientFields, for a schema's `.check`. */
export function rpcClientIssues(v: z.output<z.ZodObject<typeof rpcClientFields>>): { code: 'custom'; path: string[]; message: string; input: unknown }[] {
  const issues = avroRpcIssues(v);
  if (v.type === 'default' && v.hosts.length > 1) {
    issues.push({ code: 'custom', path: ['hosts'], message: "one host for type 'default' (failover or loadBalance for several)", input: v.hosts });
  }
  if (v.type === 'loadBalance' && v.hosts.length < 2) {
    issues.push({ code: 'custom', path: ['hosts'], message: "at least two hosts for type 'loadBalance' (as Flume)", input: v.hosts });
  }
  return issues;
}

export const rpcClientOptions = z.strictObject(rpcClientFields).check((ctx) => {
  ctx.issues.push(...rpcClientIssues(ctx.value));
});

export type RpcClientOptions = z.input<typeof rpcClientOptions>;

const SPEC = { name: 'rpcClient', schema: rpcClientOptions };

/** An application's connection to one or more Avro sources (Flume's RpcClient). */
export interface RpcClient extends HasMetrics {
  /** Sends one event (Avro `append`); resolves once the source answered OK. */
  append(event: FlumeEvent): Promise<void>;
  /** Sends the events as `appendBatch` calls of at most `batchSize`; resolves once every call was answered OK. */
  appendBatch(events: readonly FlumeEvent[]): Promise<void>;
  /** Waits for the calls under way, then closes every connection; later calls fail. */
  close(): Promise<void>;
  /** False once closed; the default client also while its host is in reconnect back-off (Flume's isActive). */
  isActive(): boolean;
  readonly batchSize: number;
}

/**
 * Flume's client SDK (`RpcClientFactory`) for Node applications: sends events to a Flume agent's
 * `avro` source or rxflume's `avroSource`, over the same connection code as avroSink (Netty framing,
 * handshake, zlib, TLS, timeouts, reconnect back-off).
 *
 * - `type: 'default'` (NettyAvroRpcClient): one host.
 * - `type: 'failover'` (FailoverRpcClient): sends to one host until a call fails, then closes it and
 *   tries the next host in `hosts` order (wrapping round), up to `maxAttempts` hosts per call; a
 *   host that cannot be connected is skipped. It stays on the host that worked (no fail-back).
 * - `type: 'loadBalance'` (LoadBalancingRpcClient): each call goes to the first host of the
 *   selector's order (`round_robin` or `random`, Flume's OrderSelector) and, when it fails, at once
 *   to the next; with `backoff` a failed host is left out for min(maxBackoffMs, 2^n s).
 *
 * Calls are sent one at a time in call order. `appendBatch` splits a list into `batchSize` calls and
 * fails at the first failed one, so the earlier chunks were delivered: a retry sends them again (as
 * Flume's client). Options can also come from Flume's client properties: `rpcClientFromProperties`.
 *
 * Errors: a call that no host accepted rejects with `FLUME_CLIENT_FAILED` (retriable; the events are
 * still the caller's), as do calls after `close()` (not retriable). Bad options throw a `ConfigError`
 * naming each.
 *
 * Counters (`SINK`, under `name`): `EventDrainAttemptCount`, `EventDrainSuccessCount`,
 * `BatchCompleteCount` (calls answered OK), `EventWriteFail`, `ConnectionCreatedCount`,
 * `ConnectionClosedCount`, `ConnectionFailedCount`, `FailoverCount` (a call moved to another host).
 *
 * @example
 * const client = createRpcClient({ hosts: ['collector1:41414', 'collector2:41414'], type: 'failover' });
 * await client.appendBatch([event('hello', { app: 'web' })]);
 * await client.close();
 */
export function createRpcClient(options: RpcClientOptions): RpcClient {
  const opts = parseOptions(SPEC, options);
  const counters = new ComponentCounters('SINK', opts.name);
  counters.set('FailoverCount', 0);
  const tlsRange = protocolRange(opts.excludeProtocols);
  const failure = (message: string, cause?: unknown, retriable = true): ComponentError =>
    new ComponentError('FLUME_CLIENT_FAILED', `${opts.name}: ${message}`, { component: opts.name, retriable, cause });
  const endpoints = opts.hosts.map((address) => {
    const [, v6, host, port] = HOST_PORT.exec(address)!;
    return new AvroRpcEndpoint({ ...opts, hostname: v6 ?? host!, port: Number(port), resetConnectionIntervalS: 0, tlsRange }, { counters, failure });
  });
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  type Send = (endpoint: AvroRpcEndpoint) => Promise<void>;
  const strategy: (send: Send) => Promise<void> =
    opts.type === 'failover'
      ? failover(endpoints, opts.maxAttempts ?? endpoints.length, counters, failure)
      : opts.type === 'loadBalance'
        ? loadBalance(endpoints, opts, counters, failure)
        : (send) => send(endpoints[0]!);

  const call = (count: number, send: Send): Promise<void> => {
    if (closed) return Promise.reject(failure('the client is closed', undefined, false));
    if (counters.startTime === 0) counters.startTime = asyncScheduler.now();
    counters.inc('EventDrainAttemptCount', count);
    const result = chain.then(() => strategy(send));
    chain = result.catch(() => undefined);
    return result.then(
      () => {
        counters.inc('BatchCompleteCount');
        counters.inc('EventDrainSuccessCount', count);
      },
      (error: unknown) => {
        counters.inc('EventWriteFail', count);
        throw error;
      },
    );
  };

  const client: Omit<RpcClient, typeof METRICS> = {
    batchSize: opts.batchSize,
    append: (event) => call(1, (e) => e.append(event)),
    appendBatch: (events) => (events.length === 0 ? Promise.resolve() : call(events.length, (e) => e.appendBatch(events))),
    async close() {
      if (closed) return chain;
      closed = true;
      await chain;
      await Promise.all(endpoints.map((e) => e.close()));
      counters.stopTime = asyncScheduler.now();
    },
    isActive: () => !closed && (opts.type !== 'default' || endpoints[0]!.active),
  };
  return withMetrics(client, counters);
}

type Failure = (message: string, cause?: unknown) => Error;

/** FailoverRpcClient: stay on the current host; on failure close it and move on in host order. */
function failover(endpoints: readonly AvroRpcEndpoint[], maxAttempts: number, counters: ComponentCounters, failure: Failure) {
  let current: AvroRpcEndpoint | undefined;
  let last = -1; // Flume's lastCheckedhost

  // getNextClient: the hosts after the last one used, then from the first; the first that connects.
  const next = async (): Promise<AvroRpcEndpoint> => {
    const n = endpoints.length;
    let lastError: unknown;
    for (let k = 1; k <= n; k++) {
      const i = (last + k) % n;
      try {
        await endpoints[i]!.connect();
        last = i;
        return endpoints[i]!;
      } catch (error) {
        lastError = error;
      }
    }
    last = -1;
    throw failure(`no host could be connected (${endpoints.map((e) => e.address).join(', ')})`, lastError);
  };

  return async (send: (endpoint: AvroRpcEndpoint) => Promise<void>): Promise<void> => {
    let lastError: unknown;
    for (let tries = 0; tries < maxAttempts; tries++) {
      if (tries > 0) counters.inc('FailoverCount');
      if (!current?.connected) current = await next();
      const endpoint = current;
      try {
        await send(endpoint);
        return;
      } catch (error) {
        lastError = error;
        endpoint.destroy();
        current = undefined;
      }
    }
    throw failure(`tried ${maxAttempts} host(s), could not send: ${(lastError as Error).message}`, lastError);
  };
}

/** LoadBalancingRpcClient: each call to the selector's first host, then at once to the next on failure. */
function loadBalance(
  endpoints: readonly AvroRpcEndpoint[],
  opts: { selector: 'round_robin' | 'random'; backoff: boolean; maxBackoffMs: number },
  counters: ComponentCounters,
  failure: Failure,
) {
  const selector = new OrderSelector(endpoints, { selector: opts.selector, backoff: opts.backoff, maxTimeOutMs: opts.maxBackoffMs });
  return async (send: (endpoint: AvroRpcEndpoint) => Promise<void>): Promise<void> => {
    const order = selector.order();
    let lastError: unknown;
    for (const [i, endpoint] of order.entries()) {
      if (i > 0) counters.inc('FailoverCount');
      try {
        await send(endpoint);
        return;
      } catch (error) {
        lastError = error;
        selector.informFailure(endpoint);
      }
    }
    throw failure(order.length === 0 ? 'every host is backed off' : `unable to send to any host: ${(lastError as Error).message}`, lastError);
  };
}

// ---- Flume's client properties ------------------------------------------------------------------

const CLIENT_TYPES: Readonly<Record<string, 'default' | 'failover' | 'loadBalance'>> = {
  default: 'default',
  default_failover: 'failover',
  default_loadbalance: 'loadBalance',
};

const PROPERTY_KEYS = {
  ...avroRpcFlumeKeys,
  truststore: 'truststore',
  'max-attempts': { option: 'maxAttempts', convert: Number },
  'host-selector': { option: 'selector', convert: (v: string) => v.trim().toLowerCase() },
  backoff: { option: 'backoff', convert: (v: string) => v.trim().toLowerCase() === 'true' },
  // Flume's 0 means its default.
  maxBackoff: { option: 'maxBackoffMs', convert: (v: string) => (Number(v) === 0 ? undefined : Number(v)) },
} as const;

/**
 * A client from Flume's RpcClientFactory properties (a Java application's client.properties):
 * `hosts = h1 h2`, `hosts.h1 = host:port`, `client.type`, `batch-size`, `connect-timeout`,
 * `request-timeout`, `max-attempts`, `host-selector`, `backoff`, `maxBackoff`, `compression-type`,
 * `compression-level`, `ssl`, `trust-all-certs`, `exclude-protocols`, `maxIoWorkers`. Unknown keys,
 * `client.type = thrift` and Java truststores are refused with a ConfigError naming the key.
 */
export function rpcClientFromProperties(props: Readonly<Record<string, string>>, name?: string): RpcClient {
  const options: Record<string, unknown> = name === undefined ? {} : { name };
  const issues: ConfigIssue[] = [];
  const aliases = (props.hosts ?? '').trim().split(/\s+/).filter(Boolean);
  // As Flume's HostInfo: an alias without hosts.<alias> is left out.
  options.hosts = aliases.flatMap((a) => (props[`hosts.${a}`] === undefined ? [] : [props[`hosts.${a}`]!.trim()]));
  for (const [key, raw] of Object.entries(props)) {
    if (key === 'hosts' || (key.startsWith('hosts.') && aliases.includes(key.slice(6)))) continue;
    if (key === 'client.type') {
      const type = CLIENT_TYPES[raw.trim().toLowerCase()];
      if (type) options.type = type;
      else issues.push({ path: 'rpcClient.client.type', expected: `one of ${Object.keys(CLIENT_TYPES).join(', ')}`, received: JSON.stringify(raw) });
      continue;
    }
    const mapping = (PROPERTY_KEYS as Record<string, string | { option: string; convert(v: string): unknown }>)[key];
    if (mapping === undefined) {
      const suggestion = closest(key, ['hosts', 'client.type', ...Object.keys(PROPERTY_KEYS)]);
      issues.push({ path: `rpcClient.${key}`, expected: 'a property of Flume\'s RpcClientFactory', received: JSON.stringify(raw), ...(suggestion ? { suggestion } : {}) });
      continue;
    }
    const value = typeof mapping === 'string' ? raw : mapping.convert(raw);
    if (value !== undefined) options[typeof mapping === 'string' ? mapping : mapping.option] = value;
  }
  if (issues.length > 0) throw new ConfigError(issues, { component: name ?? 'rpcClient' });
  return createRpcClient(options as RpcClientOptions);
}
