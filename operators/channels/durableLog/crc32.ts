import zlib from 'node:zlib';

type Crc32 = (data: Uint8Array, initial?: number) => number;

/** Table-driven CRC-32 (IEEE, as zlib), for Node versions before 20.15 that lack `zlib.crc32`. */
function tableCrc32(): Crc32 {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data, initial = 0) => {
    let c = ~initial >>> 0;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
}

const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of `data`, continuing from `initial` (the CRC of what came before). */
export const crc32: Crc32 = typeof native === 'function' ? native : tableCrc32();

/** Exposed for the test comparing both implementations. */
export const portableCrc32: Crc32 = tableCrc32();
