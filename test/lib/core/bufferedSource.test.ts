import { describe, expect, it } from 'vitest';
import { catchError, concat, defer, EMPTY, map, mergeMap, of, timer, type Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../../lib/core/batch.js';
import { bufferedSource, type BufferedSourceOptions, type Feed } from '../../../lib/core/bufferedSource.js';
import { ComponentError, FlumeError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { bodies } from '../../support/batches.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Settles each batch `ms` after it arrived, emitting its bodies (with "!" when it nacks) just before. */
const settleAfter = (ms: number, nack: (n: number) => Error | undefined = () => undefined): OperatorFunction<Batch, string> => {
  let n = 0;
  return mergeMap((b) =>
    timer(ms).pipe(
      mergeMap(() => {
        const error = nack(++n);
        return concat(
          of(bodies(b).join(',') + (error ? '!' : '')),
          defer(() => {
            if (error) b.nack(error);
            else b.ack();
            return EMPTY;
          }),
        );
      }),
    ),
  );
};

const errorCode = <T>(source: Observable<T>) =>
  source.pipe(catchError((e: unknown) => of(`error:${e instanceof FlumeError ? e.code : String(e)}`)));

/** A producer pushing a marble's values as event bodies; it records pause, resume and close. */
function fromMarble(marble$: Observable<string>, options: BufferedSourceOptions, log: string[] = []) {
  return bufferedSource((feed: Feed) => {
    const s = marble$.subscribe({ next: (v) => feed.push(event(v)), error: (e: unknown) => feed.end(e), complete: () => feed.end() });
    return {
      pause: () => log.push('pause'),
      resume: () => log.push('resume'),
      close: () => {
        log.push('close');
        s.unsubscribe();
      },
    };
  }, options);
}

describe('bufferedSource', () => {
  it('sends full batches as events arrive, a partial one batchTimeoutMs after its first event, the rest at end', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('abc-------d--|');
      expectObservable(fromMarble(input, { batchSize: 2, batchTimeoutMs: 5 }).pipe(settleAfter(0))).toBe('-x-----y-----(z|)', {
        x: 'a,b',
        y: 'c',
        z: 'd',
      });
    });
  });

  it('pauses the producer while a full batch waits and none may be sent, resumes once one went out', () => {
    const log: string[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('abcd|');
      expectObservable(fromMarble(input, { batchSize: 2 }, log).pipe(settleAfter(10))).toBe('11ms x 9ms (y|)', { x: 'a,b', y: 'c,d' });
    });
    // c,d filled a batch while a,b was unsettled; taking it resumed the producer; it was closed at completion.
    expect(log).toEqual(['pause', 'resume', 'close']);
  });

  it('re-sends a nacked batch, same events and first, after the back-off; a non-retriable nack ends it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = fromMarble(cold('ab-c|'), { batchSize: 2, backoffSleepIncrementMs: 10, maxBackoffSleepMs: 15 });
      // nacks at 1 and 11 → waits 10, 15; c waits behind the re-sent batch.
      const sink = settleAfter(0, (n) => (n <= 2 ? new Error('full') : undefined));
      expectObservable(source.pipe(sink)).toBe('-n 9ms n 14ms (ac|)', { n: 'a,b!', a: 'a,b', c: 'c' });
    });
    scheduler().run(({ cold, expectObservable }) => {
      const fatal = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
      const source = fromMarble(cold('ab-c|'), { batchSize: 2 });
      expectObservable(errorCode(source.pipe(settleAfter(0, () => fatal)))).toBe('-(xe|)', { x: 'a,b!', e: 'error:FLUME_BATCH_TOO_LARGE' });
    });
  });

  it("with onNack 'drop' drops a nacked batch, counts it and goes on at once, whatever the error", () => {
    let source: ReturnType<typeof bufferedSource> | undefined;
    scheduler().run(({ cold, expectObservable }) => {
      const fatal = new ComponentError('FLUME_BATCH_TOO_LARGE', 'too large', { retriable: false });
      source = fromMarble(cold('a-b-c|'), { batchSize: 1, onNack: 'drop' });
      expectObservable(source.pipe(settleAfter(0, (n) => (n === 1 ? new Error('full') : n === 2 ? fatal : undefined)))).toBe('a-b-c|', {
        a: 'a!',
        b: 'b!',
        c: 'c',
      });
    });
    expect(metricsOf(source)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventAcceptedCount: 1, ChannelWriteFail: 2 });
  });

  it('ends with the producer’s error once what it pushed is settled', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const input = cold('ab#', undefined, new Error('producer failed'));
      expectObservable(errorCode(fromMarble(input, { batchSize: 5 }).pipe(settleAfter(10)))).toBe('12ms (xe|)', {
        x: 'a,b',
        e: 'error:Error: producer failed',
      });
    });
  });

  it('bounds a producer that cannot be paused: error, dropNewest, dropOldest, bytes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const input = cold('abcde');
      const held = map((b: Batch) => bodies(b).join(','));
      expectObservable(errorCode(fromMarble(input, { batchSize: 2, maxBufferedEvents: 2 }).pipe(held))).toBe('-x--(e|)', {
        x: 'a,b',
        e: 'error:FLUME_SOURCE_OVERFLOW',
      });
      expectSubscriptions(input.subscriptions).toBe('^---!');
    });
    const dropped = (options: BufferedSourceOptions, marble: string, expected: string, values: Record<string, string>): number => {
      let source: ReturnType<typeof bufferedSource> | undefined;
      scheduler().run(({ cold, expectObservable }) => {
        source = fromMarble(cold(marble), options);
        expectObservable(source.pipe(settleAfter(10))).toBe(expected, values);
      });
      return metricsOf(source)!.get('EventDroppedCount');
    };
    expect(dropped({ batchSize: 2, maxBufferedEvents: 2, whenFull: 'dropNewest' }, 'abcde|', '11ms x 9ms (y|)', { x: 'a,b', y: 'c,d' })).toBe(1);
    expect(dropped({ batchSize: 2, maxBufferedEvents: 2, whenFull: 'dropOldest' }, 'abcdef|', '11ms x 9ms (y|)', { x: 'a,b', y: 'e,f' })).toBe(2);
    // Three one-byte bodies fit in 3 bytes: the fourth is dropped while a,b is unsettled.
    expect(dropped({ batchSize: 2, maxBufferedBytes: 3, whenFull: 'dropNewest' }, 'abcdef|', '11ms x 9ms y 9ms (z|)', { x: 'a,b', y: 'c,d', z: 'e' })).toBe(1);
  });

  it('closes the producer once on unsubscribe, and fails when start throws', () => {
    const log: string[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(fromMarble(cold('a-b-c'), { batchSize: 3, batchTimeoutMs: 5 }, log).pipe(settleAfter(0)), '^--!').toBe('---');
    });
    expect(log).toEqual(['close']);
    const failing = bufferedSource(() => {
      throw new Error('cannot start');
    });
    let failed: unknown;
    failing.subscribe({ error: (e: unknown) => (failed = e) });
    expect(String(failed)).toBe('Error: cannot start');
  });
});
