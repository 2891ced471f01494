import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { appendFileSync, mkdtempSync, readdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { Tail } from 'tail';
import type { Batch } from '../../../lib/core/batch.js';
import { ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { pipe } from '../../../lib/core/pipe.js';
import { createSink } from '../../../lib/core/sink.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { tailSource, type TailSourceOptions } from '../../../lib/sources/tailSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

let dir: string;
let file: string;
let subscription: Subscription | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-tail-'));
  file = join(dir, 'app.log');
  writeFileSync(file, '');
});

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const lines = (from: number, count: number, prefix = 'line') => Array.from({ length: count }, (_, i) => `${prefix} ${from + i}`);

/**
 * Follows the file with a sink that settles each batch through `settle` (ack at once by default) and
 * records every delivery and every acked line.
 */
function follow(options: Omit<TailSourceOptions, 'path'> & { path?: string }, settle: (b: Batch, n: number) => void = (b) => b.ack()) {
  const source = tailSource({ path: file, batchTimeoutMs: 10, ...options });
  const deliveries: string[][] = [];
  const acked: string[] = [];
  const state: { error?: unknown; completed: boolean } = { completed: false };
  subscription = source.subscribe({
    next: (b) => {
      const text = b.events.map((e) => e.body.toString('utf8'));
      deliveries.push(text);
      const ack = b.ack.bind(b);
      Object.defineProperty(b, 'ack', { value: () => (acked.push(...text), ack()) });
      settle(b, deliveries.length);
    },
    error: (e: unknown) => (state.error = e),
    complete: () => (state.completed = true),
  });
  return { source, deliveries, acked, state };
}

