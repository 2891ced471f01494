/**
 * hdfsSink with a serializer made with defineSerializer, against the real HDFS: the serializer's bytes
 * (its file header once, then every batch) are what Hadoop reads back from DataStream and CompressedStream
 * files; SequenceFile ignores it, as Flume's HDFSSequenceFile does; and an agent configuration naming
 * the example module (examples/plugins/csv.js) as `a1.sinks.k1.serializer` writes its CSV into HDFS.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlumeError } from '../../../../lib/core/errors.js';
import type { WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { defineSerializer } from '../../../../lib/serializers/defineSerializer.js';
import { hdfsSink } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import { runCli, scratch, startCli } from '../../../support/cli.js';
import { buildDist, root } from '../../../support/examples.js';
import { fsCat, hadoopDecompress, hadoopReadSequenceFiles, hdfsEnv, requireHdfs, shown, uniquePath } from '../../../support/hdfs.js';
import { clientOf, deliver, ev, finish, listFiles, send, sinkOptions } from './sinkSupport.js';

const env = hdfsEnv();

/** Opens each file with `#<tag> file` and writes each event as `<tag>|<seq>|<body>;` — bytes no built-in writes. */
const tagged = defineSerializer({
  name: 'tagged',
  schema: z.strictObject({ tag: z.string().min(1) }),
  create: ({ tag }) => ({
    header: Buffer.from(`#${tag} file\n`),
    serialize: (events) => Buffer.from(events.map((e) => `${tag}|${e.headers['seq'] ?? ''}|${e.body.toString('utf8')};`).join('')),
  }),
});

const BATCHES = [[ev(1), ev(2)], [ev(3)], [ev(4), ev(5), ev(6)]];
const EXPECTED = Buffer.from(`#x file\n${BATCHES.flat().map((e) => `x|${e.headers['seq']}|${e.body.toString('utf8')};`).join('')}`);

describe.skipIf(env.skip)(`hdfsSink with a custom serializer${env.note}`, () => {
  let client: WebHdfsClient;
  let base: string;

  beforeAll(() => {
    if (env.skip) return;
    client = clientOf(requireHdfs());
    base = uniquePath('sink-serializer');
  });
  afterAll(() => client?.close());

  /** Writes BATCHES with one sink into `dir` (one file, no roll), closes it, and returns the file's path. */
  async function write(dir: string, over: Parameters<typeof sinkOptions>[2]): Promise<string> {
    const sink = hdfsSink(sinkOptions(requireHdfs(), dir, over));
    await deliver(sink, BATCHES);
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(files.map((f) => f.pathSuffix)).toEqual([expect.stringMatching(/^FlumeData\.\d+(\.\w+)?$/)]);
    return files[0]!.path;
  }

  it("DataStream: hadoop fs -cat prints the serializer's header once, then every batch's bytes", async () => {
    const path = await write(`${base}/data`, { fileType: 'DataStream', serializer: tagged, serializerOptions: { tag: 'x' } });
    expect((await fsCat(requireHdfs(), path)).toString('utf8')).toBe(EXPECTED.toString('utf8'));
  }, 120_000);

  it("CompressedStream gzip: Hadoop's codec gives back the serializer's bytes", async () => {
    const path = await write(`${base}/gzip`, { fileType: 'CompressedStream', codec: 'gzip', serializer: tagged, serializerOptions: { tag: 'x' } });
    expect(path).toMatch(/\.gz$/);
    expect((await hadoopDecompress(requireHdfs(), path)).toString('utf8')).toBe(EXPECTED.toString('utf8'));
  }, 120_000);

  it('SequenceFile: the serializer is not used — BytesWritable bodies keyed by timestamp, as Flume writes whatever `serializer` says', async () => {
    const hdfs = requireHdfs();
    const path = await write(`${base}/seq`, { fileType: 'SequenceFile', serializer: tagged, serializerOptions: { tag: 'x' } });
    const [file] = await hadoopReadSequenceFiles(hdfs, [path]);
    expect(file!.valueClass).toBe('org.apache.hadoop.io.BytesWritable');
    expect(file!.records).toEqual(BATCHES.flat().map((e) => ({ key: shown.long(BigInt(e.headers['timestamp']!)), value: shown.bytes(e.body) })));
  }, 120_000);

  it("refuses bad serializerOptions when the sink is built, by the serializer's own schema", () => {
    expect(() => hdfsSink(sinkOptions(requireHdfs(), `${base}/bad`, { fileType: 'DataStream', serializer: tagged, serializerOptions: { tag: '' } }))).toThrow(/tagged\.tag/);
  });

  it('a serializer that throws nacks the batch as non-retriable (FLUME_BAD_EVENT), nothing of it in HDFS', async () => {
    const broken = defineSerializer({
      name: 'broken',
      schema: z.strictObject({}),
      create: () => ({
        header: Buffer.alloc(0),
        serialize: (events) => {
          if (events.some((e) => e.body.toString() === 'poison')) throw new Error('cannot write poison');
          return Buffer.concat(events.map((e) => e.body));
        },
      }),
    });
    const dir = `${base}/broken`;
    const sink = hdfsSink(sinkOptions(requireHdfs(), dir, { fileType: 'DataStream', serializer: broken }));
    await deliver(sink, [[ev(1, {}, 'ok ')]]);
    const outcome = await send(sink, [ev(2, {}, 'poison')]);
    expect(outcome).toBeInstanceOf(FlumeError);
    expect(outcome).toMatchObject({ code: 'FLUME_BAD_EVENT', retriable: false, message: expect.stringMatching(/broken: cannot write poison/) });
    await deliver(sink, [[ev(3, {}, 'fine')]]);
    await finish(sink);
    const bytes = await Promise.all((await listFiles(client, dir)).map((f) => fsCat(requireHdfs(), f.path)));
    expect(Buffer.concat(bytes).toString()).toBe('ok fine');
  }, 120_000);
});

