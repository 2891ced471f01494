/**
 * Fuzzing the file channel's record decoder and its recovery (fast-check). The rules under test
 * (recovery.ts): a sound record is always recovered, wherever garbage lies around it; a damaged run
 * of bytes is skipped up to the next sound record and reported; a damaged tail of the newest segment
 * is cut off; a damaged event costs only itself; nothing throws, and no allocation is larger than
 * the file being read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import { decodeCheckpoint } from '../../../../operators/channels/durableLog/checkpoint.js';
import { crc32 } from '../../../../operators/channels/durableLog/crc32.js';
import {
  checkEntry,
  decodeEntry,
  encodePut,
  encodeTake,
  entryBounds,
  FRAME_MAGIC_BYTES,
  readFrameHeader,
  readTakeRanges,
  segmentHeader,
  type FrameHeader,
} from '../../../../operators/channels/durableLog/format.js';
import type { LogLevel } from '../../../../lib/core/log.js';
import { recover } from '../../../../operators/channels/durableLog/recovery.js';
import { tempDir } from '../support/support.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

/** Heap and Buffer growth, after a full GC, allowed over a whole property run (hundreds of recoveries). */
const MEMORY_GROWTH_BOUND = 16 * 2 ** 20;
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const eventArb: fc.Arbitrary<FlumeEvent> = fc.record({
  headers: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
  body: fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)),
});

