import type { LookupAddress } from 'node:dns';
import { Observable, type Subscriber } from 'rxjs';
import { z } from 'zod';
import type { Batch } from '../../lib/core/batch.js';
import { component, defineComponent, parseOptions } from '../../lib/core/config.js';
import { toError } from '../../lib/core/errors.js';
import { componentLogger, loggerOption } from '../../lib/core/log.js';
import { ComponentCounters, withMetrics } from '../../lib/core/metrics.js';
import { interceptor, type Interceptor } from './interceptor.js';
import { nameOption } from '../../lib/core/options.js';

// node:dns and node:os load on first use, not with `import 'rxflume'` (issue #15).
const dns = () => process.getBuiltinModule('node:dns');
const os = () => process.getBuiltinModule('node:os');

export const hostInterceptorOptions = z.strictObject({
  ...nameOption('hostInterceptor'),
  hostHeader: z.string().min(1).default('host').describe('Header set to this host.'),
  useIP: z.boolean().default(true).describe("Use the host's IP address (true) or its canonical name (false)."),
  preserveExisting: z.boolean().default(false).describe('Leave events that already have the header as they are.'),
  resolve: z
    .enum(['localHost', 'interfaces'])
    .default('localHost')
    .describe(
      "How the host is found: `localHost` as Flume (Java's `InetAddress.getLocalHost()`: the host name looked up, its name by reverse look-up); " +
        '`interfaces`: the first non-internal IPv4 address of the network interfaces (127.0.0.1 when none) or `os.hostname()`, with no look-up (not in Flume).',
    ),
  ...loggerOption,
});

export type HostInterceptorOptions = z.input<typeof hostInterceptorOptions>;

export const hostInterceptorSpec = defineComponent({
  name: 'hostInterceptor',
  kind: 'interceptor',
  summary: "Sets a header to this host's IP address or name (Flume host interceptor).",
  flumeTypes: ['host', 'org.apache.flume.interceptor.HostInterceptor$Builder'],
  schema: hostInterceptorOptions,
});

/**
 * Flume's host interceptor: sets `hostHeader` (default `host`) to this host's address or name, unless
 * `preserveExisting` and the header is already there. Headers are set in place; nothing is dropped.
 *
 * The value is found once per interceptor, as Flume 1.11 finds it with Java's
 * `InetAddress.getLocalHost()`: the host name (`os.hostname()`) is looked up through the system
 * resolver (`/etc/hosts`, then DNS, as `getaddrinfo` does), and the first IPv4 address is taken (the
 * first IPv6 one when there is none: Java's default order); a host named `localhost` is 127.0.0.1.
 * With `useIP` (the default) the header is that address; otherwise it is the address's canonical name,
 * Java's `getCanonicalHostName()`: the reverse look-up of the address (`getnameinfo`, which reads
 * `/etc/hosts` too), kept only when that name looks up to the same address, else the address itself.
 * When the host name does not resolve, Flume logs a warning and sets no header: so does this. On a
 * machine whose `/etc/hosts` maps its name to 127.0.0.1 the header is `127.0.0.1` (or `localhost`).
 * `resolve: 'interfaces'` skips the look-ups: the first non-internal IPv4 address of
 * `os.networkInterfaces()` (127.0.0.1 when there is none), or `os.hostname()`.
 *
 * The look-ups are asynchronous: they start on the first subscription, and batches wait for them in
 * order (completion and errors too) before the first one passes; from then on the interceptor is
 * synchronous, and later subscriptions reuse the value.
 *
 * ```
 * upstream:  --a--b-----c--|
 * looked up: -------^
 * result:    -------(ab)c--|     (a and b when the look-up answers, in order; then as they come)
 * ```
 *
 * Delivery: the batch's transaction is passed on unchanged; batches still waiting for the look-up when
 * the subscriber leaves are left to the source, as it unsubscribes.
 * Errors: none at run time (a failed look-up is a warning and no header, as in Flume).
 *
 * @example
 * pipe(source, hostInterceptor({ useIP: false, hostHeader: 'hostname' }), memoryChannel(), sink);
 */
