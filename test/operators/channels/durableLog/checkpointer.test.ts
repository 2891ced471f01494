import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { event } from '../../../../lib/core/event.js';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import { readCheckpoint, type Checkpoint } from '../../../../operators/channels/durableLog/checkpoint.js';
import { Checkpointer } from '../../../../operators/channels/durableLog/checkpointer.js';
import { encodePut } from '../../../../operators/channels/durableLog/format.js';
import type { Piece } from '../../../../operators/channels/durableLog/pieces.js';
import { SegmentLog, type Segment } from '../../../../operators/channels/durableLog/segmentLog.js';
import { memoryLogger, tempDir } from '../support/support.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup(checkpointDirName = 'checkpoint') {
  const root = await tempDir('rxflume-ckpt-');
  const dataDir = path.join(root, 'data');
  const checkpointDir = path.join(root, checkpointDirName);
  await fs.mkdir(dataDir);
  await fs.mkdir(path.join(root, 'checkpoint'));
  const log = memoryLogger();
  const segments = new SegmentLog(
    {
      dataDirs: [dataDir],
      checkpointDir,
      maxFileSize: 1 << 20,
      fsync: 'transaction',
      fsyncIntervalMs: 1000,
      minimumRequiredSpace: 0,
      freeSpace: () => Infinity,
      logger: log.logger,
    },
    [],
    1,
  );
  const live: Piece[] = [];
  const metrics = new ComponentCounters('CHANNEL', 'test');
  const checkpointer = new Checkpointer(segments, { checkpointDir, checkpointIntervalMs: 60_000, fsync: 'transaction', logger: log.logger }, metrics, () => ({
    nextSeq: 4,
    pieces: live,
  }));
  cleanup.push(async () => {
    await checkpointer.stop();
    await segments.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  return { segments, checkpointer, live, metrics, lines: log.lines, checkpointDir };
}

/** Appends a put frame of four events and returns the piece pointing at it. */
async function putFour(segments: SegmentLog): Promise<Piece> {
  const frame = encodePut(['a', 'bb', 'ccc', 'dddd'].map((b) => event(b)), 0);
  const { seg, off } = await new Promise<{ seg: Segment; off: number }>((resolve, reject) =>
    segments.append(frame, true, (error, seg, off) => (error ? reject(error) : resolve({ seg, off }))),
  );
  seg.live += 4;
  return { seg, off, len: frame.length, firstSeq: 0, count: 4, from: 0, to: 4, bytes: 10, events: undefined };
}

async function read(dir: string): Promise<Checkpoint | undefined> {
  const cp = await readCheckpoint(dir);
  if (typeof cp === 'string') throw new Error(cp);
  return cp;
}

describe('Checkpointer', () => {
  it('writes nothing until something changed, then the live pieces, the next sequence and the covered sizes', async () => {
    const t = await setup();
    await t.checkpointer.checkpoint();
    expect(await read(t.checkpointDir)).toBeUndefined();
    const piece = await putFour(t.segments);
    t.live.push(piece);
    t.checkpointer.touch();
    await t.checkpointer.checkpoint();
    const cp = (await read(t.checkpointDir))!;
    expect(cp.nextSeq).toBe(4);
    expect(cp.pieces).toEqual([{ seg: piece.seg.id, off: piece.off, len: piece.len, firstSeq: 0, count: 4, from: 0, to: 4, bytes: 10 }]);
    expect(cp.covered).toEqual([{ id: piece.seg.id, size: piece.seg.synced }]);
  });

  it('deletes a segment with nothing live once a checkpoint covers it, never the one being written', async () => {
    const t = await setup();
    const piece = await putFour(t.segments);
    piece.seg.live = 0;
    t.checkpointer.touch();
    await t.checkpointer.checkpoint();
    expect(existsSync(piece.seg.path)).toBe(true); // still active
    await t.segments.retire();
    t.checkpointer.touch();
    await t.checkpointer.checkpoint();
    expect(existsSync(piece.seg.path)).toBe(false);
    expect(t.segments.segments.size).toBe(0);
  });

  it('a timed checkpoint runs when scheduled, and none after stop', async () => {
    const t = await setup();
    t.checkpointer.touch();
    t.checkpointer.schedule(0);
    for (let i = 0; i < 100 && !existsSync(path.join(t.checkpointDir, 'checkpoint')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await read(t.checkpointDir)).toMatchObject({ nextSeq: 4, pieces: [] }); // what the snapshot function gave
    await fs.rm(path.join(t.checkpointDir, 'checkpoint'));
    t.checkpointer.touch();
    await t.checkpointer.stop();
    t.checkpointer.schedule(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(await read(t.checkpointDir)).toBeUndefined();
  });

  it('a checkpoint that cannot be written is counted, logged, and tried again next time', async () => {
    const t = await setup('missing-dir');
    t.checkpointer.touch();
    await t.checkpointer.checkpoint();
    expect(t.metrics.get('CheckpointWriteErrorCount')).toBe(1);
    expect(t.lines.some((l) => l.level === 'warn' && /cannot write the checkpoint: ENOENT/.test(l.message))).toBe(true);
    await fs.mkdir(t.checkpointDir);
    await t.checkpointer.checkpoint();
    expect(await read(t.checkpointDir)).toMatchObject({ nextSeq: 4, pieces: [] }); // what the snapshot function gave
  });
});
