/**
 * The Batch contract of a channel (DESIGN.md §1), written once over a store: waiting puts with
 * keep-alive, takes paced by the sink's acks (`maxInFlight`), nacked takes back at the head with
 * Flume's runner back-off, completion after draining, and release of everything on unsubscribe. The
 * store decides where events live (a write-ahead log, memory, or both) and when a put is stored.
 */
import { asyncScheduler, Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ChannelFullError, ComponentError, toError } from '../../../lib/core/errors.js';
import { bodyBytes, type FlumeEvent } from '../../../lib/core/event.js';
import type { ComponentCounters } from '../../../lib/core/metrics.js';

/** A put waiting for, or being given, room in the store. */
export interface StoredPut {
  readonly batch: Batch;
  /** The batch's events (a copy of the array). */
  readonly events: FlumeEvent[];
  /** Their body bytes (0 unless the channel counts bytes). */
  readonly bytes: number;
  /** Scheduler time it arrived. */
  readonly since: number;
}

/** Events handed to the sink in one take. */
export interface StoreTake {
  readonly events: FlumeEvent[];
  /** The sink acked: make it permanent, then call `done` (at once, or once it is durable). */
  commit(done: () => void): void;
  /** The sink nacked: the events go back to the head, in order. */
  rollback(): void;
}

export interface ChannelStore {
  /** Recovery; `undefined` when the store is ready at once. Puts wait meanwhile. */
  open(): Promise<void> | void;
  /** Why a put of this size can never be stored, or undefined. */
  neverFits(count: number, bytes: number): string | undefined;
  /** Takes the put when there is room — settling its batch now or once stored — and returns true; false: it waits. */
  offer(put: StoredPut): boolean;
  /** Whether a take can be served now; may start a read and wake the shell when it lands. */
  takeable(): boolean;
  take(max: number): StoreTake;
  /** Events stored and not taken (ChannelSize). */
  size(): number;
  /** How full it is, for the keep-alive nack's message. */
  describeFull(put: StoredPut): string;
  /** Nothing stored, taken, or being written. */
  idle(): boolean;
  /** Releases files, locks and timers; the promise settles when they are. Safe to call twice. */
  close(): Promise<void> | void;
}

export interface StoreHooks {
  /** Something changed (a put stored, a take committed, a read landed): try to move events. */
  wake(): void;
  /** The store cannot go on: the channel errors. */
  fail(error: unknown): void;
}

export interface ShellOptions {
  name: string;
  transactionCapacity: number;
  keepAliveMs: number;
  maxInFlight: number;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  countBytes: boolean;
  /** Also re-offer waiting puts this long after they arrived (the spillable channel's overflow timeout). */
  reofferAfterMs?: number;
}

interface Waiting {
  put: StoredPut;
  timers: Subscription[];
}

