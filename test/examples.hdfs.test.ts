/**
 * The HDFS examples (examples/netcat-hdfs.properties and the Flume User Guide's HDFS examples under
 * examples/flume-ug/): each validates as written, then runs against the run's HDFS
 * (test/support/hdfsGlobalSetup.ts, started because this file's name says "hdfs") with its hdfs.path moved
 * under a directory of its own, on the cluster (hdfs:// paths natively, bare ones over its WebHDFS). Input goes in the way the example
 * takes it (a netcat line, an Avro appendBatch, its seq source made finite), and the test reads the files
 * back from HDFS: where the example's escapes put them, named as it says, closed (renamed) on stop, with
 * the events in them (text read back over WebHDFS, SequenceFiles with Hadoop's own SequenceFile.Reader).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlumeEvent } from '../lib/core/event.js';
import type { WebHdfsClient } from '../lib/hdfs/webHdfsClient.js';
import { avroSource } from '../lib/sources/avroSource.js';
import { freePort } from '../scripts/service.js';
import { agentOf, buildDist, cli, limiter, root } from './support/examples.js';
import { hadoopReadSequenceFiles, hdfsEnv, requireHdfs, uniquePath, type HdfsCluster } from './support/hdfs.js';
import { clientOf, listFiles, until } from './lib/sinks/hdfs/sinkSupport.js';
import { listening, recordingSink } from './support/net.js';
import { avroBatch } from './support/exampleRun.js';

const run = promisify(execFile);
const env = hdfsEnv();

/** Events the examples' seq sources are limited to in the copies (unbounded as written). */
const SEQ_EVENTS = 25;
const DATE = String.raw`\d{4}-\d{2}-\d{2}`;

const hex = (s: string): string => Buffer.from(s).toString('hex');
const fromHex = (h: string): string => Buffer.from(h, 'hex').toString();
const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };

/** An Avro object container file's records and codec (avsc; snappy blocks checked against their CRC-32, as Avro writes them). */
function decodeAvroContainer(bytes: Buffer): Promise<{ codec: string; records: FlumeEvent[] }> {
  return new Promise((resolve, reject) => {
    const records: FlumeEvent[] = [];
    let codec = '';
    const decoder = new avro.streams.BlockDecoder({
      codecs: {
        null: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, buf),
        snappy: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) => {
          const data = Buffer.from(snappy.uncompress(buf.subarray(0, buf.length - 4)));
          if (crc32(data) !== buf.readUInt32BE(buf.length - 4)) cb(new Error('snappy block CRC mismatch'));
          else cb(null, data);
        },
      },
    });
    decoder
      .on('metadata', (_type: unknown, name: string) => (codec = name))
      .on('data', (r: { headers: Record<string, string>; body: Buffer }) => records.push({ headers: r.headers, body: r.body }))
      .on('end', () => resolve({ codec, records }))
      .on('error', reject);
    decoder.end(bytes);
  });
}

/**
 * The example made to run against `hdfs`: every hdfs.path moved under `dir` (an hdfs://namenode/… path
 * on the cluster's NameNode RPC address, so it runs over the native transport, the sink's default for
 * it; a bare path with webHdfsUrl set to the cluster's WebHDFS), user set to the cluster's, listening ports made
 * `ports` (free ones, where the test connects), seq sources finite, file channels in `local` (not ~/.flume).
 */
function onCluster(text: string, hdfs: HdfsCluster, dir: string, local: string, ports: readonly number[] = []): string {
  let next = 0;
  return text
    .replace(/^\S+\.webHdfsUrl\s*=.*\n/gm, '')
    .replace(/^(\S+\.sinks\.[^.\s]+)\.hdfs\.path\s*=\s*(.*)$/gm, (_m, sink: string, path: string) => {
      const [, authority = '', rest = path] = /^([a-zA-Z][\w+.-]*:\/\/[^/]*)?(.*)$/.exec(path.trim())!;
      // hdfs://namenode/… is the cluster's NameNode RPC address, written natively as the sink does by
      // default; a bare /… path (Hadoop's default file system) goes over the cluster's WebHDFS.
      const where = /^hdfs:/i.test(authority) ? [`${sink}.hdfs.path = ${hdfs.uri}${dir}${rest}`] : [`${sink}.hdfs.path = ${authority}${dir}${rest}`, `${sink}.webHdfsUrl = ${hdfs.webhdfs}`];
      return [...where, `${sink}.user = ${hdfs.superuser}`].join('\n');
    })
    .replace(/^(\S+\.sources\.[^.\s]+\.port)\s*=\s*\d+$/gm, (_m, key: string) => `${key} = ${ports[next++] ?? 0}`)
    .replace(/^(\S+\.sources\.[^.\s]+)\.type\s*=\s*seq$/gm, (line, source: string) => `${line}\n${source}.totalEvents = ${SEQ_EVENTS}`)
    .replace(/^(\S+\.channels\.([^.\s]+))\.type\s*=\s*file$/gm, (line, channel: string, name: string) =>
      [line, `${channel}.checkpointDir = ${local}/${name}/checkpoint`, `${channel}.dataDirs = ${local}/${name}/data`].join('\n'),
    );
}