export const hostInterceptor = component(hostInterceptorSpec, function hostInterceptor(
  options?: HostInterceptorOptions,
): Interceptor {
  const { name, hostHeader, useIP, preserveExisting, resolve, logger } = parseOptions(hostInterceptorSpec, options);
  const log = componentLogger(name, logger);
  // `undefined` until found; `{ host: undefined }` when the host name did not resolve (no header).
  let found: { host: string | undefined } | undefined =
    resolve === 'interfaces' ? { host: useIP ? interfaceIPv4() : os().hostname() } : undefined;
  let finding: Promise<void> | undefined;
  const find = (): Promise<void> =>
    (finding ??= javaLocalHost(useIP).then(
      (host) => void (found = { host }),
      (error: unknown) => {
        log('warn', `could not get the local host address; events get no ${hostHeader} header: ${toError(error).message}`);
        found = { host: undefined };
      },
    ));

  const counters = new ComponentCounters('INTERCEPTOR', name);
  const rewrite = interceptor(
    name,
    (events) => {
      const host = found?.host;
      if (host === undefined) return events;
      for (const e of events) {
        if (!(preserveExisting && Object.hasOwn(e.headers, hostHeader))) e.headers[hostHeader] = host;
      }
      return events;
    },
    counters,
  );
  const operator = (upstream: Observable<Batch>): Observable<Batch> =>
    rewrite(new Observable<Batch>((subscriber) => (found ? upstream.subscribe(subscriber) : afterFound(upstream, subscriber))));

  /** Holds `upstream`'s notifications, in order, until the host is found; then passes everything on. */
  function afterFound(upstream: Observable<Batch>, subscriber: Subscriber<Batch>): () => void {
    type Held = { kind: 'N'; batch: Batch } | { kind: 'E'; error: unknown } | { kind: 'C' };
    const held: Held[] = [];
    let open = false;
    const deliver = (n: Held): void => {
      if (n.kind === 'N') subscriber.next(n.batch);
      else if (n.kind === 'E') subscriber.error(n.error);
      else subscriber.complete();
    };
    // Once open, only what would overtake a held notification waits behind it: a batch the source emits
    // while the last held one is delivered (its ack answered at once) nests as it would without the wait,
    // so the source's own guard against re-entrant emission keeps working.
    const hold = (n: Held): void => (open && held.length === 0 ? deliver(n) : void held.push(n));
    const subscription = upstream.subscribe({
      next: (batch) => hold({ kind: 'N', batch }),
      error: (error: unknown) => hold({ kind: 'E', error }),
      complete: () => hold({ kind: 'C' }),
    });
    void find().then(() => {
      open = true;
      while (held.length > 0 && !subscriber.closed) deliver(held.shift()!);
    });
    return () => {
      subscription.unsubscribe();
      held.length = 0;
    };
  }

  return withMetrics(operator, counters);
});

/**
 * Java's `InetAddress.getLocalHost()` (its address, or with `useIP` false its canonical name), with
 * Java's defaults (`java.net.preferIPv4Stack` and `java.net.preferIPv6Addresses` false). Rejects when
 * the host name does not resolve (Java's `UnknownHostException`).
 */
async function javaLocalHost(useIP: boolean): Promise<string> {
  const name = os().hostname();
  let address: string;
  if (name === 'localhost') address = '127.0.0.1';
  else {
    let all: LookupAddress[];
    try {
      all = await dns().promises.lookup(name, { all: true });
    } catch (error) {
      throw new Error(`${name}: ${toError(error).message}`, { cause: error });
    }
    const first = all.find((a) => a.family === 4) ?? all[0];
    if (first === undefined) throw new Error(`${name}: no address`);
    address = first.address;
  }
  if (useIP) return javaAddressText(address);
  return canonicalName(address);
}

/** Java's `getCanonicalHostName()`: the reverse look-up, confirmed by a forward one; else the address. */
async function canonicalName(address: string): Promise<string> {
  try {
    const { hostname } = await dns().promises.lookupService(address, 0);
    const back = await dns().promises.lookup(hostname, { all: true });
    if (back.some((a) => sameAddress(a.address, address))) return hostname;
  } catch {
    // Java gives the address when the reverse look-up fails.
  }
  return javaAddressText(address);
}

function sameAddress(a: string, b: string): boolean {
  return javaAddressText(a) === javaAddressText(b);
}

/**
 * An address as Java's `getHostAddress()` writes it: IPv4 dotted; IPv4-mapped IPv6 as IPv4 (Java makes
 * those `Inet4Address`es); other IPv6 as eight hexadecimal groups without leading zeros, never `::`.
 */
function javaAddressText(address: string): string {
  const bare = address.replace(/%.*$/, '');
  if (!bare.includes(':')) return bare;
  let text = bare.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const numbers = groups.map((g) => parseInt(g, 16));
  if (numbers.slice(0, 5).every((n) => n === 0) && numbers[5] === 0xffff) {
    return `${numbers[6]! >> 8}.${numbers[6]! & 0xff}.${numbers[7]! >> 8}.${numbers[7]! & 0xff}`;
  }
  return numbers.map((n) => n.toString(16)).join(':');
}

function interfaceIPv4(): string {
  for (const addresses of Object.values(os().networkInterfaces())) {
    for (const a of addresses ?? []) {
      // Node 18.0–18.3 reported the family as the number 4.
      if ((a.family === 'IPv4' || (a.family as unknown) === 4) && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
