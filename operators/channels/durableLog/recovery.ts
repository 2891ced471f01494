/**
 * Opening the log after a stop or a crash: load the checkpoint, replay the frames written after it,
 * cut off a torn record at a segment's tail, skip and report damaged records, and return the live
 * events as pointers, oldest first. Nothing here throws on bad data: a damaged log is reported and
 * opened, never a crash loop.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ComponentLogger } from '../../../lib/core/log.js';
import { CHECKPOINT_TMP, readCheckpoint, type Checkpoint, type PiecePointer } from './checkpoint.js';
import {
  checkEntry,
  entryBounds,
  FRAME_MAGIC_BYTES,
  FRAME_PUT,
  readFrameHeader,
  readSegmentHeader,
  readTakeRanges,
  SEGMENT_HEADER_BYTES,
  type FrameHeader,
} from './format.js';

export interface SegmentFile {
  id: number;
  dir: string;
  path: string;
  size: number;
  /** Bytes the checkpoint accounts for (0 without one). */
  checkpointed: number;
  /** End of the last take frame found after them (0: none). */
  takesEnd: number;
}

export interface RecoveryReport {
  usedCheckpoint: boolean;
  replayedFrames: number;
  replayedBytes: number;
  /** Damaged records skipped (an event entry, or a run of bytes between two sound frames). */
  corruptRecords: number;
  /** Bytes cut off segment tails: a frame being written when the process died. */
  tornBytes: number;
  /** Live events whose segment file is missing. */
  lostEvents: number;
  /** Events of the checkpoint in segments emptied (all taken) while no checkpoint could be written. */
  freedEvents: number;
}

export interface Recovered {
  segments: SegmentFile[];
  /** Live events, oldest first; `bytes` is -1 where a take cut a frame and the bodies must be read to know. */
  pieces: PiecePointer[];
  nextSeq: number;
  nextSegmentId: number;
  report: RecoveryReport;
}

const SEGMENT_NAME = /^log-(\d+)$/;
const WINDOW = 8 << 20;

export async function recover(dataDirs: readonly string[], checkpointDir: string, log: ComponentLogger): Promise<Recovered> {
  await removeOr(path.join(checkpointDir, CHECKPOINT_TMP), log);
  let checkpoint: Checkpoint | undefined;
  const read = await readCheckpoint(checkpointDir);
  if (typeof read === 'string') log('warn', `checkpoint in ${checkpointDir} is unusable (${read}); replaying every segment`);
  else checkpoint = read;

  const report: RecoveryReport = {
    usedCheckpoint: checkpoint !== undefined,
    replayedFrames: 0,
    replayedBytes: 0,
    corruptRecords: 0,
    tornBytes: 0,
    lostEvents: 0,
    freedEvents: 0,
  };
  const found = await listSegments(dataDirs, log);
  const covered = new Map((checkpoint?.covered ?? []).map((c) => [c.id, c.size]));
  const newestInDir = new Map<string, number>();
  for (const s of found) newestInDir.set(s.dir, Math.max(newestInDir.get(s.dir) ?? -1, s.id));

  const segments: SegmentFile[] = [];
  const pieces: PiecePointer[] = [];
  const takes: number[] = [];
  /** Segments emptied to free space (see SegmentLog.empty): whatever the checkpoint places there was taken. */
  const emptied = new Set<number>();
  let maxSeq = (checkpoint?.nextSeq ?? 0) - 1;
  let maxId = (checkpoint?.nextSegmentId ?? 0) - 1;

  for (const seg of found) {
    maxId = Math.max(maxId, seg.id);
    const coveredBytes = covered.get(seg.id);
    if (checkpoint && coveredBytes === undefined && seg.id < checkpoint.nextSegmentId) {
      // Emptied and deleted after an earlier checkpoint; the unlink did not survive the crash.
      await removeOr(seg.path, log);
      continue;
    }
    const newest = newestInDir.get(seg.dir) === seg.id;
    if (seg.size === 0) {
      if (coveredBytes !== undefined && coveredBytes > 0) {
        // Emptied to free space: kept (empty) until a checkpoint that no longer needs it is written.
        emptied.add(seg.id);
        segments.push(seg);
      } else {
        await removeOr(seg.path, log); // created, never written
      }
      continue;
    }
    if (seg.size < SEGMENT_HEADER_BYTES) {
      if (!newest) log('warn', `segment ${seg.path} is shorter than its header; removing it`);
      await removeOr(seg.path, log);
      continue;
    }
    seg.checkpointed = Math.min(coveredBytes ?? 0, seg.size);
    const scan = await scanSegment(seg, seg.checkpointed, newest, log, report);
    for (const p of scan.pieces) pieces.push(p);
    for (const t of scan.takes) takes.push(t);
    maxSeq = Math.max(maxSeq, scan.maxSeq);
    segments.push(seg);
  }

  // A take names sequence numbers that were used, even when the put holding them is gone (its segment
  // emptied): new puts must not reuse them, or a replayed take would remove them.
  for (let i = 0; i < takes.length; i += 2) maxSeq = Math.max(maxSeq, takes[i]! + takes[i + 1]! - 1);
  const present = new Set(segments.map((s) => s.id));
  if (checkpoint) {
    for (const p of checkpoint.pieces) {
      if (emptied.has(p.seg)) report.freedEvents += p.to - p.from;
      else if (present.has(p.seg)) pieces.push(p);
      else report.lostEvents += p.to - p.from;
    }
    if (report.freedEvents > 0) {
      log('info', `${report.freedEvents} events of the checkpoint were in segments emptied to free space (all of them had been taken)`);
    }
    if (report.lostEvents > 0) {
      log('error', `${report.lostEvents} events of the checkpoint are in segment files that no longer exist (were dataDirs changed or files removed?)`);
    }
  }

  return {
    segments,
    pieces: subtractTakes(pieces, takes),
    nextSeq: maxSeq + 1,
    nextSegmentId: maxId + 1,
    report,
  };
}

