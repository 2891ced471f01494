/**
 * Disk faults, for real, on an agent process (faultChild.mjs) killed with SIGKILL along the way:
 * a full disk (a small tmpfs filled up), a read-only file system (a tmpfs remounted read-only, and
 * an ext4 image the kernel turns read-only under a running agent), permissions taken away (the agent
 * runs as another user). The audit logs live outside the faulty file system. After each: no acked
 * event lost, and the channel reopens without anyone touching its files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, chown } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, drain as drainRun, kill, readOr, segmentsIn, sleep, start as startRun, withTimeout, type StartOptions } from './support/childSupport.js';
import { buildForChildren, tempDir } from './support/support.js';

let build: string;
let mount: string;
const dirs: string[] = [];
const mounts: string[] = [];

beforeAll(async () => {
  build = await buildForChildren();
  await chmod(build, 0o755); // readable by the unprivileged agent
  dirs.push(build);
  mount = await tempDir('rxflume-fc-faults-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
  mounts.push(mount);
});

afterAll(async () => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  for (const d of [...dirs, ...mounts]) await fs.rm(d, { recursive: true, force: true });
});

/** Logs in a fresh directory of /tmp; the channel's directories under `root` (on the faulty file system). */
async function setup(root: string): Promise<{ work: string; options: object; chan: string[] }> {
  const work = await tempDir('rxflume-fc-fault-work-');
  dirs.push(work);
  await fs.mkdir(root, { recursive: true });
  const options = { checkpointDir: path.join(root, 'checkpoint'), dataDirs: [path.join(root, 'data1'), path.join(root, 'data2')] };
  return { work, options, chan: [options.checkpointDir, ...options.dataDirs] };
}

const run = (work: string, n: number, o: StartOptions) => startRun(build, work, 'run', n, o);

/** Writes a filler file until the file system is full. */
async function fillUp(file: string): Promise<void> {
  const handle = await fs.open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (let i = 0; i < 4096; i++) {
      try {
        await handle.write(i < 2048 ? chunk : chunk.subarray(0, 1024));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        if (i >= 2048) return;
        i = 2047; // then the last pages, a little at a time
      }
    }
  } finally {
    await handle.close();
  }
  throw new Error('the file system never filled up');
}

function lines(log: string, re: RegExp): number {
  return (log.match(re) ?? []).length;
}

