import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  formatPositions,
  PositionWriter,
  readPositionFile,
  writePositionFile,
  writePositionFileSync,
  type PositionEntry,
} from '../../../../lib/sources/taildir/positionFile.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-taildir-pos-'));
  path = join(dir, 'nested', 'taildir_position.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('position file', () => {
  it("reads Flume's file: a missing or empty file means no positions", () => {
    expect(readPositionFile(path)).toEqual([]);
    writeFileSync(join(dir, 'empty.json'), '  \n');
    expect(readPositionFile(join(dir, 'empty.json'))).toEqual([]);
    // Gson's output, and a hand-edited one with spaces and keys in another order.
    writeFileSync(join(dir, 'flume.json'), '[{"inode":2496272,"pos":12,"file":"/var/log/test1/example.log"},\n { "file": "/b", "pos": 0, "inode": 7 }]');
    expect(readPositionFile(join(dir, 'flume.json'))).toEqual([
      { inode: 2496272, pos: 12, file: '/var/log/test1/example.log' },
      { inode: 7, pos: 0, file: '/b' },
    ]);
  });

  it('refuses what is not that format, saying which entry', () => {
    writeFileSync(join(dir, 'a.json'), '{"inode":1}');
    expect(() => readPositionFile(join(dir, 'a.json'))).toThrow(/expected a JSON array/);
    writeFileSync(join(dir, 'b.json'), '[{"inode":1,"file":"/x"}]');
    expect(() => readPositionFile(join(dir, 'b.json'))).toThrow(/entry 0 .* needs integer inode, integer pos/);
    writeFileSync(join(dir, 'c.json'), '[{"inode":1,"pos":');
    expect(() => readPositionFile(join(dir, 'c.json'))).toThrow(/is not JSON/);
  });

  it("writes Flume's layout, and reads back what it wrote", () => {
    const entry = fc.record({ inode: fc.nat(), pos: fc.nat(), file: fc.string() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (entries: PositionEntry[]) => {
        writePositionFileSync(path, entries);
        expect(readPositionFile(path)).toEqual(entries);
      }),
      { numRuns: 50 },
    );
    expect(formatPositions([{ file: '/a', pos: 3, inode: 9 } as PositionEntry])).toBe('[{"inode":9,"pos":3,"file":"/a"}]');
  });

  it('writes atomically: a temp file renamed over the old one, none left behind', async () => {
    writePositionFileSync(path, [{ inode: 1, pos: 1, file: '/a' }]);
    await writePositionFile(path, [{ inode: 1, pos: 2, file: '/a' }]);
    expect(readPositionFile(path)).toEqual([{ inode: 1, pos: 2, file: '/a' }]);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['taildir_position.json']);
    // Told not to keep it (a newer write happened meanwhile): the old content stays, the temp file goes.
    await writePositionFile(path, [{ inode: 1, pos: 3, file: '/a' }], () => false);
    expect(readPositionFile(path)).toEqual([{ inode: 1, pos: 2, file: '/a' }]);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['taildir_position.json']);
  });

  it('PositionWriter: periodic writes only when changed, a last write on close, late acks at once', async () => {
    let pos = 0;
    let failures = 0;
    const writer = new PositionWriter(path, 30, () => [{ inode: 1, pos, file: '/a' }], { failed: () => failures++, recovered: () => undefined });
    writer.changed(); // before start: nothing written
    expect(existsSync(path)).toBe(false);
    writer.start();
    await sleep(50);
    expect(readPositionFile(path)[0]!.pos).toBe(0);
    pos = 5;
    await sleep(100);
    expect(readPositionFile(path)[0]!.pos).toBe(0); // not told it changed
    writer.changed();
    for (let i = 0; i < 100 && readPositionFile(path)[0]!.pos !== 5; i++) await sleep(20);
    expect(readPositionFile(path)[0]!.pos).toBe(5);
    pos = 6;
    writer.close();
    expect(readPositionFile(path)[0]!.pos).toBe(6);
    pos = 7;
    writer.changed(); // a scan finishing after close: ignored
    expect(readPositionFile(path)[0]!.pos).toBe(6);
    writer.changed(true); // an ack arriving after close: written
    expect(readPositionFile(path)[0]!.pos).toBe(7);
    expect(failures).toBe(0);
  });

  it('PositionWriter with interval 0 writes once the turn is over, coalescing the turn', async () => {
    let pos = 0;
    let writes = 0;
    const writer = new PositionWriter(path, 0, () => (writes++, [{ inode: 1, pos, file: '/a' }]), { failed: () => undefined, recovered: () => undefined });
    writer.start();
    expect(writes).toBe(1);
    pos = 1;
    writer.changed();
    pos = 2;
    writer.changed();
    expect(readPositionFile(path)[0]!.pos).toBe(0);
    await sleep(20);
    expect(readPositionFile(path)[0]!.pos).toBe(2);
    expect(writes).toBe(2);
    writer.close();
  });

  it('PositionWriter counts a failed write and tries again', async () => {
    writeFileSync(join(dir, 'blocker'), ''); // a file where the directory should be
    let failures = 0;
    const writer = new PositionWriter(join(dir, 'blocker', 'p.json'), 20, () => [], { failed: () => failures++, recovered: () => undefined });
    writer.start();
    await sleep(100);
    writer.close();
    expect(failures).toBeGreaterThanOrEqual(2);
  });
});
