import type { ServerResponse, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import { lazyRequire } from '../core/lazyRequire.js';
import type { ComponentCounters } from '../core/metrics.js';
import * as assets from './monitor/assets.js';
import { graphSvg, layoutGraph, type TopologyShape } from './monitor/graph.js';
import { LiveFeed, type AgentInfo } from './monitor/liveFeed.js';

/** prom-client is loaded only by an agent that serves metrics. */
const promClient = lazyRequire<typeof PromClient>('prom-client', 'the monitoring server');

export interface MonitorTarget {
  /** Counters of every running component (re-read on each request: a reload may replace them). */
  counters(): readonly ComponentCounters[];
  /** 'running' once every component started; 'starting' or 'draining' otherwise. */
  state(): 'starting' | 'running' | 'draining';
  /** The running topology's shape, for the page at `/` (re-read on each request: a reload may change it). */
  shape?(): TopologyShape | undefined;
  /** The agent's name, configuration, last reload and last warnings, for the page's panel. */
  info?(): AgentInfo;
}

export interface MonitorOptions {
  /** Milliseconds between the page's live updates (default 1000). */
  intervalMs?: number;
  /** Pages open at once; more get 503 (default 32). */
  maxClients?: number;
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

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page at `/`: the graph drawn here from the running configuration, its figures filled in by the script. */
export function topologyPage(shape: TopologyShape | undefined, info: AgentInfo | undefined): string {
  const agent = shape?.agent ?? info?.agent ?? '';
  const graph = layoutGraph(shape ?? { agent, sources: [], channels: [], sinks: [], groups: [] });
  const rows = graph.nodes
    .filter((n) => n.kind !== 'selector')
    .map((n) => `<tr data-id="${escape(n.id)}"><th scope="row">${escape(n.id)}</th><td>${escape(n.type)}</td><td></td><td></td><td></td><td></td><td></td></tr>`)
    .join('');
  const fill: Record<string, string> = {
    agent: escape(agent),
    svg: graphSvg(graph, `topology of agent ${agent}: ${graph.nodes.length} components`),
    rows,
    config: escape(info?.configFiles.join(', ') ?? ''),
  };
  return assets.page.replace(/\{\{(\w+)\}\}/g, (_, key: string) => fill[key] ?? '');
}

/** Read-only and self-contained: the page may load only its own script and style, and talk only to this server. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/**
 * Serves `GET /metrics` (Flume's JSON, so existing Flume monitoring keeps working),
 * `GET /metrics/prometheus` (one gauge per Flume counter, labelled by component), `GET /health`
 * (200 only while running), and the live topology page: `/` (the graph and the panel),
 * `/monitor.css`, `/monitor.js` and `/events` (Server-Sent Events: a `history` event with the last
 * minutes' rates, then one payload per interval). Binds where it is told; the CLI's default is 127.0.0.1.
 */
export async function startMonitorServer(target: MonitorTarget, port: number, host = '127.0.0.1', options: MonitorOptions = {}): Promise<MonitorServer> {
  const { intervalMs = 1000, maxClients = 32 } = options;
  // prom-client (and the https, zlib and crypto its push gateway requires) loads on the first scrape, not at
  // start: most agents are never scraped, and it cost ~20 ms of start-to-first-event (issue #14).
  let prometheus: { registry: PromClient.Registry; gauges: Map<string, PromClient.Gauge> } | undefined;
  const refresh = (): PromClient.Registry => {
    const { Gauge, Registry } = promClient();
    prometheus ??= { registry: new Registry(), gauges: new Map() };
    const { registry, gauges } = prometheus;
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
    return registry;
  };

  const feed = new LiveFeed(target);
  const clients = new Set<ServerResponse>();
  feed.sample();
  // Sampled whether or not a page is open, so that one opened later has its sparklines at once.
  const ticker = setInterval(() => {
    const data = `data: ${JSON.stringify(feed.sample())}\n\n`;
    for (const c of clients) c.write(data);
  }, intervalMs);
  ticker.unref();

  // Looked up, not imported: an ES import of node:http syncs all its exports, and its lazy WebSocket getters
  // load undici (~30 ms of the agent's start, issue #14's start target).
  const server: Server = process.getBuiltinModule('node:http').createServer((req, res) => {
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
      const failed = (error: unknown) => void res.writeHead(500).end(String(error));
      try {
        const registry = refresh();
        registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text), failed);
      } catch (error) {
        failed(error);
      }
    } else if (path === '/health') {
      const state = target.state();
      res.writeHead(state === 'running' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: state }));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...PAGE_HEADERS }).end(topologyPage(target.shape?.(), target.info?.()));
    } else if (path === '/monitor.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', ...PAGE_HEADERS }).end(assets.css);
    } else if (path === '/monitor.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', ...PAGE_HEADERS }).end(assets.script);
    } else if (path === '/favicon.ico') {
      res.writeHead(204).end();
    } else if (path === '/events') {
      if (clients.size >= maxClients) {
        res.writeHead(503, { 'retry-after': '10' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.write(`retry: ${Math.max(1000, intervalMs)}\nevent: history\ndata: ${JSON.stringify(feed.history)}\n\n`);
      if (feed.last) res.write(`data: ${JSON.stringify(feed.last)}\n\n`);
      clients.add(res);
      res.on('close', () => clients.delete(res));
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
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        // Open pages hold their event streams: ended here, or close would wait for them.
        for (const c of clients) c.end();
        clients.clear();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
