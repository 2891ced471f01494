/**
 * Hadoop's compression codecs as a Node writer must emit them, so that Hadoop (CompressionCodecFactory,
 * SequenceFile.Reader, `hadoop fs -text`) decompresses what rxflume wrote:
 *
 * | name | Hadoop class | ext | one stream is |
 * |---|---|---|---|
 * | gzip | GzipCodec | .gz | an RFC 1952 gzip member |
 * | default, deflate | DefaultCodec, DeflateCodec | .deflate | a zlib stream (RFC 1950: deflate *with* the zlib header) |
 * | bzip2 | BZip2Codec | .bz2 | a `BZh9` bzip2 stream (lib/hdfs/bzip2.ts) |
 * | snappy | SnappyCodec | .snappy | Hadoop's block framing around raw snappy (not the `sNaPpY` framing format) |
 *
 * Each `compress` returns one complete stream; Hadoop reads a file of several such streams one after the
 * other (a CompressedStream file is one per batch). Compressing nothing gives nothing: an empty snappy
 * block would read as the end of the file. lzo and lzop (GPL hadoop-lzo), lz4 and zstandard are not
 * supported: `resolveCodec` names them.
 */
import { ConfigError } from '../core/errors.js';
import { lazyRequire } from '../core/lazyRequire.js';
import { bzip2Compress } from './bzip2.js';

// snappyjs (pure JS, already kafkajs-snappy's) has no types: only its raw-block compressor is used.
// Loaded on first use, as every heavy package: the agent's registry imports the HDFS sink.
const snappy = lazyRequire<{ compress(input: Uint8Array): Uint8Array }>('snappyjs', "the HDFS sink's snappy codec");

export type CodecName = 'gzip' | 'default' | 'deflate' | 'bzip2' | 'snappy';

export interface HadoopCodec {
  readonly name: CodecName;
  /** What a SequenceFile header names and CompressionCodecFactory registers. */
  readonly className: string;
  /** The file name extension Hadoop picks the codec by, with its dot. */
  readonly extension: string;
  /** One complete stream of `data` (empty for empty `data`). Blocks the event loop: for small pieces (SequenceFile records and blocks). */
  compressSync(data: Uint8Array): Buffer;
  /** The same bytes as `compressSync`, off the event loop where Node can (zlib's thread pool). */
  compress(data: Uint8Array): Promise<Buffer>;
}

// node:zlib is looked up on first use, not imported: a sink without a codec (DataStream) never loads it.
const zlib = () => process.getBuiltinModule('node:zlib');
const viaZlib = (method: 'gzip' | 'deflate') => (data: Uint8Array) =>
  new Promise<Buffer>((resolve, reject) => zlib()[method](data, (error, out) => (error ? reject(error) : resolve(out))));

/** Uncompressed bytes per snappy chunk: well under Hadoop's 256 KiB decompression buffer (io.compression.codec.snappy.buffersize). */
export const SNAPPY_CHUNK = 64 * 1024;

/**
 * Hadoop's BlockCompressorStream framing: int32 uncompressed length of the block, then int32 compressed
 * length and the compressed chunk, per chunk. One block per ≤ `SNAPPY_CHUNK` bytes.
 */
export function snappyFramed(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += SNAPPY_CHUNK) {
    const chunk = data.subarray(at, Math.min(at + SNAPPY_CHUNK, data.length));
    const compressed = snappy().compress(chunk);
    const head = Buffer.allocUnsafe(8);
    head.writeInt32BE(chunk.length, 0);
    head.writeInt32BE(compressed.length, 4);
    parts.push(head, Buffer.from(compressed.buffer, compressed.byteOffset, compressed.length));
  }
  return Buffer.concat(parts);
}

const empty = Buffer.alloc(0);
const codec = (name: CodecName, className: string, extension: string, compressSync: (d: Uint8Array) => Buffer, compress?: (d: Uint8Array) => Promise<Buffer>): HadoopCodec => ({
  name,
  className: `org.apache.hadoop.io.compress.${className}`,
  extension,
  compressSync: (data) => (data.length === 0 ? empty : compressSync(data)),
  compress: async (data) => (data.length === 0 ? empty : compress ? compress(data) : compressSync(data)),
});

export const CODECS: Readonly<Record<CodecName, HadoopCodec>> = {
  gzip: codec('gzip', 'GzipCodec', '.gz', (d) => zlib().gzipSync(d), viaZlib('gzip')),
  default: codec('default', 'DefaultCodec', '.deflate', (d) => zlib().deflateSync(d), viaZlib('deflate')),
  deflate: codec('deflate', 'DeflateCodec', '.deflate', (d) => zlib().deflateSync(d), viaZlib('deflate')),
  bzip2: codec('bzip2', 'BZip2Codec', '.bz2', bzip2Compress),
  snappy: codec('snappy', 'SnappyCodec', '.snappy', snappyFramed),
};

/** Codecs Hadoop (or an add-on) has and rxflume does not write, with why. */
export const UNSUPPORTED_CODECS: Readonly<Record<string, string>> = {
  lzo: 'lzo is the GPL hadoop-lzo add-on, not Hadoop; no maintained Node library writes its framing',
  lzop: 'lzop is the GPL hadoop-lzo add-on, not Hadoop; no maintained Node library writes its framing',
  lz4: 'lz4 is not supported yet (Hadoop reads it only with lz4-java on its classpath)',
  zstandard: 'zstandard is not supported (Node 20 has no zstd)',
};

/**
 * The codec Flume's `hdfs.codeC` names, matched as Flume does: the Hadoop class name, its simple name,
 * or the simple name without "Codec", case-insensitively (`gzip`, `GzipCodec`,
 * `org.apache.hadoop.io.compress.GzipCodec`). `None` (any case) or an empty name: no codec. Anything
 * else throws a ConfigError at `key`.
 */
export function resolveCodec(name: string, key = 'hdfs.codeC'): HadoopCodec | undefined {
  const wanted = name.trim().toLowerCase();
  if (wanted === '' || wanted === 'none') return undefined;
  const simple = (className: string) => className.slice(className.lastIndexOf('.') + 1).toLowerCase();
  for (const c of Object.values(CODECS)) {
    const s = simple(c.className);
    if (wanted === c.className.toLowerCase() || wanted === s || wanted === s.replace(/codec$/, '')) return c;
  }
  const unsupported = Object.entries(UNSUPPORTED_CODECS).find(([n]) => wanted === n || wanted === `${n}codec` || wanted.endsWith(`.${n}codec`));
  const supported = Object.keys(CODECS).join(', ');
  throw new ConfigError([
    {
      path: key,
      expected: `one of ${supported} or None`,
      received: unsupported ? `${name} (${unsupported[1]})` : JSON.stringify(name),
    },
  ]);
}
