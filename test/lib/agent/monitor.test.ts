/**
 * The topology page's parts (issue #18): the layout of the graph, the rates pushed to it, the live
 * feed's history, the Server-Sent Events stream over a real socket, and assets.ts kept in step with
 * the page's files.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { startMonitorServer } from '../../../lib/agent/monitorServer.js';
import { graphSvg, layoutGraph, NODE, type TopologyShape } from '../../../lib/agent/monitor/graph.js';
import { HISTORY, LiveFeed } from '../../../lib/agent/monitor/liveFeed.js';
import { componentRows } from '../../../lib/agent/monitor/rates.js';
import { assetsModule } from '../../../lib/agent/monitor/generate.js';

const shape: TopologyShape = {
  agent: 'a1',
  sources: [
    { name: 'r1', type: 'http', interceptors: [{ name: 'i1', type: 'timestamp' }, { name: 'i2', type: 'host' }], selector: 'multiplexing', channels: ['c1', 'c2'] },
    { name: 'r2', type: 'seq', interceptors: [], selector: 'replicating', channels: ['c2'] },
  ],
  channels: [
    { name: 'c1', type: 'memory' },
    { name: 'c2', type: 'file' },
  ],
  sinks: [
    { name: 'k1', type: 'null', channel: 'c1' },
    { name: 'k2', type: 'avro', channel: 'c2' },
    { name: 'k3', type: 'avro', channel: 'c2' },
  ],
  groups: [{ name: 'g1', type: 'failover', sinks: ['k2', 'k3'] }],
};

describe('layoutGraph', () => {
  const graph = layoutGraph(shape);
  const at = (id: string) => graph.nodes.find((n) => n.id === id)!;

  it('places every component left to right: sources, interceptors in chain order, selector, channels, groups, sinks', () => {
    expect(graph.nodes.map((n) => n.id).sort()).toEqual(
      ['SOURCE.r1', 'SOURCE.r2', 'INTERCEPTOR.i1', 'INTERCEPTOR.i2', 'SELECTOR.r1', 'CHANNEL.c1', 'CHANNEL.c2', 'SINK.g1', 'SINK.k1', 'SINK.k2', 'SINK.k3'].sort(),
    );
    const order = ['SOURCE.r1', 'INTERCEPTOR.i1', 'INTERCEPTOR.i2', 'SELECTOR.r1', 'CHANNEL.c1', 'SINK.g1', 'SINK.k2'];
    for (let i = 1; i < order.length; i++) expect(at(order[i]!).x).toBeGreaterThan(at(order[i - 1]!).x);
    // r2 feeds one channel: no selector of its own.
    expect(graph.nodes.some((n) => n.id === 'SELECTOR.r2')).toBe(false);
    // An ungrouped sink sits in the sinks' column, beside the group's members.
    expect(at('SINK.k1').x).toBe(at('SINK.k2').x);
  });

  it('wires what the configuration wires, and no two nodes overlap', () => {
    const edges = graph.edges.map((e) => `${e.from}>${e.to}`);
    expect(edges).toEqual(
      expect.arrayContaining(['SOURCE.r1>INTERCEPTOR.i1', 'INTERCEPTOR.i1>INTERCEPTOR.i2', 'INTERCEPTOR.i2>SELECTOR.r1', 'SELECTOR.r1>CHANNEL.c1', 'SELECTOR.r1>CHANNEL.c2', 'SOURCE.r2>CHANNEL.c2', 'CHANNEL.c1>SINK.k1', 'CHANNEL.c2>SINK.g1', 'SINK.g1>SINK.k2', 'SINK.g1>SINK.k3']),
    );
    expect(edges).toHaveLength(10);
    for (const a of graph.nodes)
      for (const b of graph.nodes) if (a !== b) expect(Math.abs(a.x - b.x) >= NODE.width || Math.abs(a.y - b.y) >= NODE.height, `${a.id} overlaps ${b.id}`).toBe(true);
    for (const n of graph.nodes) expect(n.x + NODE.width <= graph.width && n.y + NODE.height <= graph.height).toBe(true);
  });

  it('renders focusable, labelled nodes and escapes names', () => {
    const svg = graphSvg(layoutGraph({ ...shape, channels: [{ name: 'c<1>', type: 'memory' }, { name: 'c2', type: 'file' }] }), 'topology of a1');
    expect(svg).toContain('data-id="CHANNEL.c&#60;1&#62;"');
    expect(svg).not.toContain('<1>');
    expect(svg.match(/tabindex="0"/g)).toHaveLength(11);
    expect(svg).toContain('aria-label="sink group g1 (failover)"');
    // A selector has no figures of its own: it names the channels it chooses among.
    expect(graphSvg(layoutGraph(shape), 't')).toContain('<text class="stat" data-stat="" x="8" y="35">→ c1, c2</text>');
    expect(svg.match(/class="bar"/g)).toHaveLength(2);
    // A long name is cut in the box, whole in its title and label.
    const long = graphSvg(layoutGraph({ ...shape, channels: [{ name: 'a-very-long-channel-name', type: 'memory' }], sinks: [], groups: [] }), 't');
    expect(long).toContain('>a-very-long-c…</text>');
    expect(long).toContain('<title>channel a-very-long-channel-name (memory)</title>');
  });
});

describe('componentRows', () => {
  const m = (received: number, failed: number, stop = 0) => ({
    'SINK.k1': { Type: 'SINK', EventDrainAttemptCount: String(received), EventDrainSuccessCount: String(received - failed), ConnectionFailedCount: String(failed), StopTime: String(stop) },
    'CHANNEL.c1': { Type: 'CHANNEL', ChannelSize: '250', ChannelCapacity: '1000', ChannelFillPercentage: '25.0', EventPutSuccessCount: String(received * 2), EventTakeSuccessCount: '0' },
    'CHANNEL.k': { Type: 'CHANNEL', ChannelSize: '5', ChannelCapacity: '0', ChannelFillPercentage: '1.7976931348623157E308' },
  });

  it('rates from two readings, fill from Flume’s percentage (none without a capacity)', () => {
    const rows = componentRows(m(100, 0), m(300, 0), 2000);
    const k1 = rows.find((r) => r.id === 'SINK.k1')!;
    expect([k1.inRate, k1.outRate, k1.state]).toEqual([100, 100, 'ok']);
    expect(rows.find((r) => r.id === 'CHANNEL.c1')).toMatchObject({ inRate: 200, outRate: 0, fill: 25, size: 250, capacity: 1000 });
    expect(rows.find((r) => r.id === 'CHANNEL.k')!.fill).toBeUndefined();
    expect(rows.map((r) => r.type)).toEqual(['CHANNEL', 'CHANNEL', 'SINK']);
    // A first reading, and counters that went backwards (a reload): no rate rather than a wrong one.
    expect(componentRows(undefined, m(300, 0), 1000).find((r) => r.id === 'SINK.k1')!.outRate).toBe(0);
    expect(componentRows(m(300, 0), m(10, 0), 1000).find((r) => r.id === 'SINK.k1')!.outRate).toBe(0);
  });

  it('a sink whose errors rise with nothing delivered is failing, and stays so while it backs off', () => {
    const failing = componentRows(m(100, 0), m(110, 10), 1000);
    expect(failing.find((r) => r.id === 'SINK.k1')).toMatchObject({ state: 'failing', errors: 10 });
    const backingOff = componentRows(m(110, 10), m(110, 10), 1000, failing);
    expect(backingOff.find((r) => r.id === 'SINK.k1')!.state).toBe('failing');
    expect(componentRows(m(110, 10), m(110, 10), 1000).find((r) => r.id === 'SINK.k1')!.state).toBe('ok');
    const recovered = componentRows(m(110, 10), m(150, 10), 1000, backingOff);
    expect(recovered.find((r) => r.id === 'SINK.k1')!.state).toBe('ok');
    expect(componentRows(m(1, 0), m(1, 0, 5), 1000).find((r) => r.id === 'SINK.k1')!.state).toBe('ended');
  });
});

describe('LiveFeed', () => {
  it('keeps the last HISTORY samples, and a new version when the topology changes shape', () => {
    const sink = new ComponentCounters('SINK', 'k1');
    let t = 0;
    let current: TopologyShape = shape;
    const feed = new LiveFeed({ counters: () => [sink], state: () => 'running', shape: () => current, info: () => ({ agent: 'a1', configFiles: ['x'], startedAt: 0, warnings: [] }) }, () => (t += 500));
    for (let i = 0; i < HISTORY + 5; i++) {
      sink.inc('EventDrainSuccessCount', 50);
      feed.sample();
    }
    expect(feed.history).toHaveLength(HISTORY);
    expect(feed.history.at(-1)!.v['SINK.k1']).toEqual([0, 100]);
    const before = feed.last!.version;
    current = { ...shape, sinks: [] };
    const p = feed.sample();
    expect(p.version).toBe(before + 1);
    expect(p).toMatchObject({ state: 'running', uptimeMs: t, info: { agent: 'a1', configFiles: ['x'], warnings: [] } });
  });
});

describe('the monitor server’s page and event stream', () => {
  it('serves the page with its graph and a strict CSP, then streams history and payloads; close ends open streams', async () => {
    const sink = new ComponentCounters('SINK', 'k1');
    const server = await startMonitorServer({ counters: () => [sink], state: () => 'running', shape: () => shape }, 0, '127.0.0.1', { intervalMs: 50, maxClients: 1 });
    const base = `http://127.0.0.1:${server.port}`;
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await page.text();
    expect(html).toContain('<title>rxflume agent a1</title>');
    expect(html).toContain('data-id="SINK.g1"');
    expect(html).not.toMatch(/\{\{\w+\}\}/);
    expect((await fetch(`${base}/monitor.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);

    const chunks: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      request(`${base}/events`, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          chunks.push(d);
          sink.inc('EventDrainSuccessCount', 10);
        });
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    for (let i = 0; i < 100 && chunks.join('').split('\n\ndata:').length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    // A second page beyond maxClients is refused, not queued.
    expect((await fetch(`${base}/events`)).status).toBe(503);
    await server.close();
    await ended;
    const events = chunks.join('').split('\n\n').filter(Boolean);
    expect(events[0]).toMatch(/^retry: 1000\nevent: history\ndata: \[/);
    const payloads = events.slice(1).map((e) => JSON.parse(e.replace(/^data: /, '')) as { rows: { id: string; outRate: number }[] });
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    expect(payloads.some((p) => p.rows[0]!.id === 'SINK.k1' && p.rows[0]!.outRate > 0)).toBe(true);
  });
});

describe('assets.ts', () => {
  it('is what generate.ts renders from page.html, page.css and page.js (run `npm run build && node dist/lib/agent/monitor/generate.js`)', () => {
    const dir = fileURLToPath(new URL('../../../lib/agent/monitor/', import.meta.url));
    expect(readFileSync(`${dir}assets.ts`, 'utf8')).toBe(assetsModule(dir));
  });
});
