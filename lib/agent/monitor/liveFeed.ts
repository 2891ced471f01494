import { flumeMetricsJson, type MonitorTarget } from '../monitorServer.js';
import { componentRows, type ComponentRow, type FlumeMetrics } from './rates.js';

/** What the agent tells the page besides its counters. */
export interface AgentInfo {
  agent: string;
  /** Configuration files and URIs, in the order they were read. */
  configFiles: string[];
  /** When the agent started (ms since the epoch). */
  startedAt: number;
  /** The last configuration change: applied, or refused with its error. */
  lastReload?: { at: number; ok: boolean; error?: string };
  /** The last warnings and errors of the agent's log, oldest first. */
  warnings: { at: number; level: string; message: string }[];
}

/** One Server-Sent Event `data:` of the page: the rows since the previous sample and the agent's panel. */
export interface LivePayload {
  t: number;
  state: 'starting' | 'running' | 'draining';
  uptimeMs: number;
  /** Changes when a reload changed the topology's shape: the page then redraws its graph. */
  version: number;
  rows: ComponentRow[];
  info?: Omit<AgentInfo, 'startedAt'>;
}

/** A past sample for the sparklines: per component id, [in/s, out/s] and for channels the fill %. */
export interface HistoryPoint {
  t: number;
  v: Record<string, number[]>;
}

/** Samples kept for the sparklines: three minutes at one per second. */
export const HISTORY = 180;

/**
 * Samples the agent's counters at a fixed interval into page payloads, keeping the last `HISTORY`
 * points so that a page opened now draws its sparklines at once.
 */
export class LiveFeed {
  private previous: FlumeMetrics | undefined;
  private previousAt = 0;
  private shapeKey = '';
  private version = 0;
  readonly history: HistoryPoint[] = [];
  last: LivePayload | undefined;

  constructor(
    private readonly target: MonitorTarget,
    private readonly now: () => number = Date.now,
  ) {}

  sample(): LivePayload {
    const t = this.now();
    const metrics = flumeMetricsJson(this.target.counters());
    const rows = componentRows(this.previous, metrics, t - this.previousAt, this.last?.rows);
    this.previous = metrics;
    this.previousAt = t;
    const key = JSON.stringify(this.target.shape?.() ?? null);
    if (key !== this.shapeKey) {
      this.shapeKey = key;
      this.version++;
    }
    const info = this.target.info?.();
    const payload: LivePayload = { t, state: this.target.state(), uptimeMs: info ? t - info.startedAt : 0, version: this.version, rows };
    if (info) payload.info = { agent: info.agent, configFiles: info.configFiles, ...(info.lastReload ? { lastReload: info.lastReload } : {}), warnings: info.warnings };
    const v: Record<string, number[]> = {};
    for (const r of rows) v[r.id] = r.fill === undefined ? [round(r.inRate), round(r.outRate)] : [round(r.inRate), round(r.outRate), round(r.fill)];
    this.history.push({ t, v });
    if (this.history.length > HISTORY) this.history.shift();
    this.last = payload;
    return payload;
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;
