import type { ComponentCounters } from '../core/metrics.js';

/**
 * One line summarising a running agent: events/s per source (accepted) and sink (drained) since the
 * previous call, fill % per channel. Rates come from counter deltas, so the caller decides the interval.
 */
export function statusLine(): (counters: readonly ComponentCounters[], elapsedMs: number) => string {
  const last = new Map<ComponentCounters, number>();
  return (counters, elapsedMs) => {
    const parts: string[] = [];
    for (const c of counters) {
      const key = c.type === 'SOURCE' ? 'EventAcceptedCount' : c.type === 'SINK' ? 'EventDrainSuccessCount' : undefined;
      if (key) {
        const now = c.get(key);
        const rate = ((now - (last.get(c) ?? now)) * 1000) / Math.max(1, elapsedMs);
        last.set(c, now);
        parts.push(`${c.name} ${Math.round(rate).toLocaleString('en-US')} ev/s`);
      } else if (c.type === 'CHANNEL') {
        const fill = c.snapshot()['ChannelFillPercentage'] ?? 0;
        parts.push(`${c.name} ${fill >= 1e300 ? '∞' : fill.toFixed(0)}% full`);
      }
    }
    return parts.join(' | ');
  };
}
