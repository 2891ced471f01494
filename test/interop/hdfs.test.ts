/**
 * Interop (issue #12): the same properties file run by Apache Flume 1.11.0's HDFS sink (Hadoop's client,
 * hdfs:// RPC) and by `rxflume agent` (over its native transport, the default for an hdfs:// path, and again over WebHDFS) against the same HDFS, with the same input; Hadoop's own
 * readers (SequenceFile.Reader, `fs -cat`, its codecs) decode every file each wrote, and the decoded
 * records, the file names' pattern and the file counts must be equal.
 *
 * - One agent conf, seven sinks (SequenceFile Writable / Text / gzip-block, DataStream TEXT / HEADER_AND_TEXT,
 *   CompressedStream gzip, and DataStream rolled by size), each fed by its own `seq` source (bodies
 *   "0" … "119") whose static interceptors set a fixed `timestamp` header, so the %Y-%m-%d escapes
 *   resolve the same and the SequenceFile keys are known (every key is that timestamp: no normalisation).
 *   rollCount=50, rollSize=0, rollInterval=0: 120 events → 3 files each (50, 50, 20); the size case
 *   (rollCount=0, rollSize=100 body bytes, checked before each write) → 55, 49 and 16 events.
 * - Compared: the directories (escapes resolved), the file names (<prefix>.<counter><suffix>, counters
 *   consecutive from the clock), the number of files and, per file in counter order, the decoded records;
 *   for SequenceFiles also the key/value classes, compression and codec. Not compared: the raw bytes,
 *   since they depend on how events were batched (a SequenceFile sync marker and a gzip member per batch:
 *   Flume's batches are hdfs.batchSize events, rxflume's the channel's takes; see
 *   docs/differences-from-flume.md), and HEADER_AND_TEXT's header order (below).
 * - The confs differ only in hdfs.path's base directory (/…/flume, /…/rxflume, /…/native); rxflume over
 *   WebHDFS has one key more, which Flume would ignore: `webHdfsUrl` (it selects WebHDFS, and the test
 *   NameNode's HTTP port is not 9870). The native side runs Flume's file as it is.
 * - Flume is stopped with SIGTERM once its monitoring JSON shows every event drained (it closes and
 *   renames its files on stop); rxflume's agent ends by itself once its seq sources are done.
 * Needs HDFS (RXFLUME_REQUIRE_HDFS) and Flume (RXFLUME_REQUIRE_FLUME); skipped without java/mvn otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsCat, hadoopDecompress, hadoopReadSequenceFiles, hdfsEnv, requireHdfs, uniquePath, type HdfsCluster, type SequenceFileDump } from '../support/hdfs.js';
import { flumeEnv, freePort, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { scratch, startCli, type CliResult } from '../support/cli.js';

const hdfsE = hdfsEnv();
const flumeE = flumeEnv();
const skip = hdfsE.skip || flumeE.skip;

const EVENTS = 120;
const ROLL_COUNT = 50;
const TIMESTAMP = '1700000000000'; // 2023-11-14T22:13:20Z
const DAY = '2023-11-14';

interface SinkCase {
  sink: string;
  title: string;
  /** hdfs.* and serializer keys of the sink, besides path and the shared roll settings. */
  keys: Record<string, string>;
  /** Static headers of its source (timestamp first). */
  headers: Record<string, string>;
  /** Path below the agent's base: escapes allowed. */
  dir: string;
  /** The same path, resolved. */
  resolvedDir: string;
  prefix: string;
  extension: string;
  kind: 'seq' | 'raw' | 'codec';
  /** Events per file, in order (default: rollCount=50). */
  split?: number[];
}

