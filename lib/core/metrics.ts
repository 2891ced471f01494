/**
 * Per-component counters under Flume's names (`EventReceivedCount`, `ChannelSize`, …), so dashboards
 * built for Flume's `/metrics` JSON keep working. A component's counters are attached to the value
 * its factory returns (Observable, operator or sink) and collected by `pipe()`.
 */
export type ComponentType = 'SOURCE' | 'CHANNEL' | 'SINK' | 'INTERCEPTOR';

export const SOURCE_COUNTERS = [
  'EventReceivedCount',
  'EventAcceptedCount',
  'AppendBatchReceivedCount',
  'AppendBatchAcceptedCount',
  'EventReadFail',
  'ChannelWriteFail',
  'GenericProcessingFail',
] as const;

export const CHANNEL_COUNTERS = [
  'ChannelSize',
  'ChannelCapacity',
  'EventPutAttemptCount',
  'EventPutSuccessCount',
  'EventTakeAttemptCount',
  'EventTakeSuccessCount',
  'EventDroppedCount',
  'RollbackCount',
] as const;

export const SINK_COUNTERS = [
  'ConnectionCreatedCount',
  'ConnectionClosedCount',
  'ConnectionFailedCount',
  'BatchEmptyCount',
  'BatchUnderflowCount',
  'BatchCompleteCount',
  'EventDrainAttemptCount',
  'EventDrainSuccessCount',
  'EventWriteFail',
] as const;

export const INTERCEPTOR_COUNTERS = ['EventReceivedCount', 'EventDroppedCount', 'EventFailedCount'] as const;

const DEFAULTS: Record<ComponentType, readonly string[]> = {
  SOURCE: SOURCE_COUNTERS,
  CHANNEL: CHANNEL_COUNTERS,
  SINK: SINK_COUNTERS,
  INTERCEPTOR: INTERCEPTOR_COUNTERS,
};

export type MetricsSnapshot = Record<string, number>;

export class ComponentCounters {
  readonly type: ComponentType;
  name: string;
  startTime = 0;
  stopTime = 0;
  private readonly values = new Map<string, number>();

  constructor(type: ComponentType, name: string) {
    this.type = type;
    this.name = name;
    for (const key of DEFAULTS[type]) this.values.set(key, 0);
  }

  inc(key: string, by = 1): void {
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  set(key: string, value: number): void {
    this.values.set(key, value);
  }

  get(key: string): number {
    return this.values.get(key) ?? 0;
  }

  /** A copy of every counter, plus Flume's derived `ChannelFillPercentage` for channels. */
  snapshot(): MetricsSnapshot {
    const out: MetricsSnapshot = Object.fromEntries(this.values);
    if (this.type === 'CHANNEL') {
      const capacity = this.get('ChannelCapacity');
      out['ChannelFillPercentage'] = capacity === 0 ? Number.MAX_VALUE : (this.get('ChannelSize') / capacity) * 100;
    }
    out['StartTime'] = this.startTime;
    out['StopTime'] = this.stopTime;
    return out;
  }
}

export const METRICS: unique symbol = Symbol.for('rxflume.metrics');

export interface HasMetrics {
  readonly [METRICS]: ComponentCounters;
}

/** Attaches counters to a component value so `pipe()` can find them. */
export function withMetrics<T extends object>(target: T, counters: ComponentCounters): T & HasMetrics {
  Object.defineProperty(target, METRICS, { value: counters, enumerable: false });
  return target as T & HasMetrics;
}

export function metricsOf(value: unknown): ComponentCounters | undefined {
  if ((typeof value === 'object' || typeof value === 'function') && value !== null) {
    return (value as Partial<HasMetrics>)[METRICS];
  }
  return undefined;
}