export function channelShell(
  opts: ShellOptions,
  metrics: ComponentCounters,
  createStore: (hooks: StoreHooks) => ChannelStore,
): OperatorFunction<Batch, Batch> {
  return (upstream: Observable<Batch>): Observable<Batch> =>
    new Observable<Batch>((subscriber) => {
      const pending: Waiting[] = [];
      let opened = false;
      let closed = false;
      let upstreamDone = false;
      let upstreamError: { error: unknown } | undefined;
      let inFlight = 0;
      let draining = false;
      let drainAgain = false;
      let nacks = 0;
      let retryTimer: Subscription | undefined;
      let upstreamSubscription: Subscription | undefined;

      const store = createStore({
        wake: () => drain(),
        fail: (error) => fail(error),
      });
      const publishSize = (): void => metrics.set('ChannelSize', store.size());

      const closedError = (): ComponentError =>
        new ComponentError('FLUME_CHANNEL_CLOSED', `${opts.name}: channel closed before the put was stored`, { component: opts.name, retriable: true });

      const clearWaiting = (error: Error): void => {
        for (const w of pending.splice(0)) {
          for (const t of w.timers) t.unsubscribe();
          if (!w.put.batch.settled) w.put.batch.nack(error);
        }
      };

      const fail = (error: unknown): void => {
        if (closed) return;
        closed = true;
        upstreamSubscription?.unsubscribe();
        retryTimer?.unsubscribe();
        clearWaiting(toError(error));
        const closing = store.close();
        const report = (): void => subscriber.error(error);
        if (closing) closing.then(report, report);
        else report();
      };

      const put = (batch: Batch): void => {
        const events = batch.events as FlumeEvent[];
        const n = events.length;
        metrics.inc('EventPutAttemptCount', n);
        if (n === 0) return batch.ack();
        const bytes = opts.countBytes ? bodyBytes(events) : 0;
        const never = n > opts.transactionCapacity ? `transactionCapacity ${opts.transactionCapacity}` : store.neverFits(n, bytes);
        if (never !== undefined) {
          return batch.nack(
            new ComponentError(
              'FLUME_BATCH_TOO_LARGE',
              `${opts.name}: a put of ${n} events (${bodyBytes(events)} bytes) exceeds ${never}; lower the source batch size or raise the channel capacity`,
              { component: opts.name, retriable: false },
            ),
          );
        }
        const entry: StoredPut = { batch, events: events.slice(), bytes, since: asyncScheduler.now() };
        if (opened && pending.length === 0 && store.offer(entry)) {
          drain();
          return;
        }
        const waiting: Waiting = { put: entry, timers: [] };
        pending.push(waiting);
        // Before the store is open its keep-alive has not begun: there is no room to wait for yet.
        if (opened) arm(waiting);
      };

      const arm = (waiting: Waiting): void => {
        if (opts.keepAliveMs === 0) return expire(waiting);
        waiting.timers.push(asyncScheduler.schedule(() => expire(waiting), opts.keepAliveMs));
        if (opts.reofferAfterMs !== undefined && opts.reofferAfterMs < opts.keepAliveMs) {
          waiting.timers.push(asyncScheduler.schedule(() => drain(), opts.reofferAfterMs));
        }
      };

      const expire = (waiting: Waiting): void => {
        const i = pending.indexOf(waiting);
        if (i < 0) return;
        pending.splice(i, 1);
        for (const t of waiting.timers) t.unsubscribe();
        waiting.put.batch.nack(
          new ChannelFullError(`${opts.name}: no space for ${waiting.put.events.length} events within ${opts.keepAliveMs} ms: ${store.describeFull(waiting.put)}`, {
            component: opts.name,
          }),
        );
        drain();
      };

      /** Offers waiting puts, oldest first, while the store takes them. */
      const admit = (): boolean => {
        let admitted = false;
        while (pending.length > 0 && opened && !closed) {
          const next = pending[0]!;
          if (!store.offer(next.put)) break;
          pending.shift();
          for (const t of next.timers) t.unsubscribe();
          admitted = true;
        }
        return admitted;
      };

      const finishIfDrained = (): void => {
        if (closed || !opened || !upstreamDone || pending.length > 0 || inFlight > 0 || !store.idle()) return;
        closed = true;
        const end = (): void => {
          if (upstreamError) subscriber.error(upstreamError.error);
          else subscriber.complete();
        };
        const closing = store.close();
        if (closing) closing.then(end, (error: unknown) => subscriber.error(error));
        else end();
      };

      // Trampolined: a sink that settles inside next() re-enters here and only sets drainAgain.
      const drain = (): void => {
        if (draining) {
          drainAgain = true;
          return;
        }
        draining = true;
        try {
          do {
            drainAgain = false;
            while (!closed && opened && retryTimer === undefined && inFlight < opts.maxInFlight && store.takeable()) emitTake();
            if (admit()) drainAgain = true;
          } while (drainAgain && !closed);
        } finally {
          draining = false;
        }
        publishSize();
        finishIfDrained();
      };

      const emitTake = (): void => {
        const take = store.take(opts.transactionCapacity);
        const n = take.events.length;
        inFlight++;
        metrics.inc('EventTakeAttemptCount', n);
        publishSize();
        subscriber.next(
          createBatch(take.events, {
            onAck: () => {
              if (closed) return;
              nacks = 0;
              take.commit(() => {
                if (closed) return;
                inFlight--;
                metrics.inc('EventTakeSuccessCount', n);
                drain();
              });
            },
            onNack: () => {
              if (closed) return;
              inFlight--;
              metrics.inc('RollbackCount');
              take.rollback();
              publishSize();
              nacks++;
              if (retryTimer === undefined) {
                const delay = Math.min(nacks * opts.retryBackoffMs, opts.maxRetryBackoffMs);
                retryTimer = asyncScheduler.schedule(() => {
                  retryTimer = undefined;
                  drain();
                }, delay);
              }
            },
          }),
        );
      };

      const opening = store.open();
      if (opening) {
        opening.then(
          () => {
            if (closed) return;
            opened = true;
            const early = pending.slice();
            drain();
            for (const w of early) if (pending.includes(w)) arm(w);
          },
          (error: unknown) => fail(error),
        );
      } else {
        opened = true;
      }

      upstreamSubscription = upstream.subscribe({
        next: (batch) => {
          try {
            put(batch);
          } catch (error) {
            if (!batch.settled) batch.nack(toError(error));
            else throw error;
          }
        },
        error: (error: unknown) => {
          upstreamDone = true;
          upstreamError = { error };
          drain();
        },
        complete: () => {
          upstreamDone = true;
          drain();
        },
      });

      return () => {
        const wasClosed = closed;
        closed = true;
        upstreamSubscription?.unsubscribe();
        retryTimer?.unsubscribe();
        clearWaiting(closedError());
        if (!wasClosed) {
          const closing = store.close();
          // Nobody waits for this promise: a failure to close is the store's to log.
          if (closing) closing.catch(() => undefined);
        }
        metrics.set('ChannelSize', 0);
      };
    });
}
