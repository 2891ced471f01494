/**
 * A bzip2 compressor (the `BZh9` stream format of bzip2 1.0, which Hadoop's BZip2Codec and the `bzip2`
 * tool read): run-length step, Burrows–Wheeler transform, move-to-front with RUNA/RUNB zero runs, and
 * Huffman coding. Written here because npm's pure-JS bzip2 encoders are GPL (compressjs) or unmaintained
 * WebAssembly; compression, not decompression, is what a writer needs.
 *
 * Simplicity over ratio: one Huffman table per block (sent twice, as the format wants at least two),
 * so the output is somewhat larger than the `bzip2` tool's; it is a valid stream all the same.
 */

const BLOCK_LEVEL = 9;
/** bzip2's nblockMAX: bytes after the run-length step in one block. */
const MAX_BLOCK = BLOCK_LEVEL * 100_000 - 19;
const MAX_CODE_LENGTH = 17;
const GROUP_SIZE = 50;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

class BitWriter {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;
  private acc = 0;
  private bits = 0;

  /** Appends the low `count` bits of `value`, most significant first (`count` ≤ 24). */
  write(count: number, value: number): void {
    this.acc = (this.acc << count) | (value & ((1 << count) - 1));
    this.bits += count;
    while (this.bits >= 8) {
      this.bits -= 8;
      this.byte((this.acc >>> this.bits) & 0xff);
    }
    this.acc &= (1 << this.bits) - 1;
  }

  write32(value: number): void {
    this.write(16, (value >>> 16) & 0xffff);
    this.write(16, value & 0xffff);
  }

  private byte(value: number): void {
    if (this.length === this.buffer.length) {
      const bigger = new Uint8Array(this.buffer.length * 2);
      bigger.set(this.buffer);
      this.buffer = bigger;
    }
    this.buffer[this.length++] = value;
  }

  finish(): Buffer {
    if (this.bits > 0) this.write(8 - this.bits, 0);
    return Buffer.from(this.buffer.buffer, 0, this.length);
  }
}

/** `data` as one complete bzip2 stream (`BZh9`, its blocks, the end-of-stream mark and combined CRC). */
export function bzip2Compress(data: Uint8Array): Buffer {
  const out = new BitWriter();
  out.write(24, 0x425a68); // "BZh"
  out.write(8, 0x30 + BLOCK_LEVEL);
  const block = new Uint8Array(MAX_BLOCK);
  let combined = 0;
  let at = 0;
  while (at < data.length) {
    const { consumed, length, crc } = runLengthBlock(data, at, block);
    at += consumed;
    writeBlock(out, block.subarray(0, length), crc);
    combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
  }
  out.write(24, 0x177245);
  out.write(24, 0x385090);
  out.write32(combined);
  return out.finish();
}

/**
 * bzip2's first step: runs of 4–255 equal bytes become the 4 bytes and a count of the rest. Fills
 * `block` from `data[from…]` with whole runs until the next one would not fit; returns the CRC of the
 * input bytes it took (a block's CRC is over the original bytes).
 */
function runLengthBlock(data: Uint8Array, from: number, block: Uint8Array): { consumed: number; length: number; crc: number } {
  let crc = 0xffffffff;
  let length = 0;
  let i = from;
  while (i < data.length) {
    const value = data[i]!;
    let run = 1;
    while (run < 255 && i + run < data.length && data[i + run] === value) run++;
    const size = run < 4 ? run : 5;
    if (length + size > block.length) break;
    for (let k = 0; k < run; k++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ value) & 0xff]!) >>> 0;
    const literal = Math.min(run, 4);
    for (let k = 0; k < literal; k++) block[length++] = value;
    if (run >= 4) block[length++] = run - 4;
    i += run;
  }
  return { consumed: i - from, length, crc: ~crc >>> 0 };
}

/**
 * The rows of the sorted cyclic rotations of `block` (prefix doubling with counting sorts: O(n log n),
 * no recursion, so a block of one repeated byte costs no more than any other).
 */
function sortRotations(block: Uint8Array): Int32Array {
  const n = block.length;
  let order = new Int32Array(n);
  let rank = new Int32Array(n);
  let nextOrder = new Int32Array(n);
  let nextRank = new Int32Array(n);
  const count = new Int32Array(Math.max(256, n) + 1);
  for (let i = 0; i < n; i++) count[block[i]! + 1]!++;
  for (let v = 1; v <= 256; v++) count[v]! += count[v - 1]!;
  for (let i = 0; i < n; i++) order[count[block[i]!]!++] = i;
  let classes = 1;
  rank[order[0]!] = 0;
  for (let i = 1; i < n; i++) {
    if (block[order[i]!] !== block[order[i - 1]!]) classes++;
    rank[order[i]!] = classes - 1;
  }
  for (let k = 1; k < n && classes < n; k <<= 1) {
    // Sort by (rank[i], rank[i + k]): the second keys are already in order as `order` shifted back by k.
    for (let i = 0; i < n; i++) {
      const shifted = order[i]! - k;
      nextOrder[i] = shifted < 0 ? shifted + n : shifted;
    }
    count.fill(0, 0, classes + 1);
    for (let i = 0; i < n; i++) count[rank[i]! + 1]!++;
    for (let c = 1; c <= classes; c++) count[c]! += count[c - 1]!;
    for (let i = 0; i < n; i++) {
      const p = nextOrder[i]!;
      order[count[rank[p]!]!++] = p;
    }
    classes = 1;
    nextRank[order[0]!] = 0;
    for (let i = 1; i < n; i++) {
      const a = order[i]!;
      const b = order[i - 1]!;
      const a2 = a + k >= n ? a + k - n : a + k;
      const b2 = b + k >= n ? b + k - n : b + k;
      if (rank[a] !== rank[b] || rank[a2] !== rank[b2]) classes++;
      nextRank[a] = classes - 1;
    }
    [rank, nextRank] = [nextRank, rank];
    [order, nextOrder] = [order, nextOrder];
  }
  return order;
}

