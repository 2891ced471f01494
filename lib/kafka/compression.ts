/**
 * Kafka record batch compression for kafkaSink and kafkaChannel's put side: the option, Flume's
 * `kafka.producer.compression.type`, and the codecs kafkajs lacks. kafkajs ships gzip only; it is
 * given here, once per process, Snappy (kafkajs-snappy, pure JS), LZ4 (lz4-napi: lz4_flex behind
 * N-API, prebuilt binaries from npm) and ZSTD (Node's own zlib zstd, Node ≥ 22.15). Consumers
 * (kafkaSource, kafkaChannel's take side) decompress with the same codecs, whatever wrote the batch.
 * Not a component; imports only lib/core and zod, and the codec packages when first used.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type * as Kafkajs from 'kafkajs';
import { z } from 'zod';
import type { FlumeMapped, FlumeProblem } from '../core/config.js';
import { FlumeError } from '../core/errors.js';
import { lazyRequire } from '../core/lazyRequire.js';

export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export const compressionOption = z
  .enum(KAFKA_COMPRESSIONS)
  .default('none')
  .describe('Record batch compression (Kafka compression.type): gzip (built into kafkajs), snappy (kafkajs-snappy), lz4 (lz4-napi) or zstd (node:zlib, Node ≥ 22.15).');

/** kafkajs's CompressionTypes member of each option value. */
export const KAFKAJS_COMPRESSION = { none: 'None', gzip: 'GZIP', snappy: 'Snappy', lz4: 'LZ4', zstd: 'ZSTD' } as const;

export const COMPRESSION_KEY = 'kafka.producer.compression.type';

/** Flume's `kafka.producer.compression.type` (any case) as the `compression` option. */
export function compressionFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const raw = props.get(COMPRESSION_KEY);
  if (raw === undefined) return { options: {}, consumed: [], problems: [] };
  const v = raw.trim().toLowerCase();
  const problems: FlumeProblem[] = [];
  if (!(KAFKA_COMPRESSIONS as readonly string[]).includes(v)) problems.push({ key: COMPRESSION_KEY, message: `expected one of ${KAFKA_COMPRESSIONS.join(', ')}` });
  return { options: problems.length === 0 ? { compression: v } : {}, consumed: [COMPRESSION_KEY], problems };
}

/** What kafkajs calls a codec: a factory of { compress(encoder), decompress(buffer) }. */
type Codec = () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };

interface Lz4Napi {
  compressFrame(data: Uint8Array): Promise<Buffer>;
  decompressFrame(data: Uint8Array): Promise<Buffer>;
}
const loadLz4 = lazyRequire<Lz4Napi>('lz4-napi', "Kafka's lz4 compression");
const loadSnappy = lazyRequire<Codec>('kafkajs-snappy', "Kafka's snappy compression");

/**
 * LZ4 as Kafka has written it since message format v1 (KIP-57): the LZ4 frame format with a correct
 * header checksum, independent 64 KB blocks, no content size (what Java's KafkaLZ4BlockOutputStream
 * writes and its input stream reads).
 */
const lz4Codec: Codec = () => {
  const lz4 = loadLz4();
  return { compress: (encoder) => lz4.compressFrame(encoder.buffer), decompress: (buffer) => lz4.decompressFrame(buffer) };
};

// zlib's zstd (Node 22.15+, 23.8+); absent on older lines, where zstd is refused by zstdAvailable().
const zstdLib = zlib as unknown as {
  zstdCompress?: (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void;
  zstdDecompress?: (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void;
};

/** Standard zstd frames, as Java's zstd-jni reads and writes them. */
const zstdCodec: Codec = () => {
  const { zstdCompress, zstdDecompress } = zstdLib;
  if (!zstdCompress || !zstdDecompress) throw zstdMissing();
  const compress = promisify(zstdCompress);
  const decompress = promisify(zstdDecompress);
  return { compress: (encoder) => compress(encoder.buffer), decompress: (buffer) => decompress(buffer) };
};

const zstdMissing = (): FlumeError =>
  new FlumeError('FLUME_CONFIG', `Kafka's zstd compression needs node:zlib's zstd (Node 22.15 or later); this is Node ${process.versions.node}`, { retriable: false });

/** Throws a non-retriable FLUME_CONFIG when `compression` cannot run in this process (so a component refuses it when built, not at its first batch). */
export function checkCompression(compression: KafkaCompression): void {
  if (compression === 'zstd' && !zstdLib.zstdCompress) throw zstdMissing();
  if (compression === 'lz4') loadLz4();
}

/**
 * Registers the codecs in kafkajs's process-wide table. lz4-napi (native) loads on first use, so a
 * process that never meets an lz4 batch never loads it.
 */
export function registerCodecs(k: typeof Kafkajs): void {
  const table = k.CompressionCodecs as unknown as Record<number, Codec>;
  table[k.CompressionTypes.Snappy] = loadSnappy(); // small, pure JS: loaded with kafkajs, as always
  table[k.CompressionTypes.LZ4] = lz4Codec;
  table[k.CompressionTypes.ZSTD] = zstdCodec;
}
