import dns from 'node:dns';
import os from 'node:os';
import { firstValueFrom, map, NEVER, of, Subject, throwError, toArray, concat } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import type { LogLevel } from '../../../lib/core/log.js';
import { pipe } from '../../../lib/core/pipe.js';
import { nullSink } from '../../../lib/sinks/nullSink.js';
import { sequenceSource } from '../../../lib/sources/sequenceSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { hostInterceptor } from '../../../operators/interceptors/hostInterceptor.js';
import { through, tracked } from './support.js';

/**
 * The system resolver as a test double: `os.hostname()`, then `dns.promises.lookup` (getaddrinfo) and
 * `lookupService` (getnameinfo) answer from these tables; a missing entry fails as ENOTFOUND.
 */
let hostName = 'web-1';
let forward: Record<string, dns.LookupAddress[]> = {};
let reverse: Record<string, string> = {};
const lookup = vi.fn();
const lookupService = vi.fn();

const notFound = (what: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${what}`), { code: 'ENOTFOUND' });

beforeEach(() => {
  hostName = 'web-1';
  forward = { 'web-1': [{ address: '10.1.2.3', family: 4 }], 'web-1.example.com': [{ address: '10.1.2.3', family: 4 }] };
  reverse = { '10.1.2.3': 'web-1.example.com' };
  vi.spyOn(os, 'hostname').mockImplementation(() => hostName);
  lookup.mockImplementation(async (name: string) => forward[name] ?? Promise.reject(notFound(name)));
  lookupService.mockImplementation(async (address: string) =>
    reverse[address] !== undefined ? { hostname: reverse[address], service: '0' } : Promise.reject(notFound(address)),
  );
  vi.spyOn(dns.promises, 'lookup').mockImplementation(lookup as never);
  vi.spyOn(dns.promises, 'lookupService').mockImplementation(lookupService as never);
});

afterEach(() => {
  vi.restoreAllMocks();
  lookup.mockReset();
  lookupService.mockReset();
});

/** Runs one batch of `evs` through `op`, waiting for the look-up; returns the events that came out. */
async function resolvedThrough(op: ReturnType<typeof hostInterceptor>, evs: FlumeEvent[]): Promise<FlumeEvent[]> {
  const { batch, log } = tracked(evs);
  const out = await firstValueFrom(of(batch).pipe(op, toArray()));
  for (const b of out) b.ack();
  expect(log.acks).toBe(1);
  return out.flatMap((b) => [...b.events]);
}

const hosts = (evs: readonly FlumeEvent[], header = 'host') => evs.map((e) => e.headers[header]);
const logged = () => {
  const lines: { level: LogLevel; message: string }[] = [];
  return { lines, logger: (level: LogLevel, message: string) => void lines.push({ level, message }) };
};

describe('hostInterceptor: the host as Java’s InetAddress.getLocalHost() finds it', () => {
  it('sets host to the first address of the host name’s look-up, overwriting, looked up once', async () => {
    const op = hostInterceptor();
    expect(hosts(await resolvedThrough(op, [event('a', { host: 'elsewhere' }), event('b')]))).toEqual(['10.1.2.3', '10.1.2.3']);
    expect(hosts(await resolvedThrough(op, [event('c')]))).toEqual(['10.1.2.3']);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith('web-1', { all: true });
    expect(lookupService).not.toHaveBeenCalled();
  });

  it('takes the first IPv4 address before any IPv6 one (Java’s default order), and writes IPv6 as Java does', async () => {
    forward['web-1'] = [
      { address: '2001:db8::1', family: 6 },
      { address: '10.9.9.9', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ];
    expect(hosts(await resolvedThrough(hostInterceptor(), [event('a')]))).toEqual(['10.9.9.9']);
    forward['web-1'] = [{ address: '2001:DB8::a:1', family: 6 }];
    expect(hosts(await resolvedThrough(hostInterceptor(), [event('a')]))).toEqual(['2001:db8:0:0:0:0:a:1']);
    forward['web-1'] = [{ address: '::ffff:192.0.2.7', family: 6 }];
    expect(hosts(await resolvedThrough(hostInterceptor(), [event('a')]))).toEqual(['192.0.2.7']);
    forward['web-1'] = [{ address: '::1', family: 6 }];
    expect(hosts(await resolvedThrough(hostInterceptor(), [event('a')]))).toEqual(['0:0:0:0:0:0:0:1']);
  });

  it('gives 127.0.0.1 for a host named localhost, without a look-up', async () => {
    hostName = 'localhost';
    reverse['127.0.0.1'] = 'localhost';
    forward['localhost'] = [{ address: '127.0.0.1', family: 4 }];
    expect(hosts(await resolvedThrough(hostInterceptor(), [event('a')]))).toEqual(['127.0.0.1']);
    expect(lookup).not.toHaveBeenCalled();
    expect(hosts(await resolvedThrough(hostInterceptor({ useIP: false }), [event('a')]))).toEqual(['localhost']);
  });

  it('with useIP false, sets the canonical name: the reverse look-up of the address, confirmed forward', async () => {
    const op = hostInterceptor({ useIP: false, hostHeader: 'hostname', preserveExisting: true });
    const out = await resolvedThrough(op, [event('a', { hostname: 'kept' }), event('b')]);
    expect(hosts(out, 'hostname')).toEqual(['kept', 'web-1.example.com']);
    expect(out[1]!.headers).toEqual({ hostname: 'web-1.example.com' });
    expect(lookupService).toHaveBeenCalledWith('10.1.2.3', 0);
    expect(lookup).toHaveBeenLastCalledWith('web-1.example.com', { all: true });
  });

  it('with useIP false, falls back to the address when the reverse look-up fails or does not confirm (Java)', async () => {
    delete reverse['10.1.2.3'];
    expect(hosts(await resolvedThrough(hostInterceptor({ useIP: false }), [event('a')]))).toEqual(['10.1.2.3']);
    reverse['10.1.2.3'] = 'spoofed.example.org';
    forward['spoofed.example.org'] = [{ address: '10.6.6.6', family: 4 }];
    expect(hosts(await resolvedThrough(hostInterceptor({ useIP: false }), [event('a')]))).toEqual(['10.1.2.3']);
    delete forward['spoofed.example.org'];
    expect(hosts(await resolvedThrough(hostInterceptor({ useIP: false }), [event('a')]))).toEqual(['10.1.2.3']);
  });

  it('sets no header and warns once when the host name does not resolve (Flume’s UnknownHostException)', async () => {
    delete forward['web-1'];
    for (const useIP of [true, false]) {
      const { lines, logger } = logged();
      const op = hostInterceptor({ useIP, logger });
      expect((await resolvedThrough(op, [event('a', { host: 'kept' }), event('b')])).map((e) => e.headers)).toEqual([{ host: 'kept' }, {}]);
      expect((await resolvedThrough(op, [event('c')])).map((e) => e.headers)).toEqual([{}]);
      expect(lines).toEqual([{ level: 'warn', message: expect.stringMatching(/^could not get the local host address; events get no host header: web-1: getaddrinfo ENOTFOUND web-1/) }]);
    }
    forward['web-1'] = [];
    const { lines, logger } = logged();
    expect(hosts(await resolvedThrough(hostInterceptor({ logger }), [event('a')]))).toEqual([undefined]);
    expect(lines[0]!.message).toMatch(/web-1: no address/);
  });
});

describe('hostInterceptor: batches before and after the look-up', () => {
  function pendingLookup() {
    let answer!: (a: dns.LookupAddress[]) => void;
    lookup.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    return (address: string) => answer([{ address, family: 4 }]);
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('holds the batches, completion included, in order until the look-up answers, then is synchronous', async () => {
    const answer = pendingLookup();
    const op = hostInterceptor();
    const upstream = new Subject<Batch>();
    const seen: string[] = [];
    upstream.pipe(op).subscribe({
      next: (b) => seen.push(b.events.map((e) => `${e.body.toString()}@${e.headers['host']}`).join(',')),
      complete: () => seen.push('|'),
    });
    upstream.next(tracked([event('1'), event('2')]).batch);
    upstream.next(tracked([event('3')]).batch);
    await tick();
    expect(seen).toEqual([]);
    answer('10.7.7.7');
    await tick();
    expect(seen).toEqual(['1@10.7.7.7,2@10.7.7.7', '3@10.7.7.7']);
    upstream.next(tracked([event('4')]).batch);
    expect(seen).toEqual(['1@10.7.7.7,2@10.7.7.7', '3@10.7.7.7', '4@10.7.7.7']);
    upstream.complete();
    expect(seen.at(-1)).toBe('|');
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('passes an error after the batches held before it', async () => {
    const answer = pendingLookup();
    const errors: unknown[] = [];
    const seen: string[] = [];
    const boom = new Error('boom');
    concat(of(tracked([event('1')]).batch), throwError(() => boom))
      .pipe(hostInterceptor())
      .subscribe({ next: (b) => seen.push(b.events[0]!.headers['host']!), error: (e: unknown) => errors.push(e) });
    await tick();
    expect([seen, errors]).toEqual([[], []]);
    answer('10.7.7.7');
    await tick();
    expect([seen, errors]).toEqual([['10.7.7.7'], [boom]]);
  });

  it('a batch acked at once lets the source emit again while the held ones are delivered: order kept', async () => {
    const answer = pendingLookup();
    const upstream = new Subject<Batch>();
    const seen: string[] = [];
    let more = true;
    upstream.pipe(hostInterceptor()).subscribe((b) => {
      seen.push(b.events[0]!.body.toString());
      if (more) {
        more = false;
        upstream.next(tracked([event('re-entrant')]).batch);
      }
    });
    upstream.next(tracked([event('1')]).batch);
    upstream.next(tracked([event('2')]).batch);
    answer('10.7.7.7');
    await tick();
    expect(seen).toEqual(['1', '2', 're-entrant']);
  });

  it('leaves the event loop free when the source emits again inside every ack (an unbounded seq source)', async () => {
    // Seen with the agent: a flush that queued each new batch behind the held ones looped forever.
    const pipeline = pipe(sequenceSource({ batchSize: 1 }), hostInterceptor(), memoryChannel(), nullSink());
    await new Promise((r) => setTimeout(r, 50));
    await pipeline.stop();
    const received = Object.entries(pipeline.metrics()).find(([k]) => k.startsWith('INTERCEPTOR.'))![1]['EventReceivedCount'];
    expect(received).toBeGreaterThan(0);
  });

  it('unsubscribing while waiting unsubscribes upstream and emits nothing later', async () => {
    const answer = pendingLookup();
    const upstream = new Subject<Batch>();
    const seen: Batch[] = [];
    const subscription = upstream.pipe(hostInterceptor()).subscribe((b) => seen.push(b));
    upstream.next(tracked([event('1')]).batch);
    subscription.unsubscribe();
    expect(upstream.observed).toBe(false);
    answer('10.7.7.7');
    await tick();
    expect(seen).toEqual([]);
  });

  it('once looked up, runs under marble tests: empty batches, errors, never and completion pass through', async () => {
    const op = hostInterceptor({ hostHeader: 'h' });
    await resolvedThrough(op, [event('warm-up')]);
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const batches = { a: tracked([event('1'), event('2', { h: 'x' })]).batch, e: tracked([]).batch, b: tracked([event('3')]).batch };
      const hostsOf = map((b: Batch) => b.events.map((e) => e.headers['h']));
      expectObservable(cold('-a-e-b|', batches).pipe(op, hostsOf)).toBe('-x-y-z|', { x: ['10.1.2.3', '10.1.2.3'], y: [], z: ['10.1.2.3'] });
      expectObservable(cold('-a-#', batches).pipe(op, hostsOf)).toBe('-x-#', { x: ['10.1.2.3', '10.1.2.3'] });
      expectObservable(NEVER.pipe(op)).toBe('-');
    });
  });
});

describe("hostInterceptor: resolve 'interfaces' (no look-up)", () => {
  function expectedIPv4(): string {
    const all = Object.values(os.networkInterfaces()).flatMap((a) => a ?? []);
    return all.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
  }

  it('sets the first external IPv4 address, or os.hostname() with useIP false, synchronously', () => {
    const out = through(hostInterceptor({ resolve: 'interfaces' }), [event('a', { host: 'elsewhere' }), event('b')]);
    expect(hosts(out)).toEqual([expectedIPv4(), expectedIPv4()]);
    const op = hostInterceptor({ resolve: 'interfaces', useIP: false, hostHeader: 'hostname', preserveExisting: true });
    expect(hosts(through(op, [event('a', { hostname: 'kept' }), event('b')]), 'hostname')).toEqual(['kept', 'web-1']);
    expect(lookup).not.toHaveBeenCalled();
    expect(lookupService).not.toHaveBeenCalled();
  });
});

describe('hostInterceptor: options', () => {
  it('validates its options', () => {
    expect(() => hostInterceptor({ useIP: 'yes' } as never)).toThrow(ConfigError);
    expect(() => hostInterceptor({ useIP: 'yes' } as never)).toThrow('hostInterceptor.useIP: expected boolean, received "yes"');
    expect(() => hostInterceptor({ resolve: 'dns' } as never)).toThrow(/hostInterceptor\.resolve: /);
    expect(hostInterceptor.spec.flumeTypes).toEqual(['host', 'org.apache.flume.interceptor.HostInterceptor$Builder']);
  });
});