interface RunningAgent {
  output(): string;
  /** SIGTERM unless it has ended by itself; resolves its exit code. */
  stop(): Promise<number | null>;
}

/** `rxflume agent` on `file`, resolved once it logged `agent started` (throws with its output otherwise). */
async function startAgent(file: string, agent: string): Promise<RunningAgent> {
  const child = spawn(process.execPath, [cli, 'agent', '-n', agent, '-f', file, '--no-reload-conf', '--quiet'], { cwd: root });
  let tail = '';
  const onData = (d: Buffer) => (tail = (tail + d.toString()).slice(-20_000));
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const stop = async () => {
    // An agent whose sources ended by itself is already on its way out.
    if (child.exitCode === null && child.signalCode === null && !tail.includes('"msg":"agent stopped"')) child.kill('SIGTERM');
    return exit;
  };
  try {
    await until(() => tail.includes('"msg":"agent started"') || child.exitCode !== null, 30_000, `agent ${agent} to start`);
  } catch (error) {
    await stop();
    throw error;
  }
  if (!tail.includes('"msg":"agent started"')) throw new Error(`agent ${agent} did not start:\n${tail}`);
  return { output: () => tail, stop };
}

/** Sends one line to a netcat source; resolves its answer (`OK`). */
function netcatLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${line}\n`));
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (answer.includes('\n')) {
        socket.end();
        resolve(answer.trim());
      }
    });
    socket.on('error', reject);
  });
}


/** The seq events 0 … SEQ_EVENTS-1 as Hadoop prints BytesWritable values. */
const seqValues = (): string[] => Array.from({ length: SEQ_EVENTS }, (_, i) => `bytes:${hex(String(i))}`);

const examplesDir = join(root, 'examples');
const hdfsExamples = [
  'netcat-hdfs.properties',
  'flume-ug/sinks-hdfs.properties',
  'flume-ug/config-avro-hdfs.properties',
  'flume-ug/config-multiplexing.properties',
  'flume-ug/interceptors-host-timestamp-hdfs.properties',
  'flume-ug/serializers-avro-event.properties',
];

beforeAll(() => buildDist(), 120_000);

describe.concurrent('HDFS examples validate as written', () => {
  it('are all here', ({ expect }) => {
    for (const file of hdfsExamples) expect(readFileSync(join(examplesDir, file), 'utf8')).toMatch(/^\S+\.type\s*=\s*hdfs$/m);
    // Every example writing to HDFS has its test here (test/examples.test.ts leaves them to this file).
    const writing = ['', 'flume-ug/']
      .flatMap((sub) => readdirSync(join(examplesDir, sub)).filter((f) => f.endsWith('.properties')).map((f) => `${sub}${f}`))
      .filter((f) => /^\S+\.type\s*=\s*hdfs$/m.test(readFileSync(join(examplesDir, f), 'utf8')));
    expect(writing.sort()).toEqual([...hdfsExamples].sort());
  });
  for (const file of hdfsExamples) {
    it(`${file} validates`, async ({ expect }) => {
      const agent = agentOf(readFileSync(join(examplesDir, file), 'utf8'));
      const { stdout } = await run(process.execPath, [cli, 'validate', '-n', agent, '-f', join(examplesDir, file)], { cwd: root });
      expect(stdout).toMatch(new RegExp(`^agent ${agent}\\n[^]*\\(hdfs\\)`));
    });
  }
});

describe.skipIf(env.skip)(`HDFS examples write their events into HDFS${env.note}`, { concurrent: true }, () => {
  const base = mkdtempSync(join(tmpdir(), 'rxflume-examples-hdfs-'));
  const agentSlot = limiter(2);
  let client: WebHdfsClient | undefined;
  afterAll(() => {
    client?.close();
    rmSync(base, { recursive: true, force: true });
  });

  /** Runs `file`'s copy on the cluster under a fresh directory: `feed` while it runs, then stop; resolves the files left under the directory. */
  async function runExample(
    file: string,
    feed: (agent: RunningAgent, ports: number[], dir: string) => Promise<void>,
    portCount = 0,
    rewrite: (text: string) => string = (t) => t,
  ) {
    const hdfs = requireHdfs();
    client ??= clientOf(hdfs);
    const dir = uniquePath(`example-${file.replace(/\W+/g, '-')}`);
    const text = readFileSync(join(examplesDir, file), 'utf8');
    const agent = agentOf(text);
    const ports = await Promise.all(Array.from({ length: portCount }, () => freePort()));
    const copy = join(base, file.replace(/\//g, '-'));
    writeFileSync(copy, rewrite(onCluster(text, hdfs, dir, `${copy}.channels`, ports)));
    return agentSlot(async () => {
      const running = await startAgent(copy, agent);
      let code: number | null;
      try {
        await feed(running, ports, dir);
      } finally {
        code = await running.stop();
      }
      const output = running.output();
      expect(code, output).toBe(0);
      expect(output).toContain('"msg":"agent stopped"');
      const files = await listFiles(client!, dir);
      // The sink closed every file on stop: no in-use name is left.
      expect(files.map((f) => f.path).filter((p) => p.endsWith('.tmp')), output).toEqual([]);
      return { hdfs, dir, files, output };
    });
  }

  /** Waits (while the agent runs) until the sink has created a file under `dir` (natively written, an open file lists 0 bytes until its block completes). */
  const written = (dir: string) => until(async () => (await listFiles(client!, dir)).length > 0, 30_000, `a file under ${dir}`);

  it('netcat-hdfs.properties: a line sent to the netcat source is a text file in the day\'s folder', async () => {
    const line = `hello HDFS ${Date.now()}`;
    const { dir, files } = await runExample(
      'netcat-hdfs.properties',
      async (_agent, [port], dir) => {
        expect(await netcatLine(port!, line)).toBe('OK');
        await written(dir);
      },
      1,
    );
    expect(files.map((f) => f.path)).toEqual([expect.stringMatching(new RegExp(`^${dir}/flume/netcat/${DATE}/FlumeData\\.\\d+$`))]);
    expect((await client!.open(files[0]!.path)).toString()).toBe(`${line}\n`);
  }, 120_000);

  it('flume-ug/sinks-hdfs.properties: the seq events in SequenceFiles named events-, bucketed by 10-minute rounded time', async () => {
    const started = Date.now();
    // The seq source ends after SEQ_EVENTS events; the agent (--no-reload-conf) then drains and stops by itself.
    const { hdfs, dir, files, output } = await runExample('flume-ug/sinks-hdfs.properties', async (agent) => {
      await until(() => agent.output().includes('"msg":"agent stopped"'), 60_000, 'the agent to finish its seq source');
    });
    expect(files.length, output).toBeGreaterThan(0);
    for (const f of files) expect(f.path).toMatch(new RegExp(`^${dir}/flume/events/${DATE}/\\d{2}[0-5]0/00/events-\\.\\d+$`));
    const read = await hadoopReadSequenceFiles(hdfs, files.map((f) => f.path));
    const records = read.flatMap((f) => f.records);
    expect(records.map((r) => r.value).sort()).toEqual(seqValues().sort());
    // Keys: the timestamp header the interceptor set (LongWritable), during this run.
    for (const { key } of records) expect(Number(key.replace(/^long:/, ''))).toSatisfy((t: number) => t >= started && t <= Date.now());
    expect(read.every((f) => f.keyClass === 'org.apache.hadoop.io.LongWritable' && f.valueClass === 'org.apache.hadoop.io.BytesWritable')).toBe(true);
  }, 180_000);

  it('flume-ug/config-avro-hdfs.properties: an Avro appendBatch to agent_foo is a SequenceFile under hdfs://namenode/…/flume/webdata', async () => {
    const t0 = 1_700_000_000_000;
    const bodies = ['first event', 'second event', 'third event'];
    const { hdfs, dir, files } = await runExample(
      'flume-ug/config-avro-hdfs.properties',
      async (_agent, [port], dir) => {
        await avroBatch(port!, bodies.map((b, i) => ({ headers: { timestamp: String(t0 + i) }, body: Buffer.from(b) })), 'localhost');
        await written(dir);
      },
      1,
    );
    expect(files.map((f) => f.path)).toEqual([expect.stringMatching(new RegExp(`^${dir}/flume/webdata/FlumeData\\.\\d+$`))]);
    const [read] = await hadoopReadSequenceFiles(hdfs, [files[0]!.path]);
    expect(read!.records).toEqual(bodies.map((b, i) => ({ key: `long:${t0 + i}`, value: `bytes:${hex(b)}` })));
  }, 120_000);

  it('flume-ug/interceptors-host-timestamp-hdfs.properties: the seq events stamped by the interceptors, in files named by filePrefix\'s escapes', async () => {
    const started = Date.now();
    const { hdfs, dir, files, output } = await runExample('flume-ug/interceptors-host-timestamp-hdfs.properties', async (agent) => {
      await until(() => agent.output().includes('"msg":"agent stopped"'), 60_000, 'the agent to finish its seq source');
    });
    expect(files.length, output).toBeGreaterThan(0);
    // FlumeData.%{CollectorHost}.%Y-%m-%d: no CollectorHost header (the host interceptor writes `hostname`), so "", then the timestamp's date.
    for (const f of files) expect(f.path).toMatch(new RegExp(`^${dir}/flume/events/FlumeData\\.\\.${DATE}\\.\\d+$`));
    const read = await hadoopReadSequenceFiles(hdfs, files.map((f) => f.path));
    const records = read.flatMap((f) => f.records);
    expect(records.map((r) => r.value).sort()).toEqual(seqValues().sort());
    for (const { key } of records) expect(Number(key.replace(/^long:/, ''))).toSatisfy((t: number) => t >= started && t <= Date.now());
    expect(records.map((r) => fromHex(r.value.replace(/^bytes:/, ''))).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: SEQ_EVENTS }, (_, i) => i));
  }, 180_000);
  it('flume-ug/config-multiplexing.properties: events by State: CA and the default to HDFS, AZ to the Avro forward sink, NY to both', async () => {
    const t0 = 1_700_000_000_000;
    const events: FlumeEvent[] = [
      { headers: { timestamp: String(t0), State: 'CA' }, body: Buffer.from('from California') },
      { headers: { timestamp: String(t0 + 1), State: 'TX' }, body: Buffer.from('unmapped: the default channel') },
      { headers: { timestamp: String(t0 + 2) }, body: Buffer.from('no State: the default channel') },
      { headers: { timestamp: String(t0 + 3), State: 'AZ' }, body: Buffer.from('from Arizona') },
      { headers: { timestamp: String(t0 + 4), State: 'NY' }, body: Buffer.from('from New York') },
    ];
    // The guide's next tier, 10.1.1.100:10000, is an Avro source the test runs.
    const forwarded = recordingSink();
    const l = listening();
    const receiver = avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening }).subscribe({ next: (b) => forwarded.next(b) });
    try {
      const receiverPort = await l.port;
      const { hdfs, dir, files } = await runExample(
        'flume-ug/config-multiplexing.properties',
        async (_agent, [port], dir) => {
          await avroBatch(port!, events);
          await written(dir);
          await until(async () => forwarded.events.length >= 2, 30_000, 'the AZ and NY events at the Avro receiver');
        },
        1,
        (text) => text.replace(/^(\S+\.avro-forward-sink2\.hostname)\s*=.*$/m, '$1 = 127.0.0.1').replace(/^(\S+\.avro-forward-sink2\.port)\s*=.*$/m, `$1 = ${receiverPort}`),
      );
      expect(files.map((f) => f.path)).toEqual([expect.stringMatching(new RegExp(`^${dir}/flume/webdata/FlumeData\\.\\d+$`))]);
      const [read] = await hadoopReadSequenceFiles(hdfs, [files[0]!.path]);
      const toHdfs = events.filter((e) => e.headers['State'] !== 'AZ');
      expect(read!.records).toEqual(toHdfs.map((e) => ({ key: `long:${e.headers['timestamp']}`, value: `bytes:${e.body.toString('hex')}` })));
      expect(forwarded.events.map((e) => e.body.toString())).toEqual(['from Arizona', 'from New York']);
    } finally {
      receiver.unsubscribe();
    }
  }, 120_000);

  it('flume-ug/serializers-avro-event.properties: the seq events as Flume Avro events in snappy-compressed Avro containers', async () => {
    const started = Date.now();
    const { dir, files, output } = await runExample('flume-ug/serializers-avro-event.properties', async (agent) => {
      await until(() => agent.output().includes('"msg":"agent stopped"'), 60_000, 'the agent to finish its seq source');
    });
    expect(files.length, output).toBeGreaterThan(0);
    for (const f of files) expect(f.path).toMatch(new RegExp(`^${dir}/flume/events/${DATE}/\\d{4}/\\d{2}/FlumeData\\.\\d+$`));
    const records: FlumeEvent[] = [];
    for (const f of files) {
      const container = await decodeAvroContainer(await client!.open(f.path));
      expect(container.codec).toBe('snappy');
      records.push(...container.records);
    }
    expect(records.map((r) => Number(r.body.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: SEQ_EVENTS }, (_, i) => i));
    // Each record carries its headers: the timestamp the interceptor set during this run.
    for (const r of records) expect(Number(r.headers['timestamp'])).toSatisfy((t: number) => t >= started && t <= Date.now());
  }, 180_000);
});
