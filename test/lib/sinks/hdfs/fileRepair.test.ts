/**
 * FileRepair on its own, against a small in-memory fake of the WebHdfsClient methods it calls (stat,
 * rename, delete, append, truncate, listStatus, open): renaming to the final name (taken names, lost
 * answers, a vanished file), whether a failed request left a file unchanged, the background retries
 * (back-off, closeTries, stop/settled), repairing an abandoned file and recovering the in-use files an
 * earlier run left. The real-HDFS behaviour is covered by the hdfsSink tests; this needs no HDFS.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeError, FlumeError } from '../../../../lib/core/errors.js';
import type { ComponentLogger, LogLevel } from '../../../../lib/core/log.js';
import { ComponentCounters } from '../../../../lib/core/metrics.js';
import type { FileStatus, WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { errorFromResponse, WebHdfsError } from '../../../../lib/hdfs/webHdfsError.js';
import { FileRepair, type FileNames, type FileRepairOptions } from '../../../../lib/sinks/hdfs/fileRepair.js';

// The errors a background task gave up on reach only the log (as text): describeError is wrapped to see them.
vi.mock('../../../../lib/core/errors.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../../lib/core/errors.js')>();
  return { ...actual, describeError: vi.fn(actual.describeError) };
});

// ---- the fake ------------------------------------------------------------------------------------

type Methods = Pick<WebHdfsClient, 'stat' | 'rename' | 'delete' | 'append' | 'truncate' | 'listStatus' | 'open'>;
type Op = keyof Methods;
/** Stands in for one op: gets the fake's own implementation (`real`) and the arguments. */
type Intercept<K extends Op> = (real: Methods[K], ...args: Parameters<Methods[K]>) => ReturnType<Methods[K]>;

const notFound = (op: string, path: string): WebHdfsError =>
  new WebHdfsError('FLUME_HDFS_NOT_FOUND', `WebHDFS ${op} ${path} failed: FileNotFoundException`, { op, path, status: 404, exception: 'FileNotFoundException' });

/** Files (no directories of their own: a directory exists while a file is under it, or when listed in `dirs`). */
class FakeHdfs implements Methods {
  readonly files = new Map<string, { data: Buffer; mtime: number }>();
  readonly dirs = new Set<string>();
  /** Every call, as "op path[ arg]". */
  readonly calls: string[] = [];
  readonly intercept: { [K in Op]?: Intercept<K> } = {};

  put(path: string, data: string | Buffer, mtime = Date.now()): void {
    this.files.set(path, { data: Buffer.from(data), mtime });
  }

  text(path: string): string | undefined {
    return this.files.get(path)?.data.toString('latin1');
  }

  /** Paths under `dir`, sorted. */
  paths(dir = '/'): string[] {
    return [...this.files.keys()].filter((p) => p.startsWith(dir)).sort();
  }

  count(op: Op, path?: string): number {
    return this.calls.filter((c) => c.split(' ')[0] === op && (path === undefined || c.split(' ')[1] === path)).length;
  }

  readonly client = (): WebHdfsClient => this as unknown as WebHdfsClient;

  private run<K extends Op>(op: K, args: Parameters<Methods[K]>, real: Methods[K]): ReturnType<Methods[K]> {
    this.calls.push([op, ...args.map((a) => (Buffer.isBuffer(a) || a instanceof Uint8Array ? `<${a.length} bytes>` : typeof a === 'object' ? JSON.stringify(a) : String(a)))].join(' '));
    const hook = this.intercept[op] as Intercept<K> | undefined;
    return hook ? hook(real, ...args) : (real as (...a: Parameters<Methods[K]>) => ReturnType<Methods[K]>)(...args);
  }

  private status(name: string, f: { data: Buffer; mtime: number }): FileStatus {
    return { pathSuffix: name, type: 'FILE', length: f.data.length, owner: 'flume', group: 'flume', permission: '644', replication: 1, blockSize: 134217728, modificationTime: f.mtime, accessTime: f.mtime };
  }

  stat(path: string): Promise<FileStatus | undefined> {
    return this.run('stat', [path], async (p) => {
      const f = this.files.get(p);
      return f && this.status('', f);
    });
  }

  rename(from: string, to: string): Promise<boolean> {
    return this.run('rename', [from, to], async (a, b) => {
      const f = this.files.get(a);
      // HDFS: false when the source is missing or the destination exists.
      if (f === undefined || this.files.has(b)) return false;
      this.files.delete(a);
      this.files.set(b, f);
      return true;
    });
  }

  delete(path: string, recursive?: boolean): Promise<boolean> {
    return this.run('delete', recursive === undefined ? [path] : [path, recursive], async (p) => this.files.delete(p));
  }

  append(path: string, data: Uint8Array, options?: { bufferSize?: number }): Promise<void> {
    return this.run('append', options === undefined ? [path, data] : [path, data, options], async (p, d) => {
      const f = this.files.get(p);
      if (f === undefined) throw notFound('APPEND', p);
      f.data = Buffer.concat([f.data, d]);
      f.mtime = Date.now();
    });
  }

  truncate(path: string, newLength: number): Promise<boolean> {
    return this.run('truncate', [path, newLength], async (p, n) => {
      const f = this.files.get(p);
      if (f === undefined) throw notFound('TRUNCATE', p);
      if (n > f.data.length) throw new WebHdfsError('FLUME_HDFS_BAD_REQUEST', `TRUNCATE ${p} to ${n}: longer than the file`, { op: 'TRUNCATE', path: p, status: 400 });
      f.data = f.data.subarray(0, n);
      return true;
    });
  }

