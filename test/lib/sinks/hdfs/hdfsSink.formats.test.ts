/**
 * hdfsSink against the real HDFS: every fileType × codec (and writeFormat, serializer) written in several
 * batches, then read back by Hadoop's own code on the cluster's jars — SequenceFile.Reader, the codec
 * CompressionCodecFactory picks by the file's extension, `hadoop fs -text` (Avro) and `-cat` — with
 * records identical to the events sent.
 */
import { Readable } from 'node:stream';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlumeEvent } from '../../../../lib/core/event.js';
import { CODECS, type CodecName } from '../../../../lib/hdfs/codecs.js';
import type { WebHdfsClient } from '../../../../lib/hdfs/webHdfsClient.js';
import { headerAndTextBytes, javaMapString } from '../../../../lib/serializers/headerAndTextSerializer.js';
import { hdfsSink, type HdfsSinkOptions } from '../../../../lib/sinks/hdfs/hdfsSink.js';
import { fsCat, fsText, hadoopDecompress, hadoopReadSequenceFiles, hdfsEnv, requireHdfs, shown, uniquePath } from '../../../support/hdfs.js';
import { clientOf, deliver, finish, listFiles, pathOn } from './sinkSupport.js';

const env = hdfsEnv();

/** Three batches: plain text, binary and empty bodies, non-UTF-8 bytes, a 70 kB body past a snappy chunk. */
const BATCHES: FlumeEvent[][] = [
  [
    { headers: { timestamp: '1700000000000', host: 'web-1' }, body: Buffer.from('first event') },
    { headers: { timestamp: '1700000000001' }, body: Buffer.alloc(0) },
    { headers: { timestamp: '-5', 'a key': 'é' }, body: Buffer.from([0xff, 0xfe, 0x00, 0xc3]) },
  ],
  [{ headers: { timestamp: '9223372036854775807' }, body: Buffer.from('héllo wörld\ttabs') }],
  Array.from({ length: 30 }, (_, i) => ({ headers: { timestamp: String(1_700_000_001_000 + i) }, body: Buffer.from(i === 7 ? 'z'.repeat(70_000) : `line ${i}`) })),
];
const ALL = BATCHES.flat();
const TEXT = Buffer.concat(ALL.flatMap((e) => [e.body, Buffer.from('\n')]));

const codecNames = Object.keys(CODECS) as CodecName[];

