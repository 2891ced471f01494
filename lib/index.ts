// The core loads with `import 'rxflume'`. What needs a protocol, an external system or files loads on
// first use (lib/entries/lazy.ts), or at once from its subpath: rxflume/kafka, rxflume/hdfs, rxflume/avro,
// rxflume/http, rxflume/syslog, rxflume/netcat, rxflume/exec, rxflume/files.

// core
export { event, text, toBuffer, isFlumeEvent, bodyBytes, type FlumeEvent, type EventBody } from './core/event.js';
export { createBatch, deriveBatch, isBatch, type Batch, type Settlement } from './core/batch.js';
export { pipe, type Pipeline, type PipelineStopResult, type PipeOptions, type Stage, type SinkLike, type StopOptions, type StopResult } from './core/pipe.js';
export { mergeSources, type MergedSources } from './core/mergeSources.js';
export type { UnsettledStage } from './core/unsettled.js';
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
export { bufferedSource, type BufferedSourceOptions, type Feed, type Producer } from './core/bufferedSource.js';
export { sequenceSource, type SequenceSourceOptions } from './sources/sequenceSource.js';
export { stressSource, type StressSourceOptions } from './sources/stressSource.js';
export { fromObservable, type FromObservableOptions } from './sources/fromObservable.js';
export {
  tailSource,
  taildirSource,
  spooldirSource,
  execSource,
  kafkaSource,
  netcatSource,
  netcatUdpSource,
  httpSource,
  avroSource,
  thriftSource,
  scribeSource,
  jmsSource,
  syslogTcpSource,
  syslogUdpSource,
  multiportSyslogTcpSource,
  parseSyslog,
} from './entries/lazy.js';
export type { TailSourceOptions } from './sources/tailSource.js';
export type { TaildirSourceOptions } from './sources/taildir/taildirSource.js';
export type { SpooldirSourceOptions } from './sources/spooldir/spooldirSource.js';
export type { ExecSourceOptions } from './sources/execSource.js';
export type { KafkaSourceOptions } from './sources/kafkaSource.js';
export type { NetcatSourceOptions } from './sources/netcatSource.js';
export type { NetcatUdpSourceOptions } from './sources/netcatUdpSource.js';
export type { HttpSourceOptions } from './sources/http/httpSource.js';
export type { AvroSourceOptions } from './sources/avroSource.js';
export type { ThriftSourceOptions } from './sources/thriftSource.js';
export type { ScribeSourceOptions } from './sources/scribeSource.js';
export type { JmsSourceOptions } from './sources/jmsSource.js';
export type { SyslogTcpSourceOptions } from './sources/syslog/syslogTcpSource.js';
export type { SyslogUdpSourceOptions } from './sources/syslog/syslogUdpSource.js';
export type { MultiportSyslogTcpSourceOptions } from './sources/syslog/multiportSyslogTcpSource.js';

// operators: interceptors
export { interceptor, keepEvents, replaceEvents, type Interceptor, type Rewrite } from '../operators/interceptors/interceptor.js';
export { mapEvents, type MapEventsOptions } from '../operators/interceptors/mapEvents.js';
export { filterEvents, type FilterEventsOptions } from '../operators/interceptors/filterEvents.js';
export { timestampInterceptor, type TimestampInterceptorOptions } from '../operators/interceptors/timestampInterceptor.js';
export { hostInterceptor, type HostInterceptorOptions } from '../operators/interceptors/hostInterceptor.js';
export { staticInterceptor, type StaticInterceptorOptions } from '../operators/interceptors/staticInterceptor.js';
export { removeHeaderInterceptor, type RemoveHeaderInterceptorOptions } from '../operators/interceptors/removeHeaderInterceptor.js';
export { uuidInterceptor, type UuidInterceptorOptions } from '../operators/interceptors/uuidInterceptor.js';
export { searchReplaceInterceptor, type SearchReplaceInterceptorOptions } from '../operators/interceptors/searchReplaceInterceptor.js';
export { regexFilterInterceptor, type RegexFilterInterceptorOptions } from '../operators/interceptors/regexFilterInterceptor.js';
export {
  regexExtractorInterceptor,
  type RegexExtractorInterceptorOptions,
} from '../operators/interceptors/regexExtractorInterceptor.js';

// operators: channels
export { memoryChannel, type MemoryChannelOptions } from '../operators/channels/memoryChannel.js';
export { kafkaChannel, fileChannel, spillableMemoryChannel } from './entries/lazy.js';
export type { KafkaChannelOptions } from '../operators/channels/kafkaChannel.js';
export type { FileChannelOptions } from '../operators/channels/fileChannel.js';
export type { SpillableMemoryChannelOptions } from '../operators/channels/spillableMemoryChannel.js';

// sinks
export { nullSink, type NullSinkOptions } from './sinks/nullSink.js';
export { loggerSink, loggerLine, type LoggerSinkOptions, type LoggerOutput } from './sinks/loggerSink.js';
export { observerSink, type ObserverSinkOptions, type EventObserver } from './sinks/observerSink.js';
export { consumerSink, type ConsumerSinkOptions, type ConsumerHandler, type HandlerResult } from './sinks/consumerSink.js';
export { batchIterator, type BatchIterator, type BatchIteratorOptions } from './sinks/batchIterator.js';
export { kafkaSink, fileRollSink, hdfsSink, httpSink, avroSink, thriftSink, ircSink } from './entries/lazy.js';
export type { KafkaSinkOptions } from './sinks/kafkaSink.js';
export type { FileRollSinkOptions } from './sinks/fileRollSink.js';
export type { HdfsSinkOptions } from './sinks/hdfs/hdfsSink.js';
export type { HttpSinkOptions } from './sinks/httpSink.js';
export type { AvroSinkOptions } from './sinks/avroSink.js';
export type { ThriftSinkOptions } from './sinks/thriftSink.js';
export type { IrcSinkOptions } from './sinks/ircSink.js';
export { createSerializer, flumeSerializerName, serializerFactory, defineHttpHandler, isHttpHandlerDefinition } from './entries/lazy.js';
export { defineSerializer, isSerializerDefinition, type EventSerializer, type SerializerDefinition, type SerializerSpec } from './serializers/defineSerializer.js';
export type { SerializerName, SerializerOptions } from './serializers/eventSerializer.js';
export type { HttpBodyReader, HttpHandler, HttpHandlerDefinition, HttpHandlerSpec, Refusal as HttpRefusal } from './sources/http/handlers.js';
export { AVRO_EVENT_SCHEMA, type AvroCodecName } from './serializers/avroEventSerializer.js';
export { failoverSink, type FailoverSinkOptions } from './sinks/failoverSink.js';
export { loadBalanceSink, type LoadBalanceSinkOptions } from './sinks/loadBalanceSink.js';
export { createRpcClient, rpcClientFromProperties } from './entries/lazy.js';
export type { RpcClient, RpcClientOptions } from './client/rpcClient.js';

// operators: routing (Flume channel selectors)
export { selector, type ChannelSelector, type BoundSelector, type Route } from '../operators/routing/channelSelector.js';
export { fanOut, fanOutStats, type FanOutOptions, type FanOutStats } from '../operators/routing/fanOut.js';
export { replicating, type ReplicatingOptions } from '../operators/routing/replicating.js';
export { multiplexing, type MultiplexingOptions } from '../operators/routing/multiplexing.js';
export { loadBalancing, type LoadBalancingOptions } from '../operators/routing/loadBalancing.js';
export { encodeFlumeEvent, decodeFlumeEvent, AVRO_FLUME_EVENT_SCHEMA } from './avro/flumeEventAvro.js';