const CASES: SinkCase[] = [
  {
    sink: 'k1',
    title: 'SequenceFile, writeFormat=Writable',
    keys: { 'hdfs.fileType': 'SequenceFile', 'hdfs.writeFormat': 'Writable' },
    headers: { timestamp: TIMESTAMP },
    dir: 'seq-writable/%Y-%m-%d',
    resolvedDir: `seq-writable/${DAY}`,
    prefix: 'FlumeData',
    extension: '',
    kind: 'seq',
  },
  {
    sink: 'k2',
    title: 'SequenceFile, writeFormat=Text',
    keys: { 'hdfs.fileType': 'SequenceFile', 'hdfs.writeFormat': 'Text', 'hdfs.filePrefix': 'events-%{dc}' },
    headers: { timestamp: TIMESTAMP, dc: 'east' },
    dir: 'seq-text',
    resolvedDir: 'seq-text',
    prefix: 'events-east',
    extension: '',
    kind: 'seq',
  },
  {
    sink: 'k3',
    title: 'SequenceFile, codeC=gzip (block compressed)',
    keys: { 'hdfs.fileType': 'SequenceFile', 'hdfs.codeC': 'gzip' },
    headers: { timestamp: TIMESTAMP },
    dir: 'seq-gzip',
    resolvedDir: 'seq-gzip',
    prefix: 'FlumeData',
    extension: '.gz',
    kind: 'seq',
  },
  {
    sink: 'k4',
    title: 'DataStream, serializer TEXT',
    keys: { 'hdfs.fileType': 'DataStream', 'hdfs.fileSuffix': '.log' },
    headers: { timestamp: TIMESTAMP },
    dir: 'text/%Y/%m/%d',
    resolvedDir: `text/${DAY.replace(/-/g, '/')}`,
    prefix: 'FlumeData',
    extension: '.log',
    kind: 'raw',
  },
  {
    sink: 'k5',
    title: 'DataStream, serializer header_and_text',
    keys: { 'hdfs.fileType': 'DataStream', serializer: 'header_and_text' },
    // Java's HashMap iterates "host" (bucket 8) before "timestamp" (bucket 15); rxflume keeps the order the headers were set in.
    headers: { timestamp: TIMESTAMP, host: 'web-1' },
    dir: 'header-and-text',
    resolvedDir: 'header-and-text',
    prefix: 'FlumeData',
    extension: '',
    kind: 'raw',
  },
  {
    sink: 'k6',
    title: 'CompressedStream, codeC=gzip',
    keys: { 'hdfs.fileType': 'CompressedStream', 'hdfs.codeC': 'gzip' },
    headers: { timestamp: TIMESTAMP },
    dir: 'compressed-gzip/%Y-%m-%d',
    resolvedDir: `compressed-gzip/${DAY}`,
    prefix: 'FlumeData',
    extension: '.gz',
    kind: 'codec',
  },
  {
    sink: 'k7',
    title: 'DataStream rolled by size (rollSize=100 body bytes, rollCount=0)',
    keys: { 'hdfs.fileType': 'DataStream', 'hdfs.rollCount': '0', 'hdfs.rollSize': '100', 'hdfs.inUsePrefix': '_' },
    headers: { timestamp: TIMESTAMP },
    dir: 'by-size',
    resolvedDir: 'by-size',
    prefix: 'FlumeData',
    extension: '',
    kind: 'raw',
    // Bodies 0–54 are 10 + 45×2 = 100 bytes: the 56th event rolls; 55–103 are 45×2 + 4×3 = 102.
    split: [55, 49, 16],
  },
];

/**
 * The agent conf; only `base` (the directory every hdfs.path starts with) differs between the agents,
 * and rxflume over WebHDFS gets `webHdfsUrl` (Flume and the native side, the default for an hdfs://
 * path — Hadoop RPC and DataNode pipelines, as Flume writes — run without it).
 */
