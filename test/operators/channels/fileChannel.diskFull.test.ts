/**
 * A full disk, for real: the channel's directories on a small tmpfs (mounted here, as root), filled
 * up with a filler file until writes fail with ENOSPC, then given space back.
 */
import fs from 'node:fs/promises';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { ChannelFullError } from '../../../lib/core/errors.js';
import type { LogLevel } from '../../../lib/core/log.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { fileChannel, type FileChannelOptions } from '../../../operators/channels/fileChannel.js';
import { bodies, range } from '../../support/batches.js';
import { harness, memoryLogger, tempDir, until } from './support/support.js';

let mount: string;
const subs: Subscription[] = [];

beforeAll(async () => {
  mount = await tempDir('rxflume-fc-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
});

afterEach(async () => {
  for (const s of subs.splice(0)) s.unsubscribe();
  await new Promise((r) => setTimeout(r, 100));
  for (const name of await fs.readdir(mount)) await fs.rm(path.join(mount, name), { recursive: true, force: true });
});

afterAll(async () => {
  execFileSync('umount', ['-l', mount]);
  await fs.rm(mount, { recursive: true, force: true });
});

/** Writes a filler file until the file system is full; returns its path. */
function fillUp(file: string): string {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (let i = 0; i < 1024; i++) {
      try {
        writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // The last pages, smaller than a chunk.
        for (let j = 0; j < 64; j++) {
          try {
            writeSync(fd, chunk.subarray(0, 1024));
          } catch {
            return file;
          }
        }
        return file;
      }
    }
  } finally {
    closeSync(fd);
  }
  throw new Error('the file system never filled up');
}

async function segments(dir: string): Promise<Array<{ name: string; size: number }>> {
  const out: Array<{ name: string; size: number }> = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.startsWith('log-')) continue;
    const stat = await fs.stat(path.join(dir, name)).catch(() => undefined); // deleted meanwhile
    if (stat) out.push({ name, size: stat.size });
  }
  return out.sort((a, b) => Number(a.name.slice(4)) - Number(b.name.slice(4)));
}

async function usedBytes(dir: string): Promise<number> {
  let n = 0;
  for (const s of await segments(dir)) n += s.size;
  return n;
}

const BODY = 1000;
const body = (n: number) => String(n).padEnd(BODY, '.');