describe('fileChannel faults', () => {
  it('ENOSPC: killed with SIGKILL again and again while the disk is full, it loses no acked event and frees its space', async () => {
    const { work, options, chan } = await setup(path.join(mount, 'enospc'));
    const filler = path.join(mount, 'filler');
    const kills = 8;
    // Segment files seen while the disk was full: a put that cannot be written must not leave one behind.
    let mostSegments = 0;
    for (let n = 0; n < kills; n++) {
      const child = run(work, n, { options });
      if (n === 0) await withTimeout(child.ready, 30_000, 'the first run');
      if (n === 1) await fillUp(filler); // full from the second run on, while the agent runs
      if (n === 1) {
        // A loaded machine may not put anything in a short window: the first full-disk run lasts until a put met the full disk.
        const until = Date.now() + 60_000;
        while (lines(await readOr(path.join(work, 'channel.log')), /the disk is full/g) === 0 && Date.now() < until) await sleep(100);
      }
      await sleep(400 + Math.random() * 800);
      if (n >= 1 && n <= kills - 3) mostSegments = Math.max(mostSegments, (await segmentsIn(...chan)).length);
      await kill(child, `run ${n}`);
      if (n === kills - 3) await fs.rm(filler); // and space returns for the last runs
    }
    const log = await readOr(path.join(work, 'channel.log'));
    const drained = await drainRun(build, work, kills, { options });
    const a = await audit(work);
    console.log(
      `ENOSPC × ${kills} kills: ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ` +
        `"disk is full" ${lines(log, /the disk is full/g)}×, segments freed without a checkpoint ${lines(log, /freed \d+ emptied/g)}×, ` +
        `"space is back" ${lines(log, /space is back/g)}×; at most ${mostSegments} segment files while full; ${drained.trim().split('\n').at(-1)}`,
    );
    // The channel holds ~130 KB (5000 small events) in 64 KB segments, in two directories.
    expect(mostSegments).toBeLessThanOrEqual(12);
    expect(lines(log, /the disk is full/g)).toBeGreaterThan(0);
    expect(a.acked).toBeGreaterThan(1000);
    expect(a.missing).toEqual([]);
    expect(await readOr(path.join(work, 'channel.log'))).not.toMatch(/damaged|no longer exist|unusable/);
    expect(await segmentsIn(...chan)).toEqual([]);
  }, 120_000);

  it('ENOSPC: a kill right after segments were freed without a checkpoint reopens knowing their events were taken', async () => {
    const { work, options } = await setup(path.join(mount, 'freed'));
    const filler = path.join(mount, 'filler');
    const pause = path.join(work, 'pause');
    // The sink holds its first take: the channel fills up to its capacity, in small segments.
    await fs.writeFile(pause, '');
    const first = run(work, 0, { options: { ...options, maxFileSize: 8192 }, env: { CHILD_PAUSE_FILE: pause, CHILD_STATS_MS: '100' } });
    await withTimeout(first.ready, 30_000, 'the first run');
    await withTimeout(
      (async () => {
        while (!/"ChannelSize":4[89]\d\d/.test(first.output())) await sleep(50);
      })(),
      30_000,
      'the channel to fill up',
    );
    await kill(first, 'the first run');
    await fillUp(filler);
    // The sink drains on a full disk: segments are freed without a checkpoint, and the agent dies right then.
    const second = run(work, 1, { options, env: { RXFLUME_FILECHANNEL_CRASH_AT: 'segments-freed' } });
    const { signal } = await withTimeout(second.exited, 60_000, 'the crash after freeing');
    expect(signal, second.output()).toBe('SIGKILL');
    const before = await readOr(path.join(work, 'channel.log'));
    expect(before).toMatch(/freed \d+ emptied segments without a checkpoint/);
    await drainRun(build, work, 2, { options }); // the disk still full
    const after = (await readOr(path.join(work, 'channel.log'))).slice(before.length);
    const a = await audit(work);
    console.log(`kill -9 at segments-freed: ${a.acked} acked, ${a.missing.length} missing; reopen: ${/opened with .*/.exec(after)?.[0]}; ${/\d+ events of the checkpoint were in segments emptied[^\n]*/.exec(after)?.[0]}`);
    expect(after).toMatch(/\d+ events of the checkpoint were in segments emptied to free space/);
    expect(after).not.toMatch(/damaged|no longer exist|unusable/);
    expect(a.missing).toEqual([]);
    await fs.rm(filler);
  }, 120_000);

  it('EROFS: on a file system remounted read-only it opens, delivers what it holds and refuses puts; read-write again, it goes on', async () => {
    const base = await tempDir('rxflume-fc-ro-');
    dirs.push(base);
    const root = path.join(base, 'mnt');
    await fs.mkdir(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', root]);
    mounts.push(root);
    const { work, options, chan } = await setup(path.join(root, 'channel'));
    const pause = path.join(work, 'pause');
    await fs.writeFile(pause, '');
    const first = run(work, 0, { options, env: { CHILD_PAUSE_FILE: pause } });
    await withTimeout(first.ready, 30_000, 'the first run');
    await sleep(500);
    await kill(first, 'the first run'); // no file open for writing is left: the remount may go ahead
    await fs.rm(pause);
    execFileSync('mount', ['-o', 'remount,ro', root]);
    const files = await listing(chan);
    const receivedBefore = (await readOr(path.join(work, 'received.log'))).length;
    const logBefore = (await readOr(path.join(work, 'channel.log'))).length;
    const second = run(work, 1, { options });
    await sleep(2000);
    await kill(second, 'the run on a read-only file system');
    const log = (await readOr(path.join(work, 'channel.log'))).slice(logBefore);
    expect(await listing(chan)).toEqual(files);
    expect(log).toMatch(/opened with [1-9]\d* events/);
    expect(log).toMatch(/EROFS/);
    // It delivered what it held (its takes cannot be recorded: they come again later, never lost).
    expect((await readOr(path.join(work, 'received.log'))).length).toBeGreaterThan(receivedBefore);
    execFileSync('mount', ['-o', 'remount,rw', root]);
    const third = run(work, 2, { options });
    await withTimeout(third.ready, 30_000, 'the run on a read-write file system');
    await sleep(300);
    await kill(third, 'the third run');
    await drainRun(build, work, 3, { options });
    const a = await audit(work);
    console.log(
      `EROFS (read-only remount): ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ` +
        `read-only run: ${/opened with [^\n]*/.exec(log)?.[0]}; ${lines(log, /EROFS/g)} lines about EROFS`,
    );
    expect(a.missing).toEqual([]);
    expect(await segmentsIn(...chan)).toEqual([]);
  }, 120_000);

  it('EROFS: the kernel turns the file system read-only under a running agent (ext4 error); after fsck it reopens with nothing acked lost', async () => {
    const base = await tempDir('rxflume-fc-ext4-');
    dirs.push(base);
    const image = path.join(base, 'image');
    const root = path.join(base, 'mnt');
    await fs.mkdir(root);
    execFileSync('truncate', ['-s', '48M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    execFileSync('mount', ['-o', 'loop,errors=remount-ro', image, root]);
    mounts.push(root);
    const device = path.basename(execFileSync('findmnt', ['-n', '-o', 'SOURCE', root], { encoding: 'utf8' }).trim());
    const { work, options, chan } = await setup(path.join(root, 'channel'));
    const first = run(work, 0, { options });
    await withTimeout(first.ready, 30_000, 'the first run');
    await sleep(500);
    await fs.writeFile(`/sys/fs/ext4/${device}/trigger_fs_error`, '1');
    await sleep(1500);
    await kill(first, 'the run on a file system gone read-only'); // it kept running
    const log = await readOr(path.join(work, 'channel.log'));
    expect(log).toMatch(/EROFS|read-only/i);
    execFileSync('umount', [root]);
    mounts.pop();
    const fsck = spawnSync('e2fsck', ['-f', '-y', image], { encoding: 'utf8' });
    expect([0, 1], fsck.stdout).toContain(fsck.status);
    execFileSync('mount', ['-o', 'loop', image, root]);
    mounts.push(root);
    const second = run(work, 1, { options });
    await withTimeout(second.ready, 30_000, 'the run after fsck');
    await sleep(300);
    await kill(second, 'the run after fsck');
    await drainRun(build, work, 2, { options });
    const a = await audit(work);
    const after = (await readOr(path.join(work, 'channel.log'))).slice(log.length);
    console.log(
      `EROFS (ext4 error under a running agent): ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ` +
        `${lines(log, /EROFS|read-only/gi)} lines about the read-only file system; reopen: ${/opened with .*/.exec(after)?.[0]}`,
    );
    expect(a.missing).toEqual([]);
    expect(await segmentsIn(...chan)).toEqual([]);
  }, 120_000);

  it('EACCES: with write permission taken from its directories (agent not root) it refuses puts, survives kills, and goes on once given back', async () => {
    const base = await tempDir('rxflume-fc-eacces-');
    dirs.push(base);
    const { work, options, chan } = await setup(path.join(base, 'channel'));
    const nobody = 65534;
    for (const d of [base, work, path.join(base, 'channel')]) await chown(d, nobody, nobody);
    const as = { uid: nobody, gid: nobody };
    const first = run(work, 0, { options, ...as });
    await withTimeout(first.ready, 30_000, 'the first run');
    await sleep(300);
    for (const d of chan) await chmod(d, 0o555);
    await sleep(1000); // segments fill up and cannot roll; checkpoints cannot be written
    await kill(first, 'the run without write permission');
    const second = run(work, 1, { options, ...as }); // reopens without write permission
    await sleep(1500);
    await kill(second, 'the second run without write permission');
    const log = await readOr(path.join(work, 'channel.log'));
    expect(log).toMatch(/EACCES/);
    for (const d of chan) await chmod(d, 0o755);
    const third = run(work, 2, { options, ...as });
    await withTimeout(third.ready, 30_000, 'the run with permission back');
    await sleep(300);
    await kill(third, 'the third run');
    await drainRun(build, work, 3, { options, ...as });
    const a = await audit(work);
    console.log(`EACCES: ${a.acked} acked, ${a.missing.length} missing, ${a.redelivered + a.reput} duplicates; ${lines(log, /EACCES/g)} lines about permissions`);
    expect(a.missing).toEqual([]);
    expect(await segmentsIn(...chan)).toEqual([]);
  }, 120_000);
});

/** Names and sizes of every file under the directories. */
async function listing(roots: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    for (const name of await fs.readdir(r).catch(() => [] as string[])) out.push(`${path.join(r, name)} ${(await fs.stat(path.join(r, name))).size}`);
  }
  return out.sort();
}
