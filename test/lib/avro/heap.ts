/**
 * Heap measurements for memory-bound tests: a full GC before and after, so garbage does not count.
 * Generous margins only: V8's accounting moves by a few hundred KB between runs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Heap and off-heap bytes (Buffer contents) in use after a full GC. */
export function usedAfterGc(): number {
  collect();
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export const MB = 1024 * 1024;