/** Removes a file recovery has no use for; one it cannot remove (a read-only disk) is left for next time. */
async function removeOr(file: string, log: ComponentLogger): Promise<void> {
  try {
    await fs.rm(file, { force: true });
  } catch (error) {
    log('warn', `cannot remove ${file}: ${(error as Error).message}`);
  }
}

async function listSegments(dataDirs: readonly string[], log: ComponentLogger): Promise<SegmentFile[]> {
  const byId = new Map<number, SegmentFile>();
  for (const dir of dataDirs) {
    for (const name of await fs.readdir(dir)) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const id = Number(m[1]);
      const file = path.join(dir, name);
      const other = byId.get(id);
      if (other) {
        log('error', `segment id ${id} appears twice (${other.path}, ${file}); ignoring ${file}`);
        continue;
      }
      byId.set(id, { id, dir, path: file, size: (await fs.stat(file)).size, checkpointed: 0, takesEnd: 0 });
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** A window over a file: the bytes [base, base + view.length). */
class Window {
  view: Buffer = Buffer.alloc(0);
  base = 0;

  constructor(
    private readonly file: fs.FileHandle,
    readonly size: number,
  ) {}

  /** Makes [pos, pos + n) available and returns where it starts in `view`. */
  async at(pos: number, n: number): Promise<number> {
    if (pos >= this.base && pos + n <= this.base + this.view.length) return pos - this.base;
    const length = Math.min(Math.max(n, WINDOW), this.size - pos);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(buf, done, length - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    this.view = buf.subarray(0, done);
    this.base = pos;
    return 0;
  }
}

interface Scan {
  pieces: PiecePointer[];
  takes: number[];
  maxSeq: number;
}

async function scanSegment(seg: SegmentFile, coveredBytes: number, newest: boolean, log: ComponentLogger, report: RecoveryReport): Promise<Scan> {
  const scan: Scan = { pieces: [], takes: [], maxSeq: -1 };
  const file = await fs.open(seg.path, 'r');
  try {
    const win = new Window(file, seg.size);
    let pos = coveredBytes;
    if (pos < SEGMENT_HEADER_BYTES) {
      const at = await win.at(0, SEGMENT_HEADER_BYTES);
      const id = readSegmentHeader(win.view.subarray(at, at + SEGMENT_HEADER_BYTES));
      if (id !== seg.id) {
        report.corruptRecords++;
        log('warn', `segment ${seg.path} has a damaged header; reading its frames anyway`);
      }
      pos = SEGMENT_HEADER_BYTES;
    }
    // Sequence numbers only grow within a segment: a "frame" found while resynchronising whose
    // numbers go backwards is an event body that happens to look like one.
    let lastSeq = -1;
    // The last frame read whole: where it started, and where it ended.
    let lastStart = -1;
    let lastEnd = -1;
    while (pos < seg.size) {
      const header = await frameAt(win, pos);
      if (header && (header.type !== FRAME_PUT || header.firstSeq > lastSeq)) {
        const at = await win.at(pos, header.length);
        if (header.type === FRAME_PUT) {
          const entries = collectPieces(seg, win.view, at, pos, header);
          if (entries.damaged.length > 0) {
            // A record torn by a failed write, with the next records written after it: its header is
            // whole but its length runs over them. Those are sound; it is not.
            const inner = await nextFrame(win, pos + 1, header.firstSeq + header.count - 1, pos + header.length, true);
            if (inner >= 0) {
              report.corruptRecords++;
              log('warn', `skipped ${inner - pos} damaged bytes at ${seg.path}@${pos} (a torn record, up to the next sound record at @${inner})`);
              scan.maxSeq = Math.max(scan.maxSeq, header.firstSeq + header.count - 1);
              pos = inner;
              continue;
            }
          }
          for (const p of entries.pieces) scan.pieces.push(p);
          for (const d of entries.damaged) {
            report.corruptRecords++;
            log('warn', `skipped a damaged event (sequence ${header.firstSeq + d.index}, entry ${d.index} of the put at @${pos}) at ${seg.path}@${d.at}`);
          }
          lastSeq = header.firstSeq + header.count - 1;
          scan.maxSeq = Math.max(scan.maxSeq, lastSeq);
        } else {
          if (readTakeRanges(win.view, at, header, scan.takes) > 0) {
            report.corruptRecords++;
            log('warn', `skipped impossible take ranges in the record at ${seg.path}@${pos}`);
          }
          seg.takesEnd = pos + header.length;
        }
        report.replayedFrames++;
        report.replayedBytes += header.length;
        lastStart = pos;
        pos += header.length;
        lastEnd = pos;
        continue;
      }
      const inside = pos === lastEnd ? await overlappingFrame(win, lastStart + 1, pos, lastSeq) : -1;
      if (inside >= 0) {
        report.corruptRecords++;
        log('warn', `the record at ${seg.path}@${lastStart} was torn, and the record written after it at @${inside} supplied its missing bytes; both read`);
        pos = inside;
        lastEnd = -1;
        continue;
      }
      const next = await nextFrame(win, pos + 1, lastSeq);
      if (next >= 0) {
        report.corruptRecords++;
        log('warn', `skipped ${next - pos} damaged bytes at ${seg.path}@${pos} (up to the next sound record at @${next})`);
        pos = next;
        continue;
      }
      if (newest) {
        // The frame being written when the process stopped: it was never acked.
        report.tornBytes += seg.size - pos;
        log('warn', `cut off a torn record of ${seg.size - pos} bytes at the tail of ${seg.path}@${pos}`);
        await fs.truncate(seg.path, pos).catch((error: unknown) =>
          // Read-only: the segment is never appended to again, and the next open cuts it.
          log('warn', `cannot cut ${seg.path}: ${(error as Error).message}`),
        );
        seg.size = pos;
      } else {
        report.corruptRecords++;
        log('warn', `skipped ${seg.size - pos} damaged bytes at the tail of ${seg.path}@${pos}`);
      }
      break;
    }
  } finally {
    await file.close();
  }
  return scan;
}

async function frameAt(win: Window, pos: number): Promise<FrameHeader | undefined> {
  const remaining = win.size - pos;
  let at = await win.at(pos, Math.min(remaining, 28));
  let header = readFrameHeader(win.view, at, remaining);
  if (typeof header === 'number') {
    at = await win.at(pos, header);
    header = readFrameHeader(win.view, at, remaining);
  }
  return typeof header === 'object' ? header : undefined;
}

/**
 * Offset of the next sound frame at or after `from` (and before `limit`), or -1. With `readable`, a put
 * frame counts only if one of its events reads sound: a frame found inside a torn one must not be torn
 * itself, or whether it counts would hang on how much of the file follows it, and a second recovery
 * (after the first cut a torn tail) would decide differently.
 */
async function nextFrame(win: Window, from: number, lastSeq: number, limit = win.size, readable = false): Promise<number> {
  let pos = from;
  while (pos + FRAME_MAGIC_BYTES.length <= limit) {
    const at = await win.at(pos, Math.min(win.size - pos, WINDOW));
    const hit = win.view.indexOf(FRAME_MAGIC_BYTES, at);
    if (hit < 0) {
      // Keep the last bytes: a magic may straddle two windows.
      pos = win.base + win.view.length - (FRAME_MAGIC_BYTES.length - 1);
      if (win.base + win.view.length >= win.size) return -1;
      continue;
    }
    const candidate = win.base + hit;
    if (candidate >= limit) return -1;
    const header = await frameAt(win, candidate);
    if (header && (header.type !== FRAME_PUT || (header.firstSeq > lastSeq && (!readable || (await hasSoundEntry(win, candidate, header)))))) return candidate;
    pos = candidate + 1;
  }
  return -1;
}

/**
 * A sound frame that starts inside the frame read before `end` and runs past `end`. A write cut short
 * leaves a frame without its last bytes; when the next record written after it starts with the very
 * bytes it lacked (a body ending in 'R', the first byte of a frame's magic), the torn frame checks out
 * whole and hides the start of the next one. Its bytes are the ones meant, so it is kept (a duplicate at
 * worst); the one under it is acked data and must not be cut off as a torn tail. A frame lying wholly
 * inside an event body does not run past its end, so a body cannot smuggle one in this way.
 */
async function overlappingFrame(win: Window, from: number, end: number, lastSeq: number): Promise<number> {
  let at = from;
  for (;;) {
    const candidate = await nextFrame(win, at, lastSeq, end, true);
    if (candidate < 0) return -1;
    const header = await frameAt(win, candidate);
    if (header && candidate + header.length > end) return candidate;
    at = candidate + 1;
  }
}

async function hasSoundEntry(win: Window, pos: number, header: FrameHeader): Promise<boolean> {
  const at = await win.at(pos, header.length);
  for (let i = 0; i < header.count; i++) {
    const bounds = entryBounds(win.view, at, header, i);
    if (bounds && checkEntry(win.view, bounds[0], bounds[1]) >= 0) return true;
  }
  return false;
}

/** Pieces of the sound entries of a put frame, and where its damaged entries are (file offsets). */
function collectPieces(
  seg: SegmentFile,
  buf: Buffer,
  at: number,
  pos: number,
  header: FrameHeader,
): { pieces: PiecePointer[]; damaged: Array<{ index: number; at: number }> } {
  const pieces: PiecePointer[] = [];
  const damaged: Array<{ index: number; at: number }> = [];
  let runFrom = -1;
  let runBytes = 0;
  const close = (to: number): void => {
    if (runFrom < 0) return;
    pieces.push({ seg: seg.id, off: pos, len: header.length, firstSeq: header.firstSeq, count: header.count, from: runFrom, to, bytes: runBytes });
    runFrom = -1;
  };
  for (let i = 0; i < header.count; i++) {
    const bounds = entryBounds(buf, at, header, i);
    const body = bounds ? checkEntry(buf, bounds[0], bounds[1]) : -1;
    if (body >= 0) {
      if (runFrom < 0) {
        runFrom = i;
        runBytes = 0;
      }
      runBytes += body;
      continue;
    }
    close(i);
    damaged.push({ index: i, at: bounds ? pos + (bounds[0] - at) : pos });
  }
  close(header.count);
  return { pieces, damaged };
}

/** Removes the taken sequence ranges from the pieces; pieces come back sorted by sequence. */
export function subtractTakes(pieces: PiecePointer[], takes: readonly number[]): PiecePointer[] {
  pieces.sort((a, b) => a.firstSeq + a.from - (b.firstSeq + b.from));
  if (takes.length === 0) return pieces;
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < takes.length; i += 2) ranges.push([takes[i]!, takes[i]! + takes[i + 1]!]);
  ranges.sort((a, b) => a[0] - b[0]);
  const out: PiecePointer[] = [];
  let r = 0;
  for (const p of pieces) {
    let from = p.firstSeq + p.from;
    const to = p.firstSeq + p.to;
    while (r < ranges.length && ranges[r]![1] <= from) r++;
    let k = r;
    let cut = false;
    while (from < to) {
      const range = ranges[k];
      if (!range || range[0] >= to) {
        out.push(cut ? { ...p, from: from - p.firstSeq, to: to - p.firstSeq, bytes: -1 } : p);
        break;
      }
      cut = true;
      if (range[0] > from) out.push({ ...p, from: from - p.firstSeq, to: range[0] - p.firstSeq, bytes: -1 });
      from = Math.max(from, range[1]);
      k++;
    }
  }
  return out;
}