function agentConf(hdfs: HdfsCluster, base: string, overWebHdfs = false): string {
  const lines: string[] = [
    `a1.sources = ${CASES.map((c) => `s${c.sink.slice(1)}`).join(' ')}`,
    `a1.channels = ${CASES.map((c) => `c${c.sink.slice(1)}`).join(' ')}`,
    `a1.sinks = ${CASES.map((c) => c.sink).join(' ')}`,
  ];
  for (const c of CASES) {
    const n = c.sink.slice(1);
    const s = `a1.sources.s${n}`;
    const names = Object.keys(c.headers).map((h) => `i_${h}`);
    lines.push(`${s}.type = seq`, `${s}.totalEvents = ${EVENTS}`, `${s}.batchSize = 10`, `${s}.channels = c${n}`, `${s}.interceptors = ${names.join(' ')}`);
    for (const [h, v] of Object.entries(c.headers)) lines.push(`${s}.interceptors.i_${h}.type = static`, `${s}.interceptors.i_${h}.key = ${h}`, `${s}.interceptors.i_${h}.value = ${v}`);
    lines.push(`a1.channels.c${n}.type = memory`, `a1.channels.c${n}.capacity = 1000`, `a1.channels.c${n}.transactionCapacity = 100`);
    const k = `a1.sinks.${c.sink}`;
    const keys: Record<string, string> = {
      type: 'hdfs',
      channel: `c${n}`,
      'hdfs.path': `${hdfs.uri}${base}/${c.dir}`,
      // rxflume over WebHDFS only: the NameNode's HTTP port, which an hdfs:// URI does not carry.
      ...(overWebHdfs ? { webHdfsUrl: hdfs.webhdfs } : {}),
      'hdfs.rollCount': String(ROLL_COUNT),
      'hdfs.rollSize': '0',
      'hdfs.rollInterval': '0',
      'hdfs.batchSize': '10',
      'hdfs.timeZone': 'UTC',
      ...c.keys,
    };
    lines.push(...Object.entries(keys).map(([key, v]) => `${k}.${key} = ${v}`));
  }
  return `${lines.join('\n')}\n`;
}

interface Listed {
  /** Path below the agent's base. */
  path: string;
  length: number;
}

