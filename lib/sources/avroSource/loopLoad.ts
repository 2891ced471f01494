/**
 * Whether the event loop has had idle time lately: the Avro source then checks a call, answers it, and
 * makes its events afterwards (the memory channel makes them as it hands them on), so the making
 * overlaps the client's turn instead of delaying the answer. A loop that is busy anyway (the agent's
 * other sources and sinks at work) makes them at once: checking apart from making costs ~45 ns per event more.
 */
/** How often the utilization is read again. */
const WINDOW_MS = 100;
/** Over this share of the last window busy, the loop counts as saturated. */
const BUSY = 0.85;

export class LoopLoad {
  private last = performance.eventLoopUtilization();
  private lastAt = performance.now();
  private busy = false;

  /** True when the loop was busier than BUSY over the last window (re-read at most every WINDOW_MS). */
  saturated(): boolean {
    const now = performance.now();
    if (now - this.lastAt >= WINDOW_MS) {
      const current = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(current, this.last).utilization > BUSY;
      this.last = current;
      this.lastAt = now;
    }
    return this.busy;
  }
}