describe.skipIf(env.skip)(`an agent whose hdfs sink names examples/plugins/csv.js as its serializer${env.note}`, () => {
  const work = scratch('rxflume-hdfs-csv-');
  beforeAll(() => {
    // The example module imports 'rxflume', which resolves to the built package.
    if (!env.skip) buildDist();
  }, 180_000);
  afterAll(() => work.cleanup());

  const conf = (dir: string, fileType: string, extra = '') => {
    const hdfs = requireHdfs();
    return work.write(
      `${fileType}.properties`,
      [
        'a1.sources = r1',
        'a1.channels = c1',
        'a1.sinks = k1',
        'a1.sources.r1.type = seq',
        'a1.sources.r1.totalEvents = 4',
        'a1.sources.r1.channels = c1',
        'a1.sources.r1.interceptors = i1',
        'a1.sources.r1.interceptors.i1.type = static',
        'a1.sources.r1.interceptors.i1.key = dc',
        'a1.sources.r1.interceptors.i1.value = east,1',
        'a1.channels.c1.type = memory',
        'a1.sinks.k1.type = hdfs',
        'a1.sinks.k1.channel = c1',
        `a1.sinks.k1.hdfs.path = ${hdfs.uri}${dir}`,
        `a1.sinks.k1.webHdfsUrl = ${hdfs.webhdfs}`,
        `a1.sinks.k1.hdfs.fileType = ${fileType}`,
        'a1.sinks.k1.hdfs.rollCount = 0',
        'a1.sinks.k1.hdfs.rollSize = 0',
        'a1.sinks.k1.hdfs.rollInterval = 0',
        `a1.sinks.k1.serializer = ${join(root, 'examples/plugins/csv.js')}`,
        'a1.sinks.k1.serializer.columns = dc',
        'a1.sinks.k1.serializer.delimiter = ;',
        extra,
      ].join('\n'),
    );
  };

  it('validate names the module; the agent writes its CSV lines (header line once) into a DataStream and a gzip CompressedStream file', async () => {
    const hdfs = requireHdfs();
    const dir = uniquePath('agent-csv');
    const data = conf(`${dir}/data`, 'DataStream');
    const checked = await runCli(['validate', '-n', 'a1', '-f', data]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toContain('c1 → k1 (hdfs, serializer csvLine)');
    const gzip = conf(`${dir}/gzip`, 'CompressedStream', 'a1.sinks.k1.hdfs.codeC = gzip');
    const csv = ['dc;body', ...[0, 1, 2, 3].map((i) => `east,1;${i}`), ''].join('\n');
    for (const [file, sub] of [[data, 'data'], [gzip, 'gzip']] as const) {
      const agent = startCli(['agent', '-n', 'a1', '-f', file, '--no-reload-conf', '--quiet']);
      const timer = setTimeout(() => agent.child.kill('SIGTERM'), 120_000);
      const result = await agent.exited.finally(() => clearTimeout(timer));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const client = clientOf(hdfs);
      try {
        const files = await listFiles(client, `${dir}/${sub}`);
        expect(files.map((f) => f.pathSuffix)).toEqual([expect.stringMatching(sub === 'gzip' ? /^FlumeData\.\d+\.gz$/ : /^FlumeData\.\d+$/)]);
        const bytes = sub === 'gzip' ? await hadoopDecompress(hdfs, files[0]!.path) : await fsCat(hdfs, files[0]!.path);
        expect(bytes.toString('utf8')).toBe(csv);
      } finally {
        client.close();
      }
    }
  }, 300_000);
});
