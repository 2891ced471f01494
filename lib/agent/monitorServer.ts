import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import { lazyRequire } from '../core/lazyRequire.js';
import type { ComponentCounters } from '../core/metrics.js';

/** prom-client is loaded only by an agent that serves metrics. */
const promClient = lazyRequire<typeof PromClient>('prom-client', 'the monitoring server');

export interface MonitorTarget {
  /** Counters of every running component (re-read on each request: a reload may replace them). */
  counters(): readonly ComponentCounters[];
  /** 'running' once every component started; 'starting' or 'draining' otherwise. */
  state(): 'starting' | 'running' | 'draining';
}

export interface MonitorServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Flume's `/metrics` JSON: `{"CHANNEL.c1": {"Type": "CHANNEL", "ChannelSize": "0", …}}`, every value a string. */
export function flumeMetricsJson(counters: readonly ComponentCounters[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const c of counters) {
    const entry: Record<string, string> = { Type: c.type };
    for (const [k, v] of Object.entries(c.snapshot())) entry[k] = String(v);
    out[`${c.type}.${c.name}`] = entry;
  }
  return out;
}

/**
 * Serves `GET /metrics` (Flume's JSON, so existing Flume monitoring keeps working),
 * `GET /metrics/prometheus` (one gauge per Flume counter, labelled by component) and `GET /health`
 * (200 only while running). Binds where it is told; the CLI's default is 127.0.0.1.
 */
export async function startMonitorServer(target: MonitorTarget, port: number, host = '127.0.0.1'): Promise<MonitorServer> {
  const { Gauge, Registry } = promClient();
  const registry = new Registry();
  const gauges = new Map<string, PromClient.Gauge>();
  const refresh = () => {
    for (const g of gauges.values()) g.reset();
    for (const c of target.counters()) {
      for (const [key, value] of Object.entries(c.snapshot())) {
        const metric = `flume_${key.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()}`;
        let g = gauges.get(metric);
        if (!g) {
          g = new Gauge({ name: metric, help: `Flume ${key}`, labelNames: ['type', 'component'], registers: [registry] });
          gauges.set(metric, g);
        }
        g.set({ type: c.type, component: c.name }, Number.isFinite(value) ? value : 0);
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'TRACE' || req.method === 'OPTIONS') {
      res.writeHead(403).end();
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(flumeMetricsJson(target.counters())));
    } else if (path === '/metrics/prometheus') {
      refresh();
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (path === '/health') {
      const state = target.state();
      res.writeHead(state === 'running' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: state }));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="/metrics">metrics</a>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
