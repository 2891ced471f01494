import type { Observer } from 'rxjs';
import type { Batch } from './batch.js';
import { deferred } from './deferred.js';
import { describeError } from './errors.js';
import { componentLogger, RateLimitedLog, type ComponentLogger } from './log.js';
import { ComponentCounters, withMetrics, type HasMetrics } from './metrics.js';

/**
 * A sink is an RxJS observer of batches that settles each one after its destination confirmed it,
 * and exposes `closed`: resolved once it flushed and released its resources after `complete`/`error`.
 */
export interface Sink extends Observer<Batch> {
  readonly closed: Promise<void>;
}

export interface SinkWriter {
  /** Writes one batch; resolve (or return) only once the destination confirmed it. */
  write(batch: Batch): void | Promise<void>;
  /** Flushes and releases connections; called once, after every write settled. */
  close?(): void | Promise<void>;
  /** The sink's batch size, to count Flume's complete vs underflow batches. */
  batchSize?: number;
  /** Where failed writes are reported (rate-limited); the process-wide log by default. */
  logger?: ComponentLogger | undefined;
}

/** How a channel retries what a sink rolled back (Flume's SinkRunner back-off), for the failure log line. */
const RETRY_PLAN = 'rolled back to the channel, which offers them again after a back-off of 1 s growing to 5 s';

/**
 * Builds a `Sink` from a writer: acks a batch after `write` returned or resolved, nacks it with the
 * error when `write` threw or rejected, counts Flume's sink counters, and closes after the last write.
 */
export function createSink(name: string, writer: SinkWriter, counters = new ComponentCounters('SINK', name)): Sink & HasMetrics {
  let pending = 0;
  let finished = false;
  let whenIdle: (() => void) | undefined;
  const { promise: closed, resolve: resolveClosed, reject: rejectClosed } = deferred();
  // Counters alone do not say why nothing arrives: the first failure of each kind is logged with its cause.
  const failures = new RateLimitedLog(componentLogger(name, writer.logger));
  let failing = false;

  const settled = (batch: Batch, error: unknown, failed: boolean): void => {
    pending--;
    try {
      if (batch.settled) {
        // The writer settled it itself (e.g. a partial nack); nothing more to do.
      } else if (failed) {
        counters.inc('EventWriteFail', batch.events.length);
        failing = true;
        const code = (error as { code?: unknown } | undefined)?.code;
        failures.write('warn', String(code ?? 'write'), `write of ${batch.events.length} events failed: ${describeError(error)}; ${RETRY_PLAN}`);
        batch.nack(error);
      } else {
        counters.inc('EventDrainSuccessCount', batch.events.length);
        if (failing) {
          failing = false;
          failures.flush();
          componentLogger(name, writer.logger)('info', 'writes succeed again');
        }
        batch.ack();
      }
    } finally {
      // A throwing upstream settle callback must not leave `closed` waiting forever.
      if (pending === 0) whenIdle?.();
    }
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    const close = async (): Promise<void> => {
      if (pending > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
      await writer.close?.();
      failures.flush();
      counters.stopTime = Date.now();
    };
    close().then(resolveClosed, rejectClosed);
  };

  const sink: Sink = {
    next(batch: Batch): void {
      if (counters.startTime === 0) counters.startTime = Date.now();
      const n = batch.events.length;
      if (n === 0) {
        counters.inc('BatchEmptyCount');
        batch.ack();
        return;
      }
      counters.inc(writer.batchSize !== undefined && n < writer.batchSize ? 'BatchUnderflowCount' : 'BatchCompleteCount');
      counters.inc('EventDrainAttemptCount', n);
      pending++;
      let result: void | Promise<void>;
      try {
        result = writer.write(batch);
      } catch (error) {
        settled(batch, error, true);
        return;
      }
      if (result && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(
          () => settled(batch, undefined, false),
          (error: unknown) => settled(batch, error, true),
        );
      } else {
        settled(batch, undefined, false);
      }
    },
    error(): void {
      finish();
    },
    complete(): void {
      finish();
    },
    closed,
  };
  return withMetrics(sink, counters);
}
