import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODECS, type HadoopCodec } from '../../../lib/hdfs/codecs.js';
import { DEFAULT_SYNC_INTERVAL, SequenceFileWriter, type SequenceFileCompression, type SequenceFileValue } from '../../../lib/hdfs/sequenceFile.js';
import { BytesWritable, encode, LongWritable, Text, text } from '../../../lib/hdfs/writables.js';
import { decodeSequenceFile } from '../../support/hdfsSequenceFile.js';

const record = fc.record({ key: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), value: fc.uint8Array({ maxLength: 300 }) });
const batches = fc.array(fc.array(record, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 6 });
const fastCodecs: HadoopCodec[] = [CODECS.gzip, CODECS.default, CODECS.deflate, CODECS.snappy];

function write(options: ConstructorParameters<typeof SequenceFileWriter>[0], input: Array<Array<{ key: bigint; value: Uint8Array }>>) {
  const writer = new SequenceFileWriter(options);
  const flushes = input.map((batch) => {
    for (const r of batch) writer.append(r.key, r.value);
    return writer.flush();
  });
  return { writer, file: Buffer.concat([writer.header, ...flushes]), flushes };
}

const serialized = (valueClass: SequenceFileValue, value: Uint8Array) => encode(valueClass === 'Text' ? Text : BytesWritable, value);

