import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentReader } from '../../../../operators/channels/durableLog/segmentReader.js';
import { tempDir } from '../support/support.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function segments(count: number) {
  const dir = await tempDir('rxflume-reader-');
  dirs.push(dir);
  const out: Array<{ path: string }> = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `log-${i}`);
    await fs.writeFile(file, `segment ${i}: ${'x'.repeat(100)}`);
    out.push({ path: file });
  }
  return out;
}

describe('SegmentReader', () => {
  it('reads a range, and fewer bytes where the file ends', async () => {
    const [seg] = await segments(1);
    let settled = 0;
    const reader = new SegmentReader(() => settled++);
    expect((await reader.read(seg!, 0, 9)).toString()).toBe('segment 0');
    const tail = await reader.read(seg!, 100, 50);
    expect(tail.length).toBe(11); // 111 bytes in the file
    expect(settled).toBe(2);
    await reader.close();
  });

  it('keeps at most 8 handles open, the least recently used closed first, and none after close', async () => {
    const segs = await segments(10);
    const reader = new SegmentReader();
    for (const seg of segs) await reader.read(seg, 0, 1);
    expect(reader.open).toBe(8);
    await reader.forget(segs[9]!);
    expect(reader.open).toBe(7);
    // The first two were closed; reading them again opens them anew.
    expect((await reader.read(segs[0]!, 0, 9)).toString()).toBe('segment 0');
    await reader.close();
    expect(reader.open).toBe(0);
  });

  it('is busy while a read is under way, and a failed read still settles', async () => {
    const reader = new SegmentReader();
    const missing = { path: '/nonexistent/rxflume/log-1' };
    const reading = reader.read(missing, 0, 10);
    expect(reader.busy).toBe(true);
    await expect(reading).rejects.toThrow(/ENOENT/);
    expect(reader.busy).toBe(false);
  });
});
