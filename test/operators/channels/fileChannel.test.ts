import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { EMPTY, Observable, of, throwError, type Subscription } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ChannelFullError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { event } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { createSink } from '../../../lib/core/sink.js';
import { fileChannel, fileChannelSpec, type FileChannelOptions } from '../../../operators/channels/fileChannel.js';
import { bodies, range } from '../../support/batches.js';
import { collect, harness, memoryLogger, tempDir, until } from './support/support.js';

const dirs: string[] = [];
const subs: Subscription[] = [];

afterEach(async () => {
  for (const s of subs.splice(0)) s.unsubscribe();
  // Let closing channels release their files before the directories go.
  await new Promise((r) => setTimeout(r, 50));
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function channelDirs(): Promise<{ root: string; checkpointDir: string; dataDirs: string[] }> {
  const root = await tempDir();
  dirs.push(root);
  return { root, checkpointDir: path.join(root, 'checkpoint'), dataDirs: [path.join(root, 'data')] };
}

function options(d: { checkpointDir: string; dataDirs: string[] }, extra: FileChannelOptions = {}): FileChannelOptions {
  return { checkpointDir: d.checkpointDir, dataDirs: d.dataDirs, minimumRequiredSpace: 0, logger: () => undefined, ...extra };
}

/** Completes the channel's upstream and waits until it completed (files closed, locks released). */
async function finish(h: ReturnType<typeof harness>): Promise<void> {
  h.input.complete();
  await until(() => h.state().completed || h.state().failed !== undefined, 'the channel to complete');
  expect(h.state().failed).toBeUndefined();
}

/** Opens the channel on `d` with an empty upstream and returns what it delivers before completing. */
async function drainAll(d: { checkpointDir: string; dataDirs: string[] }, extra: FileChannelOptions = {}): Promise<string[]> {
  const c = collect(fileChannel(options(d, extra)), EMPTY);
  subs.push(c.sub);
  await until(() => c.state().completed || c.state().failed !== undefined, 'the drain to complete');
  expect(c.state().failed).toBeUndefined();
  return c.received;
}

describe('fileChannel — put and take', () => {
  it('acks a put once stored, takes up to transactionCapacity paced by the sink, completes after draining', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { transactionCapacity: 3, capacity: 10 })));
    subs.push(h.sub);
    const p1 = h.put(1, 2);
    expect(p1.acked).toBe(0); // not before it is on disk
    await until(() => p1.acked === 1, 'the first put to be acked');
    await until(() => h.takes.length === 1, 'the first take');
    expect(bodies(h.takes[0]!)).toEqual(['1', '2']);
    const p2 = h.put(3, 4);
    const p3 = h.put(5);
    await until(() => p2.acked + p3.acked === 2, 'two more puts');
    expect(h.takes).toHaveLength(1); // maxInFlight 1
    h.takes[0]!.ack();
    await until(() => h.takes.length === 2, 'the second take');
    expect(bodies(h.takes[1]!)).toEqual(['3', '4', '5']);
    h.takes[1]!.ack();
    await finish(h);
  });

  it('keeps headers and binary bodies exactly', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d)));
    subs.push(h.sub);
    const body = Buffer.from([0, 255, 1, 254, 10, 13]);
    const batch = createBatch([event(body, { host: 'h1', 'ünï': 'çødé ✓', empty: '' }), event('')]);
    h.input.next(batch);
    await until(() => h.takes.length === 1, 'the take');
    expect(h.takes[0]!.events[0]).toEqual({ headers: { host: 'h1', 'ünï': 'çødé ✓', empty: '' }, body });
    expect(h.takes[0]!.events[1]!.body.length).toBe(0);
    // and after a restart, read back from disk
    await h.sub.unsubscribe();
    const again = harness(fileChannel(options(d)));
    subs.push(again.sub);
    await until(() => again.takes.length === 1, 'the take after reopening');
    expect(again.takes[0]!.events[0]).toEqual({ headers: { host: 'h1', 'ünï': 'çødé ✓', empty: '' }, body });
  });

  it('nack puts the events back at the head, in order, redelivered after back-off', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { transactionCapacity: 2, backoffSleepIncrementMs: 20 })));
    subs.push(h.sub);
    h.put(1, 2);
    h.put(3, 4);
    await until(() => h.takes.length === 1, 'a take');
    h.takes[0]!.nack(new Error('sink failed'));
    await until(() => h.takes.length === 2, 'the redelivery');
    expect(h.takes.map(bodies)).toEqual([['1', '2'], ['1', '2']]);
    h.takes[1]!.ack();
    await until(() => h.takes.length === 3, 'the next take');
    expect(bodies(h.takes[2]!)).toEqual(['3', '4']);
  });

  it('maxInFlight lets several takes be unsettled at once', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { transactionCapacity: 2, maxInFlight: 3 })));
    subs.push(h.sub);
    h.put(1, 2);
    h.put(3, 4);
    h.put(5, 6);
    h.put(7);
    await until(() => h.takes.length === 3, 'three takes');
    expect(h.takes.map(bodies)).toEqual([['1', '2'], ['3', '4'], ['5', '6']]);
    h.takes[1]!.ack();
    await until(() => h.takes.length === 4, 'the fourth take');
    expect(bodies(h.takes[3]!)).toEqual(['7']);
  });

  it('waits keep-alive for space, then nacks with ChannelFullError; counts unsettled takes against capacity', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { capacity: 2, transactionCapacity: 2, keepAliveMs: 30 })));
    subs.push(h.sub);
    const a = h.put(1, 2);
    await until(() => h.takes.length === 1, 'a take');
    const b = h.put(3);
    await until(() => b.nacked.length === 1, 'the nack');
    expect(a.acked).toBe(1);
    expect(b.nacked[0]).toBeInstanceOf(ChannelFullError);
    expect((b.nacked[0] as FlumeError).retriable).toBe(true);
    expect(b.nacked[0]!.message).toMatch(/capacity 2/);
  });

  it('stores a waiting put as soon as a take commits, in arrival order', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { capacity: 2, transactionCapacity: 2, keepAliveMs: 60_000 })));
    subs.push(h.sub);
    h.put(1, 2);
    await until(() => h.takes.length === 1, 'a take');
    const w1 = h.put(3);
    const w2 = h.put(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(w1.acked + w2.acked).toBe(0);
    h.takes[0]!.ack();
    await until(() => w1.acked + w2.acked === 2, 'the waiting puts');
    await until(() => h.takes.length === 2, 'the next take');
    expect(bodies(h.takes[1]!)).toEqual(['3', '4']);
  });

  it('refuses a put larger than transactionCapacity with a non-retriable error', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { capacity: 10, transactionCapacity: 2 })));
    subs.push(h.sub);
    const big = h.put(1, 2, 3);
    expect(big.nacked[0]).toMatchObject({ code: 'FLUME_BATCH_TOO_LARGE', retriable: false });
  });

  it('bounds body bytes with byteCapacity', async () => {
    const d = await channelDirs();
    const channel = fileChannel(options(d, { byteCapacity: 10, keepAliveMs: 0 }));
    const h = harness(channel);
    subs.push(h.sub);
    const a = h.put('12345', '123');
    await until(() => a.acked === 1, 'the put');
    const b = h.put('123');
    await until(() => b.nacked.length === 1, 'the nack');
    expect(b.nacked[0]).toBeInstanceOf(ChannelFullError);
    await until(() => h.takes.length === 1, 'a take');
    h.takes[0]!.ack();
    await until(() => metricsOf(channel)!.get('EventTakeSuccessCount') === 2, 'the take to commit');
    const c = h.put('1234567890');
    await until(() => c.acked === 1, 'the put after the take');
  });

  it('a sink acking synchronously inside next() does not grow the stack', async () => {
    const d = await channelDirs();
    const n = 3000;
    let i = 0;
    const source = pollSource(() => (i < n ? [event(String(i++))] : null), { maxInFlight: 64 });
    const c = collect(fileChannel(options(d, { transactionCapacity: 1, fsync: 'interval' })), source);
    subs.push(c.sub);
    await until(() => c.state().completed || c.state().failed !== undefined, 'completion', 60_000);
    expect(c.state().failed).toBeUndefined();
    expect(c.received).toEqual(range(0, n).map(String));
  });
});