describe('fileChannel on a full disk (tmpfs)', () => {
  it('refuses puts without creating files, frees what was taken, resumes puts by itself, and loses nothing acked', async () => {
    const root = path.join(mount, 'full');
    const dataDir = path.join(root, 'data');
    const { logger, lines } = memoryLogger();
    const opts: FileChannelOptions = {
      checkpointDir: path.join(root, 'checkpoint'),
      dataDirs: [dataDir],
      minimumRequiredSpace: 0,
      maxFileSize: 256 * 1024,
      capacity: 100_000,
      transactionCapacity: 100,
      keepAliveMs: 0,
      checkpointIntervalMs: 100,
      logger,
    };
    const channel = fileChannel(opts);
    const h = harness(channel);
    subs.push(h.sub);
    const acked: number[] = [];
    let next = 0;
    const putBatch = async (): Promise<boolean> => {
      const from = next;
      const rec = h.put(...range(from, 100).map(body));
      await until(() => rec.acked + rec.nacked.length > 0, 'the put to settle');
      if (rec.acked === 0) return false;
      acked.push(...range(from, 100));
      next += 100;
      return true;
    };
    // ~4 MB stored, in ~16 segments; the sink holds its first take.
    for (let k = 0; k < 40; k++) expect(await putBatch()).toBe(true);
    await until(() => h.takes.length === 1, 'the first take');

    const filler = fillUp(path.join(mount, 'filler'));
    const before = await segments(dataDir);
    const refusals: Error[] = [];
    for (let k = 0; k < 20; k++) {
      const rec = h.put(...range(1_000_000 + k * 100, 100).map(body));
      await until(() => rec.acked + rec.nacked.length > 0, 'a put on the full disk to settle');
      expect(rec.acked).toBe(0);
      refusals.push(rec.nacked[0]!);
    }
    expect(refusals.every((e) => e instanceof ChannelFullError)).toBe(true);
    expect(refusals.at(-1)!.message).toMatch(/disk is full/);
    // No file was created for puts that could not be written, none left empty.
    const during = await segments(dataDir);
    expect(during.map((s) => s.name)).toEqual(before.map((s) => s.name));
    expect(during.filter((s) => s.size === 0)).toEqual([]);

    // The sink drains everything while the disk is still full: the channel frees the segments it emptied.
    const delivered: string[] = [];
    const settle = () => {
      for (const t of h.takes.splice(0)) {
        delivered.push(...bodies(t));
        t.ack();
      }
    };
    await until(() => {
      settle();
      return delivered.length >= acked.length;
    }, 'the drain on a full disk');
    const peak = before.reduce((n, s) => n + s.size, 0);
    await untilAsync(async () => (await usedBytes(dataDir)) < peak / 4, 'the emptied segments to be freed');

    // Puts resume by themselves: the space the channel freed is enough (the filler is still there).
    await untilAsync(async () => {
      settle();
      return putBatch();
    }, 'puts to resume on the space freed');
    await fs.rm(filler);
    for (let k = 0; k < 5; k++) expect(await putBatch()).toBe(true);
    await until(() => {
      settle();
      return delivered.length >= acked.length;
    }, 'the rest delivered');
    expect(delivered.map((b) => Number(b.replace(/\.+$/, '')))).toEqual(acked);
    const m = metricsOf(channel)!;
    console.log(
      `full disk: ${refusals.length} puts refused (${refusals.at(-1)!.message}); segments ${before.length} (${peak} bytes) → ` +
        `${(await segments(dataDir)).length} after the drain; EventPutErrorCount ${m.get('EventPutErrorCount')}, ` +
        `CheckpointWriteErrorCount ${m.get('CheckpointWriteErrorCount')}`,
    );
    console.log(lines.filter((l) => /disk is full|space is back|freed/.test(l.message)).map((l) => `  ${l.level} ${l.message}`).join('\n'));
    h.input.complete();
    await until(() => h.state().completed || h.state().failed !== undefined, 'completion');
    expect(h.state().failed).toBeUndefined();
    expect(lines.filter((l) => /damaged|torn/.test(l.message))).toEqual([]);
    expect(await segments(dataDir)).toEqual([]);
  }, 60_000);

  it('a checkpoint that does not fit frees the taken segments without one, then is written; no partial file is left', async () => {
    const root = path.join(mount, 'checkpoint');
    const dataDir = path.join(root, 'data');
    const checkpointDir = path.join(root, 'checkpoint');
    const memory = memoryLogger();
    const lines = memory.lines;
    // Whether the failed checkpoint's partial file was still there when the failure was reported.
    let partialLeft: boolean | undefined;
    const logger = (level: LogLevel, message: string): void => {
      memory.logger(level, message);
      if (/cannot write the checkpoint/.test(message)) partialLeft ??= existsSync(path.join(checkpointDir, 'checkpoint.tmp'));
    };
    const channel = fileChannel({
      checkpointDir,
      dataDirs: [dataDir],
      minimumRequiredSpace: 0,
      maxFileSize: 256 * 1024,
      transactionCapacity: 100,
      checkpointIntervalMs: 60_000,
      logger,
    });
    const h = harness(channel);
    subs.push(h.sub);
    for (let k = 0; k < 30; k++) {
      const rec = h.put(...range(k * 100, 100).map(body));
      await until(() => rec.acked === 1, 'a put');
    }
    await until(() => h.takes.length === 1, 'the first take');
    const filler = fillUp(path.join(mount, 'filler'));
    // Nothing is put meanwhile: the first write to fail is a checkpoint (take records fit in pages already held).
    const delivered: string[] = [];
    await until(() => {
      for (const t of h.takes.splice(0)) {
        delivered.push(...bodies(t));
        t.ack();
      }
      return delivered.length === 3000;
    }, 'the drain');
    await untilAsync(async () => (await segments(dataDir)).length <= 2, 'the emptied segments to be freed');
    const m = metricsOf(channel)!;
    expect(m.get('CheckpointWriteErrorCount')).toBeGreaterThan(0);
    expect(lines.some((l) => /cannot write the checkpoint: ENOSPC/.test(l.message))).toBe(true);
    expect(lines.some((l) => /freed \d+ emptied segments without a checkpoint/.test(l.message))).toBe(true);
    expect(partialLeft).toBe(false);
    console.log(
      `checkpoint on a full disk: CheckpointWriteErrorCount ${m.get('CheckpointWriteErrorCount')}; ` +
        lines.filter((l) => /disk is full|freed|checkpoint/.test(l.message)).map((l) => l.message).join('; '),
    );
    await fs.rm(filler);
    h.input.complete();
    await until(() => h.state().completed || h.state().failed !== undefined, 'completion');
    expect(h.state().failed).toBeUndefined();
    expect(await segments(dataDir)).toEqual([]);
  }, 60_000);
});

async function untilAsync(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
