import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { lineBody, splitLines, type LineCodec, type LinePiece } from '../../../lib/sources/spooldir/lines.js';
import { spooldirSource, type SpooldirSourceOptions } from '../../../lib/sources/spooldir/spooldirSource.js';
import { Tracker, TRACKER_FILE } from '../../../lib/sources/spooldir/tracker.js';

let dir: string;
let subscriptions: Subscription[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-spool-'));
});

afterEach(() => {
  for (const s of subscriptions) s.unsubscribe();
  subscriptions = [];
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const lines = (count: number, prefix = 'line') => Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}`);
const write = (name: string, content: string | Buffer, mtimeSec?: number) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  if (mtimeSec !== undefined) utimesSync(path, mtimeSec, mtimeSec);
  return path;
};
const files = (at = dir) => readdirSync(at).sort();

/** Runs the source with a sink settling each batch through `settle` (ack by default), recording everything. */
function spool(options: Partial<SpooldirSourceOptions> = {}, settle: (b: Batch, n: number) => void = (b) => b.ack()) {
  const logs: string[] = [];
  const source = spooldirSource({ spoolDir: dir, pollDelayMs: 10, logger: (level, message) => logs.push(`${level} ${message}`), ...options });
  const deliveries: string[][] = [];
  const acked: string[] = [];
  const headers: Record<string, string>[] = [];
  const state: { error?: unknown; completed: boolean } = { completed: false };
  const subscription = source.subscribe({
    next: (b) => {
      const text = b.events.map((e) => e.body.toString('latin1'));
      deliveries.push(text);
      headers.push(...b.events.map((e) => e.headers));
      const ack = b.ack.bind(b);
      Object.defineProperty(b, 'ack', { value: () => (acked.push(...text), ack()) });
      settle(b, deliveries.length);
    },
    error: (e: unknown) => (state.error = e),
    complete: () => (state.completed = true),
  });
  subscriptions.push(subscription);
  const counter = (key: string) => metricsOf(source)!.get(key);
  return { source, subscription, deliveries, acked, headers, state, logs, counter };
}

describe('spooldirSource', () => {
  it('reads a file as lines in batches and renames it only once every event is acked', async () => {
    write('app.log', lines(250).join('\n') + '\n');
    const held: Batch[] = [];
    const r = spool({ batchSize: 100 }, (b, n) => (n === 3 ? held.push(b) : b.ack()));
    await waitFor(() => held.length === 1, 'the last batch');
    expect(r.deliveries.map((d) => d.length)).toEqual([100, 100, 50]);
    await sleep(50);
    expect(files()).toEqual(['.flumespool', 'app.log']); // not completed while a batch is unsettled
    held[0]!.ack();
    await waitFor(() => existsSync(join(dir, 'app.log.COMPLETED')), 'the rename');
    // Logged once the rename's callback ran, which can be a while after the new name shows on a loaded machine.
    const completed = `info ${join(dir, 'app.log')}: 250 events sent; renamed to app.log.COMPLETED`;
    await waitFor(() => r.logs.includes(completed), 'the completion to be logged');
    expect(r.acked).toEqual(lines(250));
    expect(files()).toEqual(['.flumespool', 'app.log.COMPLETED']);
    expect(r.logs).toContain(completed);
    expect(r.counter('EventAcceptedCount')).toBe(250);
    expect(r.state.error).toBeUndefined();
  });

  it('uses fileSuffix, keeps polling for new files, and stops when unsubscribed', async () => {
    const r = spool({ fileSuffix: '.done' });
    await sleep(30);
    write('late.log', 'a\nb\n');
    await waitFor(() => existsSync(join(dir, 'late.log.done')), 'the rename');
    expect(r.acked).toEqual(['a', 'b']);
    r.subscription.unsubscribe();
    write('after.log', 'c\n');
    await sleep(100);
    expect(r.deliveries).toHaveLength(1);
    expect(existsSync(join(dir, 'after.log'))).toBe(true);
  });

  it('maxInFlight batches may be unsettled at once; the file completes once all are acked, in any order', async () => {
    write('m.log', lines(30).join('\n') + '\n');
    const held: Batch[] = [];
    const r = spool({ batchSize: 10, maxInFlight: 3 }, (b) => held.push(b));
    await waitFor(() => held.length === 3, 'three batches in flight');
    await sleep(50);
    expect(held).toHaveLength(3);
    held[2]!.ack();
    held[1]!.ack();
    await sleep(50);
    expect(existsSync(join(dir, 'm.log'))).toBe(true);
    held[0]!.ack();
    await waitFor(() => existsSync(join(dir, 'm.log.COMPLETED')), 'completion');
    expect(r.deliveries.flat()).toEqual(lines(30));
  });

  it('deletePolicy immediate deletes a file once its events are acked', async () => {
    write('a.log', 'x\ny\n');
    const r = spool({ deletePolicy: 'immediate' });
    await waitFor(() => !existsSync(join(dir, 'a.log')), 'the delete');
    expect(r.acked).toEqual(['x', 'y']);
    expect(files()).toEqual(['.flumespool']);
  });

  it('skips hidden, completed, ignored and not included files, and the tracker directory', async () => {
    write('a.log', 'a\n');
    write('b.txt', 'b\n');
    write('.hidden.log', 'hidden\n');
    write('old.log.COMPLETED', 'old\n');
    write('skip-me.log', 'skipped\n');
    write('.flumespool-like.log', 'hidden too\n');
    const r = spool({ includePattern: '.*\\.log', ignorePattern: 'skip-.*' });
    await waitFor(() => existsSync(join(dir, 'a.log.COMPLETED')), 'a.log');
    await sleep(50);
    expect(r.acked).toEqual(['a']);
    expect(files()).toEqual(['.flumespool', '.flumespool-like.log', '.hidden.log', 'a.log.COMPLETED', 'b.txt', 'old.log.COMPLETED', 'skip-me.log']);
  });

  it('reads includePattern as a Java regex: possessive quantifiers, ASCII \\w, inline flags', async () => {
    write('a.log', 'a\n');
    write('é.log', 'e\n');
    write('B.LOG', 'b\n');
    const r = spool({ includePattern: '(?i)\\w++\\.log' });
    await waitFor(() => existsSync(join(dir, 'a.log.COMPLETED')) && existsSync(join(dir, 'B.LOG.COMPLETED')), 'a.log and B.LOG');
    await sleep(50);
    expect(r.acked.sort()).toEqual(['a', 'b']);
    expect(files()).toContain('é.log');
  });

  it('adds the file and basename headers', async () => {
    const path = write('h.log', 'x\n');
    const r = spool({ fileHeader: true, basenameHeader: true, basenameHeaderKey: 'name' });
    await waitFor(() => r.acked.length === 1, 'the line');
    expect(r.headers).toEqual([{ file: path, name: 'h.log' }]);
  });

  it('consumeOrder oldest and youngest follow modification times, ties by name; random reads every file', async () => {
    const setup = () => {
      write('b.log', 'b\n', 1_000);
      write('a.log', 'a\n', 3_000);
      write('c.log', 'c\n', 2_000);
      write('d.log', 'd\n', 2_000);
    };
    setup();
    // Four renamed files and the tracker cleared: unsubscribing between a rename and the clearing leaves
    // the tracker naming b.log, and the b.log written next may get the same inode, size and mtime, so the
    // next source would take it as that file read to its end (the crash-after-rename case) and skip it.
    const trackerCleared = () => {
      const tracker = new Tracker(join(dir, '.flumespool'));
      try {
        return tracker.open() === undefined;
      } finally {
        tracker.close();
      }
    };
    const completed = () => files().filter((f) => f.endsWith('.COMPLETED')).length === 4 && trackerCleared();
    const oldest = spool({ consumeOrder: 'oldest' });
    await waitFor(completed, 'four files');
    expect(oldest.acked).toEqual(['b', 'c', 'd', 'a']);
    oldest.subscription.unsubscribe();

    for (const f of files()) if (f.endsWith('.COMPLETED')) rmSync(join(dir, f));
    setup();
    const youngest = spool({ consumeOrder: 'youngest' });
    await waitFor(completed, 'four files');
    expect(youngest.acked).toEqual(['a', 'c', 'd', 'b']);
    youngest.subscription.unsubscribe();

    for (const f of files()) if (f.endsWith('.COMPLETED')) rmSync(join(dir, f));
    setup();
    const random = spool({ consumeOrder: 'random' });
    await waitFor(completed, 'four files');
    expect([...random.acked].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('recursiveDirectorySearch reads sub-directories, not hidden or ignored ones, and completes files in place', async () => {
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(dir, '.hidden'));
    mkdirSync(join(dir, 'ignored'));
    write('top.log', 'top\n', 1_000);
    write('sub/s.log', 's\n', 2_000);
    write('sub/deeper/d.log', 'd\n', 3_000);
    write('.hidden/h.log', 'h\n', 500);
    write('ignored/i.log', 'i\n', 500);

    const flat = spool({ ignorePattern: 'ignored' });
    await waitFor(() => existsSync(join(dir, 'top.log.COMPLETED')), 'top.log');
    await sleep(50);
    expect(flat.acked).toEqual(['top']);
    flat.subscription.unsubscribe();

    const deep = spool({ ignorePattern: 'ignored', recursiveDirectorySearch: true, fileHeader: true });
    await waitFor(() => deep.acked.length === 2, 'the sub-directories');
    expect(deep.acked).toEqual(['s', 'd']);
    expect(deep.headers.map((h) => h['file'])).toEqual([join(dir, 'sub', 's.log'), join(dir, 'sub', 'deeper', 'd.log')]);
    await waitFor(() => existsSync(join(dir, 'sub', 'deeper', 'd.log.COMPLETED')), 'd.log');
    expect(files(join(dir, 'sub'))).toEqual(['deeper', 's.log.COMPLETED']);
    expect(files(join(dir, '.hidden'))).toEqual(['h.log']);
    expect(files(join(dir, 'ignored'))).toEqual(['i.log']);
  });

  it('resumes mid-file after a restart: no acked event again, none lost', async () => {
    write('big.log', lines(1000).join('\n') + '\n');
    const first = spool({ batchSize: 100 }, (b, n) => (n <= 3 ? b.ack() : undefined)); // the 4th stays unsettled
    await waitFor(() => first.deliveries.length === 4, 'four batches');
    first.subscription.unsubscribe();
    expect(first.acked).toEqual(lines(300));
    expect(existsSync(join(dir, 'big.log'))).toBe(true);

    const second = spool({ batchSize: 100 });
    await waitFor(() => existsSync(join(dir, 'big.log.COMPLETED')), 'completion');
    expect(second.deliveries[0]![0]).toBe('line 301'); // the unsettled batch comes again
    expect([...first.acked, ...second.acked]).toEqual(lines(1000));
    expect(second.logs).toContain(`info resuming ${join(dir, 'big.log')} at byte ${Buffer.byteLength(lines(300).join('\n') + '\n')} of ${statSync(join(dir, 'big.log.COMPLETED')).size}`);
  });

  it('resumes the tracked file before any other, whatever consumeOrder says', async () => {
    write('a.log', lines(10, 'a').join('\n') + '\n', 2_000);
    const first = spool({ batchSize: 5 }, (b, n) => (n === 1 ? b.ack() : undefined));
    await waitFor(() => first.deliveries.length === 2, 'two batches');
    first.subscription.unsubscribe();
    write('older.log', 'older\n', 1_000);
    const second = spool({ batchSize: 5 });
    await waitFor(() => second.acked.length === 6, 'the rest');
    expect(second.acked).toEqual([...lines(10, 'a').slice(5), 'older']);
  });

  it('after a crash between the last ack and the rename, completes the file without sending anything', async () => {
    const path = write('done.log', 'x\ny\n');
    const s = statSync(path, { bigint: true });
    mkdirSync(join(dir, '.flumespool'));
    const tracker = new Tracker(join(dir, '.flumespool'));
    tracker.open();
    tracker.save({ file: 'done.log', ino: String(s.ino), size: Number(s.size), mtimeNs: String(s.mtimeNs), pos: Number(s.size) });
    tracker.close();
    const r = spool();
    await waitFor(() => existsSync(join(dir, 'done.log.COMPLETED')), 'the rename');
    expect(r.deliveries).toEqual([]);
  });

  it('a tracker naming a file that is gone is dropped', async () => {
    mkdirSync(join(dir, '.flumespool'));
    const tracker = new Tracker(join(dir, '.flumespool'));
    tracker.open();
    tracker.save({ file: 'gone.log', ino: '1', size: 10, mtimeNs: '1', pos: 5 });
    tracker.close();
    write('new.log', 'n\n');
    const r = spool();
    await waitFor(() => r.acked.length === 1, 'new.log');
    expect(r.logs).toContain(`info tracker names ${join(dir, 'gone.log')}, which is gone (completed or removed); starting afresh`);
  });

  it('a file growing while being read fails the source clearly at the next read and is left untouched', async () => {
    const path = write('grow.log', lines(20_000).join('\n') + '\n'); // several read chunks
    const held: Batch[] = [];
    const r = spool({ batchSize: 10 }, (b, n) => (n === 2 ? held.push(b) : b.ack()));
    await waitFor(() => held.length === 1, 'the second batch');
    appendFileSync(path, 'appended\n');
    held[0]!.ack();
    await waitFor(() => r.state.error !== undefined, 'the error');
    const error = r.state.error as ComponentError;
    expect(error).toBeInstanceOf(ComponentError);
    expect(error.code).toBe('FLUME_SOURCE_FAILED');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`${path} has changed size since being read`);
    expect(error.message).toContain('it is left as it is');
    // What was sent came from the bytes read before the change was seen; nothing after it.
    expect(r.acked.length).toBeLessThan(20_000);
    expect(r.acked).toEqual(lines(r.acked.length));
    expect(files()).toEqual(['.flumespool', 'grow.log']);
    expect(r.counter('EventReadFail')).toBe(1);

    // A restart refuses it the same way rather than half-ingesting it again.
    const again = spool({ batchSize: 10 });
    await waitFor(() => again.state.error !== undefined, 'the error on restart');
    expect((again.state.error as Error).message).toContain('has changed since it was partly read before the restart');
    expect(again.deliveries).toEqual([]);
    expect(files()).toEqual(['.flumespool', 'grow.log']);
  });

  it('a change after the last read is caught before completion: the file is not marked completed', async () => {
    const path = write('small.log', lines(100).join('\n') + '\n'); // read in one chunk
    const r = spool({ batchSize: 10 }, (b, n) => {
      if (n === 2) appendFileSync(path, 'appended\n');
      b.ack();
    });
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect((r.state.error as Error).message).toContain(`${path} has changed size since being read`);
    expect(r.acked).toEqual(lines(100));
    expect(files()).toEqual(['.flumespool', 'small.log']);
  });

  it('a file modified in place (same size) is detected by its modification time', async () => {
    const path = write('mod.log', lines(100).join('\n') + '\n');
    const r = spool({ batchSize: 10 }, (b, n) => {
      if (n === 1) utimesSync(path, new Date(), new Date(Date.now() + 5_000));
      b.ack();
    });
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect((r.state.error as Error).message).toContain(`${path} has been modified since being read`);
    expect(existsSync(path)).toBe(true);
  });

  it('a completed name that already exists fails the source and leaves the file', async () => {
    write('dup.log', 'new\n');
    write('dup.log.COMPLETED', 'old\n');
    const r = spool();
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect((r.state.error as Error).message).toMatch(/dup\.log\.COMPLETED exists \(file name re-used\)/);
    expect(readFileSync(join(dir, 'dup.log'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(dir, 'dup.log.COMPLETED'), 'utf8')).toBe('old\n');
  });

  it('a missing spool directory fails the source', async () => {
    const r = spool({ spoolDir: join(dir, 'nope') });
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect((r.state.error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect((r.state.error as Error).message).toMatch(/spool directory .*nope cannot be read: ENOENT/);
  });

  it('BLOB makes one event of a whole file, exact bytes; maxBlobLength splits larger files; an empty file gives one empty event', async () => {
    const bytes = Buffer.from([0, 1, 2, 0x0a, 0xff, 0xfe, 0x0d, 0x0a, 9, 10]);
    write('a.bin', bytes, 1_000);
    write('b.bin', Buffer.alloc(0), 2_000);
    const whole = spool({ deserializer: 'BLOB' });
    await waitFor(() => existsSync(join(dir, 'b.bin.COMPLETED')), 'both files');
    expect(whole.acked.map((b) => Buffer.from(b, 'latin1'))).toEqual([bytes, Buffer.alloc(0)]);
    whole.subscription.unsubscribe();

    write('c.bin', bytes);
    const pieces = spool({ deserializer: 'BLOB', maxBlobLength: 4 });
    await waitFor(() => existsSync(join(dir, 'c.bin.COMPLETED')), 'c.bin');
    expect(pieces.acked.map((b) => Buffer.from(b, 'latin1'))).toEqual([bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8)]);
  });

  it('LINE keeps \\r, empty lines, a last line without newline', async () => {
    write('x.log', Buffer.concat([Buffer.from('a\r\n\n'), Buffer.from('é😀\n'), Buffer.from('last')]));
    const r = spool();
    await waitFor(() => existsSync(join(dir, 'x.log.COMPLETED')), 'x.log');
    expect(r.acked.map((l) => Buffer.from(l, 'latin1').toString('hex'))).toEqual(['610d', '', Buffer.from('é😀').toString('hex'), Buffer.from('last').toString('hex')]);
  });

  // What a real Flume 1.11.0 agent does with this file (test/interop/spooldir.test.ts compares).
  const malformed = Buffer.concat([Buffer.from('ok1\nbad'), Buffer.from([0xff, 0xfe]), Buffer.from('x\nok2\n'), Buffer.from([0xc3]), Buffer.from('\n')]);

  it('decodeErrorPolicy FAIL (the default): the batch holding malformed bytes is not sent, the source fails naming the file and offset, the file stays', async () => {
    write('before.log', 'fine\n', 1_000);
    write('bad.log', malformed, 2_000);
    const r = spool({ batchSize: 100 });
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect((r.state.error as FlumeError).code).toBe('FLUME_SOURCE_FAILED');
    expect((r.state.error as Error).message).toMatch(/bad\.log: bytes at offset 7 are not valid UTF-8 \(decodeErrorPolicy FAIL\)/);
    expect(r.acked).toEqual(['fine']);
    expect(existsSync(join(dir, 'bad.log'))).toBe(true);
    expect(r.counter('EventReadFail')).toBe(1);
  });

  it('decodeErrorPolicy FAIL with smaller batches: the batches before the malformed line are sent', async () => {
    write('bad.log', malformed);
    const r = spool({ batchSize: 1 });
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect(r.acked).toEqual(['ok1']);
  });

  it('decodeErrorPolicy REPLACE puts U+FFFD for each malformed sequence, IGNORE leaves them out (bodies in UTF-8)', async () => {
    write('bad.log', malformed);
    const replace = spool({ decodeErrorPolicy: 'REPLACE' });
    await waitFor(() => existsSync(join(dir, 'bad.log.COMPLETED')), 'bad.log');
    expect(replace.acked.map((l) => Buffer.from(l, 'latin1').toString('utf8'))).toEqual(['ok1', 'bad\ufffd\ufffdx', 'ok2', '\ufffd']);
    replace.subscription.unsubscribe();
    write('bad2.log', malformed);
    const ignore = spool({ decodeErrorPolicy: 'IGNORE' });
    await waitFor(() => existsSync(join(dir, 'bad2.log.COMPLETED')), 'bad2.log');
    expect(ignore.acked).toEqual(['ok1', 'badx', 'ok2', '']);
  });

  it('counts replaced characters for maxLineLength, ignored ones not', async () => {
    const line = Buffer.concat([Buffer.from('ab'), Buffer.from([0xff, 0xff]), Buffer.from('cdef\n')]);
    write('r.log', line, 1_000);
    const replace = spool({ decodeErrorPolicy: 'REPLACE', maxLineLength: 4 });
    await waitFor(() => existsSync(join(dir, 'r.log.COMPLETED')), 'r.log');
    expect(replace.acked.map((l) => Buffer.from(l, 'latin1').toString('utf8'))).toEqual(['ab\ufffd\ufffd', 'cdef', '']);
    replace.subscription.unsubscribe();
    write('i.log', line, 2_000);
    const ignore = spool({ decodeErrorPolicy: 'IGNORE', maxLineLength: 4 });
    await waitFor(() => existsSync(join(dir, 'i.log.COMPLETED')), 'i.log');
    expect(ignore.acked).toEqual(['abcd', 'ef']);
  });

  it('inputCharset ISO-8859-1 and US-ASCII: bodies re-encoded in outputCharset (UTF-8 by default), as Flume', async () => {
    write('l.log', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x80, 0xff, 0x0a]), 1_000);
    const latin1 = spool({ inputCharset: 'ISO-8859-1' });
    await waitFor(() => existsSync(join(dir, 'l.log.COMPLETED')), 'l.log');
    expect(latin1.acked.map((l) => Buffer.from(l, 'latin1').toString('hex'))).toEqual(['636166c3a9', 'c280c3bf']);
    latin1.subscription.unsubscribe();
    write('a.log', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x41, 0x0a]), 2_000);
    const ascii = spool({ inputCharset: 'US-ASCII', decodeErrorPolicy: 'REPLACE' });
    await waitFor(() => existsSync(join(dir, 'a.log.COMPLETED')), 'a.log');
    expect(ascii.acked.map((l) => Buffer.from(l, 'latin1').toString('hex'))).toEqual(['636166efbfbd', '41']);
    ascii.subscription.unsubscribe();
    write('o.log', 'café €\n', 3_000);
    const out = spool({ outputCharset: 'ISO-8859-1' });
    await waitFor(() => existsSync(join(dir, 'o.log.COMPLETED')), 'o.log');
    expect(out.acked.map((l) => Buffer.from(l, 'latin1').toString('hex'))).toEqual(['636166e9203f']);
  });

  it('cuts lines longer than maxLineLength characters into several events, counting characters by inputCharset', async () => {
    write('long.log', 'abcdefghijkl\nabc\néééééé😀é\n', 1_000);
    const utf8 = spool({ maxLineLength: 3 });
    await waitFor(() => existsSync(join(dir, 'long.log.COMPLETED')), 'long.log');
    // As Flume: the \n right after a full piece ends an empty line of its own.
    expect(utf8.acked.map((l) => Buffer.from(l, 'latin1').toString('utf8'))).toEqual(['abc', 'def', 'ghi', 'jkl', '', 'abc', '', 'ééé', 'ééé', '😀é', '']);
    utf8.subscription.unsubscribe();

    write('latin.log', 'ééé\n', 2_000);
    const latin1 = spool({ maxLineLength: 4, inputCharset: 'ISO-8859-1' });
    await waitFor(() => existsSync(join(dir, 'latin.log.COMPLETED')), 'latin.log');
    // Four Latin-1 characters (the bytes of 'éé' in UTF-8), each re-encoded in UTF-8.
    expect(latin1.acked.map((l) => Buffer.from(l, 'latin1'))).toEqual([Buffer.from('Ã©Ã©'), Buffer.from('Ã©')]);
  });

  it('trackingPolicy tracker_dir: a completed file stays as it is, marked by an empty file in the tracker directory, and is not read again', async () => {
    write('a.log', 'one\n', 1_000);
    mkdirSync(join(dir, 'sub'));
    write('sub/b.log', 'two\n', 2_000);
    const first = spool({ trackingPolicy: 'tracker_dir', recursiveDirectorySearch: true });
    await waitFor(() => existsSync(join(dir, '.flumespool', 'sub', 'b.log.COMPLETED')), 'both marks');
    expect(first.acked).toEqual(['one', 'two']);
    expect(readFileSync(join(dir, '.flumespool', 'a.log.COMPLETED')).length).toBe(0);
    expect(files()).toEqual(['.flumespool', 'a.log', 'sub']);
    expect(files(join(dir, 'sub'))).toEqual(['b.log']);
    first.subscription.unsubscribe();
    write('c.log', 'three\n', 3_000);
    const second = spool({ trackingPolicy: 'tracker_dir', recursiveDirectorySearch: true });
    await waitFor(() => existsSync(join(dir, '.flumespool', 'c.log.COMPLETED')), 'c.log');
    await sleep(50);
    expect(second.acked).toEqual(['three']);
  });

  it('trackingPolicy tracker_dir: a tracked file already marked (a crash after the mark) is not read again', async () => {
    write('a.log', 'one\ntwo\n');
    const first = spool({ trackingPolicy: 'tracker_dir', batchSize: 1 }, (b, n) => (n === 1 ? b.ack() : undefined));
    await waitFor(() => first.deliveries.length === 2, 'two batches');
    first.subscription.unsubscribe();
    writeFileSync(join(dir, '.flumespool', 'a.log.COMPLETED'), '');
    const second = spool({ trackingPolicy: 'tracker_dir' });
    await waitFor(() => second.logs.some((l) => /starting afresh/.test(l)), 'the tracker cleared');
    await sleep(50);
    expect(second.acked).toEqual([]);
  });

  it('an empty file gives one event with an empty body, with the file headers (as Flume)', async () => {
    write('a.log', 'one\n', 1_000);
    write('b.log', '', 2_000);
    write('c.log', '\n', 3_000);
    const r = spool({ basenameHeader: true });
    await waitFor(() => existsSync(join(dir, 'c.log.COMPLETED')), 'all three');
    expect(r.acked).toEqual(['one', '', '']);
    expect(r.headers.map((h) => h['basename'])).toEqual(['a.log', 'b.log', 'c.log']);
    expect(files()).toEqual(['.flumespool', 'a.log.COMPLETED', 'b.log.COMPLETED', 'c.log.COMPLETED']);
  });

  it('maxLineLength boundary as Flume: exactly k × max characters then \n gives k events and an empty one; at the end of the file, k', async () => {
    write('a.log', '12345678\nabc\n1234567812345678\n1234567\r\n', 1_000);
    write('b.log', '12345678', 2_000);
    write('c.log', '1234😀😀\n😀😀😀😀😀\n', 3_000);
    const r = spool({ maxLineLength: 8 });
    await waitFor(() => existsSync(join(dir, 'c.log.COMPLETED')), 'all three');
    expect(r.acked.map((l) => Buffer.from(l, 'latin1').toString('utf8'))).toEqual([
      '12345678', '', 'abc', '12345678', '12345678', '', '1234567\r', '',
      '12345678',
      '1234😀😀', '', '😀😀😀😀', '😀',
    ]);
  });

  it('a long line resumed in the middle after a restart continues with the same pieces', async () => {
    write('l.log', 'x'.repeat(25) + '\n');
    const first = spool({ maxLineLength: 10, batchSize: 1 }, (b, n) => (n === 1 ? b.ack() : undefined));
    await waitFor(() => first.deliveries.length === 2, 'two pieces');
    first.subscription.unsubscribe();
    const second = spool({ maxLineLength: 10, batchSize: 1 });
    await waitFor(() => existsSync(join(dir, 'l.log.COMPLETED')), 'completion');
    expect([...first.acked, ...second.acked]).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });

  it('re-sends a nacked batch, before anything else, after back-off', async () => {
    write('n.log', lines(6).join('\n') + '\n');
    const r = spool({ batchSize: 3, minBackoffMs: 5 }, (b, n) => (n === 1 || n === 2 ? b.nack(new Error('channel full')) : b.ack()));
    await waitFor(() => existsSync(join(dir, 'n.log.COMPLETED')), 'completion');
    expect(r.deliveries).toEqual([lines(3), lines(3), lines(3), lines(6).slice(3)]);
    expect(r.acked).toEqual(lines(6));
    expect(r.counter('ChannelWriteFail')).toBe(6);
  });

  it('a non-retriable nack ends the source and leaves the file', async () => {
    write('f.log', 'a\n');
    const fatal = new FlumeError('FLUME_BAD_EVENT', 'poison');
    const r = spool({}, (b) => b.nack(fatal));
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect(r.state.error).toBe(fatal);
    expect(existsSync(join(dir, 'f.log'))).toBe(true);
  });

  it('backpressure: while a batch is unsettled, nothing more is sent', async () => {
    write('bp.log', lines(1000).join('\n') + '\n');
    const held: Batch[] = [];
    const r = spool({ batchSize: 10 }, (b) => held.push(b));
    await waitFor(() => held.length === 1, 'a batch');
    await sleep(100);
    expect(held).toHaveLength(1);
    expect(r.counter('EventReceivedCount')).toBe(10);
    held[0]!.ack();
    await waitFor(() => held.length === 2, 'the next batch');
    expect(r.deliveries[1]![0]).toBe('line 11');
  });

  it('validates options, naming every bad one', () => {
    const error = thrown(() => spooldirSource({ spoolDir: '', batchSize: 0, includePattern: '(', deletePolicy: 'later' as never, inputCharset: 'UTF-16' as never }));
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'spooldirSource.spoolDir',
        'spooldirSource.batchSize',
        'spooldirSource.includePattern',
        'spooldirSource.deletePolicy',
        'spooldirSource.inputCharset',
      ]),
    );
    expect(issues.find((i) => i.path === 'spooldirSource.includePattern')!.expected).toMatch(/^a Java regular expression rxflume can run \(/);
  });

  it("declares Flume's type names and maps Flume's keys and values", () => {
    const { flumeTypes, flumeKeys } = spooldirSource.spec;
    expect(flumeTypes).toEqual(['spooldir', 'org.apache.flume.source.SpoolDirectorySource']);
    expect(flumeKeys).toMatchObject({ pollDelay: 'pollDelayMs', maxBackoff: 'maxBackoffMs' });
    const convert = (key: string, value: string) => (flumeKeys![key] as { convert: (v: string) => unknown }).convert(value);
    expect(convert('deserializer', 'org.apache.flume.sink.solr.morphline.BlobDeserializer$Builder')).toBe('BLOB');
    expect(convert('deserializer', 'line')).toBe('LINE');
    expect(convert('deserializer.maxLineLength', '4096')).toBe(4096);
    expect(convert('deletePolicy', 'IMMEDIATE')).toBe('immediate');
    expect(convert('consumeOrder', 'YOUNGEST')).toBe('youngest');
    expect(convert('decodeErrorPolicy', 'replace')).toBe('REPLACE');
    expect(convert('trackingPolicy', 'TRACKER_DIR')).toBe('tracker_dir');
    expect(convert('inputCharset', 'latin1')).toBe('ISO-8859-1');
    expect(convert('inputCharset', 'utf8')).toBe('UTF-8');
    expect(convert('deserializer.outputCharset', 'ascii')).toBe('US-ASCII');
  });

  it('refuses charsets that are not ASCII-compatible, naming the value', () => {
    expect(() => spooldirSource({ spoolDir: dir, inputCharset: 'UTF-16' as never })).toThrow(/inputCharset.*UTF-16/s);
    expect(() => spooldirSource({ spoolDir: dir, outputCharset: 'UTF-16LE' as never })).toThrow(/outputCharset.*UTF-16LE/s);
  });
});

describe('spooldir tracker', () => {
  it('keeps the last state saved, and the one before when the last slot is torn', () => {
    const tracker = new Tracker(dir);
    expect(tracker.open()).toBeUndefined();
    tracker.save({ file: 'a.log', ino: '7', size: 100, mtimeNs: '5', pos: 10 });
    tracker.save({ file: 'a.log', ino: '7', size: 100, mtimeNs: '5', pos: 20 });
    tracker.close();
    expect(new Tracker(dir).open()).toEqual({ file: 'a.log', ino: '7', size: 100, mtimeNs: '5', pos: 20 });

    // Tear the newest slot (seq 2 is in slot 0) as a crash mid-write would.
    const path = join(dir, TRACKER_FILE);
    const bytes = readFileSync(path);
    bytes.fill(0x20, 30, 60);
    writeFileSync(path, bytes);
    const reopened = new Tracker(dir);
    expect(reopened.open()).toEqual({ file: 'a.log', ino: '7', size: 100, mtimeNs: '5', pos: 10 });
    reopened.clear();
    reopened.close();
    expect(new Tracker(dir).open()).toBeUndefined();
  });

  it('refuses a file that is not a tracker', () => {
    writeFileSync(join(dir, TRACKER_FILE), 'garbage');
    expect(() => new Tracker(dir).open()).toThrow(/no valid tracker slot/);
  });
});

describe('splitLines', () => {
  const pieces = (buf: Buffer, max: number, utf8: LineCodec, cuts: number[]): string[] => {
    // Feed the bytes in chunks cut at `cuts`, carrying the unconsumed rest, as the source does.
    const out: string[] = [];
    let carry = Buffer.alloc(0);
    const bounds = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    let from = 0;
    for (const to of [...bounds, buf.length]) {
      if (to < from) continue;
      const data = Buffer.concat([carry, buf.subarray(from, to)]);
      const found: LinePiece[] = [];
      const consumed = splitLines(data, max, utf8, to === buf.length, found);
      for (const p of found) out.push(data.subarray(p.start, p.end).toString('hex') + (p.next > p.end ? '\n' : ''));
      carry = data.subarray(consumed);
      from = to;
    }
    expect(carry.length).toBe(0);
    return out;
  };
  const bytes = fc
    .array(
      fc.oneof(
        fc.constant([0x0a]),
        fc.constant([0x0d, 0x0a]),
        fc.integer({ min: 0x20, max: 0x7e }).map((b) => [b]),
        fc.constant([0xc3, 0xa9]),
        fc.constant([0xe2, 0x82, 0xac]),
        fc.constant([0xf0, 0x9f, 0x98, 0x80]),
        fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]),
      ),
      { maxLength: 60 },
    )
    .map((parts) => Buffer.from(parts.flat()));
  const codecs = fc.constantFrom<LineCodec>(
    ...(['FAIL', 'REPLACE', 'IGNORE'] as const).flatMap((policy) =>
      (['UTF-8', 'ISO-8859-1', 'US-ASCII'] as const).map((input) => ({ input, output: 'UTF-8' as const, policy })),
    ),
  );

  it('does not depend on how the bytes are chunked', () => {
    fc.assert(
      fc.property(bytes, fc.integer({ min: 1, max: 8 }), codecs, fc.array(fc.nat(), { maxLength: 6 }), (buf, max, utf8, cuts) => {
        expect(pieces(buf, max, utf8, cuts)).toEqual(pieces(buf, max, utf8, []));
      }),
    );
  });

  it('loses no byte, keeps no \\n in a body, and respects maxChars (whole characters)', () => {
    fc.assert(
      fc.property(bytes, fc.integer({ min: 1, max: 8 }), codecs, (buf, max, utf8) => {
        const found: LinePiece[] = [];
        expect(splitLines(buf, max, utf8, true, found)).toBe(buf.length);
        let at = 0;
        for (const p of found) {
          expect(p.start).toBe(at);
          const body = buf.subarray(p.start, p.end);
          expect(body.includes(0x0a)).toBe(false);
          if (p.next > p.end) expect(buf[p.end]).toBe(0x0a);
          if (utf8.input === 'ISO-8859-1') expect(body.length).toBeLessThanOrEqual(max);
          else if (utf8.input === 'US-ASCII') {
            const units = [...body].filter((b) => b < 0x80 || utf8.policy !== 'IGNORE').length;
            expect(units).toBeLessThanOrEqual(max);
          } else {
            const text = body.toString('utf8');
            // A valid body never splits a character; its UTF-16 length is within max unless it is one wide character.
            if (!text.includes('\ufffd')) expect(text.length <= max || [...text].length === 1).toBe(true);
          }
          at = p.next;
        }
        expect(at).toBe(buf.length);
      }),
    );
  });
});