describe('tailSource', () => {
  it('delivers lines appended after the start, in order, without the existing content or the separator', async () => {
    writeFileSync(file, 'old 1\nold 2\n');
    const { acked } = follow({});
    appendFileSync(file, 'a\nb\n');
    appendFileSync(file, 'c\n');
    await waitFor(() => acked.length === 3, '3 lines');
    expect(acked).toEqual(['a', 'b', 'c']);
  });

  it('reads the existing content first with fromBeginning', async () => {
    writeFileSync(file, 'old 1\nold 2\n');
    const { acked } = follow({ fromBeginning: true });
    await waitFor(() => acked.length === 2, 'existing lines');
    appendFileSync(file, 'new\n');
    await waitFor(() => acked.length === 3, 'appended line');
    expect(acked).toEqual(['old 1', 'old 2', 'new']);
  });

  it('holds a line back until its separator is written', async () => {
    const { acked } = follow({});
    appendFileSync(file, 'par');
    await sleep(100);
    expect(acked).toEqual([]);
    appendFileSync(file, 'tial\nnext\n');
    await waitFor(() => acked.length === 2, 'completed line');
    expect(acked).toEqual(['partial', 'next']);
  });

  it('keeps the bytes of each line exactly as in the file', async () => {
    const bytes: Buffer[] = [];
    subscription = tailSource({ path: file, batchTimeoutMs: 10 }).subscribe((b) => {
      bytes.push(...b.events.map((e) => e.body));
      b.ack();
    });
    const weird = Buffer.from([0xc3, 0xa9, 0xff, 0x00, 0xe2, 0x82]); // é, an invalid byte, NUL, a cut-off sequence
    appendFileSync(file, Buffer.concat([Buffer.from('héllo wörld ✓\n'), weird, Buffer.from('\n\n')]));
    await waitFor(() => bytes.length === 3, '3 lines');
    expect(bytes[0]).toEqual(Buffer.from('héllo wörld ✓'));
    expect(bytes[1]).toEqual(weird);
    expect(bytes[2]).toEqual(Buffer.alloc(0));
  });

  it('splits on a custom separator and adds the file header when asked', async () => {
    const headers: Record<string, string>[] = [];
    const { acked } = follow({ separator: '\r\n', fileHeader: true, fileHeaderKey: 'path' }, (b) => {
      headers.push(...b.events.map((e) => e.headers));
      b.ack();
    });
    appendFileSync(file, 'one\r\ntwo\nstill two\r\n');
    await waitFor(() => acked.length === 2, '2 lines');
    expect(acked).toEqual(['one', 'two\nstill two']);
    expect(headers).toEqual([{ path: file }, { path: file }]);
  });

  it("finds a non-ASCII separator by the file's encoding", async () => {
    for (const encoding of ['utf8', 'latin1'] as const) {
      const bytes: Buffer[] = [];
      subscription = tailSource({ path: file, separator: '§', encoding, batchTimeoutMs: 10 }).subscribe((b) => {
        bytes.push(...b.events.map((e) => e.body));
        b.ack();
      });
      const sep = Buffer.from('§', encoding);
      appendFileSync(file, Buffer.concat([Buffer.from('a\n'), sep, Buffer.from('é', encoding), sep]));
      await waitFor(() => bytes.length === 2, `2 lines (${encoding})`);
      expect(bytes).toEqual([Buffer.from('a\n'), Buffer.from('é', encoding)]);
      subscription.unsubscribe();
    }
  });

  it('batches up to batchSize lines, and a partial batch after batchTimeoutMs', async () => {
    const { deliveries } = follow({ batchSize: 3, batchTimeoutMs: 50 });
    appendFileSync(file, lines(0, 7).join('\n') + '\n');
    await waitFor(() => deliveries.flat().length === 7, '7 lines');
    expect(deliveries.map((d) => d.length)).toEqual([3, 3, 1]);
  });

  it('pauses while the pipeline is busy and loses or repeats nothing (5,000 lines, slow sink)', async () => {
    const unwatch = vi.spyOn(Tail.prototype, 'unwatch');
    const watch = vi.spyOn(Tail.prototype, 'watch');
    appendFileSync(file, lines(0, 2500).join('\n') + '\n');
    const { acked, deliveries } = follow({ fromBeginning: true, batchSize: 100 }, (b) => setTimeout(() => b.ack(), 1));
    // More lines arrive while it is paused and reading.
    for (let i = 2500; i < 5000; i += 250) {
      await sleep(3);
      appendFileSync(file, lines(i, 250).join('\n') + '\n');
    }
    await waitFor(() => acked.length >= 5000, '5,000 lines', 20_000);
    await sleep(50);
    expect(acked).toEqual(lines(0, 5000));
    expect(deliveries.every((d) => d.length <= 100)).toBe(true);
    // It did stop watching and start again (the first watch is the constructor's).
    expect(unwatch.mock.calls.length).toBeGreaterThan(0);
    expect(watch.mock.calls.length).toBeGreaterThan(1);
  });

  it('reads no further than one waiting batch while nothing is acked', async () => {
    appendFileSync(file, lines(0, 5000).join('\n') + '\n');
    const held: Batch[] = [];
    const { source } = follow({ fromBeginning: true, batchSize: 100, maxInFlight: 2 }, (b) => held.push(b));
    await waitFor(() => held.length === 2, 'two batches');
    await sleep(200);
    expect(held.length).toBe(2);
    expect(metricsOf(source)!.get('EventReceivedCount')).toBe(200);
    held[0]!.ack();
    await waitFor(() => held.length === 3, 'a third batch after an ack');
    expect(held.map((b) => b.events[0]!.body.toString())).toEqual(['line 0', 'line 100', 'line 200']);
  });

  it('sends the same lines again after a nack', async () => {
    const { deliveries, acked } = follow({ batchSize: 2, backoffSleepIncrementMs: 5 }, (b, n) => (n % 2 === 1 ? b.nack(new Error('full')) : b.ack()));
    appendFileSync(file, lines(0, 6).join('\n') + '\n');
    await waitFor(() => acked.length === 6, '6 lines');
    expect(acked).toEqual(lines(0, 6));
    expect(deliveries).toEqual([
      ['line 0', 'line 1'],
      ['line 0', 'line 1'],
      ['line 2', 'line 3'],
      ['line 2', 'line 3'],
      ['line 4', 'line 5'],
      ['line 4', 'line 5'],
    ]);
  });

  it('reads a truncated file again from its start', async () => {
    const { acked } = follow({});
    appendFileSync(file, 'before 1\nbefore 2\n');
    await waitFor(() => acked.length === 2, 'lines before truncation');
    truncateSync(file, 0);
    await sleep(50);
    appendFileSync(file, 'after\n');
    await waitFor(() => acked.length === 3, 'line after truncation');
    expect(acked).toEqual(['before 1', 'before 2', 'after']);
  });

  it('follows a rotation by rename + create, reading the new file from its start', async () => {
    const { acked, state } = follow({});
    appendFileSync(file, 'old 1\n');
    await waitFor(() => acked.length === 1, 'line before rotation');
    renameSync(file, `${file}.1`);
    writeFileSync(file, 'new 1\n');
    // tail re-watches the path one second after the rename.
    await sleep(1200);
    appendFileSync(file, 'new 2\n');
    await waitFor(() => acked.length === 3, 'lines of the new file');
    expect(acked).toEqual(['old 1', 'new 1', 'new 2']);
    expect(state.error).toBeUndefined();
  });

  it('fails with FLUME_SOURCE_FAILED on a rename when follow is off', async () => {
    const { acked, state } = follow({ follow: false });
    appendFileSync(file, 'old 1\n');
    await waitFor(() => acked.length === 1, 'line before rotation');
    renameSync(file, `${file}.1`);
    await waitFor(() => state.error !== undefined, 'the error');
    expect((state.error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
  });

  for (const useWatchFile of [false, true]) {
    it(`releases its watcher on unsubscribe (useWatchFile: ${useWatchFile})`, async () => {
      const kind = useWatchFile ? 'StatWatcher' : 'FSEventWrap';
      const count = () => process.getActiveResourcesInfo().filter((r) => r === kind).length;
      await sleep(20); // handles closed by earlier tests leave the list on a later turn of the loop
      const before = count();
      const { acked } = follow({ useWatchFile, watchFileIntervalMs: 20 });
      expect(count()).toBe(before + 1);
      appendFileSync(file, 'x\n');
      await waitFor(() => acked.length === 1, 'a line');
      subscription!.unsubscribe();
      await waitFor(() => count() === before, 'the watcher to close', 1000);
    });
  }

  it('releases everything when unsubscribed while paused mid-file (watcher, timers, open file)', async () => {
    const resources = () => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
      return counts;
    };
    const fds = () => readdirSync('/proc/self/fd').length;
    appendFileSync(file, lines(0, 20_000).join('\n') + '\n'); // larger than one read chunk
    await sleep(20);
    const before = { resources: resources(), fds: fds() };
    // Nothing the source held may remain: no kind of resource more numerous than before, no extra fd.
    const released = () => [...resources()].every(([kind, n]) => n <= (before.resources.get(kind) ?? 0)) && fds() <= before.fds;
    const held: Batch[] = [];
    follow({ fromBeginning: true, batchSize: 10, batchTimeoutMs: 60_000 }, (b) => held.push(b));
    await waitFor(() => held.length === 1, 'a batch');
    await sleep(50);
    expect(fds()).toBeGreaterThan(before.fds); // the paused read stream holds the file open
    subscription!.unsubscribe();
    await waitFor(released, 'resources to be released', 2000);
  });

  it('runs in pipe() through a memory channel, and stop() drains and releases the watcher', async () => {
    const count = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    await sleep(20);
    const before = count();
    const written: string[] = [];
    const pipeline = pipe(
      tailSource({ path: file, batchSize: 50, batchTimeoutMs: 10 }),
      memoryChannel({ capacity: 200, transactionCapacity: 50 }),
      createSink('test', { write: (b) => void written.push(...b.events.map((e) => e.body.toString())) }),
    );
    appendFileSync(file, lines(0, 500).join('\n') + '\n');
    await waitFor(() => written.length === 500, '500 lines');
    await pipeline.stop({ timeoutMs: 2000 });
    expect(written).toEqual(lines(0, 500));
    expect(pipeline.metrics()['SOURCE.tailSource']).toMatchObject({ EventReceivedCount: 500, EventAcceptedCount: 500 });
    await waitFor(() => count() === before, 'the watcher to close', 1000);
  });

  it('fails with FLUME_SOURCE_FAILED when the file does not exist', async () => {
    const { state } = follow({ path: join(dir, 'missing.log') });
    expect(state.error).toBeInstanceOf(FlumeError);
    expect((state.error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect((state.error as Error).message).toContain('missing.log');
  });

  it('rejects bad options naming each', () => {
    const e = thrown(() => tailSource({ batchSize: 0 } as TailSourceOptions));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues.map((i) => i.path).sort()).toEqual(['tailSource.batchSize', 'tailSource.path']);
  });
});
