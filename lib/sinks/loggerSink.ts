import { z } from 'zod';
import type { Batch } from '../core/batch.js';
import { component, defineComponent, parseOptions } from '../core/config.js';
import { ComponentError, isRetriable, toError } from '../core/errors.js';
import type { FlumeEvent } from '../core/event.js';
import type { HasMetrics } from '../core/metrics.js';
import { createSink, type Sink } from '../core/sink.js';
import { nameOption } from '../core/options.js';

/** The part of a Node writable stream the logger sink uses (`process.stdout`, `fs.createWriteStream(…)`). */
export interface LineWritable {
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  readonly destroyed?: boolean;
  readonly writableEnded?: boolean;
}

/** Where the logger sink sends its lines: a writable stream, or a function called with each line. */
export type LoggerOutput = LineWritable | ((line: string) => void);

const isOutput = (value: unknown): value is LoggerOutput =>
  typeof value === 'function' ||
  (typeof value === 'object' && value !== null && typeof (value as LineWritable).write === 'function');

export const loggerSinkOptions = z.strictObject({
  ...nameOption('loggerSink'),
  maxBytesToLog: z
    .number()
    .int()
    .min(0)
    .default(16)
    .describe('Body bytes shown per event, as hex and text (Flume maxBytesToLog); 16 per output row, 0 shows none.'),
  output: z
    .custom<LoggerOutput>(isOutput, { message: 'a writable stream or a (line: string) => void function' })
    .optional()
    .describe(
      'A writable stream (default process.stdout), written once per batch with newline-terminated lines; ' +
        'or a function, called once per event with its line (no trailing newline), e.g. a logger.',
    ),
});

export type LoggerSinkOptions = z.input<typeof loggerSinkOptions>;

export const loggerSinkSpec = defineComponent({
  name: 'loggerSink',
  kind: 'sink',
  summary: "Writes each event as Flume's LoggerSink line (headers, body as hex and text); for debugging.",
  flumeTypes: ['logger', 'org.apache.flume.sink.LoggerSink'],
  schema: loggerSinkOptions,
});

/**
 * Flume's logger sink: writes one entry per event in the format of Flume's `LoggerSink`
 * (`EventHelper.dumpEvent` over commons-io `HexDump`):
 *
 * ```text
 * Event: { headers:{host=web-1, n=7} body: 48 65 6C 6C 6F                                  Hello }
 * ```
 *
 * Headers print as Java's `Map.toString` (in insertion order; Flume's HashMap order is arbitrary).
 * The first `maxBytesToLog` body bytes print as upper-case hex, 16 per row padded to full width,
 * then as text with every byte outside printable ASCII (0x20–0x7E) as `.`. Past 16 bytes Flume's
 * dump goes on in rows prefixed by their offset (`\n00000010 …`), kept here. Flume prints an
 * exception message for `maxBytesToLog = 0`; here it shows no body bytes, like an empty body. A Flume
 * 1.11 agent never applies `maxBytesToLog` (its lines show 16 bytes whatever it is set to: compared by
 * test/interop/loggerSink.test.ts); this sink honours it.
 *
 * A stream `output` gets one write per batch; the batch is acked once the stream's write callback
 * reported success (for a file: written to the OS), nacked with `FLUME_SINK_FAILED` on a write error —
 * retriable unless the stream is destroyed or ended. A function `output` is called once per event;
 * if it throws, the batch is nacked with that error as cause (retriable unless the cause is a
 * non-retriable `FlumeError`), and the lines it already took will be logged again on redelivery.
 * The stream is the caller's: it is never ended by the sink.
 *
 * Delivery: at-least-once into the stream or function.
 *
 * @example
 * pipe(pollSource(poll), memoryChannel(), loggerSink({ maxBytesToLog: 32, output: process.stderr }));
 */
export const loggerSink = component(loggerSinkSpec, function loggerSink(options?: LoggerSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(loggerSinkSpec, options);
  const output = opts.output ?? process.stdout;
  const max = opts.maxBytesToLog;
  const failed = (message: string, cause: unknown, retriable: boolean): ComponentError =>
    new ComponentError('FLUME_SINK_FAILED', `${opts.name}: ${message}: ${toError(cause).message}`, {
      component: opts.name,
      retriable,
      cause,
    });

  const write =
    typeof output === 'function'
      ? (batch: Batch): void => {
          const events = batch.events;
          for (let i = 0; i < events.length; i++) {
            try {
              output(loggerLine(events[i]!, max));
            } catch (error) {
              throw failed(`output threw on event ${i + 1} of ${events.length}`, error, isRetriable(error));
            }
          }
        }
      : (batch: Batch): Promise<void> => {
          const events = batch.events;
          let chunk = '';
          for (let i = 0; i < events.length; i++) chunk += loggerLine(events[i]!, max) + '\n';
          return new Promise<void>((resolve, reject) => {
            const done = (error?: Error | null): void => {
              if (error) reject(failed('write failed', error, !(output.destroyed === true || output.writableEnded === true)));
              else resolve();
            };
            try {
              output.write(chunk, done);
            } catch (error) {
              done(toError(error));
            }
          });
        };

  return createSink(opts.name, { write });
});

const HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0') + ' ');
const CHAR: readonly string[] = Array.from({ length: 256 }, (_, b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'));
const ROW = 16;
const PAD = '   ';

/** One event as Flume's LoggerSink prints it: `Event: { headers:{k=v} body: <hex> <text> }`. */
export function loggerLine(e: FlumeEvent, maxBytesToLog = 16): string {
  return `Event: { headers:${javaMapString(e.headers)} body:${hexDump(e.body, maxBytesToLog)} }`;
}

function javaMapString(headers: Readonly<Record<string, string>>): string {
  let out = '{';
  let first = true;
  for (const key in headers) {
    out += `${first ? '' : ', '}${key}=${headers[key]}`;
    first = false;
  }
  return out + '}';
}

// HexDump rows are `OFFSET HH HH … text\n`; Flume strips the first row's offset and the last newline.
function hexDump(body: Buffer, maxBytes: number): string {
  const n = Math.min(body.length, maxBytes);
  let out = '';
  for (let row = 0; row < n; row += ROW) {
    const count = Math.min(ROW, n - row);
    if (row > 0) out += '\n' + row.toString(16).toUpperCase().padStart(8, '0');
    out += ' ';
    for (let k = 0; k < ROW; k++) out += k < count ? HEX[body[row + k]!] : PAD;
    for (let k = 0; k < count; k++) out += CHAR[body[row + k]!];
  }
  return out;
}