  listStatus(path: string): Promise<FileStatus[]> {
    return this.run('listStatus', [path], async (dir) => {
      const prefix = `${dir.replace(/\/$/, '')}/`;
      const out: FileStatus[] = [];
      const subdirs = new Set<string>();
      for (const [p, f] of this.files) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        if (rest.includes('/')) subdirs.add(rest.split('/')[0]!);
        else out.push(this.status(rest, f));
      }
      if (out.length === 0 && subdirs.size === 0 && !this.dirs.has(dir)) throw notFound('LISTSTATUS', dir);
      for (const name of subdirs) out.push({ ...this.status(name, { data: Buffer.alloc(0), mtime: 0 }), type: 'DIRECTORY' });
      return out;
    });
  }

  open(path: string, options?: { offset?: number; length?: number }): Promise<Buffer> {
    return this.run('open', options === undefined ? [path] : [path, options], async (p, o) => {
      const f = this.files.get(p);
      if (f === undefined) throw notFound('OPEN', p);
      const offset = o?.offset ?? 0;
      return Buffer.from(f.data.subarray(offset, o?.length === undefined ? undefined : offset + o.length));
    });
  }
}

// ---- set-up --------------------------------------------------------------------------------------

interface Harness {
  hdfs: FakeHdfs;
  repair: FileRepair;
  counters: ComponentCounters;
  logs: Array<{ level: LogLevel; message: string }>;
  messages(level?: LogLevel): string[];
}

const started: FileRepair[] = [];

function harness(over: Partial<FileRepairOptions> = {}, hdfs = new FakeHdfs()): Harness {
  const counters = new ComponentCounters('SINK', 'k1');
  const logs: Harness['logs'] = [];
  const log: ComponentLogger = (level, message) => logs.push({ level, message });
  const repair = new FileRepair({
    name: 'k1',
    client: hdfs.client(),
    extension: '.log',
    inUsePrefix: '',
    inUseSuffix: '.tmp',
    closeTries: 0,
    retryIntervalMs: 5,
    callTimeoutMs: 1000,
    recoverInUseFiles: true,
    quietMs: 1000,
    tail: { fileType: 'DataStream', serializer: 'TEXT', appendNewline: true },
    counters,
    log,
    ...over,
  });
  started.push(repair);
  return { hdfs, repair, counters, logs, messages: (level) => logs.filter((l) => level === undefined || l.level === level).map((l) => l.message) };
}

afterEach(async () => {
  vi.useRealTimers();
  for (const r of started.splice(0)) {
    r.stop();
    await r.settled();
  }
  vi.mocked(describeError).mockClear();
});

const file = (n: number, dir = '/logs'): FileNames => ({ tmp: `${dir}/events.${n}.log.tmp`, final: `${dir}/events.${n}.log` });
const OLD = (): number => Date.now() - 60_000;

/** The errors the background tasks described in their log lines. */
const described = (): unknown[] => vi.mocked(describeError).mock.calls.map((c) => c[0]);

const ioError = (op: string, path: string, code = 'ECONNRESET'): WebHdfsError =>
  new WebHdfsError('FLUME_HDFS_IO', `WebHDFS ${op} ${path} failed: ${code} talking to nn:9870`, { op, path, cause: Object.assign(new Error(`connect ${code}`), { code }) });

// ---- renaming to the final name ------------------------------------------------------------------

