import type { Topology } from '../build.js';
import type { Planned } from '../plan.js';

/** What the page draws of a topology: names, types and wiring (the structure `rxflume validate` prints). */
export interface TopologyShape {
  agent: string;
  sources: { name: string; type: string; interceptors: { name: string; type: string }[]; selector: string; channels: string[] }[];
  channels: { name: string; type: string }[];
  sinks: { name: string; type: string; channel: string }[];
  groups: { name: string; type: string; sinks: string[] }[];
}

export type NodeKind = 'source' | 'interceptor' | 'selector' | 'channel' | 'group' | 'sink';

export interface GraphNode {
  /** The component's `/metrics` id (`CHANNEL.c1`; a sink group's counters are `SINK.<group>`); `SELECTOR.<source>` has no counters. */
  id: string;
  kind: NodeKind;
  name: string;
  type: string;
  x: number;
  y: number;
}

export interface Graph {
  nodes: GraphNode[];
  edges: { from: string; to: string }[];
  width: number;
  height: number;
}

export const NODE = { width: 168, height: 70, columnGap: 56, rowGap: 18, margin: 12 } as const;

const typeOf = (p: Planned): string => p.spec.flumeTypes[0] ?? p.spec.name;

/** The running configuration's shape. */
export function shapeOf(t: Topology): TopologyShape {
  return {
    agent: t.agent,
    sources: t.sources.map((s) => ({
      name: s.name,
      type: typeOf(s),
      interceptors: s.interceptors.map((i) => ({ name: i.name, type: typeOf(i) })),
      selector: typeOf(s.selector),
      channels: [...s.channels],
    })),
    channels: t.channels.map((c) => ({ name: c.name, type: typeOf(c) })),
    sinks: t.sinks.map((k) => ({ name: k.name, type: typeOf(k), channel: k.channel })),
    groups: t.groups.map((g) => ({ name: g.name, type: typeOf(g.processor), sinks: [...g.sinks] })),
  };
}

/**
 * Lays the topology out left to right in columns — sources, their interceptors in chain order, the
 * selector (only where a source feeds several channels), channels, sink groups, sinks — each column's
 * nodes stacked in configuration order and centred on the tallest column. Empty columns take no room.
 */
export function layoutGraph(shape: TopologyShape): Graph {
  const chain = Math.max(0, ...shape.sources.map((s) => s.interceptors.length));
  const column = { source: 0, interceptor: 1, selector: 1 + chain, channel: 2 + chain, group: 3 + chain, sink: 4 + chain };
  const placed: { node: Omit<GraphNode, 'x' | 'y'>; col: number }[] = [];
  const edges: Graph['edges'] = [];
  const add = (kind: NodeKind, id: string, name: string, type: string, col: number) => placed.push({ node: { id, kind, name, type }, col });

  for (const s of shape.sources) {
    let last = `SOURCE.${s.name}`;
    add('source', last, s.name, s.type, column.source);
    s.interceptors.forEach((i, n) => {
      const id = `INTERCEPTOR.${i.name}`;
      add('interceptor', id, i.name, i.type, column.interceptor + n);
      edges.push({ from: last, to: id });
      last = id;
    });
    if (s.channels.length > 1) {
      const id = `SELECTOR.${s.name}`;
      add('selector', id, `${s.name} selector`, s.selector, column.selector);
      edges.push({ from: last, to: id });
      last = id;
    }
    for (const c of s.channels) edges.push({ from: last, to: `CHANNEL.${c}` });
  }
  for (const c of shape.channels) add('channel', `CHANNEL.${c.name}`, c.name, c.type, column.channel);
  const grouped = new Map<string, string>();
  for (const g of shape.groups) for (const k of g.sinks) grouped.set(k, g.name);
  // Sinks in their channels' order, each group's members together after the group's first member.
  const sinkOrder = shape.channels.flatMap((c) => shape.sinks.filter((k) => k.channel === c.name));
  for (const k of shape.sinks) if (!sinkOrder.includes(k)) sinkOrder.push(k);
  const groupsDone = new Set<string>();
  for (const k of sinkOrder) {
    const group = shape.groups.find((g) => g.name === grouped.get(k.name));
    if (!group) {
      add('sink', `SINK.${k.name}`, k.name, k.type, column.sink);
      edges.push({ from: `CHANNEL.${k.channel}`, to: `SINK.${k.name}` });
      continue;
    }
    if (groupsDone.has(group.name)) continue;
    groupsDone.add(group.name);
    add('group', `SINK.${group.name}`, group.name, group.type, column.group);
    edges.push({ from: `CHANNEL.${k.channel}`, to: `SINK.${group.name}` });
    for (const m of group.sinks) {
      const member = shape.sinks.find((s) => s.name === m);
      if (!member) continue;
      add('sink', `SINK.${m}`, m, member.type, column.sink);
      edges.push({ from: `SINK.${group.name}`, to: `SINK.${m}` });
    }
  }

  const used = [...new Set(placed.map((p) => p.col))].sort((a, b) => a - b);
  const counts = used.map((c) => placed.filter((p) => p.col === c).length);
  const rows = Math.max(1, ...counts);
  const pitch = NODE.height + NODE.rowGap;
  const height = NODE.margin * 2 + rows * pitch - NODE.rowGap;
  const nodes: GraphNode[] = [];
  used.forEach((col, x) => {
    const inColumn = placed.filter((p) => p.col === col);
    const top = NODE.margin + ((rows - inColumn.length) * pitch) / 2;
    inColumn.forEach((p, row) => nodes.push({ ...p.node, x: NODE.margin + x * (NODE.width + NODE.columnGap), y: top + row * pitch }));
  });
  const width = NODE.margin * 2 + used.length * (NODE.width + NODE.columnGap) - NODE.columnGap;
  return { nodes, edges, width: Math.max(width, NODE.width + NODE.margin * 2), height };
}

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Long names and types are cut to fit the box; its title and label keep them whole. */
const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