/** Every file below `dir`, recursively (WebHDFS LISTSTATUS). */
async function listTree(hdfs: HdfsCluster, dir: string, below = ''): Promise<Listed[]> {
  const res = await fetch(`${hdfs.webhdfs}/webhdfs/v1${dir}${below}?op=LISTSTATUS&user.name=${encodeURIComponent(hdfs.superuser)}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`LISTSTATUS ${dir}${below}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { FileStatuses: { FileStatus: { pathSuffix: string; type: string; length: number }[] } };
  const out: Listed[] = [];
  for (const s of body.FileStatuses.FileStatus) {
    const rel = `${below}/${s.pathSuffix}`;
    if (s.type === 'DIRECTORY') out.push(...(await listTree(hdfs, dir, rel)));
    else out.push({ path: rel.slice(1), length: s.length });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Polls Flume's monitoring JSON until every sink drained every event. */
async function flumeDrained(port: number, agent: FlumeAgent, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const metrics = (await res.json()) as Record<string, Record<string, string>>;
      last = JSON.stringify(Object.fromEntries(CASES.map((c) => [c.sink, metrics[`SINK.${c.sink}`]?.['EventDrainSuccessCount']])));
      if (CASES.every((c) => Number(metrics[`SINK.${c.sink}`]?.['EventDrainSuccessCount']) >= EVENTS)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Flume did not drain ${EVENTS} events per sink within ${timeoutMs} ms (last ${last}):\n${(await agent.log()).slice(-4000)}`);
}

/** One file's decoded content: records as [key, value] strings (SequenceFile) or the file's decoded bytes cut into lines. */
interface Decoded {
  name: string;
  /** The name with its counter replaced by <n>. */
  pattern: string;
  counter: number;
  seq?: Omit<SequenceFileDump, 'file' | 'records'>;
  records: string[];
}

async function decode(hdfs: HdfsCluster, base: string, c: SinkCase, files: Listed[]): Promise<Decoded[]> {
  const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const nameRe = new RegExp(`^${escapeRe(c.prefix)}\\.(\\d+)${escapeRe(c.extension)}$`);
  const mine = files.filter((f) => f.path.startsWith(`${c.resolvedDir}/`)).map((f) => ({ ...f, name: f.path.slice(c.resolvedDir.length + 1) }));
  const decoded: Decoded[] = mine.map((f) => {
    const m = nameRe.exec(f.name);
    return { name: f.name, pattern: m ? `${c.prefix}.<n>${c.extension}` : f.name, counter: m ? Number(m[1]) : NaN, records: [] };
  });
  decoded.sort((a, b) => a.counter - b.counter);
  const full = (d: Decoded) => `${base}/${c.resolvedDir}/${d.name}`;
  if (c.kind === 'seq') {
    const dumps = await hadoopReadSequenceFiles(hdfs, decoded.map(full));
    dumps.forEach((dump, i) => {
      const { file: _file, records, ...header } = dump;
      decoded[i]!.seq = header;
      decoded[i]!.records = records.map((r) => `${r.key} ${r.value}`);
    });
  } else {
    for (const d of decoded) {
      const bytes = c.kind === 'raw' ? await fsCat(hdfs, full(d)) : await hadoopDecompress(hdfs, full(d));
      d.records = bytes.toString('utf8').split(/(?<=\n)/);
    }
  }
  return decoded;
}

/** What each side should have written: the bodies "0" … "119", 50 a file (or the case's split). */
function expectedRecords(c: SinkCase): string[][] {
  const files: string[][] = [];
  const split = c.split ?? [ROLL_COUNT, ROLL_COUNT, EVENTS - 2 * ROLL_COUNT];
  expect(split.reduce((a, b) => a + b)).toBe(EVENTS);
  let i = 0;
  for (const n of split) {
    files.push(
      Array.from({ length: n }, (_, j) => {
        const body = String(i + j);
        const hex = Buffer.from(body).toString('hex');
        if (c.kind === 'seq') return `long:${TIMESTAMP} ${c.keys['hdfs.writeFormat'] === 'Text' ? 'text' : 'bytes'}:${hex}`;
        if (c.keys['serializer'] === 'header_and_text') return `{${Object.entries(c.headers).map(([k, v]) => `${k}=${v}`).join(', ')}} ${body}\n`;
        return `${body}\n`;
      }),
    );
    i += n;
  }
  return files;
}

/**
 * HEADER_AND_TEXT prints Java's Map.toString() of the headers: Flume's order is its HashMap's, rxflume's
 * the headers' own order (docs/differences-from-flume.md). Lines are compared with their headers sorted.
 */
function sortHeaders(line: string): string {
  const m = /^\{(.*?)\} (.*)$/s.exec(line);
  if (!m) return line;
  return `{${m[1]!.split(', ').sort().join(', ')}} ${m[2]}`;
}

/** Flume, rxflume over WebHDFS, rxflume over the native transport. */
const SIDES = ['flume', 'rxflume', 'native'] as const;
type Side = (typeof SIDES)[number];

describe.skipIf(skip)(`Flume 1.11.0's HDFS sink and rxflume's write the same files${hdfsE.note}${flumeE.note}`, () => {
  const work = scratch('rxflume-hdfs-interop-');
  let root = '';
  let flumeLog = '';
  let rxflume: CliResult | undefined;
  let native: CliResult | undefined;
  const listed: Record<Side, Listed[]> = { flume: [], rxflume: [], native: [] };
  const decoded: Record<Side, Map<string, Decoded[]>> = { flume: new Map(), rxflume: new Map(), native: new Map() };

  beforeAll(async () => {
    const hdfs = requireHdfs();
    root = uniquePath('interop');
    const monitorPort = await freePort();
    // Flume: Hadoop's client reads core-site.xml (replication 1 on this one-DataNode cluster) from the classpath.
    const flumeRun = (async () => {
      const agent = await startFlumeAgent({
        conf: agentConf(hdfs, `${root}/flume`),
        hdfs: true,
        heapMb: 384,
        classpath: [hdfs.confDir],
        systemProperties: { 'flume.monitoring.type': 'http', 'flume.monitoring.port': String(monitorPort) },
      });
      try {
        await flumeDrained(monitorPort, agent);
      } finally {
        await agent.stop({ keep: true });
        flumeLog = await agent.log();
        await agent.stop();
      }
    })();
    const run = async (side: 'rxflume' | 'native'): Promise<CliResult> => {
      const conf = work.write(`${side}.properties`, agentConf(hdfs, `${root}/${side}`, side === 'rxflume'));
      const cli = startCli(['agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet']);
      const timer = setTimeout(() => cli.child.kill('SIGTERM'), 120_000);
      try {
        return await cli.exited;
      } finally {
        clearTimeout(timer);
      }
    };
    const rxflumeRun = (async () => {
      rxflume = await run('rxflume');
      native = await run('native');
    })();
    const [f, r] = await Promise.allSettled([flumeRun, rxflumeRun]);
    if (f.status === 'rejected') throw f.reason;
    if (r.status === 'rejected') throw r.reason;
    for (const side of SIDES) {
      listed[side] = await listTree(hdfs, `${root}/${side}`);
      for (const c of CASES) decoded[side].set(c.sink, await decode(hdfs, `${root}/${side}`, c, listed[side]));
    }
  }, 480_000);

  afterAll(() => work.cleanup());

  it('the agents ran to the end: rxflume (WebHDFS and native) exited 0 by itself, Flume logged no error', () => {
    expect(rxflume?.code, `${rxflume?.stdout}${rxflume?.stderr}`).toBe(0);
    expect(native?.code, `${native?.stdout}${native?.stderr}`).toBe(0);
    expect(flumeLog).not.toMatch(/ ERROR |Exception/);
  });

  it('every file is closed (no in-use .tmp left) and both wrote the same directories', () => {
    for (const side of SIDES) expect(listed[side].filter((f) => f.path.endsWith('.tmp')), side).toEqual([]);
    const dirs = (side: Side) => [...new Set(listed[side].map((f) => f.path.replace(/\/[^/]*$/, '')))].sort();
    expect(dirs('rxflume')).toEqual(dirs('flume'));
    expect(dirs('native')).toEqual(dirs('flume'));
    expect(dirs('flume')).toEqual(CASES.map((c) => c.resolvedDir).sort());
  });

  for (const c of CASES) {
    it(`${c.title}: same file names' pattern and count, same decoded records (Hadoop's readers)`, () => {
      const flume = decoded.flume.get(c.sink)!;
      const ours = decoded.rxflume.get(c.sink)!;
      const oursNative = decoded.native.get(c.sink)!;
      const expected = expectedRecords(c);
      // Names: <prefix>.<counter><suffix>, counters consecutive from the bucket's creation time (ms).
      for (const [side, files] of [['flume', flume], ['rxflume', ours], ['native', oursNative]] as const) {
        expect(files.map((f) => f.pattern), side).toEqual(expected.map(() => `${c.prefix}.<n>${c.extension}`));
        expect(files.map((f) => f.counter - files[0]!.counter), side).toEqual(expected.map((_, i) => i));
        expect(Math.abs(files[0]!.counter - Date.now()), `${side}: the counter starts at the clock`).toBeLessThan(600_000);
      }
      // SequenceFile headers: key and value classes, compression and codec.
      if (c.kind === 'seq') expect(ours.map((f) => f.seq)).toEqual(flume.map((f) => f.seq));
      if (c.kind === 'seq') expect(oursNative.map((f) => f.seq)).toEqual(flume.map((f) => f.seq));
      const norm = (files: Decoded[]) => files.map((f) => f.records.map(sortHeaders));
      expect(norm(ours)).toEqual(norm(flume));
      expect(norm(oursNative)).toEqual(norm(flume));
      expect(norm(flume)).toEqual(expected.map((file) => file.map(sortHeaders)));
    });
  }
});