describe('FileRepair: renaming an in-use file to its final name (closeInBackground)', () => {
  it('renames to the final name and counts the close', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\n');
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(h.hdfs.text('/logs/events.1.log')).toBe('a\n');
    expect(h.counters.get('ConnectionClosedCount')).toBe(1);
    expect(h.counters.get('ConnectionFailedCount')).toBe(0);
    expect(h.logs).toEqual([]);
  });

  it('a taken final name gets -1, -2, … before the extension', async () => {
    const h = harness();
    h.hdfs.put('/logs/events.1.log', 'first');
    h.hdfs.put(file(1).tmp, 'second');
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.text('/logs/events.1-1.log')).toBe('second');

    h.hdfs.put(file(1).tmp, 'third');
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1-1.log', '/logs/events.1-2.log', '/logs/events.1.log']);
    expect(h.hdfs.text('/logs/events.1.log')).toBe('first');
    expect(h.hdfs.text('/logs/events.1-2.log')).toBe('third');
    expect(h.counters.get('ConnectionClosedCount')).toBe(2);
    expect(h.counters.get('ConnectionFailedCount')).toBe(0);
  });

  it('without an extension the suffix goes at the end', async () => {
    const h = harness({ extension: '' });
    h.hdfs.put('/logs/events.7', 'old');
    h.hdfs.put('/logs/events.7.tmp', 'new');
    h.repair.closeInBackground({ tmp: '/logs/events.7.tmp', final: '/logs/events.7' });
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.7', '/logs/events.7-1']);
    expect(h.hdfs.text('/logs/events.7-1')).toBe('new');
  });

  it('a file whose in-use and final names are the same is not renamed', async () => {
    const h = harness({ inUseSuffix: '' });
    h.hdfs.put('/logs/events.1.log', 'a\n');
    h.repair.closeInBackground({ tmp: '/logs/events.1.log', final: '/logs/events.1.log' });
    await h.repair.settled();
    expect(h.hdfs.count('rename')).toBe(0);
    expect(h.counters.get('ConnectionClosedCount')).toBe(1);
  });

  it('a rename whose answer was lost (false) counts as done when the tmp is gone and the target exists', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\n');
    // HDFS did it, but the answer said false (e.g. a retried request that found its own work done).
    h.hdfs.intercept.rename = async (real, from, to) => {
      await real(from, to);
      return false;
    };
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(h.hdfs.count('rename')).toBe(1);
    expect(h.counters.get('ConnectionClosedCount')).toBe(1);
    expect(h.counters.get('ConnectionFailedCount')).toBe(0);
    expect(h.logs).toEqual([]);
  });

  it('a rename whose answer was lost (it threw) is retried and then counts as done, also under a -k name', async () => {
    const h = harness();
    h.hdfs.put('/logs/events.1.log', 'taken');
    h.hdfs.put(file(1).tmp, 'a\n');
    let calls = 0;
    h.hdfs.intercept.rename = async (real, from, to) => {
      calls++;
      if (to === '/logs/events.1-1.log' && calls === 2) {
        await real(from, to);
        throw new WebHdfsError('FLUME_HDFS_TIMEOUT', `WebHDFS RENAME ${from} timed out after 1000 ms`, { op: 'RENAME', path: from });
      }
      return real(from, to);
    };
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1-1.log', '/logs/events.1.log']);
    expect(h.hdfs.text('/logs/events.1-1.log')).toBe('a\n');
    // The retry: rename → false (tmp gone), then the tmp and the first target are looked at.
    expect(h.counters.get('ConnectionClosedCount')).toBe(1);
    expect(h.counters.get('ConnectionFailedCount')).toBe(1);
    expect(h.messages('info')).toEqual(['close of /logs/events.1.log.tmp succeeded after 2 attempts']);
    // Nothing renamed twice, no -2.
    expect(h.hdfs.files.has('/logs/events.1-2.log')).toBe(false);
  });

  it('tmp gone and target missing: FLUME_HDFS_NOT_FOUND, not retriable; logged, the close is given up at once', async () => {
    const h = harness({ closeTries: 3 });
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    const errors = described();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(FlumeError);
    expect(errors[0]).toMatchObject({ code: 'FLUME_HDFS_NOT_FOUND', retriable: false });
    expect((errors[0] as Error).message).toContain('/logs/events.1.log.tmp disappeared before it was renamed to /logs/events.1.log');
    expect(h.messages('warn')).toEqual([
      expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed \(attempt 1\), giving up \(not retriable\): .*disappeared.*recovered at the next start$/),
    ]);
    expect(h.counters.get('ConnectionClosedCount')).toBe(0);
    expect(h.counters.get('ConnectionFailedCount')).toBe(1);
  });

  it('a rename refused while the tmp is still there and the target free is FLUME_HDFS_IO, retriable, and retried', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\n');
    let refusals = 2;
    h.hdfs.intercept.rename = async (real, from, to) => (refusals-- > 0 ? false : real(from, to));
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(described()[0]).toMatchObject({ code: 'FLUME_HDFS_IO', retriable: true });
    expect(h.messages('info')).toEqual(['close of /logs/events.1.log.tmp succeeded after 3 attempts']);
    expect(h.counters.get('ConnectionFailedCount')).toBe(2);
  });
});

// ---- unchanged -------------------------------------------------------------------------------------

