/**
 * Node's pool for small Buffers is 8 KiB up to Node 22 and 64 KiB on Node 24 — as large as a socket's
 * read, so a test telling a copied-out body (pool) from a view of the chunk it arrived in (64 KiB) by
 * size needs the small pool. Sets Buffer.poolSize and starts a new pool at once; returns the undo.
 */
export function smallBufferPool(size = 8 * 1024): () => void {
  const saved = Buffer.poolSize;
  Buffer.poolSize = size;
  // The current pool serves until an allocation no longer fits it; fill it so the next one is `size`.
  for (let i = 0; i < 64 && Buffer.allocUnsafe(size / 2 - 1).buffer.byteLength !== size; i++);
  return () => {
    Buffer.poolSize = saved;
  };
}