describe('file channel record decoder under arbitrary bytes', () => {
  it('never throws; whatever it accepts lies within the buffer and decodes', () => {
    const before = memory();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.boolean(), (bytes, at0, magic) => {
        const buf = Buffer.from(bytes);
        if (magic && buf.length >= 4) FRAME_MAGIC_BYTES.copy(buf, 0);
        const at = buf.length === 0 ? 0 : at0 % buf.length;
        const header = readFrameHeader(buf, at, buf.length - at);
        if (typeof header !== 'object') return;
        expect(header.length).toBeLessThanOrEqual(buf.length - at);
        if (header.type === 2) {
          readTakeRanges(buf, at, header, []);
          return;
        }
        for (let i = 0; i < header.count; i++) {
          const b = entryBounds(buf, at, header, i);
          if (!b) continue;
          expect(b[0]).toBeGreaterThanOrEqual(at + header.headerBytes);
          expect(b[1]).toBeLessThanOrEqual(at + header.length);
          const body = checkEntry(buf, b[0], b[1]);
          if (body >= 0) expect(decodeEntry(buf, b[0], b[1]).body.length).toBe(body);
        }
      }),
      { numRuns: 2000 },
    );
    expect(memory() - before).toBeLessThan(MEMORY_GROWTH_BOUND);
  });

  it('an entry whose checksum is right but whose layout is impossible is refused, never decoded wrongly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 300 }), (content) => {
        // Any entry content, sealed with a correct checksum: only the layout can refuse it.
        const entry = Buffer.alloc(4 + content.length);
        entry.set(content, 4);
        entry.writeUInt32LE(crc32(entry.subarray(4)), 0);
        const body = checkEntry(entry, 0, entry.length);
        if (body < 0) return;
        const e = decodeEntry(entry, 0, entry.length);
        expect(e.body.length).toBe(body);
        // Decoded and encoded again, it is the same entry.
        const again = encodePut([e], 0);
        const h = readFrameHeader(again, 0, again.length) as FrameHeader;
        const [s, t] = entryBounds(again, 0, h, 0)!;
        expect(decodeEntry(again, s, t)).toEqual(e);
      }),
      { numRuns: 2000 },
    );
  });

  it('a frame header whose checksum is right but whose fields are arbitrary is either refused or consistent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.nat(),
        fc.double(),
        fc.nat({ max: 40 }),
        fc.uint8Array({ maxLength: 500 }),
        (type, consistent, length, firstSeq, count, rest) => {
          // Consistent: the length a frame of this type and count needs; otherwise any length.
          const size = 28 + (consistent && type === 2 ? 12 * count : Math.max(rest.length, consistent ? 10 * count : 0));
          const buf = Buffer.alloc(size);
          buf.set(rest.subarray(0, size - 28), 28);
          buf.writeUInt32LE(0x31465852, 0);
          buf.writeUInt32LE(consistent ? size : length % (size + 8), 4);
          buf[12] = type;
          buf.writeDoubleLE(firstSeq, 16);
          buf.writeUInt32LE(count, 24);
          const headerBytes = type === 1 ? 28 + 4 * count : buf.readUInt32LE(4);
          if (headerBytes <= size) buf.writeUInt32LE(crc32(buf.subarray(12, Math.max(12, headerBytes)), crc32(buf.subarray(4, 8))), 8);
          const header = readFrameHeader(buf, 0, buf.length);
          if (typeof header !== 'object') return;
          expect(header.length).toBeLessThanOrEqual(buf.length);
          expect(header.headerBytes).toBeLessThanOrEqual(header.length);
          if (header.type === 2) {
            // Ranges of arbitrary doubles: only sequence numbers are taken as such.
            const ranges: number[] = [];
            const bad = readTakeRanges(buf, 0, header, ranges);
            expect(ranges.length / 2 + bad).toBe(header.count);
            for (let i = 0; i < ranges.length; i += 2) {
              expect(Number.isSafeInteger(ranges[i]! + ranges[i + 1]!)).toBe(true);
              expect(ranges[i]).toBeGreaterThanOrEqual(0);
              expect(ranges[i + 1]).toBeGreaterThan(0);
            }
          } else {
            expect(Number.isSafeInteger(header.firstSeq)).toBe(true);
            for (let i = 0; i < header.count; i++) {
              const b = entryBounds(buf, 0, header, i);
              if (b) checkEntry(buf, b[0], b[1]);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a checkpoint of arbitrary bytes is refused with a reason, never a throw or a large allocation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.nat(), fc.nat(), (bytes, sealed, covered, pieces) => {
        const buf = Buffer.alloc(Math.max(36, bytes.length));
        buf.set(bytes);
        if (sealed) {
          // A right magic, version and checksum around arbitrary counts.
          Buffer.from('RXFCKPT1', 'latin1').copy(buf, 0);
          buf.writeUInt32LE(1, 8);
          buf.writeUInt32LE(covered, 28);
          buf.writeUInt32LE(pieces, 32);
          buf.writeUInt32LE(crc32(buf.subarray(16)), 12);
        }
        const c = decodeCheckpoint(buf);
        if (typeof c === 'string') return;
        expect(36 + 12 * c.covered.length + 44 * c.pieces.length).toBe(buf.length);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- recovery over segments of sound records and garbage -------------------------------------

type Item =
  | { kind: 'put'; events: FlumeEvent[] }
  | { kind: 'take'; picks: number[] }
  /** Random bytes, maybe looking like the start of a record. */
  | { kind: 'noise'; bytes: Uint8Array; magic: boolean }
  /**
   * A put cut short (a torn write): never acked, so not expected back; its whole entries may come
   * back (a duplicate at worst, which is safer than cutting a record that bit rot damaged after its ack).
   */
  | { kind: 'torn'; events: FlumeEvent[]; keep: number }
  /** A put with one byte flipped: what survives of it must be intact. */
  | { kind: 'damaged'; events: FlumeEvent[]; at: number };

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), events: fc.array(eventArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('take' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('noise' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 120 }), magic: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('torn' as const), events: fc.array(eventArb, { minLength: 1, maxLength: 3 }), keep: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('damaged' as const), events: fc.array(eventArb, { minLength: 1, maxLength: 3 }), at: fc.nat() }) },
);

const caseArb = fc.record({
  segments: fc.array(fc.array(itemArb, { maxLength: 7 }), { minLength: 1, maxLength: 3 }),
  checkpoint: fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
});

interface Built {
  files: Array<{ name: string; bytes: Buffer }>;
  /** Events of sound puts, by sequence number. */
  sound: Map<number, FlumeEvent>;
  /** Events of damaged or torn puts: may come back, intact, or not at all. */
  maybe: Map<number, FlumeEvent>;
  taken: Set<number>;
  /** Runs of garbage (noise, torn or damaged records) holding at least one noise or torn record, per segment. */
  garbageRuns: number;
  maxSeq: number;
}

function build(c: { segments: Item[][]; checkpoint: Uint8Array | undefined }): Built {
  const sound = new Map<number, FlumeEvent>();
  const maybe = new Map<number, FlumeEvent>();
  const taken = new Set<number>();
  const put: number[] = [];
  let seq = 0;
  let garbageRuns = 0;
  const files = c.segments.map((items, s) => {
    const parts: Buffer[] = [segmentHeader(s + 1)];
    let inRun = false;
    let runCounts = false;
    const endRun = () => {
      if (inRun && runCounts) garbageRuns++;
      inRun = false;
      runCounts = false;
    };
    for (const item of items) {
      if (item.kind === 'put') {
        endRun();
        parts.push(encodePut(item.events, seq));
        item.events.forEach((e, i) => {
          sound.set(seq + i, e);
          put.push(seq + i);
        });
        seq += item.events.length;
      } else if (item.kind === 'take') {
        if (put.length === 0) continue;
        endRun();
        const ranges: number[] = [];
        for (const p of item.picks) {
          const n = put[p % put.length]!;
          taken.add(n);
          ranges.push(n, 1);
        }
        parts.push(encodeTake(ranges));
      } else {
        inRun = true;
        if (item.kind === 'noise') {
          runCounts = true;
          const bytes = Buffer.from(item.bytes);
          parts.push(item.magic ? Buffer.concat([FRAME_MAGIC_BYTES, bytes]) : bytes);
        } else if (item.kind === 'torn') {
          runCounts = true;
          const frame = encodePut(item.events, seq);
          item.events.forEach((e, i) => maybe.set(seq + i, e));
          seq += item.events.length;
          parts.push(frame.subarray(0, 1 + (item.keep % (frame.length - 1))));
        } else {
          const frame = encodePut(item.events, seq);
          frame[item.at % frame.length] ^= 0x20;
          item.events.forEach((e, i) => maybe.set(seq + i, e));
          seq += item.events.length;
          parts.push(frame);
        }
      }
    }
    endRun();
    return { name: `log-${s + 1}`, bytes: Buffer.concat(parts) };
  });
  return { files, sound, maybe, taken, garbageRuns, maxSeq: seq - 1 };
}

/** Recoveries per run; RXFLUME_FUZZ_RUNS=20000 for a long campaign (the test's timeout grows with it). */
const RECOVERY_RUNS = Number(process.env['RXFLUME_FUZZ_RUNS'] ?? 300);
const REPLAY = process.env['RXFLUME_FUZZ_SEED'] ? { seed: Number(process.env['RXFLUME_FUZZ_SEED']), path: process.env['RXFLUME_FUZZ_PATH'] ?? '0' } : undefined;

describe('file channel recovery over fuzzed segments', () => {
  it('recovers every sound record around garbage, skips and reports the garbage, never throws, allocates no more than a file', async () => {
    const root = await tempDir('rxflume-fc-fuzz-');
    dirs.push(root);
    const before = memory();
    let cases = 0;
    let mostAllocated = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = path.join(root, String(cases++));
        const data = path.join(dir, 'data');
        const checkpointDir = path.join(dir, 'checkpoint');
        await fs.mkdir(data, { recursive: true });
        await fs.mkdir(checkpointDir, { recursive: true });
        const b = build(c);
        for (const f of b.files) await fs.writeFile(path.join(data, f.name), f.bytes);
        if (c.checkpoint) await fs.writeFile(path.join(checkpointDir, 'checkpoint'), c.checkpoint);
        const largestFile = Math.max(...b.files.map((f) => f.bytes.length), c.checkpoint?.length ?? 0);

        const logged: Array<[LogLevel, string]> = [];
        // Every Buffer allocation during recovery, by size (a plain wrapper: a spy would keep every result).
        const sizes: number[] = [];
        const names = ['allocUnsafe', 'alloc', 'allocUnsafeSlow'] as const;
        const originals = names.map((name) => Buffer[name]);
        names.forEach((name, i) => {
          const original = originals[i] as (size: number, ...rest: unknown[]) => Buffer;
          (Buffer as unknown as Record<string, unknown>)[name] = (size: number, ...rest: unknown[]) => {
            sizes.push(size);
            return original.call(Buffer, size, ...rest);
          };
        });
        let r: Awaited<ReturnType<typeof recover>>;
        try {
          r = await recover([data], checkpointDir, (level, message) => logged.push([level, message]));
        } finally {
          names.forEach((name, i) => ((Buffer as unknown as Record<string, unknown>)[name] = originals[i]));
        }
        mostAllocated = Math.max(mostAllocated, ...sizes);
        // No allocation beyond the largest file read (or Node's 64 KiB chunk for reading an empty one).
        expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(Math.max(largestFile, 64 * 1024));

        // Every live event comes back intact; every sound, untaken one comes back.
        const back = new Map<number, FlumeEvent>();
        for (const p of r.pieces) {
          const file = r.segments.find((s) => s.id === p.seg)!;
          const buf = (await fs.readFile(file.path)).subarray(p.off, p.off + p.len);
          const header = readFrameHeader(buf, 0, buf.length) as FrameHeader;
          for (let i = p.from; i < p.to; i++) {
            const [s, t] = entryBounds(buf, 0, header, i)!;
            back.set(p.firstSeq + i, decodeEntry(buf, s, t));
          }
        }
        const expected = [...b.sound.keys()].filter((n) => !b.taken.has(n)).sort((x, y) => x - y);
        const got = [...back.keys()].sort((x, y) => x - y);
        expect(got.filter((n) => b.sound.has(n))).toEqual(expected);
        for (const [n, e] of back) {
          const original = b.sound.get(n) ?? b.maybe.get(n);
          expect(original, `sequence ${n} was never put`).toBeDefined();
          expect(b.taken.has(n)).toBe(false);
          expect(e.body.equals(original!.body)).toBe(true);
        }
        // Each run of garbage is reported (damaged bytes skipped, or a torn tail cut off).
        expect(r.report.corruptRecords + (r.report.tornBytes > 0 ? 1 : 0)).toBeGreaterThanOrEqual(b.garbageRuns);
        expect(r.nextSeq).toBeGreaterThan(Math.max(-1, ...got, ...[...b.taken]));
        if (c.checkpoint) expect(logged.some(([, m]) => /checkpoint .* is unusable/.test(m))).toBe(true);

        // Recovering again finds the same events, and no torn tail (it was cut the first time).
        const again = await recover([data], checkpointDir, () => undefined);
        expect(again.pieces.map((p) => [p.firstSeq + p.from, p.to - p.from])).toEqual(r.pieces.map((p) => [p.firstSeq + p.from, p.to - p.from]));
        expect(again.report.tornBytes).toBe(0);
        await fs.rm(dir, { recursive: true, force: true });
      }),
      // A run that never settles fails on its own, with the seed and the case to replay it (CI once
      // saw this property hit the test's timeout, which prints neither).
      // RXFLUME_FUZZ_SEED and RXFLUME_FUZZ_PATH (from a failure's report) replay one case and shrink it.
      REPLAY ? { ...REPLAY, timeout: 20_000 } : { numRuns: RECOVERY_RUNS, timeout: 20_000, endOnFailure: true },
    );
    const growth = memory() - before;
    console.log(
      `fuzzed recovery: ${cases} cases; largest single allocation ${mostAllocated} bytes; ` +
        `heap+external growth after GC ${(growth / 2 ** 20).toFixed(2)} MB (bound ${MEMORY_GROWTH_BOUND / 2 ** 20} MB)`,
    );
    expect(growth).toBeLessThan(MEMORY_GROWTH_BOUND);
  }, REPLAY ? 1_800_000 : Math.max(120_000, RECOVERY_RUNS * 400));
});