function writeBlock(out: BitWriter, block: Uint8Array, crc: number): void {
  const n = block.length;
  const rows = sortRotations(block);
  let origPtr = 0;
  const last = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const start = rows[i]!;
    if (start === 0) origPtr = i;
    last[i] = block[start === 0 ? n - 1 : start - 1]!;
  }

  const inUse = new Array<boolean>(256).fill(false);
  for (let i = 0; i < n; i++) inUse[block[i]!] = true;
  const toSeq = new Uint8Array(256);
  let nInUse = 0;
  for (let v = 0; v < 256; v++) if (inUse[v]) toSeq[v] = nInUse++;
  const eob = nInUse + 1;
  const alphaSize = nInUse + 2;

  // Move-to-front, zero runs as RUNA (0) / RUNB (1) in bijective base 2, symbol j+1 for index j.
  const symbols = new Uint16Array(n + 1);
  let nSymbols = 0;
  const mtf = new Uint8Array(nInUse);
  for (let i = 0; i < nInUse; i++) mtf[i] = i;
  let zeros = 0;
  const flushZeros = () => {
    if (zeros === 0) return;
    let z = zeros - 1;
    for (;;) {
      symbols[nSymbols++] = z & 1;
      if (z < 2) break;
      z = (z - 2) >>> 1;
    }
    zeros = 0;
  };
  for (let i = 0; i < n; i++) {
    const s = toSeq[last[i]!]!;
    if (mtf[0] === s) {
      zeros++;
      continue;
    }
    flushZeros();
    let j = 1;
    let previous = mtf[0]!;
    while (mtf[j] !== s) {
      const here = mtf[j]!;
      mtf[j] = previous;
      previous = here;
      j++;
    }
    mtf[j] = previous;
    mtf[0] = s;
    symbols[nSymbols++] = j + 1;
  }
  flushZeros();
  symbols[nSymbols++] = eob;

  const frequencies = new Uint32Array(alphaSize);
  for (let i = 0; i < nSymbols; i++) frequencies[symbols[i]!]!++;
  const lengths = codeLengths(frequencies, MAX_CODE_LENGTH);
  const codes = canonicalCodes(lengths);
  const nSelectors = Math.ceil(nSymbols / GROUP_SIZE);

  out.write(24, 0x314159);
  out.write(24, 0x265359);
  out.write32(crc);
  out.write(1, 0); // not randomised
  out.write(24, origPtr);
  let used16 = 0;
  for (let g = 0; g < 16; g++) if (inUse.slice(g * 16, g * 16 + 16).some(Boolean)) used16 |= 0x8000 >>> g;
  out.write(16, used16);
  for (let g = 0; g < 16; g++) {
    if (!(used16 & (0x8000 >>> g))) continue;
    let bits = 0;
    for (let v = 0; v < 16; v++) if (inUse[g * 16 + v]) bits |= 0x8000 >>> v;
    out.write(16, bits);
  }
  out.write(3, 2); // two tables: the minimum; both the same
  out.write(15, nSelectors);
  for (let i = 0; i < nSelectors; i++) out.write(1, 0); // every group uses table 0 (MTF index 0)
  for (let table = 0; table < 2; table++) {
    let current = lengths[0]!;
    out.write(5, current);
    for (let s = 0; s < alphaSize; s++) {
      while (current < lengths[s]!) {
        out.write(2, 2);
        current++;
      }
      while (current > lengths[s]!) {
        out.write(2, 3);
        current--;
      }
      out.write(1, 0);
    }
  }
  for (let i = 0; i < nSymbols; i++) {
    const s = symbols[i]!;
    out.write(lengths[s]!, codes[s]!);
  }
}

/** Huffman code lengths, none above `maxLength`: too deep a tree is rebuilt on flattened weights, as bzip2 does. */
export function codeLengths(frequencies: ArrayLike<number>, maxLength: number): Uint8Array {
  const size = frequencies.length;
  const weights = Array.from(frequencies, (f) => Math.max(f, 1));
  for (;;) {
    const lengths = huffmanLengths(weights);
    if (lengths.every((l) => l <= maxLength)) return Uint8Array.from(lengths, (l) => Math.max(l, 1));
    for (let i = 0; i < size; i++) weights[i] = 1 + (weights[i]! >>> 1);
  }
}

function huffmanLengths(weights: readonly number[]): number[] {
  const size = weights.length;
  if (size === 1) return [1];
  // Nodes 0..size-1 are leaves; parents follow. A sorted work list is plenty for ≤ 258 symbols.
  const parent = new Int32Array(2 * size).fill(-1);
  const weight = [...weights];
  let live = weights.map((_, i) => i).sort((a, b) => weight[a]! - weight[b]! || a - b);
  while (live.length > 1) {
    const [a, b, ...rest] = live;
    const node = weight.length;
    weight.push(weight[a!]! + weight[b!]!);
    parent[a!] = node;
    parent[b!] = node;
    let at = rest.findIndex((x) => weight[x]! > weight[node]!);
    if (at < 0) at = rest.length;
    rest.splice(at, 0, node);
    live = rest;
  }
  return weights.map((_, leaf) => {
    let depth = 0;
    for (let x = leaf; parent[x]! >= 0; x = parent[x]!) depth++;
    return depth;
  });
}

/** bzip2's canonical assignment: by length, then by symbol. */
function canonicalCodes(lengths: Uint8Array): Uint32Array {
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  for (let length = 1; length <= 20; length++) {
    for (let s = 0; s < lengths.length; s++) if (lengths[s] === length) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}
