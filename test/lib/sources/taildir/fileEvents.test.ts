import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import { FileEvents, type FileEventsOptions } from '../../../../lib/sources/taildir/fileEvents.js';
import { TailFile } from '../../../../lib/sources/taildir/tailFile.js';

let dir: string;
const files: TailFile[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fileevents-'));
});
afterEach(() => {
  for (const f of files.splice(0)) f.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function tailed(content: string, headers: Record<string, string> = {}, maxLineLength = 1000) {
  const path = join(dir, 'app.log');
  writeFileSync(path, content);
  const file = new TailFile(statSync(path).ino, path, { name: 'g', dir, pattern: /.*/, headers }, 0, { maxLineLength, longLines: 'split' }, 0);
  expect(await file.open()).toBe(true);
  files.push(file);
  return file;
}

function setup(options: Partial<FileEventsOptions> = {}) {
  const metrics = new ComponentCounters('SOURCE', 't');
  const truncated: TailFile[] = [];
  const reader = new FileEvents(
    { batchSize: 3, readBufferBytes: 4, fileHeader: false, fileHeaderKey: 'file', byteOffsetHeader: false, ...options },
    metrics,
    (f) => {
      truncated.push(f);
      f.truncated();
    },
    () => 0,
  );
  return { reader, metrics, truncated };
}

const bodies = (events: FlumeEvent[]) => events.map((e) => e.body.toString());
const open = () => false;

describe('taildir FileEvents', () => {
  it('reads a batch of lines, each with its own headers: group, path, byte offset', async () => {
    const file = await tailed('one\ntwo\nthree\nfour\n', { team: 'a' });
    const { reader } = setup({ fileHeader: true, byteOffsetHeader: true, readBufferBytes: 64 });
    const events: FlumeEvent[] = [];
    await reader.fill(file, events, open);
    expect(bodies(events)).toEqual(['one', 'two', 'three']);
    expect(events.map((e) => e.headers)).toEqual([
      { team: 'a', file: file.path, byteoffset: '0' },
      { team: 'a', file: file.path, byteoffset: '4' },
      { team: 'a', file: file.path, byteoffset: '8' },
    ]);
    expect(events[0]!.headers).not.toBe(events[1]!.headers);
    const rest: FlumeEvent[] = [];
    await reader.fill(file, rest, open);
    expect(bodies(rest)).toEqual(['four']);
    expect(rest[0]!.headers).toEqual({ team: 'a', file: file.path, byteoffset: '14' });
  });

  it('holds a last line without newline until flushed, and counts each long line once', async () => {
    const file = await tailed('abcdefgh\nlast\npartial', {}, 4);
    const { reader, metrics } = setup({ batchSize: 10 });
    const events: FlumeEvent[] = [];
    await reader.fill(file, events, open);
    // A long line's full pieces go at once; the rest of an unfinished one waits.
    expect(bodies(events)).toEqual(['abcd', 'efgh', 'last', 'part']);
    expect(bodies(reader.flush(file))).toEqual(['ial']);
    expect(metrics.get('LongLineCount')).toBe(2);
  });

  it('sends the lines of the old content first, then reports a truncated file', async () => {
    const file = await tailed('a\nb\n');
    const { reader, truncated } = setup();
    const first: FlumeEvent[] = [];
    await reader.fill(file, first, open);
    expect(bodies(first)).toEqual(['a', 'b']);
    truncateSync(file.path, 0);
    appendFileSync(file.path, 'c\n');
    const second: FlumeEvent[] = [];
    await reader.fill(file, second, open);
    expect(truncated).toEqual([file]);
    expect(bodies(second)).toEqual(['c']);
  });

  it('counts a read error and marks the file failed', async () => {
    const file = await tailed('a\nb\n');
    const { reader, metrics } = setup();
    file.closeSync();
    file.fd = 1_000_000; // no such descriptor
    file.size = 4;
    await reader.fill(file, [], open);
    expect(metrics.get('EventReadFail')).toBe(1);
    expect(file.failed).toBe(true);
    file.fd = undefined;
  });
});