const KIND_LABEL: Record<NodeKind, string> = { source: 'source', interceptor: 'interceptor', selector: 'channel selector', channel: 'channel', group: 'sink group', sink: 'sink' };

/**
 * The graph as inline SVG. Every node is focusable and labelled (kind, name, type; the page's script
 * adds its live figures to the label), with a live text line (`data-stat`), a sparkline and, on
 * channels, a fill bar, which the script updates by the node's `data-id`.
 */
export function graphSvg(graph: Graph, title: string): string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const { width: w, height: h } = NODE;
  const paths = graph.edges
    .map((e) => {
      const a = byId.get(e.from);
      const b = byId.get(e.to);
      if (!a || !b) return '';
      const x1 = a.x + w;
      const y1 = a.y + h / 2;
      const x2 = b.x;
      const y2 = b.y + h / 2;
      const mid = (x1 + x2) / 2;
      return `<path class="edge" data-from="${escape(e.from)}" data-to="${escape(e.to)}" d="M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2 - 4} ${y2}" marker-end="url(#arrow)"/>`;
    })
    .join('');
  // A selector has no counters: its box names the channels it chooses among.
  const targets = (id: string) => graph.edges.filter((e) => e.from === id).map((e) => byId.get(e.to)?.name ?? e.to).join(', ');
  const nodes = graph.nodes
    .map((n) => {
      const label = `${KIND_LABEL[n.kind]} ${n.name} (${n.type})`;
      const bar = n.kind === 'channel' ? `<rect class="bar-bg" x="8" y="${h - 14}" width="${w - 16}" height="6" rx="2"/><rect class="bar" x="8" y="${h - 14}" width="0" height="6" rx="2"/>` : '';
      const spark = n.kind === 'selector' ? '' : `<polyline class="spark" points=""/>`;
      return (
        `<g class="node ${n.kind}" data-id="${escape(n.id)}" transform="translate(${n.x} ${n.y})" tabindex="0" role="img" aria-label="${escape(label)}">` +
        `<title>${escape(label)}</title><rect class="box" width="${w}" height="${h}" rx="6"/>` +
        `<text class="name" x="8" y="17">${escape(clip(n.name, 14))}</text><text class="type" x="${w - 8}" y="17" text-anchor="end">${escape(clip(n.type, 18 - Math.min(14, n.name.length)))}</text>` +
        `<text class="stat" data-stat="" x="8" y="35">${n.kind === 'selector' ? escape(clip(`→ ${targets(n.id)}`, 24)) : '–'}</text>${spark}${bar}</g>`
      );
    })
    .join('');
  return (
    `<svg class="topology" viewBox="0 0 ${graph.width} ${graph.height}" width="${graph.width}" height="${graph.height}" role="group" aria-label="${escape(title)}">` +
    `<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" orient="auto"><path d="M0 0 L8 4 L0 8 z"/></marker></defs>` +
    `${paths}${nodes}</svg>`
  );
}
