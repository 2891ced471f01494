import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syncDir, syncDirSync } from '../../../lib/fs/syncDir.js';

const dir = mkdtempSync(join(tmpdir(), 'rxflume-syncdir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('syncDir', () => {
  it('syncs a directory, both ways', async () => {
    await expect(syncDir(dir)).resolves.toBeUndefined();
    expect(() => syncDirSync(dir)).not.toThrow();
  });

  it('throws what is not a platform refusing to sync a directory: a missing directory', async () => {
    await expect(syncDir(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => syncDirSync(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('a file where a directory was meant still syncs (fsync works on any descriptor)', async () => {
    writeFileSync(join(dir, 'f'), 'x');
    await expect(syncDir(join(dir, 'f'))).resolves.toBeUndefined();
  });
});
