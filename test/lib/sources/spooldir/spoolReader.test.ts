import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolReader } from '../../../../lib/sources/spooldir/spoolReader.js';
import { bodies } from '../../../support/batches.js';
import { spoolHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.cleanup());

function reader(batchSize = 2) {
  h = spoolHarness();
  const r = new SpoolReader({ batchSize, pollDelayMs: 5, queue: h.queue, complete: h.complete, progress: h.progress, read: h.read, signal: h.stop.signal });
  return { h, r };
}

/** Whether `p` settled within a few event-loop turns. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
  return done;
}

describe('spooldir SpoolReader', () => {
  it("sends a file's lines in batches, records each acked offset, completes the file once all are acked, then reads the next", async () => {
    const { h, r } = reader();
    writeFileSync(join(h.spoolDir, 'a.log'), 'one\ntwo\nthree\n');
    const first = await r.next();
    expect(bodies(first)).toEqual(['one', 'two']);
    expect(first.events[0]!.headers).toEqual({ basename: 'a.log' });
    first.commit!();
    expect(h.tracked()).toMatchObject({ file: 'a.log', pos: 8 });
    const second = await r.next();
    expect(bodies(second)).toEqual(['three']);
    writeFileSync(join(h.spoolDir, 'b.log'), 'four\n');
    // The next poll waits for the last batch's ack before completing the file.
    const third = r.next();
    expect(await settles(third)).toBe(false);
    expect(existsSync(join(h.spoolDir, 'a.log'))).toBe(true);
    second.commit!();
    expect(bodies(await third)).toEqual(['four']);
    expect(existsSync(join(h.spoolDir, 'a.log.COMPLETED'))).toBe(true);
    expect(h.tracked()).toBeUndefined();
  });

  it('sends a nacked batch again, before anything else, after the back-off', async () => {
    const { h, r } = reader(1);
    writeFileSync(join(h.spoolDir, 'a.log'), 'one\ntwo\n');
    const first = await r.next();
    first.rollback!(new Error('full'));
    const again = await r.next();
    expect(bodies(again)).toEqual(['one']);
    again.commit!();
    expect(bodies(await r.next())).toEqual(['two']);
  });

  it('gives one event with an empty body for an empty file, as Flume', async () => {
    const { h, r } = reader();
    writeFileSync(join(h.spoolDir, 'empty.log'), '');
    const b = await r.next();
    expect(b.events).toEqual([{ headers: { basename: 'empty.log' }, body: Buffer.alloc(0) }]);
  });

  it('rejects with the failure of a file that cannot be read; a reader stopped before its first poll never settles', async () => {
    const { h, r } = reader();
    writeFileSync(join(h.spoolDir, 'bad.log'), Buffer.from([0x61, 0xff, 0x0a]));
    await expect(r.next()).rejects.toThrow(/bytes at offset 1 are not valid UTF-8/);
    h.cleanup();
    const other = reader();
    other.h.stop.abort(); // stopped first: never started, never settles
    expect(await settles(other.r.next())).toBe(false);
  });

  it('once stopped: next never settles, acks are not recorded, close closes the tracker', async () => {
    const { h, r } = reader();
    writeFileSync(join(h.spoolDir, 'a.log'), 'one\ntwo\nthree\n');
    const first = await r.next();
    h.stop.abort();
    first.commit!();
    r.close();
    expect(h.tracked()).toBeUndefined();
    expect(await settles(r.next())).toBe(false);
    expect(() => h.progress.tracker.save({ file: null, ino: '0', size: 0, mtimeNs: '0', pos: 0 })).toThrow('tracker is not open');
  });
});
