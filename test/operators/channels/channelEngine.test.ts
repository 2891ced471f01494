import { describe, expect, it } from 'vitest';
import { Subject, type Subscription } from 'rxjs';
import { z } from 'zod';
import { linear } from '../../../lib/core/backoff.js';
import type { Batch } from '../../../lib/core/batch.js';
import { ChannelFullError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import {
  channelBackoff,
  channelBackoffOptions,
  channelEngine,
  type ChannelStore,
  type EngineOptions,
  type StoreHooks,
  type StorePut,
} from '../../../operators/channels/channelEngine.js';
import { batchOf, bodies } from '../../support/batches.js';
import { memoryLogger } from './support/support.js';

interface ListTake {
  events: FlumeEvent[];
}

interface ListStoreOptions {
  capacity?: number;
  open?: Promise<void>;
  ended?: () => Promise<void>;
  /** Settle puts later, when the test calls `settleAll`. */
  deferSettle?: boolean;
}

/** The smallest store: a list, bounded in events, recording what the engine asked of it. */
class ListStore implements ChannelStore<ListTake> {
  readonly items: FlumeEvent[] = [];
  /** Taken and not settled: they still count against the capacity. */
  taken = 0;
  commits = 0;
  readonly rollbacks: Error[] = [];
  closes = 0;
  private readonly unsettled: StorePut[] = [];
  open?: () => Promise<void>;
  ended?: () => Promise<void>;

  constructor(
    private readonly hooks: StoreHooks,
    private readonly opts: ListStoreOptions,
  ) {
    if (opts.open) this.open = () => opts.open!;
    if (opts.ended) this.ended = opts.ended;
  }

  offer(put: StorePut): boolean {
    if (this.items.length + this.taken + put.events.length > (this.opts.capacity ?? Infinity)) return false;
    this.items.push(...put.events);
    if (this.opts.deferSettle) this.unsettled.push(put);
    else this.hooks.settled(put);
    return true;
  }

  settleAll(): void {
    for (const put of this.unsettled.splice(0)) this.hooks.settled(put);
    this.hooks.wake();
  }

  take(max: number): ListTake | undefined {
    if (this.items.length === 0) return undefined;
    const events = this.items.splice(0, max);
    this.taken += events.length;
    return { events };
  }

  commit(take: ListTake, done: () => void): void {
    this.taken -= take.events.length;
    this.commits++;
    done();
  }

  rollback(take: ListTake, error: Error): void {
    this.taken -= take.events.length;
    this.rollbacks.push(error);
    this.items.unshift(...take.events);
  }

  size(): number {
    return this.items.length;
  }

  neverFits(): undefined {
    return undefined;
  }

  describeFull(): string {
    return `holding ${this.items.length + this.taken}`;
  }

  close(): void {
    this.closes++;
  }
}

function run(storeOptions: ListStoreOptions, engine: Partial<EngineOptions> = {}) {
  const log = memoryLogger();
  let store: ListStore | undefined;
  const operator = channelEngine(
    {
      name: 'test',
      capacity: 100,
      transactionCapacity: 10,
      keepAliveMs: 1000,
      maxInFlight: 1,
      backoffSleepIncrementMs: 0,
      maxBackoffSleepMs: 0,
      logger: log.logger,
      ...engine,
    },
    (hooks) => (store = new ListStore(hooks, storeOptions)),
  );
  const metrics = metricsOf(operator)!;
  const input = new Subject<Batch>();
  const takes: Batch[] = [];
  let completed = false;
  const sub: Subscription = input.pipe(operator).subscribe({ next: (b) => takes.push(b), complete: () => (completed = true) });
  return { input, takes, sub, store: store!, metrics, lines: log.lines, completed: () => completed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('channelEngine', () => {
  it('holds puts while the store opens; their keep-alive starts only once it is open', async () => {
    let opened!: () => void;
    const h = run({ capacity: 1, open: new Promise<void>((r) => (opened = r)) }, { keepAliveMs: 40 });
    const a = batchOf([1]);
    const b = batchOf([2]);
    h.input.next(a.batch);
    h.input.next(b.batch);
    await sleep(80); // longer than keep-alive: nothing may expire before the store is open
    expect([a.acked, a.nacked.length, b.acked, b.nacked.length]).toEqual([0, 0, 0, 0]);
    opened();
    await sleep(10);
    expect(a.acked).toBe(1);
    expect(bodies(h.takes[0]!)).toEqual(['1']);
    expect(b.nacked).toHaveLength(0);
    await sleep(80);
    expect(b.nacked[0]).toBeInstanceOf(ChannelFullError);
    expect(b.nacked[0]!.message).toMatch(/no space for 1 events within 40 ms: holding 1/);
    h.sub.unsubscribe();
  });

  it('logs refused puts once per kind, and what it held back when it closes', () => {
    const h = run({ capacity: 1 }, { keepAliveMs: 0 });
    h.input.next(batchOf([1]).batch);
    for (let i = 0; i < 3; i++) expect(batchOfNacked(h, i)).toBeInstanceOf(ChannelFullError);
    expect(h.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(h.lines[0]!.message).toMatch(/no space for 1 events within 0 ms.*; the source retries after its back-off/);
    h.sub.unsubscribe();
    expect(h.lines.at(-1)!.message).toMatch(/^2 more like this in the last/);
  });

  it('a take settled after unsubscribe still reaches the store (Kafka commits it during its stop grace)', () => {
    const h = run({}, { maxInFlight: 2, transactionCapacity: 1 });
    h.input.next(batchOf([1]).batch);
    h.input.next(batchOf([2]).batch);
    expect(h.takes).toHaveLength(2);
    h.sub.unsubscribe();
    h.takes[0]!.ack();
    h.takes[1]!.nack(new Error('sink down'));
    expect(h.store.commits).toBe(1);
    expect(h.store.rollbacks.map((e) => e.message)).toEqual(['sink down']);
    expect(h.metrics.get('EventTakeSuccessCount')).toBe(0);
  });

  it("completes when the store's ended() resolves, whatever it still holds or has in flight", async () => {
    let ended!: () => void;
    const h = run({ ended: () => new Promise<void>((r) => (ended = r)) });
    h.input.next(batchOf([1, 2]).batch);
    h.input.complete();
    await sleep(5);
    expect(h.takes).toHaveLength(1); // unsettled: Kafka's stop grace deals with it
    expect(h.completed()).toBe(false);
    ended();
    await sleep(5);
    expect(h.completed()).toBe(true);
    expect(h.store.closes).toBe(1);
  });

  it('does not complete while a put the store took is not settled yet', () => {
    const h = run({ deferSettle: true });
    const a = batchOf([1]);
    h.input.next(a.batch);
    h.takes[0]!.ack();
    h.input.complete();
    expect(h.completed()).toBe(false);
    h.store.settleAll();
    expect(a.acked).toBe(1);
    expect(h.completed()).toBe(true);
  });

  it('passes the sink’s error to the store on rollback, and offers the events again after the back-off', async () => {
    const h = run({}, { backoffSleepIncrementMs: 20, maxBackoffSleepMs: 20 });
    h.input.next(batchOf([1]).batch);
    h.takes[0]!.nack(new Error('broker down'));
    expect(h.store.rollbacks.map((e) => e.message)).toEqual(['broker down']);
    expect(h.takes).toHaveLength(1);
    await sleep(60);
    expect(h.takes.map(bodies)).toEqual([['1'], ['1']]);
    expect(h.metrics.get('RollbackCount')).toBe(1);
    h.sub.unsubscribe();
  });
});

describe('channelBackoffOptions', () => {
  const schema = z.strictObject(channelBackoffOptions);

  it("defaults to Flume's SinkRunner rule, 1 s steps up to 5 s", () => {
    expect(channelBackoff(schema.parse({}))).toEqual(linear(1000, 5000));
  });

  it("takes Flume's back-off names; the former retryBackoffMs is refused", () => {
    expect(channelBackoff(schema.parse({ backoffSleepIncrementMs: 10, maxBackoffSleepMs: 50 }))).toEqual(linear(10, 50));
    expect(schema.safeParse({ retryBackoffMs: 7 }).success).toBe(false);
  });
});

/** Puts one more event and returns the error it was nacked with. */
function batchOfNacked(h: ReturnType<typeof run>, i: number): Error | undefined {
  const rec = batchOf([100 + i]);
  h.input.next(rec.batch);
  return rec.nacked[0];
}