describe.skipIf(env.skip)(`hdfsSink files read back by Hadoop${env.note}`, () => {
  let client: WebHdfsClient;
  let root: string;

  beforeAll(() => {
    if (env.skip) return;
    client = clientOf(requireHdfs());
    root = uniquePath('sink-formats');
  });
  afterAll(() => client?.close());

  /** Writes the batches with one sink into its own directory (one file: no roll), closes it, and returns the file. */
  async function write(dir: string, options: Omit<HdfsSinkOptions, 'path'>): Promise<string> {
    const hdfs = requireHdfs();
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollCount: 0, rollSize: 0, rollIntervalS: 0, ...options });
    await deliver(sink, BATCHES);
    await finish(sink);
    const files = await listFiles(client, dir);
    expect(files.map((f) => f.pathSuffix)).toEqual([expect.stringMatching(/^FlumeData\.\d+(\.\w+)?$/)]);
    return files[0]!.path;
  }

  it('SequenceFile: Writable and Text, without a codec and with each codec (block compression), records identical through SequenceFile.Reader', async () => {
    const hdfs = requireHdfs();
    const variants = (['Writable', 'Text'] as const).flatMap((writeFormat) => [undefined, ...codecNames].map((codec) => ({ writeFormat, codec })));
    const paths: string[] = [];
    for (const v of variants) paths.push(await write(`${root}/seq-${v.writeFormat}-${v.codec ?? 'none'}`, { fileType: 'SequenceFile', writeFormat: v.writeFormat, ...(v.codec ? { codec: v.codec } : {}) }));
    // Flume names a compressed SequenceFile with the codec's extension.
    variants.forEach((v, i) => expect(paths[i]).toMatch(new RegExp(`FlumeData\\.\\d+${v.codec ? CODECS[v.codec].extension.replace('.', '\\.') : ''}$`)));
    const files = await hadoopReadSequenceFiles(hdfs, paths);
    files.forEach((file, i) => {
      const v = variants[i]!;
      expect(file, file.file).toMatchObject({
        keyClass: 'org.apache.hadoop.io.LongWritable',
        valueClass: `org.apache.hadoop.io.${v.writeFormat === 'Text' ? 'Text' : 'BytesWritable'}`,
        compressed: v.codec !== undefined,
        blockCompressed: v.codec !== undefined,
        codec: v.codec ? CODECS[v.codec].className : '-',
      });
      const value = v.writeFormat === 'Text' ? shown.text : shown.bytes;
      expect(file.records, file.file).toEqual(ALL.map((e) => ({ key: shown.long(BigInt(e.headers['timestamp']!)), value: value(e.body) })));
    });
  }, 300_000);

  it('SequenceFile: an event without a timestamp header gets the clock as its key, as in Flume', async () => {
    const hdfs = requireHdfs();
    const before = Date.now();
    const dir = `${root}/seq-clock`;
    const sink = hdfsSink({ path: pathOn(hdfs, dir), user: hdfs.superuser, rollIntervalS: 0 });
    await deliver(sink, [[{ headers: {}, body: Buffer.from('no timestamp') }]]);
    await finish(sink);
    const [file] = await hadoopReadSequenceFiles(hdfs, [(await listFiles(client, dir))[0]!.path]);
    const key = Number(file!.records[0]!.key.slice('long:'.length));
    expect(key).toBeGreaterThanOrEqual(before);
    expect(key).toBeLessThanOrEqual(Date.now());
  }, 120_000);

  it('DataStream TEXT and HEADER_AND_TEXT: the bytes hadoop fs -cat prints are the serializer\'s', async () => {
    const hdfs = requireHdfs();
    const text = await write(`${root}/data-text`, { fileType: 'DataStream' });
    expect((await fsCat(hdfs, text)).equals(TEXT)).toBe(true);
    const noNewline = await write(`${root}/data-text-nonl`, { fileType: 'DataStream', appendNewline: false, fileSuffix: '.txt' });
    expect(noNewline).toMatch(/\.txt$/);
    expect((await fsCat(hdfs, noNewline)).equals(Buffer.concat(ALL.map((e) => e.body)))).toBe(true);
    const headers = await write(`${root}/data-headers`, { fileType: 'DataStream', serializer: 'HEADER_AND_TEXT' });
    expect((await fsCat(hdfs, headers)).equals(headerAndTextBytes(ALL, true))).toBe(true);
    expect((await fsCat(hdfs, headers)).toString('latin1')).toContain(`${javaMapString({ timestamp: '1700000000000', host: 'web-1' })} first event\n`);
  }, 180_000);

  for (const codec of ['null', 'deflate', 'snappy'] as const) {
    it(`DataStream avro_event (${codec}): hadoop fs -text decodes the Avro container to the same events`, async () => {
      const hdfs = requireHdfs();
      const path = await write(`${root}/data-avro-${codec}`, { fileType: 'DataStream', serializer: 'avro_event', compressionCodec: codec, fileSuffix: '.avro' });
      // -text prints each record as Avro JSON: bytes as ISO-8859-1 characters.
      const lines = (await fsText(hdfs, path)).toString('utf8').split('\n').filter(Boolean);
      const type = avro.Type.forSchema({ type: 'record', name: 'Event', fields: [{ name: 'headers', type: { type: 'map', values: 'string' } }, { name: 'body', type: 'bytes' }] });
      const decoded = lines.map((l) => {
        const json = JSON.parse(l) as { headers: Record<string, string>; body: string };
        return { headers: json.headers, body: Buffer.from(json.body, 'latin1') };
      });
      expect(decoded).toEqual(ALL.map((e) => ({ headers: e.headers, body: e.body })));
      expect(type.isValid(decoded[0])).toBe(true);
    }, 120_000);
  }

  for (const name of codecNames) {
    it(`CompressedStream ${name}: Hadoop's codec (by the ${CODECS[name].extension} extension) decompresses the file to the TEXT bytes`, async () => {
      const hdfs = requireHdfs();
      const path = await write(`${root}/stream-${name}`, { fileType: 'CompressedStream', codec: name });
      expect(path.endsWith(CODECS[name].extension)).toBe(true);
      expect((await hadoopDecompress(hdfs, path)).equals(TEXT)).toBe(true);
    }, 120_000);
  }

  it("CompressedStream gzip with avro_event: Hadoop's gzip codec gives back one Avro container holding every event", async () => {
    const hdfs = requireHdfs();
    const path = await write(`${root}/stream-avro`, { fileType: 'CompressedStream', codec: 'gzip', serializer: 'avro_event' });
    const container = await hadoopDecompress(hdfs, path);
    const records: FlumeEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      Readable.from([container])
        .pipe(new avro.streams.BlockDecoder())
        .on('data', (r: FlumeEvent) => records.push({ headers: { ...r.headers }, body: r.body }))
        .on('end', resolve)
        .on('error', reject);
    });
    expect(records).toEqual(ALL);
  }, 120_000);
});