describe('FileRepair.unchanged: whether a failed request left the file as acked', () => {
  const f = file(1);
  const refused403 = (): WebHdfsError => errorFromResponse('APPEND', f.tmp, 403, Buffer.from(JSON.stringify({ RemoteException: { exception: 'IOException', message: 'no' } })));
  const safeMode = (): WebHdfsError => errorFromResponse('APPEND', f.tmp, 403, Buffer.from(JSON.stringify({ RemoteException: { exception: 'SafeModeException', message: 'Name node is in safe mode.' } })));
  const leaseHeld = (): WebHdfsError =>
    errorFromResponse('APPEND', f.tmp, 403, Buffer.from(JSON.stringify({ RemoteException: { exception: 'AlreadyBeingCreatedException', message: 'Failed to APPEND_FILE: lease held by DFSClient_1' } })));

  it('a request HDFS refused (HTTP status) is unchanged when the length equals the mark', async () => {
    const h = harness();
    h.hdfs.put(f.tmp, 'abcd');
    expect(await h.repair.unchanged(f, { created: true, length: 4 }, refused403())).toBe(true);
    expect(await h.repair.unchanged(f, { created: true, length: 4 }, safeMode())).toBe(true);
    expect(await h.repair.unchanged(f, { created: true, length: 3 }, refused403())).toBe(false);
    expect(await h.repair.unchanged(f, { created: true, length: 5 }, refused403())).toBe(false);
    expect(h.hdfs.calls).toContain(`stat ${f.tmp}`);
  });

  it('a request that never connected (ECONNREFUSED cause) is unchanged when the length equals the mark', async () => {
    const h = harness();
    h.hdfs.put(f.tmp, 'abcd');
    expect(await h.repair.unchanged(f, { created: true, length: 4 }, ioError('APPEND', f.tmp, 'ECONNREFUSED'))).toBe(true);
    expect(await h.repair.unchanged(f, { created: true, length: 2 }, ioError('APPEND', f.tmp, 'ECONNREFUSED'))).toBe(false);
  });

  it('a file not created before: unchanged only while it is absent', async () => {
    const h = harness();
    expect(await h.repair.unchanged(f, { created: false, length: 0 }, refused403())).toBe(true);
    expect(await h.repair.unchanged(f, { created: false, length: 0 }, ioError('CREATE', f.tmp, 'ECONNREFUSED'))).toBe(true);
    h.hdfs.put(f.tmp, '');
    expect(await h.repair.unchanged(f, { created: false, length: 0 }, refused403())).toBe(false);
  });

  it('a file created before but now absent is not unchanged', async () => {
    const h = harness();
    expect(await h.repair.unchanged(f, { created: true, length: 0 }, refused403())).toBe(false);
  });

  it('false after a reset, a timeout, a lease error or a plain Error, whatever the length', async () => {
    const h = harness();
    h.hdfs.put(f.tmp, 'abcd');
    const mark = { created: true, length: 4 };
    expect(await h.repair.unchanged(f, mark, ioError('APPEND', f.tmp, 'ECONNRESET'))).toBe(false);
    expect(await h.repair.unchanged(f, mark, ioError('APPEND', f.tmp, 'EPIPE'))).toBe(false);
    expect(await h.repair.unchanged(f, mark, new WebHdfsError('FLUME_HDFS_IO', 'no answer', { op: 'APPEND', path: f.tmp }))).toBe(false);
    expect(await h.repair.unchanged(f, mark, new WebHdfsError('FLUME_HDFS_TIMEOUT', `WebHDFS APPEND ${f.tmp} timed out after 1000 ms`, { op: 'APPEND', path: f.tmp }))).toBe(false);
    // A timeout is never "over", even if it carried a status or a refused connection somewhere in it.
    expect(await h.repair.unchanged(f, mark, new WebHdfsError('FLUME_HDFS_TIMEOUT', 'timed out', { op: 'APPEND', path: f.tmp, status: 307 }))).toBe(false);
    expect(
      await h.repair.unchanged(f, mark, new WebHdfsError('FLUME_HDFS_TIMEOUT', 'timed out', { op: 'APPEND', path: f.tmp, cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })),
    ).toBe(false);
    // A lease refusal comes with an HTTP status, but another writer may be writing.
    expect(leaseHeld()).toMatchObject({ code: 'FLUME_HDFS_LEASE', status: 403 });
    expect(await h.repair.unchanged(f, mark, leaseHeld())).toBe(false);
    expect(await h.repair.unchanged(f, mark, new Error('boom'))).toBe(false);
    expect(await h.repair.unchanged(f, mark, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(await h.repair.unchanged(f, mark, new FlumeError('FLUME_HDFS_IO', 'not from WebHDFS', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toBe(false);
    expect(await h.repair.unchanged(f, mark, undefined)).toBe(false);
  });

  it('false when the file cannot be looked at', async () => {
    const h = harness();
    h.hdfs.put(f.tmp, 'abcd');
    h.hdfs.intercept.stat = async () => {
      throw ioError('GETFILESTATUS', f.tmp, 'ECONNREFUSED');
    };
    expect(await h.repair.unchanged(f, { created: true, length: 4 }, refused403())).toBe(false);
  });
});

// ---- background retries ----------------------------------------------------------------------------

describe('FileRepair: background retries', () => {
  it('retries with a back-off growing from 1 s to retryIntervalMs until the close succeeds', async () => {
    vi.useFakeTimers();
    const h = harness({ retryIntervalMs: 4000 });
    h.hdfs.put(file(1).tmp, 'a\n');
    const times: number[] = [];
    const t0 = Date.now();
    let failures = 5;
    h.hdfs.intercept.rename = async (real, from, to) => {
      times.push(Date.now() - t0);
      if (failures-- > 0) throw ioError('RENAME', from);
      return real(from, to);
    };
    h.repair.closeInBackground(file(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(times).toEqual([0]);
    await vi.advanceTimersByTimeAsync(999);
    expect(times).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(times).toEqual([0, 1000]);
    await vi.advanceTimersByTimeAsync(20_000);
    // Waits 1000, 2000, 4000, 4000, 4000.
    expect(times).toEqual([0, 1000, 3000, 7000, 11_000, 15_000]);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(h.messages('warn')).toEqual([expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed, retrying: .*ECONNRESET/)]);
    expect(h.messages('info')).toEqual(['close of /logs/events.1.log.tmp succeeded after 6 attempts']);
    expect(h.counters.get('ConnectionFailedCount')).toBe(5);
    expect(h.counters.get('ConnectionClosedCount')).toBe(1);
  });

  it('a retryIntervalMs under 1 s is the back-off from the start', async () => {
    vi.useFakeTimers();
    const h = harness({ retryIntervalMs: 300 });
    h.hdfs.put(file(1).tmp, 'a\n');
    const times: number[] = [];
    const t0 = Date.now();
    let failures = 3;
    h.hdfs.intercept.rename = async (real, from, to) => {
      times.push(Date.now() - t0);
      if (failures-- > 0) throw ioError('RENAME', from);
      return real(from, to);
    };
    h.repair.closeInBackground(file(1));
    await vi.advanceTimersByTimeAsync(5000);
    expect(times).toEqual([0, 300, 600, 900]);
  });

  it('gives up after closeTries attempts, logging "giving up"; the file stays in use', async () => {
    const h = harness({ closeTries: 3 });
    h.hdfs.put(file(1).tmp, 'a\n');
    h.hdfs.intercept.rename = async (_real, from) => {
      throw ioError('RENAME', from);
    };
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.count('rename')).toBe(3);
    expect(h.hdfs.paths()).toEqual([file(1).tmp]);
    expect(h.messages('warn')).toEqual([
      expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed, retrying: /),
      expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed \(attempt 3\), giving up: .*ECONNRESET.*; the file stays in use and is recovered at the next start$/),
    ]);
    expect(h.counters.get('ConnectionFailedCount')).toBe(3);
    expect(h.counters.get('ConnectionClosedCount')).toBe(0);
  });

  it('closeTries 1: one attempt, no retry', async () => {
    const h = harness({ closeTries: 1 });
    h.hdfs.put(file(1).tmp, 'a\n');
    h.hdfs.intercept.rename = async (_real, from) => {
      throw ioError('RENAME', from);
    };
    h.repair.closeInBackground(file(1));
    await h.repair.settled();
    expect(h.hdfs.count('rename')).toBe(1);
    expect(h.messages('warn')).toEqual([expect.stringMatching(/failed \(attempt 1\), giving up/)]);
  });

  it('stop(): a task waiting to retry makes one last attempt at once; if it fails, it gives up', async () => {
    const h = harness({ retryIntervalMs: 600_000 });
    h.hdfs.put(file(1).tmp, 'a\n');
    h.hdfs.intercept.rename = async (_real, from) => {
      throw ioError('RENAME', from);
    };
    h.repair.closeInBackground(file(1));
    await vi.waitFor(() => expect(h.messages('warn')).toHaveLength(1));
    expect(h.repair.stopping).toBe(false);
    const t = Date.now();
    h.repair.stop();
    expect(h.repair.stopping).toBe(true);
    await h.repair.settled();
    // At once: not after the first back-off (1 s).
    expect(Date.now() - t).toBeLessThan(500);
    expect(h.hdfs.count('rename')).toBe(2);
    expect(h.messages('warn')[1]).toMatch(/^close of \/logs\/events\.1\.log\.tmp failed \(attempt 2\), giving up: /);
  });

  it('stop(): the last attempt may succeed', async () => {
    const h = harness({ retryIntervalMs: 600_000 });
    h.hdfs.put(file(1).tmp, 'a\n');
    let failures = 1;
    h.hdfs.intercept.rename = async (real, from, to) => {
      if (failures-- > 0) throw ioError('RENAME', from);
      return real(from, to);
    };
    h.repair.closeInBackground(file(1));
    // Waiting to retry (an attempt in flight when stop() comes is itself the last one).
    await vi.waitFor(() => expect(h.messages('warn')).toHaveLength(1));
    const t = Date.now();
    h.repair.stop();
    await h.repair.settled();
    expect(Date.now() - t).toBeLessThan(500);
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(h.messages('info')).toEqual(['close of /logs/events.1.log.tmp succeeded after 2 attempts']);
  });

  it('stop() during an attempt: a failed attempt that began before the stop gets one more, at once', async () => {
    const h = harness({ retryIntervalMs: 600_000 });
    h.hdfs.put(file(1).tmp, 'a\n');
    let release: () => void = () => undefined;
    h.hdfs.intercept.rename = async (_real, from) => {
      if (h.hdfs.count('rename') === 1) await new Promise<void>((resolve) => (release = resolve));
      throw ioError('RENAME', from);
    };
    h.repair.closeInBackground(file(1));
    await vi.waitFor(() => expect(h.hdfs.count('rename')).toBe(1));
    h.repair.stop();
    release();
    await h.repair.settled();
    expect(h.hdfs.count('rename')).toBe(2);
    expect(h.messages('warn')).toEqual([
      expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed, retrying/),
      expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed \(attempt 2\), giving up/),
    ]);
  });

  it('after stop(), a new task makes one attempt and does not wait', async () => {
    const h = harness({ retryIntervalMs: 600_000 });
    h.repair.stop();
    h.hdfs.put(file(1).tmp, 'a\n');
    h.hdfs.put(file(2).tmp, 'b\n');
    h.hdfs.intercept.rename = async (real, from, to) => {
      if (from === file(1).tmp) throw ioError('RENAME', from);
      return real(from, to);
    };
    h.repair.closeInBackground(file(1));
    h.repair.closeInBackground(file(2));
    await h.repair.settled();
    expect(h.hdfs.count('rename', file(1).tmp)).toBe(1);
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log.tmp', '/logs/events.2.log']);
    expect(h.messages('warn')).toEqual([expect.stringMatching(/^close of \/logs\/events\.1\.log\.tmp failed \(attempt 1\), giving up/)]);
  });

  it('settled() waits for every task, including those started while it waits', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\n');
    h.hdfs.put(file(2).tmp, 'b\n');
    const gates = new Map<string, () => void>();
    h.hdfs.intercept.rename = async (real, from, to) => {
      await new Promise<void>((resolve) => gates.set(from, resolve));
      return real(from, to);
    };
    await h.repair.settled(); // nothing running: resolves
    h.repair.closeInBackground(file(1));
    let done = false;
    const settled = h.repair.settled().then(() => {
      done = true;
    });
    await vi.waitFor(() => expect(gates.has(file(1).tmp)).toBe(true));
    h.repair.closeInBackground(file(2));
    gates.get(file(1).tmp)!();
    await vi.waitFor(() => expect(h.hdfs.files.has(file(1).final)).toBe(true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    await vi.waitFor(() => expect(gates.has(file(2).tmp)).toBe(true));
    gates.get(file(2).tmp)!();
    await settled;
    expect(done).toBe(true);
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log', '/logs/events.2.log']);
  });
});

// ---- repair of an abandoned file ------------------------------------------------------------------

describe('FileRepair.abandon: an abandoned file is cut back to what was acked and closed', () => {
  it('closes the file (empty APPEND), cuts it to the acked length, then renames it', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\nb\nhalf a ba');
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/events.1.log']);
    expect(h.hdfs.text('/logs/events.1.log')).toBe('a\nb\n');
    const ops = h.hdfs.calls.map((c) => c.split(' ').slice(0, 1)[0]);
    expect(ops.indexOf('append')).toBeLessThan(ops.indexOf('truncate'));
    expect(h.hdfs.calls).toContain(`append ${file(1).tmp} <0 bytes>`);
    expect(h.hdfs.calls).toContain(`truncate ${file(1).tmp} 4`);
    expect(h.logs).toEqual([]);
  });

  it('nothing acked (not created before the round): deleted', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'half');
    h.repair.abandon(file(1), { created: false, length: 0 });
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual([]);
    expect(h.hdfs.count('rename')).toBe(0);
  });

  it('a file already gone: nothing to do', async () => {
    const h = harness();
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.calls).toEqual([`stat ${file(1).tmp}`]);
    expect(h.logs).toEqual([]);
  });

  it('the acked length exactly: not cut, renamed', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\nb\n');
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.count('truncate')).toBe(0);
    expect(h.hdfs.text(file(1).final)).toBe('a\nb\n');
  });

  it('shorter than acked: an error is logged and the file closed as it is', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\n');
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.count('truncate')).toBe(0);
    expect(h.hdfs.text(file(1).final)).toBe('a\n');
    expect(h.messages('error')).toEqual(['/logs/events.1.log.tmp is 2 bytes, shorter than the 4 bytes acked into it; closing it as it is']);
  });

  it('a lease still held is retried until the file can be closed, then cut and renamed', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\nb\nhalf');
    let held = 2;
    h.hdfs.intercept.append = async (real, path, data) => {
      if (held-- > 0) throw errorFromResponse('APPEND', path, 403, Buffer.from(JSON.stringify({ RemoteException: { exception: 'RecoveryInProgressException', message: 'lease recovery is in progress' } })));
      return real(path, data);
    };
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.text(file(1).final)).toBe('a\nb\n');
    expect(h.messages('info')).toEqual(['repair of /logs/events.1.log.tmp succeeded after 3 attempts']);
    // A repair is not a close: the sink's connection counters are not touched.
    expect(h.counters.get('ConnectionFailedCount')).toBe(0);
    expect(h.counters.get('ConnectionClosedCount')).toBe(0);
  });

  it('a cut HDFS finishes in the background (TRUNCATE answers false): waits until the file shows the new length', async () => {
    const h = harness();
    h.hdfs.put(file(1).tmp, 'a\nb\nhalf');
    let statsUntilCut = 2;
    h.hdfs.intercept.truncate = async () => false;
    h.hdfs.intercept.stat = async (real, path) => {
      const s = await real(path);
      if (s && s.length !== 4 && h.hdfs.count('truncate') > 0 && statsUntilCut-- <= 0) {
        const f = h.hdfs.files.get(path)!;
        f.data = f.data.subarray(0, 4);
        return real(path);
      }
      return s;
    };
    h.repair.abandon(file(1), { created: true, length: 4 });
    await h.repair.settled();
    expect(h.hdfs.count('truncate')).toBe(1);
    expect(h.hdfs.text(file(1).final)).toBe('a\nb\n');
    expect(h.logs).toEqual([]);
  });

  it('a background cut that never shows: FLUME_HDFS_TIMEOUT after max(callTimeoutMs, 10 s), retried', async () => {
    vi.useFakeTimers();
    const h = harness({ closeTries: 2, retryIntervalMs: 100 });
    h.hdfs.put(file(1).tmp, 'a\nb\nhalf');
    h.hdfs.intercept.truncate = async () => false;
    h.repair.abandon(file(1), { created: true, length: 4 });
    await vi.advanceTimersByTimeAsync(25_000);
    await h.repair.settled();
    expect(h.hdfs.count('truncate')).toBe(2);
    expect(described()[0]).toMatchObject({ code: 'FLUME_HDFS_TIMEOUT', retriable: true });
    expect((described()[0] as Error).message).toBe('k1: /logs/events.1.log.tmp was not cut to 4 bytes within 10000 ms (it is 8)');
    expect(h.messages('warn')[1]).toMatch(/^repair of \/logs\/events\.1\.log\.tmp failed \(attempt 2\), giving up: /);
    expect(h.hdfs.paths()).toEqual([file(1).tmp]);
  });
});

