import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { FlumeError } from '../../../../lib/core/errors.js';
import { fileChannel } from '../../../../operators/channels/fileChannel.js';
import { spillableMemoryChannel } from '../../../../operators/channels/spillableMemoryChannel.js';
import { harness, tempDir, until } from '../support/support.js';

/** A store shaped as Apache Flume 1.11's file channel leaves it: what rxflume must not touch. */
async function flumeStore(): Promise<{ checkpointDir: string; dataDir: string; root: string }> {
  const root = await tempDir('rxflume-flume-store-');
  const checkpointDir = path.join(root, 'checkpoint');
  const dataDir = path.join(root, 'data');
  await fs.mkdir(path.join(checkpointDir, 'queueset'), { recursive: true });
  await fs.mkdir(dataDir);
  // Flume's checkpoint is a fixed-size memory-mapped file; its segments are preallocated to 1 MiB.
  await fs.writeFile(path.join(checkpointDir, 'checkpoint'), Buffer.alloc(8192, 1));
  for (const f of ['checkpoint.meta', 'inflightputs', 'inflighttakes', 'in_use.lock']) await fs.writeFile(path.join(checkpointDir, f), `flume ${f}`);
  const segment = Buffer.alloc(1 << 20);
  segment.write('\u0000\u0000\u0000\u0003 flume events', 0, 'latin1');
  await fs.writeFile(path.join(dataDir, 'log-1'), segment);
  await fs.writeFile(path.join(dataDir, 'log-1.meta'), 'flume meta');
  await fs.writeFile(path.join(dataDir, 'in_use.lock'), '');
  return { checkpointDir, dataDir, root };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, p)] = entry.isFile() ? createHash('sha256').update(await fs.readFile(p)).digest('hex') : 'dir';
  }
  return out;
}

describe("refuseFlumeStore: Apache Flume's file channel directories", () => {
  const subs: Subscription[] = [];
  afterEach(() => {
    for (const s of subs.splice(0)) s.unsubscribe();
  });

  it('the file channel refuses to open them, naming Flume, and changes, creates or locks nothing there', async () => {
    const store = await flumeStore();
    const before = await snapshot(store.root);
    const h = harness(fileChannel({ name: 'fc', checkpointDir: store.checkpointDir, dataDirs: [store.dataDir], minimumRequiredSpace: 0 }));
    subs.push(h.sub);
    const put = h.put('x');
    await until(() => h.state().failed !== undefined, 'the open to fail');
    const error = h.state().failed as FlumeError;
    expect(error).toBeInstanceOf(FlumeError);
    expect(error.code).toBe('FLUME_CHANNEL_IO');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`${store.checkpointDir} (checkpoint.meta, inflightputs, inflighttakes, …)`);
    expect(error.message).toContain(`${store.dataDir} (log-1.meta)`);
    expect(error.message).toMatch(/Apache Flume's file channel, whose format rxflume cannot read; nothing was changed/);
    expect(put.acked).toBe(0);
    expect(await snapshot(store.root)).toEqual(before);
  });

  it("a data directory with Flume's segment metadata alone is enough, also for the spillable channel's overflow", async () => {
    const store = await flumeStore();
    const checkpointDir = path.join(store.root, 'fresh-checkpoint');
    const before = await snapshot(store.dataDir);
    const h = harness(spillableMemoryChannel({ name: 'sc', memoryCapacity: 1, overflowCapacity: 10, transactionCapacity: 1, checkpointDir, dataDirs: [store.dataDir], minimumRequiredSpace: 0 }));
    subs.push(h.sub);
    h.put('a');
    h.put('b');
    await until(() => h.state().failed !== undefined, 'the overflow open to fail');
    expect((h.state().failed as FlumeError).message).toMatch(new RegExp(`^sc: cannot open: ${store.dataDir} \\(log-1\\.meta\\) holds Apache Flume's`));
    expect(await snapshot(store.dataDir)).toEqual(before);
  });
});
