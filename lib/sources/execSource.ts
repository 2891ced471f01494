import { spawn, type ChildProcess } from 'node:child_process';
import { Transform } from 'node:stream';
import { asyncScheduler, type Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import { backoffFlumeKeys, backoffOptions } from '../core/backoff.js';
import type { Batch } from '../core/batch.js';
import { batchOptions, bufferedSource, bufferOptionsOf } from '../core/bufferedSource.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import { componentLogger, loggerOption, type ComponentLogger } from '../core/log.js';
import { ComponentCounters, type HasMetrics } from '../core/metrics.js';
import { maxInFlightOption, nameOption } from '../core/options.js';

/** Receives exits, restarts and stderr lines. */
export type ExecLogger = ComponentLogger;

export const execSourceOptions = z.strictObject({
  ...nameOption('execSource'),
  command: z
    .string()
    .refine((v) => v.trim() !== '', { message: 'a non-blank command' })
    .describe('The command; without `shell` it is split on whitespace into argv (no quoting, no expansion).'),
  shell: z
    .string()
    .refine((v) => v.trim() !== '', { message: 'a non-blank shell' })
    .optional()
    .describe("A shell to run the command with, e.g. '/bin/sh -c': split on whitespace, the command appended as one argument."),
  restart: z.boolean().default(false).describe('Run the command again after it exits (or fails to start).'),
  restartThrottleMs: z.number().int().min(0).default(10_000).describe('Wait before restarting (Flume restartThrottle).'),
  logStdErr: z.boolean().default(false).describe("Log the command's stderr lines; otherwise stderr is discarded."),
  ...batchOptions('Lines', { batchSize: 20, batchTimeoutMs: 3000 }),
  charset: z
    .enum(['UTF-8', 'ISO-8859-1', 'US-ASCII', 'utf8', 'latin1', 'ascii'])
    .default('UTF-8')
    .describe("The output's charset: ASCII-compatible ones only, as lines are split on bytes; bodies stay the bytes written."),
  ...maxInFlightOption('stdout is not read beyond'),
  ...backoffOptions('a nack'),
  killTimeoutMs: z.number().int().min(0).default(5000).describe('On unsubscribe the command gets SIGTERM, then SIGKILL after this.'),
  ...loggerOption,
});

export type ExecSourceOptions = z.input<typeof execSourceOptions>;

export const execSourceSpec = defineComponent({
  name: 'execSource',
  kind: 'source',
  summary: "Runs a command and emits its stdout lines; the command blocks while the pipeline is full.",
  flumeTypes: ['exec', 'org.apache.flume.source.ExecSource'],
  flumeChecksBatchSize: true, // Flume's ExecSource implements BatchSizeSupported
  schema: execSourceOptions,
  flumeKeys: {
    restartThrottle: 'restartThrottleMs',
    batchTimeout: 'batchTimeoutMs',
    charset: { option: 'charset', convert: (v) => v.toUpperCase() },
    ...backoffFlumeKeys,
  },
});

/**
 * Flume's exec source: runs `command` (split on whitespace into argv, or given whole to `shell`; it
 * is never evaluated otherwise) and makes each line of its stdout an event whose body is the line's
 * bytes, without its end — `\n`, `\r\n` or a lone `\r`, the ends of Java's `readLine`, which Flume
 * reads with; a last line without an end counts too. Lines are sent in batches of `batchSize`, a partial batch `batchTimeoutMs` after its
 * first line was read.
 *
 * Backpressure: while `maxInFlight` batches are unsettled and the next batch is full, stdout is not
 * read; the pipe fills and the command blocks in its writes. Nothing is dropped, and no more than
 * the streams' buffers (some tens of KiB) is held beyond the pending batch.
 *
 * Delivery: at-least-once while the source runs — better than Flume's, which kills the command when
 * the channel is full. A nacked batch is re-sent (same lines, first) after
 * `min(n × backoffSleepIncrementMs, maxBackoffSleepMs)`; a non-retriable nack ends the source with
 * that error. Output is not persisted: lines unsettled at unsubscribe, or at a crash, are gone with
 * the process that wrote them.
 *
 * Process life: each start is counted in `ProcessStartCount`, each exit in `ProcessExitCount` and
 * logged (`warn` for a non-zero code or a signal). Once its output is read, the command is started
 * again after `restartThrottleMs` when `restart` is set (`ProcessRestartCount`); otherwise the source
 * completes once the last batch is acked. A command that cannot be started (ENOENT, EACCES) is
 * counted in `ProcessStartFailCount` and logged; without `restart` the source then fails with
 * `ComponentError` `FLUME_SOURCE_FAILED`, with `restart` it is tried again after the throttle. With
 * `logStdErr` each stderr line is logged at `info`; otherwise stderr goes to /dev/null (never left
 * to fill and block the command). Unsubscribing sends SIGTERM, then SIGKILL after `killTimeoutMs`,
 * and releases the streams and timers.
 *
 * @example
 * pipe(execSource({ command: 'tail -F /var/log/app.log', restart: true, restartThrottleMs: 1000 }), memoryChannel(), loggerSink());
 * pipe(execSource({ shell: '/bin/sh -c', command: 'journalctl -f | grep error' }), memoryChannel(), loggerSink());
 */
export const execSource = component(execSourceSpec, function execSource(options: ExecSourceOptions): Observable<Batch> & HasMetrics {
  const opts = parseOptions(execSourceSpec, options);
  const metrics = new ComponentCounters('SOURCE', opts.name);
  for (const key of ['ProcessStartCount', 'ProcessStartFailCount', 'ProcessExitCount', 'ProcessRestartCount']) metrics.set(key, 0);
  const argv = opts.shell ? [...words(opts.shell), opts.command] : words(opts.command);
  const log = componentLogger(opts.name, opts.logger);
  const textEncoding: BufferEncoding = opts.charset === 'UTF-8' || opts.charset === 'utf8' ? 'utf8' : 'latin1';

  return bufferedSource(
    (feed) => {
      let restartTimer: Subscription | undefined;
      let killTimer: Subscription | undefined;
      let child: ChildProcess | undefined;
      let lines: Transform | undefined;
      let errLines: Transform | undefined;
      let closed = false;

      /** The run's output is consumed and the process gone (or never started): restart or finish. */
      const ended = (startError?: Error): void => {
        child = undefined;
        lines = undefined;
        errLines = undefined;
        if (closed) return;
        if (opts.restart) {
          restartTimer = asyncScheduler.schedule(() => {
            restartTimer = undefined;
            metrics.inc('ProcessRestartCount');
            log('info', `restarting \`${opts.command}\``);
            run();
          }, opts.restartThrottleMs);
        } else if (startError) {
          const message = `${opts.name}: cannot run \`${opts.command}\`: ${startError.message}`;
          feed.fail(new ComponentError('FLUME_SOURCE_FAILED', message, { component: opts.name, retriable: false, cause: startError }));
        } else feed.end();
      };

      const run = (): void => {
        const [file, ...args] = argv;
        let proc: ChildProcess;
        try {
          proc = spawn(file!, args, { stdio: ['ignore', 'pipe', opts.logStdErr ? 'pipe' : 'ignore'] });
        } catch (error) {
          // Synchronous spawn errors (a bad argument): same path as ENOENT.
          metrics.inc('ProcessStartFailCount');
          log('error', `cannot run \`${opts.command}\`: ${(error as Error).message}`);
          ended(error as Error);
          return;
        }
        child = proc;
        let spawned = false;
        let exited = false;
        let drained = false;
        let done = false;
        const finish = (startError?: Error): void => {
          if (done) return;
          done = true;
          ended(startError);
        };
        const out = javaLines((line): FlumeEvent => ({ headers: {}, body: Buffer.from(line, 'latin1') }));
        lines = out;
        // latin1 maps each byte to one char and back, so bodies are the exact bytes written.
        proc.stdout!.setEncoding('latin1');
        proc.stdout!.on('error', (error) => log('warn', `stdout of \`${opts.command}\`: ${error.message}`));
        proc.stdout!.pipe(out);
        out.on('data', (event: FlumeEvent) => feed.push(event));
        out.on('error', (error) => log('warn', `reading \`${opts.command}\`: ${error.message}`));
        out.once('end', () => {
          drained = true;
          if (exited && child === proc) finish();
        });
        if (opts.logStdErr && proc.stderr) {
          const err = javaLines((line) => line);
          errLines = err;
          proc.stderr.setEncoding('latin1');
          proc.stderr.on('error', () => undefined);
          proc.stderr.pipe(err);
          err.on('data', (line: string) => log('info', `stderr: ${Buffer.from(line, 'latin1').toString(textEncoding)}`));
          err.on('error', () => undefined);
        }
        proc.once('spawn', () => {
          spawned = true;
          metrics.inc('ProcessStartCount');
        });
        proc.on('error', (error) => {
          if (!spawned && !exited) {
            metrics.inc('ProcessStartFailCount');
            log('error', `cannot run \`${opts.command}\`: ${error.message}`);
            if (child === proc) finish(error);
            return;
          }
          log('warn', `\`${opts.command}\`: ${error.message}`);
        });
        proc.once('exit', (code, signal) => {
          exited = true;
          killTimer?.unsubscribe();
          killTimer = undefined;
          if (closed) return;
          metrics.inc('ProcessExitCount');
          if (code === 0) log('info', `\`${opts.command}\` exited with code 0`);
          else log('warn', `\`${opts.command}\` exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
          if (drained && child === proc) finish();
        });
      };

      run();
      return {
        pause: () => lines?.pause(),
        resume: () => lines?.resume(),
        close: () => {
          closed = true;
          restartTimer?.unsubscribe();
          const proc = child;
          if (proc && proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGTERM');
            killTimer = asyncScheduler.schedule(() => {
              killTimer = undefined;
              if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
            }, opts.killTimeoutMs);
          }
          lines?.destroy();
          errLines?.destroy();
          proc?.stdout?.destroy();
          proc?.stderr?.destroy();
        },
      };
    },
    bufferOptionsOf(opts),
    metrics,
  );
});

/**
 * Splits latin1 text into lines as Java's `BufferedReader.readLine` does (Flume reads the command's
 * output with it): a line ends at `\n`, `\r\n` or a lone `\r`, also when the `\r` and the `\n` come in
 * different chunks; a last line without an end is emitted at the end. Emits `map(line)` per line.
 */
function javaLines<T>(map: (line: string) => T): Transform {
  let tail = '';
  // The previous chunk ended with \r: a \n opening this one ends nothing more.
  let skipLF = false;
  return new Transform({
    decodeStrings: false,
    readableObjectMode: true,
    transform(chunk: string, _encoding, callback) {
      let from = skipLF && chunk.charCodeAt(0) === 10 ? 1 : 0;
      skipLF = false;
      const ends = /\r\n?|\n/g;
      ends.lastIndex = from;
      for (let m = ends.exec(chunk); m; m = ends.exec(chunk)) {
        this.push(map(tail + chunk.slice(from, m.index)));
        tail = '';
        from = ends.lastIndex;
        if (from === chunk.length && m[0] === '\r') skipLF = true;
      }
      tail += chunk.slice(from);
      callback();
    },
    flush(callback) {
      if (tail !== '') this.push(map(tail));
      tail = '';
      callback();
    },
  });
}

function words(text: string): string[] {
  return text.trim().split(/\s+/);
}