// ---- recovery of files a crash left in use --------------------------------------------------------

describe('FileRepair.recoverBucket: in-use files an earlier run left', () => {
  // Made now: files numbered after it are this run's.
  const bucket = { key: '/logs/b/events', dir: '/logs/b', prefix: 'events', counter: Date.now() };

  it('recovers the in-use files of the bucket numbered before the start: cut to the last complete line, deleted when none, renamed', async () => {
    const h = harness();
    const old = OLD();
    const ours = Date.now() + 1; // numbered (and written) by this run
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\nb\npart', old); // cut to 4
    h.hdfs.put('/logs/b/events.101.log.tmp', 'c\nd\n', old); // clean: renamed as it is
    h.hdfs.put('/logs/b/events.102.log.tmp', 'nothing whole', old); // no newline: deleted
    h.hdfs.put('/logs/b/events.103.log.tmp', '', old); // empty: deleted
    h.hdfs.put(`/logs/b/events.${ours}.log.tmp`, 'new\n', Date.now()); // numbered after the start and written since: this run's
    h.hdfs.put('/logs/b/other.105.log.tmp', 'x', old); // another prefix
    h.hdfs.put('/logs/b/xevents.106.log.tmp', 'x', old); // another prefix ending like it
    h.hdfs.put('/logs/b/events.107.log', 'x', old); // closed
    h.hdfs.put('/logs/b/events.abc.log.tmp', 'x', old); // not a counter
    h.hdfs.put('/logs/b/events.108.txt.tmp', 'x', old); // another extension
    h.hdfs.put('/logs/b/sub/events.109.log.tmp', 'x', old); // a subdirectory
    h.hdfs.put('/logs/c/events.110.log.tmp', 'x', old); // another directory
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual([
      '/logs/b/events.100.log',
      '/logs/b/events.101.log',
      '/logs/b/events.107.log',
      '/logs/b/events.108.txt.tmp',
      `/logs/b/events.${ours}.log.tmp`,
      '/logs/b/events.abc.log.tmp',
      '/logs/b/other.105.log.tmp',
      '/logs/b/sub/events.109.log.tmp',
      '/logs/b/xevents.106.log.tmp',
      '/logs/c/events.110.log.tmp',
    ]);
    expect(h.hdfs.text('/logs/b/events.100.log')).toBe('a\nb\n');
    expect(h.hdfs.text('/logs/b/events.101.log')).toBe('c\nd\n');
    expect(h.hdfs.calls.filter((c) => /^(append|truncate|delete|rename) /.test(c))).toEqual([
      'append /logs/b/events.100.log.tmp <0 bytes>',
      'truncate /logs/b/events.100.log.tmp 4',
      'rename /logs/b/events.100.log.tmp /logs/b/events.100.log',
      'append /logs/b/events.101.log.tmp <0 bytes>',
      'rename /logs/b/events.101.log.tmp /logs/b/events.101.log',
      'append /logs/b/events.102.log.tmp <0 bytes>',
      'delete /logs/b/events.102.log.tmp',
      'append /logs/b/events.103.log.tmp <0 bytes>',
      'delete /logs/b/events.103.log.tmp',
    ]);
    expect(h.messages().sort()).toEqual([
      'recovered /logs/b/events.100.log.tmp (left in use by an earlier run) as /logs/b/events.100.log, cut from 8 to 4 bytes at its last complete unit',
      'recovered /logs/b/events.101.log.tmp (left in use by an earlier run) as /logs/b/events.101.log',
      'recovered /logs/b/events.102.log.tmp: nothing complete in it, deleted',
      'recovered /logs/b/events.103.log.tmp: nothing complete in it, deleted',
    ]);
    expect(h.messages('warn')).toHaveLength(2);
  });

  it('a file whose modification time becomes "now" after a failed first attempt is still recovered on the retry', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\nb\npart', OLD());
    h.hdfs.put('/logs/b/events.101.log.tmp', 'c\n', OLD());
    // The first APPEND starts lease recovery (HDFS answers the lease is held) and touches the file.
    let held = 1;
    h.hdfs.intercept.append = async (real, path, data) => {
      if (path === '/logs/b/events.101.log.tmp' && held-- > 0) {
        h.hdfs.files.get(path)!.mtime = Date.now() + 1;
        throw errorFromResponse('APPEND', path, 403, Buffer.from(JSON.stringify({ RemoteException: { exception: 'AlreadyBeingCreatedException', message: 'lease held' } })));
      }
      return real(path, data);
    };
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log', '/logs/b/events.101.log']);
    expect(h.hdfs.text('/logs/b/events.100.log')).toBe('a\nb\n');
    expect(h.hdfs.text('/logs/b/events.101.log')).toBe('c\n');
    // Chosen once: listed once, and the file recovered before the failure is not looked at again.
    expect(h.hdfs.count('listStatus')).toBe(1);
    expect(h.hdfs.count('append', '/logs/b/events.100.log.tmp')).toBe(1);
    expect(h.hdfs.count('append', '/logs/b/events.101.log.tmp')).toBe(2);
    expect(h.messages('info')).toContain('repair of /logs/b/events.*.log.tmp succeeded after 2 attempts');
  });

  it("a file numbered before the start but modified after it (a killed writer's last request landing late) is recovered once unchanged for quietMs", async () => {
    const h = harness({ quietMs: 300 });
    // Modified after this run started: the rule before took it for a live writer's and left it in use.
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\nhalf', Date.now() + 1);
    // Still being written for a while: recovered only after its last write.
    h.hdfs.put('/logs/b/events.101.log.tmp', '', Date.now() + 1);
    const appended: string[] = [];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (i === 0) h.repair.recoverBucket(bucket);
      const f = h.hdfs.files.get('/logs/b/events.101.log.tmp');
      if (!f) break;
      f.data = Buffer.concat([f.data, Buffer.from(`w${i}\n`)]);
      f.mtime = Date.now();
      appended.push(`w${i}\n`);
    }
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log', '/logs/b/events.101.log']);
    expect(h.hdfs.text('/logs/b/events.100.log')).toBe('a\n');
    // Every write went into the file before it was closed.
    expect(appended).toHaveLength(6);
    expect(h.hdfs.text('/logs/b/events.101.log')).toBe(appended.join(''));
  });

  it("HDFS's clock ahead of ours: a file is recovered once seen unchanged for quietMs", async () => {
    const h = harness({ quietMs: 200 });
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', Date.now() + 3_600_000);
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log']);
    expect(h.hdfs.count('stat', '/logs/b/events.100.log.tmp')).toBeGreaterThan(1);
  });

  it('a file still changing when the sink stops stays in use, for the next start', async () => {
    const h = harness({ quietMs: 60_000 });
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', Date.now());
    h.repair.recoverBucket(bucket);
    await expect.poll(() => h.hdfs.count('stat', '/logs/b/events.100.log.tmp')).toBe(1);
    h.repair.stop();
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log.tmp']);
    expect(h.hdfs.calls.filter((c) => /^(append|truncate|delete|rename) /.test(c))).toEqual([]);
    expect(h.messages('warn')).toContainEqual(expect.stringMatching(/events\.100\.log\.tmp changed less than 60000 ms ago; its writer may be alive.*stays in use/));
  });

  it('a bucket is recovered once per process', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', OLD());
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    h.hdfs.put('/logs/b/events.101.log.tmp', 'b\n', OLD());
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.count('listStatus')).toBe(1);
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log', '/logs/b/events.101.log.tmp']);
  });

  it('a missing directory: nothing to recover, no failure', async () => {
    const h = harness();
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.calls).toEqual(['listStatus /logs/b']);
    expect(h.logs).toEqual([]);
  });

  it('a listing that fails is retried', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', OLD());
    let failures = 1;
    h.hdfs.intercept.listStatus = async (real, dir) => {
      if (failures-- > 0) throw ioError('LISTSTATUS', dir, 'ECONNREFUSED');
      return real(dir);
    };
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log']);
  });

  it('a file gone since the listing is skipped', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', OLD());
    h.hdfs.put('/logs/b/events.101.log.tmp', 'b\n', OLD());
    h.hdfs.intercept.listStatus = async (real, dir) => {
      const entries = await real(dir);
      h.hdfs.files.delete('/logs/b/events.100.log.tmp');
      return entries;
    };
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.101.log']);
    expect(h.messages('warn')).toEqual([]);
  });

  it('with an inUsePrefix: only files carrying it', async () => {
    const h = harness({ inUsePrefix: '_', inUseSuffix: '' });
    h.hdfs.put('/logs/b/_events.100.log', 'a\nhalf', OLD());
    h.hdfs.put('/logs/b/events.101.log', 'b\nhalf', OLD());
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100.log', '/logs/b/events.101.log']);
    expect(h.hdfs.text('/logs/b/events.100.log')).toBe('a\n');
    expect(h.hdfs.text('/logs/b/events.101.log')).toBe('b\nhalf');
  });

  it('a prefix with a subdirectory is looked for in it; not with an inUsePrefix', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/sub/events.100.log.tmp', 'a\n', OLD());
    h.repair.recoverBucket({ key: 'k-sub', dir: '/logs/b', prefix: 'sub/events', counter: Date.now() });
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/sub/events.100.log']);

    const p = harness({ inUsePrefix: '_' });
    p.hdfs.put('/logs/b/sub/_events.100.log.tmp', 'a\n', OLD());
    p.repair.recoverBucket({ key: 'k-sub', dir: '/logs/b', prefix: 'sub/events', counter: Date.now() });
    await p.repair.settled();
    expect(p.hdfs.calls).toEqual([]);
  });

  it('nothing is done when recovery is off, or when in-use files cannot be told apart', async () => {
    for (const over of [{ recoverInUseFiles: false }, { inUsePrefix: '', inUseSuffix: '' }]) {
      const h = harness(over);
      h.hdfs.put('/logs/b/events.100.log.tmp', 'a\nhalf', OLD());
      h.hdfs.put('/logs/b/events.101.log', 'a\nhalf', OLD());
      h.repair.recoverBucket(bucket);
      await h.repair.settled();
      expect(h.hdfs.calls).toEqual([]);
    }
  });

  it('a taken final name gets -1 here too', async () => {
    const h = harness();
    h.hdfs.put('/logs/b/events.100.log', 'closed before', OLD());
    h.hdfs.put('/logs/b/events.100.log.tmp', 'a\n', OLD());
    h.repair.recoverBucket(bucket);
    await h.repair.settled();
    expect(h.hdfs.paths()).toEqual(['/logs/b/events.100-1.log', '/logs/b/events.100.log']);
    expect(h.messages('info')).toEqual(['recovered /logs/b/events.100.log.tmp (left in use by an earlier run) as /logs/b/events.100-1.log']);
  });
});

describe('FileRepair.namesIn', () => {
  it('puts inUsePrefix and inUseSuffix around the final name', () => {
    expect(harness().repair.namesIn('/logs/b', 'events', 12)).toEqual({ tmp: '/logs/b/events.12.log.tmp', final: '/logs/b/events.12.log' });
    expect(harness({ inUsePrefix: '_', inUseSuffix: '', extension: '' }).repair.namesIn('/d', 'x', 3)).toEqual({ tmp: '/d/_x.3', final: '/d/x.3' });
  });
});