describe('fileChannel — lifecycle', () => {
  it('empty upstream: opens, completes, and leaves nothing locked', async () => {
    const d = await channelDirs();
    expect(await drainAll(d)).toEqual([]);
    await expect(fs.access(path.join(d.checkpointDir, 'in_use.lock'))).rejects.toThrow();
    expect(await drainAll(d)).toEqual([]);
  });

  it('an upstream error arrives after what was stored drained', async () => {
    const d = await channelDirs();
    const received: string[] = [];
    let error: unknown;
    const upstream = new Observable<Batch>((s) => {
      s.next(createBatch([event('a'), event('b')]));
      s.error(new Error('source broke'));
    });
    subs.push(
      upstream.pipe(fileChannel(options(d))).subscribe({
        next: (b) => {
          received.push(...bodies(b));
          b.ack();
        },
        error: (e: unknown) => (error = e),
      }),
    );
    await until(() => error !== undefined, 'the error');
    expect(received).toEqual(['a', 'b']);
    expect((error as Error).message).toBe('source broke');
  });

  it('an error thrown upstream at subscribe still releases the lock', async () => {
    const d = await channelDirs();
    let error: unknown;
    subs.push(throwError(() => new Error('boom')).pipe(fileChannel(options(d))).subscribe({ error: (e: unknown) => (error = e) }));
    await until(() => error !== undefined, 'the error');
    expect(await drainAll(d)).toEqual([]);
  });

  it('early unsubscribe nacks waiting puts, keeps what was stored, and releases the lock', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { capacity: 2, transactionCapacity: 2, keepAliveMs: 60_000 })));
    const a = h.put(1, 2);
    await until(() => a.acked === 1, 'the put');
    const waiting = h.put(3);
    await until(() => h.takes.length === 1, 'the take');
    h.sub.unsubscribe();
    expect(waiting.nacked[0]).toMatchObject({ code: 'FLUME_CHANNEL_CLOSED', retriable: true });
    // The unsettled take was not committed: it is delivered again. The lock is released once the close is done.
    expect(await drainAll(d)).toEqual(['1', '2']);
  });

  it.skipIf(process.platform !== 'linux')('unsubscribing closes every file it opened', async () => {
    const d = await channelDirs();
    // Only descriptors on this test's files: other test files may run in this process meanwhile.
    const fds = async () => {
      let n = 0;
      for (const fd of await fs.readdir('/proc/self/fd')) {
        const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(d.root)) n++;
      }
      return n;
    };
    const before = await fds();
    expect(before).toBe(0);
    const h = harness(fileChannel(options(d, { transactionCapacity: 2, maxFileSize: 4096 })));
    for (let k = 0; k < 30; k++) {
      const p = h.put(`a-${k}`.padEnd(200, '.'), `b-${k}`.padEnd(200, '.'));
      await until(() => p.acked === 1, 'a put');
    }
    await until(() => h.takes.length === 1, 'a take');
    expect(await fds()).toBeGreaterThan(before);
    h.sub.unsubscribe();
    await untilAsync(async () => (await fds()) === 0, 'the files to be closed');
    await expect(fs.access(path.join(d.checkpointDir, 'in_use.lock'))).rejects.toThrow();
  });

  it('puts arriving while the log opens wait, and are stored once it is open', async () => {
    const d = await channelDirs();
    const received = await (async () => {
      const seen: string[] = [];
      const c = collect(fileChannel(options(d)), of(createBatch([event('early')])));
      subs.push(c.sub);
      await until(() => c.state().completed, 'completion');
      seen.push(...c.received);
      return seen;
    })();
    expect(received).toEqual(['early']);
  });

  it('a restart delivers every stored event not committed, in order, and never a committed one', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { transactionCapacity: 3 })));
    const puts = [h.put(1, 2, 3), h.put(4, 5), h.put(6)];
    await until(() => puts.every((p) => p.acked === 1), 'the puts');
    await until(() => h.takes.length === 1, 'a take');
    h.takes[0]!.ack(); // 1,2,3 committed
    await until(() => h.takes.length === 2, 'the second take');
    // 4,5,6 taken but unsettled at the stop
    h.sub.unsubscribe();
    expect(await drainAll(d)).toEqual(['4', '5', '6']);
    expect(await drainAll(d)).toEqual([]);
  });

  it('works through pipe() with a createSink sink and two data directories', async () => {
    const d = await channelDirs();
    const dataDirs = [path.join(d.root, 'a'), path.join(d.root, 'b')];
    let i = 0;
    const seen: string[] = [];
    const poll = () => {
      if (i >= 500) return null;
      const events = range(i, 50).map((n) => event(String(n)));
      i += 50;
      return events;
    };
    const pipeline = pipe(
      pollSource(poll, { name: 'src' }),
      fileChannel(options({ checkpointDir: d.checkpointDir, dataDirs }, { transactionCapacity: 100 })),
      createSink('rec', { write: (b) => void seen.push(...bodies(b)) }),
    );
    await pipeline.done;
    expect(seen.map(Number)).toEqual(range(0, 500));
    const m = pipeline.metrics()['CHANNEL.fileChannel']!;
    expect(m['EventPutSuccessCount']).toBe(500);
    expect(m['EventTakeSuccessCount']).toBe(500);
    expect(m['ChannelSize']).toBe(0);
    // Drained and closed: every segment was emptied, so none is left.
    const files = [...(await fs.readdir(dataDirs[0]!)), ...(await fs.readdir(dataDirs[1]!))].filter((f) => f.startsWith('log-'));
    expect(files).toEqual([]);
  });

  it('spreads group commits over several data directories and restores their order on reopening', async () => {
    const d = await channelDirs();
    const dataDirs = [path.join(d.root, 'a'), path.join(d.root, 'b'), path.join(d.root, 'c')];
    const h = harness(fileChannel(options({ checkpointDir: d.checkpointDir, dataDirs }, { transactionCapacity: 100, checkpointOnClose: false })));
    for (let k = 0; k < 9; k++) {
      const p = h.put(...range(k * 10, 10));
      await until(() => p.acked === 1, 'each put on its own');
    }
    h.sub.unsubscribe();
    for (const dir of dataDirs) {
      await untilFiles(dir, (n) => n >= 1, `segments in ${dir}`);
    }
    const again = await drainAll({ checkpointDir: d.checkpointDir, dataDirs }, { transactionCapacity: 100 });
    expect(again.map(Number)).toEqual(range(0, 90));
  });
});