describe('SequenceFileWriter framing (checked with our own decoder)', () => {
  it('writes the v6 header as Hadoop lays it out, with the codec only when compressed and metadata sorted', () => {
    const sync = Buffer.alloc(16, 0xab);
    const plain = new SequenceFileWriter({ valueClass: 'BytesWritable', syncMarker: sync });
    expect(plain.header.toString('hex')).toBe(
      Buffer.concat([
        Buffer.from('SEQ\x06', 'latin1'),
        text('org.apache.hadoop.io.LongWritable'),
        text('org.apache.hadoop.io.BytesWritable'),
        Buffer.from([0, 0, 0, 0, 0, 0]),
        sync,
      ]).toString('hex'),
    );
    const block = decodeSequenceFile(
      new SequenceFileWriter({ valueClass: 'Text', compression: 'BLOCK', codec: CODECS.snappy, syncMarker: sync, metadata: { b: '2', a: '1', é: '3' } }).header,
    );
    expect(block).toMatchObject({
      keyClass: 'org.apache.hadoop.io.LongWritable',
      valueClass: 'org.apache.hadoop.io.Text',
      compressed: true,
      blockCompressed: true,
      codec: 'org.apache.hadoop.io.compress.SnappyCodec',
      metadata: [
        ['a', '1'],
        ['b', '2'],
        ['é', '3'],
      ],
    });
    expect(block.sync.equals(sync)).toBe(true);
    expect(() => new SequenceFileWriter({ valueClass: 'Text', compression: 'RECORD' })).toThrow(/RECORD compression needs a codec/);
    expect(() => new SequenceFileWriter({ valueClass: 'Text', codec: CODECS.gzip })).toThrow(/NONE compression takes no codec/);
    expect(() => new SequenceFileWriter({ valueClass: 'Text', syncMarker: Buffer.alloc(15) })).toThrow(/16 bytes/);
  });

  for (const compression of ['NONE', 'RECORD', 'BLOCK'] as SequenceFileCompression[]) {
    for (const valueClass of ['BytesWritable', 'Text'] as SequenceFileValue[]) {
      it(`${compression} × ${valueClass}: every record back in order, each flush ending as Hadoop's sync() ends a batch`, () => {
        const codecs = compression === 'NONE' ? [undefined] : fastCodecs;
        fc.assert(
          fc.property(batches, fc.constantFrom(...codecs), fc.integer({ min: 1, max: 3000 }), (input, codec, syncInterval) => {
            const { file, flushes, writer } = write({ valueClass, compression, ...(codec ? { codec } : {}), syncIntervalBytes: syncInterval, blockSizeBytes: 500 }, input);
            const decoded = decodeSequenceFile(file);
            const all = input.flat();
            expect(decoded.records.map((r) => r.key.toString('hex'))).toEqual(all.map((r) => encode(LongWritable, r.key).toString('hex')));
            expect(decoded.records.map((r) => r.value.toString('hex'))).toEqual(all.map((r) => serialized(valueClass, r.value).toString('hex')));
            // Each flush ends where a reader may resume: after an escape (NONE/RECORD) or a block (BLOCK).
            let end = writer.header.length;
            for (const chunk of flushes) {
              end += chunk.length;
              if (compression === 'BLOCK') expect(chunk.readInt32BE(0)).toBe(-1);
              else expect(chunk.subarray(-20, -16).readInt32BE(0)).toBe(-1);
              expect(chunk.subarray(compression === 'BLOCK' ? 4 : -16, compression === 'BLOCK' ? 20 : undefined).equals(writer.sync)).toBe(true);
            }
            expect(end).toBe(file.length);
            expect(writer.snapshot().position).toBe(file.length);
            if (compression !== 'BLOCK') {
              // Hadoop's rule, exactly: an escape goes before a record iff the position has reached the
              // last escape's end (0 at first) + the interval; besides, one ends each flush.
              const flushEnds = new Set(flushes.reduce<number[]>((ends, c) => [...ends, (ends.at(-1) ?? writer.header.length) + c.length], []));
              const items = [...decoded.escapes.map((offset) => ({ offset, escape: true })), ...decoded.records.map((r) => ({ offset: r.offset, escape: false }))].sort((x, y) => x.offset - y.offset);
              let lastSync = 0;
              items.forEach((item, i) => {
                if (item.escape) {
                  if (!flushEnds.has(item.offset + 20)) expect(item.offset).toBeGreaterThanOrEqual(lastSync + syncInterval);
                  lastSync = item.offset + 20;
                } else if (!items[i - 1]?.escape) {
                  expect(item.offset).toBeLessThan(lastSync + syncInterval);
                }
              });
            }
          }),
          { numRuns: 40 },
        );
      });
    }
  }

  it('NONE: a sync escape before the first record past the interval, none otherwise within a batch (Hadoop 3: 102,400 bytes)', () => {
    expect(DEFAULT_SYNC_INTERVAL).toBe(102_400);
    const writer = new SequenceFileWriter({ valueClass: 'BytesWritable', syncMarker: Buffer.alloc(16, 1) });
    const value = Buffer.alloc(1000, 7);
    for (let i = 0; i < 250; i++) writer.append(i, value);
    const file = Buffer.concat([writer.header, writer.flush()]);
    const decoded = decodeSequenceFile(file);
    const recordSize = 8 + 8 + 4 + 1000;
    // Positions start at the header's end; Hadoop's lastSyncPos starts at 0.
    const firstEscape = writer.header.length + Math.ceil((102_400 - writer.header.length) / recordSize) * recordSize;
    expect(decoded.escapes[0]).toBe(firstEscape);
    expect(decoded.escapes).toHaveLength(3); // two by interval, one ending the batch
    expect(decoded.escapes.at(-1)).toBe(file.length - 20);
  });

  it('BLOCK: a block ends once its keys and values reach blockSizeBytes, and every block starts with an escape', () => {
    const writer = new SequenceFileWriter({ valueClass: 'BytesWritable', compression: 'BLOCK', codec: CODECS.gzip, blockSizeBytes: 1000 });
    for (let i = 0; i < 25; i++) writer.append(i, Buffer.alloc(88)); // 8 + 4 + 88 = 100 bytes a record
    const decoded = decodeSequenceFile(Buffer.concat([writer.header, writer.flush()]));
    expect(decoded.blocks).toEqual([10, 10, 5]);
    expect(decoded.escapes).toHaveLength(3);
  });

  it('BLOCK: restore() drops records appended but not yet flushed', () => {
    const writer = new SequenceFileWriter({ valueClass: 'BytesWritable', compression: 'BLOCK', codec: CODECS.deflate });
    writer.append(1, Buffer.from('one'));
    const first = writer.flush();
    const mark = writer.snapshot();
    writer.append(2, Buffer.from('lost'));
    writer.restore(mark);
    writer.append(3, Buffer.from('three'));
    const decoded = decodeSequenceFile(Buffer.concat([writer.header, first, writer.flush()]));
    expect(decoded.records.map((r) => r.value.subarray(4).toString())).toEqual(['one', 'three']);
  });

  it('flush with nothing appended adds nothing; restore() drops what a failed write carried and keeps positions', () => {
    const writer = new SequenceFileWriter({ valueClass: 'Text', syncIntervalBytes: 50 });
    expect(writer.flush()).toHaveLength(0);
    writer.append(1, Buffer.from('one'));
    const first = writer.flush();
    const mark = writer.snapshot();
    writer.append(2, Buffer.from('lost'));
    writer.flush(); // say its APPEND failed and the file was cut back
    writer.restore(mark);
    writer.append(3, Buffer.from('three'));
    const decoded = decodeSequenceFile(Buffer.concat([writer.header, first, writer.flush()]));
    expect(decoded.records.map((r) => r.value.subarray(1).toString())).toEqual(['one', 'three']);
    expect(writer.flush()).toHaveLength(0);
  });

  it('bzip2 RECORD and BLOCK files decode too', () => {
    for (const compression of ['RECORD', 'BLOCK'] as const) {
      const { file } = write({ valueClass: 'BytesWritable', compression, codec: CODECS.bzip2 }, [[{ key: 5n, value: Buffer.from('abc') }], [{ key: -1n, value: Buffer.alloc(0) }]]);
      expect(decodeSequenceFile(file).records.map((r) => r.value.toString('hex'))).toEqual(['00000003616263', '00000000']);
    }
  });
});
