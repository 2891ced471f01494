import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { loggerLine, loggerSink } from '../../../lib/sinks/loggerSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

// 20 bytes: ASCII, control bytes, DEL, é (2 bytes), € (3 bytes), an emoji (4 bytes).
const MIXED = Buffer.concat([Buffer.from('ab'), Buffer.from([0x00, 0x09, 0x0a, 0x7f]), Buffer.from('é€~ Z😀!}', 'utf8')]);

/**
 * Golden lines: the output of Flume's `"Event: " + EventHelper.dumpEvent(event, maxBytesToLog)` over
 * commons-io `HexDump.dump`, reproduced from their source in Java (headers in a LinkedHashMap).
 */
const GOLDEN: Array<[string, FlumeEvent, number, string]> = [
  ['empty body', event(''), 16, 'Event: { headers:{} body: }'],
  [
    'short ASCII with a header',
    event('Hello', { a: 'b' }),
    16,
    'Event: { headers:{a=b} body: 48 65 6C 6C 6F                                  Hello }',
  ],
  [
    '20 bytes with non-printables and UTF-8, cut at 16, two headers',
    event(MIXED, { host: 'web-1', timestamp: '1700000000000' }),
    16,
    'Event: { headers:{host=web-1, timestamp=1700000000000} body: 61 62 00 09 0A 7F C3 A9 E2 82 AC 7E 20 5A F0 9F ab.........~ Z.. }',
  ],
  [
    '20 bytes with maxBytesToLog 32: a second row with its offset',
    event(MIXED),
    32,
    'Event: { headers:{} body: 61 62 00 09 0A 7F C3 A9 E2 82 AC 7E 20 5A F0 9F ab.........~ Z..\n00000010 98 80 21 7D                                     ..!} }',
  ],
  ['maxBytesToLog 4', event(MIXED), 4, 'Event: { headers:{} body: 61 62 00 09                                     ab.. }'],
  [
    'exactly 16 bytes',
    event('0123456789abcdef', { a: 'b' }),
    16,
    'Event: { headers:{a=b} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 0123456789abcdef }',
  ],
];

function tracked(events: readonly FlumeEvent[]) {
  const calls: Array<'ack' | Error> = [];
  const batch = createBatch(events, { onAck: () => calls.push('ack'), onNack: (e) => calls.push(e) });
  return { batch, calls };
}

/** A writable that records each chunk and completes writes on the next tick, like a real stream. */
function recorder(fail?: (chunk: string) => Error | undefined) {
  const chunks: string[] = [];
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string, _enc, callback) {
      const error = fail?.(chunk);
      if (!error) chunks.push(chunk);
      setImmediate(() => callback(error));
    },
  });
  return { stream, chunks };
}

describe('loggerLine (Flume LoggerSink format)', () => {
  it.each(GOLDEN)('%s', (_title, e, max, expected) => {
    expect(loggerLine(e, max)).toBe(expected);
  });

  it('defaults to 16 bytes and shows no body bytes for maxBytesToLog 0', () => {
    expect(loggerLine(event(MIXED))).toBe(GOLDEN[2]![3].replace('{host=web-1, timestamp=1700000000000}', '{}'));
    expect(loggerLine(event('abc'), 0)).toBe('Event: { headers:{} body: }');
  });

  it('property: rows hold the first min(length, max) bytes as hex, padded, then their text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 64 }), (bytes, max) => {
        const body = Buffer.from(bytes);
        const line = loggerLine(event(body), max);
        const prefix = 'Event: { headers:{} body:';
        expect(line.startsWith(prefix) && line.endsWith(' }')).toBe(true);
        const dump = line.slice(prefix.length, -2);
        const shown = body.subarray(0, Math.min(body.length, max));
        if (shown.length === 0) {
          expect(dump).toBe('');
          return;
        }
        const rows = dump.split('\n');
        expect(rows).toHaveLength(Math.ceil(shown.length / 16));
        rows.forEach((row, r) => {
          const offset = r === 0 ? '' : (r * 16).toString(16).toUpperCase().padStart(8, '0');
          expect(row.slice(0, offset.length)).toBe(offset);
          const hex = row.slice(offset.length, offset.length + 49);
          const chunk = shown.subarray(r * 16, r * 16 + 16);
          const expectedHex = ' ' + Array.from({ length: 16 }, (_, k) => (k < chunk.length ? chunk[k]!.toString(16).toUpperCase().padStart(2, '0') : '  ') + ' ').join('');
          expect(hex).toBe(expectedHex);
          const textPart = row.slice(offset.length + 49);
          expect(textPart).toBe(Array.from(chunk, (b) => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.')).join(''));
        });
      }),
    );
  });
});

