/**
 * Per-component rates from two readings of Flume's `/metrics` JSON: what the topology page pushes and
 * what `rxflume top` draws. Working on that JSON (not on live counters) lets `top` watch any agent
 * that serves it, a Flume agent's included.
 */

/** Flume's `/metrics` JSON: `{"CHANNEL.c1": {"Type": "CHANNEL", "ChannelSize": "0", …}}` (values strings or numbers). */
export type FlumeMetrics = Record<string, Record<string, string | number>>;

export interface ComponentRow {
  /** `TYPE.name`, as in `/metrics`. */
  id: string;
  type: string;
  name: string;
  /** Events/s entering (source: received; interceptor: received; channel: put; sink: drain attempts). */
  inRate: number;
  /** Events/s leaving (source: accepted; interceptor: kept; channel: taken; sink: drained). */
  outRate: number;
  /** Channels only: ChannelFillPercentage (0–100, absent without a capacity), ChannelSize and ChannelCapacity. */
  fill?: number;
  size?: number;
  capacity?: number;
  /** Failures so far (source: read, channel-write and processing failures; interceptor: failed;
   * channel: dropped; sink: connection and write failures, and a group's failed member batches). */
  errors: number;
  /**
   * ok; failing: errors rose while nothing got through, and nothing has got through since (a sink
   * backing off between retries stays failing); ended: stopped.
   */
  state: 'ok' | 'failing' | 'ended';
}

const num = (m: Record<string, string | number> | undefined, key: string): number => {
  const v = Number(m?.[key] ?? 0);
  return Number.isFinite(v) ? v : 0;
};

const sumOf = (m: Record<string, string | number> | undefined, keys: readonly string[], prefix?: string): number =>
  keys.reduce((n, k) => n + num(m, k), 0) + (prefix && m ? Object.keys(m).filter((k) => k.startsWith(prefix)).reduce((n, k) => n + num(m, k), 0) : 0);

/** The counters each reading compares, by component type: [in, out, error keys, error key prefix]. */
const READ: Record<string, { in: (m: Record<string, string | number>) => number; out: (m: Record<string, string | number>) => number; errors: (m: Record<string, string | number>) => number }> = {
  SOURCE: {
    in: (m) => num(m, 'EventReceivedCount'),
    out: (m) => num(m, 'EventAcceptedCount'),
    errors: (m) => sumOf(m, ['EventReadFail', 'ChannelWriteFail', 'GenericProcessingFail']),
  },
  INTERCEPTOR: {
    in: (m) => num(m, 'EventReceivedCount'),
    out: (m) => num(m, 'EventReceivedCount') - num(m, 'EventDroppedCount'),
    errors: (m) => num(m, 'EventFailedCount'),
  },
  CHANNEL: {
    in: (m) => num(m, 'EventPutSuccessCount'),
    out: (m) => num(m, 'EventTakeSuccessCount'),
    errors: (m) => num(m, 'EventDroppedCount'),
  },
  SINK: {
    in: (m) => num(m, 'EventDrainAttemptCount'),
    out: (m) => num(m, 'EventDrainSuccessCount'),
    errors: (m) => sumOf(m, ['ConnectionFailedCount', 'EventWriteFail'], 'BatchFailCount.'),
  },
};

/** Components in the order events flow through them, then by name. */
const ORDER = ['SOURCE', 'INTERCEPTOR', 'CHANNEL', 'SINK'];

/**
 * One row per component of `now`; rates are the counters' growth since `previous` over `elapsedMs`
 * (0 on the first reading, and for a component that was not there: a reload restarts its counters).
 */
export function componentRows(previous: FlumeMetrics | undefined, now: FlumeMetrics, elapsedMs: number, previousRows: readonly ComponentRow[] = []): ComponentRow[] {
  const wasFailing = new Set(previousRows.filter((r) => r.state === 'failing').map((r) => r.id));
  const rows: ComponentRow[] = [];
  const seconds = Math.max(elapsedMs, 1) / 1000;
  for (const [id, m] of Object.entries(now)) {
    const type = String(m['Type'] ?? id.split('.')[0]);
    const read = READ[type];
    if (!read) continue;
    const before = previous?.[id];
    // A counter that went backwards belongs to a new component of the same name (after a reload).
    const rate = (f: (x: Record<string, string | number>) => number) => (before ? Math.max(0, f(m) - f(before)) / seconds : 0);
    const errors = read.errors(m);
    const row: ComponentRow = {
      id,
      type,
      name: id.slice(type.length + 1),
      inRate: rate(read.in),
      outRate: rate(read.out),
      errors,
      state: 'ok',
    };
    if (type === 'CHANNEL') {
      row.size = num(m, 'ChannelSize');
      row.capacity = num(m, 'ChannelCapacity');
      // Without a capacity (Flume reports Double.MAX_VALUE then) there is no fill to show.
      if (row.capacity > 0) row.fill = Math.min(100, num(m, 'ChannelFillPercentage'));
    }
    if (num(m, 'StopTime') !== 0) row.state = 'ended';
    else if (before && row.outRate === 0 && (errors > read.errors(before) || wasFailing.has(id))) row.state = 'failing';
    rows.push(row);
  }
  return rows.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type) || a.name.localeCompare(b.name));
}