describe('fileChannel — disk', () => {
  it('deletes segments once everything in them was taken and a checkpoint covers them', async () => {
    const d = await channelDirs();
    const h = harness(fileChannel(options(d, { maxFileSize: 4096, checkpointIntervalMs: 20, transactionCapacity: 50 })));
    subs.push(h.sub);
    for (let k = 0; k < 40; k++) {
      // One at a time, so that each is its own group commit and segments roll.
      const p = h.put(...range(k * 50, 50).map((n) => `event-${n}-`.padEnd(40, 'x')));
      await until(() => p.acked === 1, 'the put');
    }
    await until(() => h.takes.length >= 1, 'a take');
    const segmentsAtPeak = (await fs.readdir(d.dataDirs[0]!)).filter((f) => f.startsWith('log-')).length;
    expect(segmentsAtPeak).toBeGreaterThan(5);
    let acked = 0;
    while (acked < 40) {
      await until(() => h.takes.length > acked, 'the next take');
      h.takes[acked++]!.ack();
    }
    await untilAsync(async () => (await fs.readdir(d.dataDirs[0]!)).filter((f) => f.startsWith('log-')).length <= 2, 'emptied segments deleted');
    await finish(h);
  });

  it('below minimumRequiredSpace puts are nacked with ChannelFullError, nothing stored is harmed, and puts resume', async () => {
    const d = await channelDirs();
    let free = 10 * 2 ** 30;
    const { logger, lines } = memoryLogger();
    const h = harness(fileChannel(options(d, { minimumRequiredSpace: 2 ** 30, freeSpace: () => free, logger, keepAliveMs: 10 })));
    subs.push(h.sub);
    const all: Array<{ body: string; rec: ReturnType<typeof h.put> }> = [];
    const put = (body: string) => {
      const rec = h.put(body);
      all.push({ body, rec });
      return rec;
    };
    const ok = put('stored-0');
    await until(() => ok.acked === 1, 'a put with space');
    free = 2 ** 29; // someone filled the disk
    let n = 1;
    let last = put(`stored-${n++}`);
    await until(() => {
      if (last.nacked.length > 0) return true;
      if (last.acked === 1) last = put(`stored-${n++}`);
      return false;
    }, 'a put to be refused');
    expect(last.nacked[0]).toBeInstanceOf(ChannelFullError);
    expect(last.nacked[0]!.message).toMatch(/below minimumRequiredSpace/);
    expect(lines.some((l) => l.level === 'warn' && /below minimumRequiredSpace/.test(l.message))).toBe(true);
    expect(put(`stored-${n++}`).nacked).toHaveLength(1); // still refused: nothing written
    free = 10 * 2 ** 30; // space returns
    await until(() => {
      if (last.nacked.length > 0) last = put(`stored-${n++}`);
      return last.acked === 1;
    }, 'puts to resume');
    // Every acked put is delivered, in order, and no refused one.
    const delivered: string[] = [];
    const expected = all.filter((p) => p.rec.acked === 1).map((p) => p.body);
    await until(() => {
      for (const t of h.takes.splice(0)) {
        delivered.push(...bodies(t));
        t.ack();
      }
      return delivered.length >= expected.length;
    }, 'delivery');
    expect(delivered).toEqual(expected);
    expect(all.filter((p) => p.rec.nacked.length > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('a second open of the same directories fails with a clear error while the first holds them', async () => {
    const d = await channelDirs();
    const first = harness(fileChannel(options(d)));
    subs.push(first.sub);
    const p = first.put('x');
    await until(() => p.acked === 1, 'the first channel to open');
    const second = harness(fileChannel(options(d, { name: 'second' })));
    subs.push(second.sub);
    await until(() => second.state().failed !== undefined, 'the second open to fail');
    const error = second.state().failed as FlumeError;
    expect(error).toBeInstanceOf(FlumeError);
    expect(error.code).toBe('FLUME_CHANNEL_IO');
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/in use by another channel of this process .*in_use\.lock/);
    // The first one still works.
    const q = first.put('y');
    await until(() => q.acked === 1, 'the first channel to keep working');
  });

  it('a lock held by another live process is refused; a lock file naming a live pid that holds no lock is taken over', async () => {
    const d = await channelDirs();
    await fs.mkdir(d.checkpointDir, { recursive: true });
    const lock = path.join(d.checkpointDir, 'in_use.lock');
    const { hostname } = await import('node:os');
    // Another process holding the kernel lock (see lock.test.ts for agents killed, reused PIDs, namespaces).
    const holder = spawn('/bin/sh', ['-c', 'exec 9>>"$0" && flock -x 9 && echo locked && exec sleep 30', lock], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => holder.stdout!.once('data', r));
    const refused = harness(fileChannel(options(d)));
    subs.push(refused.sub);
    await until(() => refused.state().failed !== undefined, 'the open to fail');
    expect((refused.state().failed as Error).message).toMatch(/in use by another process .*in_use\.lock, held by a kernel lock/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('close', r));
    // A pid that is alive (the test runner's parent) but holds nothing: a reused PID.
    await fs.writeFile(lock, `${process.ppid}\n${hostname()}\n`);
    expect(await drainAll(d)).toEqual([]);
  });
});

describe('fileChannel — options', () => {
  it('names every bad option', () => {
    const error = thrown(() => fileChannel({ capacity: 0, transactonCapacity: 5, fsync: 'always' } as never));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['fileChannel.capacity', 'fileChannel.transactonCapacity', 'fileChannel.fsync']));
    expect((error as ConfigError).issues.find((i) => i.path === 'fileChannel.transactonCapacity')!.suggestion).toBe('transactionCapacity');
    expect(() => fileChannel({ capacity: 10, transactionCapacity: 20 })).toThrow(/transactionCapacity: expected integer ≤ capacity \(10\)/);
  });

  it("maps Flume's keys whose name or unit differs", () => {
    const keys = fileChannelSpec.flumeKeys!;
    const convert = (k: string, v: string) => {
      const m = keys[k]!;
      return typeof m === 'string' ? [m, v] : [m.option, m.convert(v)];
    };
    expect(convert('keep-alive', '3')).toEqual(['keepAliveMs', 3000]);
    expect(convert('checkpointInterval', '30000')).toEqual(['checkpointIntervalMs', '30000']);
    expect(convert('dataDirs', '/a, /b')).toEqual(['dataDirs', ['/a', '/b']]);
    expect(convert('fsyncPerTransaction', 'false')).toEqual(['fsync', 'interval']);
    expect(convert('fsyncInterval', '5')).toEqual(['fsyncIntervalMs', 5000]);
    expect(fileChannelSpec.flumeTypes).toContain('file');
  });
});

async function untilFiles(dir: string, ok: (n: number) => boolean, what: string): Promise<void> {
  await untilAsync(async () => ok((await fs.readdir(dir)).filter((f) => f.startsWith('log-')).length), what);
}

async function untilAsync(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

