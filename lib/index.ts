// core
export { event, text, toBuffer, isFlumeEvent, bodyBytes, type FlumeEvent, type EventBody } from './core/event.js';
export { createBatch, deriveBatch, isBatch, type Batch, type Settlement } from './core/batch.js';
export { pipe, type Pipeline, type Stage, type SinkLike, type StopOptions } from './core/pipe.js';
export { createSink, type Sink, type SinkWriter } from './core/sink.js';
export {
  ComponentCounters,
  METRICS,
  metricsOf,
  withMetrics,
  type ComponentType,
  type HasMetrics,
  type MetricsSnapshot,
} from './core/metrics.js';
export {
  component,
  defineComponent,
  parseOptions,
  type Component,
  type ComponentKind,
  type ComponentSpec,
  type FlumeKeyMapping,
} from './core/config.js';

// errors
export {
  ChannelFullError,
  ComponentError,
  ConfigError,
  FlumeError,
  TransactionError,
  isRetriable,
  type ConfigIssue,
  type ErrorCode,
} from './core/errors.js';

// sources
export { pollSource, type Poll, type PollResult, type PolledBatch, type PollSourceOptions } from './core/pollSource.js';

// operators
export { memoryChannel, type MemoryChannelOptions } from '../operators/channels/memoryChannel.js';
