/**
 * What lib/hdfs writes, read back by Hadoop's own code on the same jars as the cluster: SequenceFile.Reader,
 * the codecs CompressionCodecFactory picks by extension, and `hadoop fs -text` / `-cat`. Files go to the
 * real HDFS the way a sink writes them (CREATE with the header and first batch, one APPEND per batch).
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODECS, type CodecName, type HadoopCodec } from '../../../lib/hdfs/codecs.js';
import { SequenceFileWriter, type SequenceFileCompression, type SequenceFileValue } from '../../../lib/hdfs/sequenceFile.js';
import { WebHdfsClient } from '../../../lib/hdfs/webHdfsClient.js';
import { fsCat, fsText, hadoopDecompress, hadoopReadSequenceFiles, hdfsEnv, requireHdfs, shown, uniquePath } from '../../support/hdfs.js';

const env = hdfsEnv();

interface Rec {
  key: bigint;
  value: Buffer;
}

const BATCHES: Rec[][] = [
  [
    { key: 1_700_000_000_000n, value: Buffer.from('first event') },
    { key: 0n, value: Buffer.alloc(0) },
    { key: -1n, value: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
  ],
  [
    { key: (1n << 63n) - 1n, value: Buffer.from('héllo wörld\n\ttabs', 'utf8') },
    { key: -(1n << 63n), value: Buffer.from([0xff, 0xfe, 0x00, 0xc3]) }, // not UTF-8: Text keeps the bytes
  ],
  // Past the 64 KiB snappy chunk and the 100 KiB sync interval.
  Array.from({ length: 40 }, (_, i) => ({ key: BigInt(i), value: Buffer.from(`${i}:`.padEnd(5000, String.fromCharCode(97 + (i % 26)))) })),
];

const codecNames = Object.keys(CODECS) as CodecName[];
const variants: Array<{ compression: SequenceFileCompression; valueClass: SequenceFileValue; codec?: HadoopCodec }> = [
  { compression: 'NONE', valueClass: 'BytesWritable' },
  { compression: 'NONE', valueClass: 'Text' },
  ...codecNames.map((c) => ({ compression: 'RECORD' as const, valueClass: 'BytesWritable' as const, codec: CODECS[c] })),
  ...codecNames.map((c) => ({ compression: 'RECORD' as const, valueClass: 'Text' as const, codec: CODECS[c] })),
  ...codecNames.map((c) => ({ compression: 'BLOCK' as const, valueClass: 'BytesWritable' as const, codec: CODECS[c] })),
  ...codecNames.map((c) => ({ compression: 'BLOCK' as const, valueClass: 'Text' as const, codec: CODECS[c] })),
];

describe.skipIf(env.skip)(`lib/hdfs files read by Hadoop${env.note}`, () => {
  let client: WebHdfsClient;
  let dir: string;
  let local: string;

  beforeAll(async () => {
    if (env.skip) return;
    const hdfs = requireHdfs();
    client = new WebHdfsClient({ url: hdfs.webhdfs, user: hdfs.superuser });
    dir = uniquePath('readers');
    await client.mkdirs(dir);
    local = mkdtempSync(join(tmpdir(), 'rxflume-seq-'));
  });
  afterAll(() => {
    client?.close();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  /** CREATE with the header and first batch, then one APPEND per further batch: as a sink does. */
  async function writeBatches(path: string, first: Buffer, rest: Buffer[]): Promise<Buffer> {
    await client.create(path, first);
    for (const chunk of rest) await client.append(path, chunk);
    return Buffer.concat([first, ...rest]);
  }

  it('SequenceFile: every compression × value class × codec, records identical through SequenceFile.Reader', async () => {
    const hdfs = requireHdfs();
    const paths: string[] = [];
    for (const v of variants) {
      const writer = new SequenceFileWriter({ valueClass: v.valueClass, compression: v.compression, ...(v.codec ? { codec: v.codec } : {}) });
      const flushes = BATCHES.map((batch) => {
        for (const r of batch) writer.append(r.key, r.value);
        return writer.flush();
      });
      const path = `${dir}/${v.compression}-${v.valueClass}-${v.codec?.name ?? 'none'}.seq`;
      await writeBatches(path, Buffer.concat([writer.header, flushes[0]!]), flushes.slice(1));
      paths.push(path);
    }
    const files = await hadoopReadSequenceFiles(hdfs, paths);
    expect(files).toHaveLength(variants.length);
    const all = BATCHES.flat();
    files.forEach((file, i) => {
      const v = variants[i]!;
      expect(file, file.file).toMatchObject({
        keyClass: 'org.apache.hadoop.io.LongWritable',
        valueClass: `org.apache.hadoop.io.${v.valueClass}`,
        compressed: v.compression !== 'NONE',
        blockCompressed: v.compression === 'BLOCK',
        codec: v.codec?.className ?? '-',
      });
      const show = v.valueClass === 'Text' ? shown.text : shown.bytes;
      expect(file.records, file.file).toEqual(all.map((r) => ({ key: shown.long(r.key), value: show(r.value) })));
    });
  }, 240_000);

  it('SequenceFile: `hadoop fs -text` prints key<TAB>value (BytesWritable as spaced hex, Text as its bytes)', async () => {
    const hdfs = requireHdfs();
    const writer = new SequenceFileWriter({ valueClass: 'BytesWritable' });
    writer.append(42, Buffer.from('abc'));
    writer.append(-7, Buffer.from([0, 255]));
    await writeBatches(`${dir}/text-bytes.seq`, Buffer.concat([writer.header, writer.flush()]), []);
    expect((await fsText(hdfs, `${dir}/text-bytes.seq`)).toString()).toBe('42\t61 62 63\n-7\t00 ff\n');

    const textWriter = new SequenceFileWriter({ valueClass: 'Text', compression: 'BLOCK', codec: CODECS.gzip });
    textWriter.append(1, Buffer.from('line one'));
    const first = Buffer.concat([textWriter.header, textWriter.flush()]);
    textWriter.append(2, Buffer.from('line two'));
    await writeBatches(`${dir}/text-text.seq.gz`, first, [textWriter.flush()]);
    // -text recognises SEQ before the .gz extension, as for Flume's FlumeData.<n>.gz SequenceFiles.
    expect((await fsText(hdfs, `${dir}/text-text.seq.gz`)).toString()).toBe('1\tline one\n2\tline two\n');
  }, 120_000);

  for (const name of codecNames) {
    it(`CompressedStream ${name}: a file of one stream per batch decompresses to the bytes written (Hadoop's codec, -text, -cat)`, async () => {
      const hdfs = requireHdfs();
      const codec = CODECS[name];
      const batches = [
        Buffer.from('event one\nevent two\n'),
        // Past a snappy chunk (64 KiB) and, for bzip2, past one 900 kB block.
        Buffer.concat(Array.from({ length: 12_000 }, (_, i) => Buffer.from(`line ${i} ${'x'.repeat(i % 97)}\n`))),
        Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 0xff)),
        Buffer.from('last\n'),
      ];
      const path = `${dir}/stream-${name}${codec.extension}`;
      const written = await writeBatches(path, await codec.compress(batches[0]!), await Promise.all(batches.slice(1).map((b) => codec.compress(b))));
      const plain = Buffer.concat(batches);
      expect((await hadoopDecompress(hdfs, path)).equals(plain)).toBe(true);
      expect((await fsText(hdfs, path)).equals(plain)).toBe(true);
      expect((await fsCat(hdfs, path)).equals(written)).toBe(true);
    }, 120_000);
  }

  it('random records in random SequenceFile variants: SequenceFile.Reader reads back exactly what was appended (one JVM, local files)', async () => {
    const hdfs = requireHdfs();
    const cases = fc.sample(
      fc.record({
        compression: fc.constantFrom<SequenceFileCompression>('NONE', 'RECORD', 'BLOCK'),
        valueClass: fc.constantFrom<SequenceFileValue>('BytesWritable', 'Text'),
        codec: fc.constantFrom(...codecNames),
        syncInterval: fc.integer({ min: 1, max: 4000 }),
        blockSize: fc.integer({ min: 1, max: 4000 }),
        batches: fc.array(
          fc.array(fc.record({ key: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), value: fc.uint8Array({ maxLength: 600 }) }), { minLength: 1, maxLength: 15 }),
          { minLength: 1, maxLength: 5 },
        ),
      }),
      { numRuns: 30, seed: Number(process.env['FC_SEED'] ?? 12) },
    );
    const paths = cases.map((c, i) => {
      const writer = new SequenceFileWriter({
        valueClass: c.valueClass,
        compression: c.compression,
        ...(c.compression === 'NONE' ? {} : { codec: CODECS[c.codec] }),
        syncIntervalBytes: c.syncInterval,
        blockSizeBytes: c.blockSize,
      });
      const parts = [writer.header];
      for (const batch of c.batches) {
        for (const r of batch) writer.append(r.key, r.value);
        parts.push(writer.flush());
      }
      const path = join(local, `case-${i}.seq`);
      writeFileSync(path, Buffer.concat(parts));
      return `file://${path}`;
    });
    const files = await hadoopReadSequenceFiles(hdfs, paths);
    files.forEach((file, i) => {
      const c = cases[i]!;
      const show = c.valueClass === 'Text' ? shown.text : shown.bytes;
      expect(file.records, `${file.file}: ${c.compression} ${c.valueClass} ${c.codec} sync ${c.syncInterval} block ${c.blockSize}`).toEqual(
        c.batches.flat().map((r) => ({ key: shown.long(r.key), value: show(r.value) })),
      );
    });
  }, 240_000);
});