describe('loggerSink', () => {
  it('writes one chunk per batch, one line per event, and acks after the write callback', async () => {
    const { stream, chunks } = recorder();
    const sink = loggerSink({ output: stream, name: 'log' });
    const t = tracked(GOLDEN.map(([, e]) => e));
    sink.next(t.batch);
    expect(t.calls).toEqual([]); // not before the stream confirmed
    sink.complete();
    await sink.closed;
    expect(t.calls).toEqual(['ack']);
    expect(chunks).toEqual([GOLDEN.map(([, e]) => loggerLine(e) + '\n').join('')]);
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventDrainAttemptCount: 6, EventDrainSuccessCount: 6, BatchCompleteCount: 1, EventWriteFail: 0 });
  });

  it('calls a function output once per event, with the line and no newline', async () => {
    const lines: string[] = [];
    const sink = loggerSink({ output: (line) => lines.push(line), maxBytesToLog: 32 });
    const t = tracked([event(MIXED), event('Hello', { a: 'b' })]);
    sink.next(t.batch);
    expect(t.calls).toEqual(['ack']);
    expect(lines).toEqual([GOLDEN[3]![3], GOLDEN[1]![3]]);
    const empty = tracked([]);
    sink.next(empty.batch);
    expect(empty.calls).toEqual(['ack']);
    expect(metricsOf(sink)!.get('BatchEmptyCount')).toBe(1);
  });

  it('nacks once with FLUME_SINK_FAILED when the stream write fails, and counts EventWriteFail', async () => {
    const { stream } = recorder(() => new Error('ENOSPC: no space left on device'));
    stream.on('error', () => undefined);
    const sink = loggerSink({ output: stream });
    const t = tracked([event('a'), event('b')]);
    sink.next(t.batch);
    sink.complete();
    await sink.closed;
    expect(t.calls).toHaveLength(1);
    const error = t.calls[0] as ComponentError;
    expect(error).toBeInstanceOf(ComponentError);
    expect(error.code).toBe('FLUME_SINK_FAILED');
    expect(error.component).toBe('loggerSink');
    expect(error.message).toContain('ENOSPC');
    expect((error.cause as Error).message).toContain('ENOSPC');
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventWriteFail: 2, EventDrainSuccessCount: 0 });
  });

  it('a write to a destroyed stream is a non-retriable failure', async () => {
    const { stream } = recorder();
    stream.on('error', () => undefined);
    stream.destroy();
    const sink = loggerSink({ output: stream });
    const t = tracked([event('a')]);
    sink.next(t.batch);
    sink.complete();
    await sink.closed;
    expect((t.calls[0] as FlumeError).retriable).toBe(false);
  });

  it('a throwing function output nacks the batch, keeping the cause', () => {
    const cause = new Error('logger down');
    const sink = loggerSink({
      output: (line) => {
        if (line.includes('boom')) throw cause;
      },
    });
    const t = tracked([event('ok'), event('boom')]);
    sink.next(t.batch);
    expect(t.calls).toHaveLength(1);
    const error = t.calls[0] as ComponentError;
    expect(error.code).toBe('FLUME_SINK_FAILED');
    expect(error.retriable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('event 2 of 2');
  });

  it('writes to process.stdout by default', async () => {
    const writes: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = ((chunk: string, cb?: (e?: Error | null) => void) => {
      writes.push(chunk);
      cb?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      const sink = loggerSink();
      const t = tracked([event('Hello', { a: 'b' })]);
      sink.next(t.batch);
      sink.complete();
      await sink.closed;
      expect(t.calls).toEqual(['ack']);
    } finally {
      process.stdout.write = original;
    }
    expect(writes).toEqual([GOLDEN[1]![3] + '\n']);
  });

  it('rejects bad options with a ConfigError naming each of them', () => {
    expect(() => loggerSink({ maxBytesToLog: -1, output: 42 as never })).toThrow(ConfigError);
    const error = thrown(() => loggerSink({ maxBytesToLog: -1, output: 42 as never }));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(['loggerSink.maxBytesToLog', 'loggerSink.output']);
    expect((error as ConfigError).message).toContain('expected a writable stream or a (line: string) => void function');
    expect(loggerSink.spec.flumeTypes).toContain('logger');
  });

  describe('with a real file', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rxflume-logger-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('end to end: pollSource → memoryChannel → loggerSink into a file stream, every event logged once', async () => {
      const file = join(dir, 'events.log');
      const stream = createWriteStream(file);
      const total = 530;
      let n = 0;
      const poll = (): FlumeEvent[] | null => {
        if (n >= total) return null;
        const out: FlumeEvent[] = [];
        for (let i = 0; i < 40 && n < total; i++, n++) out.push(event(`line ${n}`, { n: String(n) }));
        return out;
      };
      const pipeline = pipe(pollSource(poll), memoryChannel({ capacity: 500, transactionCapacity: 100 }), loggerSink({ output: stream, name: 'file' }));
      await pipeline.done;
      await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const lines = (await readFile(file, 'utf8')).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toEqual(Array.from({ length: total }, (_, i) => loggerLine(event(`line ${i}`, { n: String(i) }))));
      expect(lines[7]).toBe('Event: { headers:{n=7} body: 6C 69 6E 65 20 37                               line 7 }');
      expect(pipeline.metrics()['SINK.file']).toMatchObject({ EventDrainAttemptCount: total, EventDrainSuccessCount: total, EventWriteFail: 0 });
    });
  });

  it('end to end: a plain Observable of batches through memoryChannel', async () => {
    const lines: string[] = [];
    const acked: number[] = [];
    const source = new Observable<Batch>((subscriber) => {
      for (let i = 0; i < 10; i++) subscriber.next(createBatch([event(`a${i}`), event(`b${i}`)], { onAck: () => acked.push(i) }));
      subscriber.complete();
    });
    const pipeline = pipe(source, memoryChannel({ transactionCapacity: 3, capacity: 30 }), loggerSink({ output: (l) => lines.push(l) }));
    await pipeline.done;
    expect(acked).toHaveLength(10);
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('Event: { headers:{} body: 61 30                                           a0 }');
    expect(pipeline.metrics()['SINK.loggerSink']).toMatchObject({ EventDrainSuccessCount: 20, BatchUnderflowCount: 0 });
  });
});
