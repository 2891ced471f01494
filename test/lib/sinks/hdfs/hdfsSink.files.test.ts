/**
 * hdfsSink against the real HDFS: where files go (path escapes, rounding, prefixes), when they roll
 * (count, size, interval, idleness, the least recently used past maxOpenFiles), their in-use names
 * (.tmp, inUsePrefix, emptyInUseSuffix), names never reused, and how batches become requests (one per
 * file per batch; batches waiting together go in one request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import type { WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { resolveHostNames } from '../../../../lib/sinks/hdfs/bucketPath.js';
import { hdfsSink } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import { hadoopReadSequenceFiles, hdfsEnv, requireHdfs, shown, uniquePath, type HdfsCluster } from '../../../support/hdfs.js';
import { countingProxy } from './countingProxy.js';
import { clientOf, counters, deliver, ev, finish, listFiles, pathOn, send, until } from './sinkSupport.js';

const env = hdfsEnv();

/** The records of each file, as `seq` numbers (bodies are `event <seq>`). */
async function seqsByFile(hdfs: HdfsCluster, paths: string[]): Promise<number[][]> {
  const files = await hadoopReadSequenceFiles(hdfs, paths);
  return files.map((f) => f.records.map((r) => Number(Buffer.from(r.value.slice('bytes:'.length), 'hex').toString().replace('event ', ''))));
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
const events = (from: number, n: number, headers: Record<string, string> = {}): FlumeEvent[] => range(from, n).map((i) => ev(i, headers));
const names = (files: { pathSuffix: string }[]): string[] => files.map((f) => f.pathSuffix);

describe.skipIf(env.skip)(`hdfsSink files${env.note}`, () => {
  let client: WebHdfsClient;
  let root: string;
  beforeAll(() => {
    if (env.skip) return;
    client = clientOf(requireHdfs());
    root = uniquePath('sink-files');
  });
  afterAll(() => client?.close());

  it('path escapes and rounding: each event goes to the directory and prefix its headers and its rounded timestamp name', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/escapes`;
    const host = await resolveHostNames();
    const sink = hdfsSink({
      path: pathOn(hdfs, `${dir}/%{region}/%Y-%m-%d/%H%M`),
      filePrefix: '%{app}-%[localhost]',
      round: true,
      roundValue: 10,
      roundUnit: 'minute',
      timeZone: 'UTC',
      user: hdfs.superuser,
      rollIntervalS: 0,
      rollCount: 0,
      rollSize: 0,
    });
    const at = (iso: string, seq: number, region: string, app: string): FlumeEvent => ({ headers: { timestamp: String(Date.parse(iso)), region, app }, body: Buffer.from(`event ${seq}`) });
    await deliver(sink, [
      [at('2024-03-09T11:54:34Z', 1, 'eu', 'web'), at('2024-03-09T11:50:00Z', 2, 'eu', 'web'), at('2024-03-09T11:49:59Z', 3, 'eu', 'web'), at('2024-03-09T11:55:00Z', 4, 'us', 'api')],
      [at('2024-03-09T23:59:59Z', 5, 'eu', 'web'), at('2024-03-10T00:00:00Z', 6, 'eu', 'web')],
    ]);
    await finish(sink);
    const files = await listFiles(client, dir);
    const shape = (p: string) => p.slice(dir.length).replace(/\.\d+$/, '.<n>');
    const prefix = `web-${host.localhost}`;
    expect(files.map((f) => shape(f.path))).toEqual([
      `/eu/2024-03-09/1140/${prefix}.<n>`,
      `/eu/2024-03-09/1150/${prefix}.<n>`,
      `/eu/2024-03-09/2350/${prefix}.<n>`,
      `/eu/2024-03-10/0000/${prefix}.<n>`,
      `/us/2024-03-09/1150/api-${host.localhost}.<n>`,
    ]);
    expect(await seqsByFile(hdfs, files.map((f) => f.path))).toEqual([[3], [1, 2], [5], [6], [4]]);
  }, 120_000);

  it('rollCount: a file holds rollCount events, rolled before the next event is written; the counter goes on', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/count`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 3, rollSize: 0, rollIntervalS: 0 });
    await deliver(sink, [events(0, 10), events(10, 1)]);
    // The fourth file holds 2 events: it stays open for more (the three full ones close in the background: over native, complete() then rename).
    await until(async () => names(await listFiles(client, dir)).filter((n) => n.endsWith('.tmp')).length === 1, 30_000, 'one file left in use');
    await finish(sink);
    const files = await listFiles(client, dir);
    const counterOf = (n: string) => Number(/\.(\d+)$/.exec(n)![1]);
    expect(files.map((f) => counterOf(f.pathSuffix) - counterOf(files[0]!.pathSuffix))).toEqual([0, 1, 2, 3]);
    expect(await seqsByFile(hdfs, files.map((f) => f.path))).toEqual([range(0, 3), range(3, 3), range(6, 3), [9, 10]]);
    expect(counters(sink)).toMatchObject({ ConnectionCreatedCount: 4, ConnectionClosedCount: 4, EventDrainSuccessCount: 11 });
  }, 120_000);

  it('rollSize: a file is rolled once its event bodies reach rollSize bytes', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/size`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 0, rollSize: 25, rollIntervalS: 0 });
    // Bodies "event N" are 7 bytes: 4 reach 28 ≥ 25.
    await deliver(sink, [events(0, 9)]);
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(await seqsByFile(hdfs, files.map((f) => f.path))).toEqual([range(0, 4), range(4, 4), [8]]);
  }, 120_000);

  it('rollInterval: the file is closed (renamed) rollIntervalS after it opened; the next batch opens a new one', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/interval`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 0, rollSize: 0, rollIntervalS: 1.5 });
    await deliver(sink, [events(0, 2)]);
    const opened = Date.now();
    expect(names(await listFiles(client, dir))).toEqual([expect.stringMatching(/^FlumeData\.\d+\.tmp$/)]);
    await until(async () => names(await listFiles(client, dir)).every((n) => !n.endsWith('.tmp')), 20_000, 'the timed roll');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1000);
    await deliver(sink, [events(2, 1)]);
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(await seqsByFile(hdfs, files.map((f) => f.path))).toEqual([[0, 1], [2]]);
  }, 120_000);

  it('idleTimeout: a file written to keeps open; one left idle idleTimeoutS is closed', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/idle`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 0, rollSize: 0, rollIntervalS: 0, idleTimeoutS: 2 });
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      await deliver(sink, [events(i, 1)]);
      await new Promise((r) => setTimeout(r, 600));
    }
    // 3 s of writes at most 0.6 s apart (plus the write's own time, under 1.4 s): never idle for 2 s.
    const active = names(await listFiles(client, dir));
    expect(active).toEqual([expect.stringMatching(/\.tmp$/)]);
    expect(Date.now() - started).toBeGreaterThan(2500);
    await until(async () => names(await listFiles(client, dir)).every((n) => !n.endsWith('.tmp')), 20_000, 'the idle close');
    await finish(sink);
    expect(await seqsByFile(hdfs, (await listFiles(client, dir)).map((f) => f.path))).toEqual([range(0, 5)]);
  }, 120_000);

  it('maxOpenFiles: past it, the least recently used bucket is closed', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/lru`;
    const sink = hdfsSink({ path: pathOn(hdfs, `${dir}/%{b}`), user: hdfs.superuser, rollCount: 0, rollSize: 0, rollIntervalS: 0, maxOpenFiles: 2 });
    await deliver(sink, [events(0, 1, { b: 'a' }), events(1, 1, { b: 'b' }), events(2, 1, { b: 'a' })]);
    // c opens a third file: b, used least recently, is closed; a stays open.
    await deliver(sink, [events(3, 1, { b: 'c' })]);
    await until(async () => (await listFiles(client, `${dir}/b`)).every((f) => !f.pathSuffix.endsWith('.tmp')), 20_000, 'the eviction of b');
    expect(names(await listFiles(client, `${dir}/a`))).toEqual([expect.stringMatching(/\.tmp$/)]);
    expect(names(await listFiles(client, `${dir}/c`))).toEqual([expect.stringMatching(/\.tmp$/)]);
    await finish(sink);
    expect((await listFiles(client, dir)).filter((f) => f.pathSuffix.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('in-use names: inUseSuffix while open, inUsePrefix too, none with emptyInUseSuffix; final names after close', async () => {
    const hdfs = requireHdfs();
    const cases = [
      { sub: 'default', options: {}, open: /^FlumeData\.\d+\.tmp$/, closed: /^FlumeData\.\d+$/ },
      { sub: 'prefixed', options: { inUsePrefix: '_', inUseSuffix: '.inprogress', fileSuffix: '.seq' }, open: /^_FlumeData\.\d+\.seq\.inprogress$/, closed: /^FlumeData\.\d+\.seq$/ },
      { sub: 'empty', options: { emptyInUseSuffix: true, inUseSuffix: '.ignored', filePrefix: 'ev' }, open: /^ev\.\d+$/, closed: /^ev\.\d+$/ },
    ];
    for (const c of cases) {
      const dir = `${root}/inuse-${c.sub}`;
      const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollIntervalS: 0, ...c.options });
      await deliver(sink, [events(0, 3)]);
      expect(names(await listFiles(client, dir)), c.sub).toEqual([expect.stringMatching(c.open)]);
      await finish(sink);
      expect(names(await listFiles(client, dir)), c.sub).toEqual([expect.stringMatching(c.closed)]);
    }
  }, 120_000);

  it('names are never reused: a taken in-use name moves the counter on, a taken final name gets -1; the other files are untouched', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/taken`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 1, rollSize: 0, rollIntervalS: 0 });
    await deliver(sink, [events(0, 1)]);
    const first = Number(/\.(\d+)\.tmp$/.exec(names(await listFiles(client, dir))[0]!)![1]);
    // The next file would be first+1: someone else holds that in-use name and the final name of first+2.
    await client.create(`${dir}/FlumeData.${first + 1}.tmp`, Buffer.from('not ours 1'));
    await client.create(`${dir}/FlumeData.${first + 2}`, Buffer.from('not ours 2'));
    await deliver(sink, [events(1, 1)]);
    await finish(sink);
    expect(names(await listFiles(client, dir))).toEqual([`FlumeData.${first}`, `FlumeData.${first + 1}.tmp`, `FlumeData.${first + 2}`, `FlumeData.${first + 2}-1`]);
    expect((await client.open(`${dir}/FlumeData.${first + 1}.tmp`)).toString()).toBe('not ours 1');
    expect((await client.open(`${dir}/FlumeData.${first + 2}`)).toString()).toBe('not ours 2');
    expect(await seqsByFile(hdfs, [`${dir}/FlumeData.${first}`, `${dir}/FlumeData.${first + 2}-1`])).toEqual([[0], [1]]);
  }, 120_000);

  it('one request per file per batch; batches that wait while one is written go together in the next request', async () => {
    const hdfs = requireHdfs();
    const proxy = await countingProxy(hdfs.webhdfs);
    const dir = `${root}/requests`;
    try {
      const sink = hdfsSink({ path: `${dir}/%{b}`, webHdfsUrl: proxy.url, user: hdfs.superuser, rollCount: 0, rollSize: 0, rollIntervalS: 0 });
      // 300 events over three buckets: one CREATE each.
      await deliver(sink, [range(0, 300).map((i) => ev(i, { b: String(i % 3) }))]);
      expect([proxy.count('CREATE'), proxy.count('APPEND')]).toEqual([3, 0]);
      await deliver(sink, [range(300, 300).map((i) => ev(i, { b: String(i % 3) }))]);
      expect([proxy.count('CREATE'), proxy.count('APPEND')]).toEqual([3, 3]);
      // Ten batches offered at once (a channel with maxInFlight 10): the first is written alone, the nine that waited in one APPEND.
      const outcomes = await Promise.all(range(0, 10).map((k) => send(sink, events(600 + k * 10, 10, { b: 'x' }))));
      expect(outcomes).toEqual(range(0, 10).map(() => 'ack'));
      expect([proxy.count('CREATE'), proxy.count('APPEND')]).toEqual([4, 4]);
      await finish(sink);
      const [file] = await hadoopReadSequenceFiles(hdfs, (await listFiles(client, `${dir}/x`)).map((f) => f.path));
      expect(file!.records.map((r) => r.key)).toEqual(range(600, 100).map((i) => shown.long(1_700_000_000_000 + i)));
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('a batch with an event that cannot be placed is refused alone, naming it; batches beside it are written', async () => {
    const hdfs = requireHdfs();
    const dir = `${root}/refused`;
    const sink = hdfsSink({ path: pathOn(hdfs, `${dir}/%Y`), user: hdfs.superuser, timeZone: 'UTC', rollIntervalS: 0, rollCount: 0 });
    const bad = [ev(1), { headers: { seq: '2' }, body: Buffer.from('event 2') }, ev(3)];
    const [good, refused, notNumber] = await Promise.all([send(sink, events(0, 1)), send(sink, bad), send(sink, [ev(4, { timestamp: '12:00' })])]);
    expect(good).toBe('ack');
    expect(refused).toMatchObject({ code: 'FLUME_BAD_EVENT', retriable: false });
    expect((refused as Error).message).toMatch(/event 2 of 3 cannot be written, so the batch is refused: the event has no timestamp header/);
    expect((notNumber as Error).message).toMatch(/timestamp header "12:00" is not a number of milliseconds/);
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(await seqsByFile(hdfs, files.map((f) => f.path))).toEqual([[0]]);
    expect(counters(sink)).toMatchObject({ EventDrainSuccessCount: 1, EventWriteFail: 4 });
  }, 120_000);
});
