/**
 * Fuzzing netcatSource with bytes from outside: whatever a client sends, in whatever pieces, each
 * line follows Flume's rules — within maxLineLength UTF-16 units (newline included) it becomes
 * exactly one event and is answered OK; a longer one is answered FAILED and the connection closes;
 * bytes that are not UTF-8 are answered FAILED and close it too (Flume closes without a word) — and the
 * source never fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import { metricsOf } from '../../../lib/core/metrics.js';
import { netcatSource } from '../../../lib/sources/netcatSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { client, listening, recordingSink, waitFor } from '../../support/net.js';

let subscription: Subscription | undefined;

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

const MAX = 16;
const FAILED = `FAILED: Event exceeds the maximum length (${MAX} chars, including newline)\n`;
const NOT_UTF8 = 'FAILED: Event is not valid UTF-8\n';

/** A line read as Java reads it, byte by byte (WHATWG's strict decoder rejects what Java's does): too long first, or undecodable first? */
function verdict(line: Buffer, terminated: boolean): 'ok' | 'long' | 'bad' {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let units = 0;
  for (let k = 0; k < line.length; k++) {
    try {
      units += decoder.decode(line.subarray(k, k + 1), { stream: true }).length;
    } catch {
      return 'bad';
    }
    if (units >= MAX) return 'long';
  }
  if (terminated) {
    try {
      decoder.decode();
    } catch {
      return 'bad';
    }
  }
  return 'ok';
}

/** The answers and events Flume's rules give for a stream a client then half-closes. */
function model(wire: Buffer): { answers: string; events: string[] } {
  let answers = '';
  const events: string[] = [];
  let start = 0;
  for (;;) {
    const nl = wire.indexOf(10, start);
    const line = wire.subarray(start, nl < 0 ? wire.length : nl);
    const v = verdict(line, nl >= 0);
    if (v === 'long') answers += FAILED;
    if (v === 'bad') answers += NOT_UTF8;
    if (v !== 'ok' || nl < 0) break;
    answers += 'OK\n';
    events.push(line.toString('hex'));
    start = nl + 1;
  }
  return { answers, events };
}

const piece = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc
    .constantFrom('\n', '\r\n', 'ok\n', `${'x'.repeat(MAX - 1)}\n`, `${'y'.repeat(MAX)}\n`, 'z'.repeat(3 * MAX), `${'é'.repeat(MAX - 1)}\n`, `${'€'.repeat(MAX)}\n`, `${'😀'.repeat(MAX / 2 - 1)}a\n`, `${'😀'.repeat(MAX / 2)}\n`)
    .map((s) => Buffer.from(s)),
  fc.string({ maxLength: 20, unit: 'binary' }).map((s) => Buffer.from(s)),
  fc.string({ maxLength: 20 }).map((s) => Buffer.from(s)),
);

describe('netcatSource (property)', () => {
  it('answers and stores every line by its length, whatever the bytes and their pieces, and never fails', async () => {
    const l = listening();
    const source = netcatSource({ bind: '127.0.0.1', port: 0, maxLineLength: MAX, batchSize: 3, onListening: l.onListening });
    const sink = recordingSink();
    const errors: unknown[] = [];
    subscription = source.pipe(memoryChannel({ capacity: 1000, transactionCapacity: 3 })).subscribe({ ...sink, next: (b) => sink.next(b), error: (e) => errors.push(e) });
    const port = await l.port;
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 25 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 4 }), async (pieces, sizes) => {
        const wire = Buffer.concat(pieces);
        const want = model(wire);
        const before = sink.events.length;
        const c = await client(port);
        for (let i = 0, k = 0; i < wire.length; k++) {
          const n = sizes[k % sizes.length]!;
          c.socket.write(wire.subarray(i, i + n));
          i += n;
          // A turn of the event loop between writes, so that the source reads them as separate chunks.
          await new Promise((r) => setImmediate(r));
        }
        c.socket.end();
        await c.closed;
        expect(c.received()).toBe(want.answers);
        await waitFor(() => sink.events.length === before + want.events.length, 'events');
        expect(sink.events.slice(before).map((e) => e.body.toString('hex'))).toEqual(want.events);
      }),
      { numRuns: 150 },
    );
    expect(errors).toEqual([]);
    // The server may close its side of a connection it hung up on just after the client saw it closed.
    await waitFor(() => metricsOf(source)!.get('OpenConnectionCount') === 0, 'every connection closed');
  });
});
