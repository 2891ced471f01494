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
export { tailSource, type TailSourceOptions } from './sources/tailSource.js';
export { taildirSource, type TaildirSourceOptions } from './sources/taildir/taildirSource.js';
export { spooldirSource, type SpooldirSourceOptions } from './sources/spooldir/spooldirSource.js';
export { execSource, type ExecSourceOptions } from './sources/execSource.js';
export { kafkaSource, type KafkaSourceOptions } from './sources/kafkaSource.js';
export { netcatSource, type NetcatSourceOptions } from './sources/netcatSource.js';
export { netcatUdpSource, type NetcatUdpSourceOptions } from './sources/netcatUdpSource.js';
export { httpSource, type HttpSourceOptions } from './sources/http/httpSource.js';
export { avroSource, type AvroSourceOptions } from './sources/avroSource.js';
export { syslogTcpSource, type SyslogTcpSourceOptions } from './sources/syslog/syslogTcpSource.js';
export { syslogUdpSource, type SyslogUdpSourceOptions } from './sources/syslog/syslogUdpSource.js';
export { multiportSyslogTcpSource, type MultiportSyslogTcpSourceOptions } from './sources/syslog/multiportSyslogTcpSource.js';
export { parseSyslog } from './sources/syslog/syslogParser.js';

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
export { kafkaChannel, type KafkaChannelOptions } from '../operators/channels/kafkaChannel.js';
export { fileChannel, type FileChannelOptions } from '../operators/channels/fileChannel.js';
export { spillableMemoryChannel, type SpillableMemoryChannelOptions } from '../operators/channels/spillableMemoryChannel.js';

// sinks
export { nullSink, type NullSinkOptions } from './sinks/nullSink.js';
export { loggerSink, loggerLine, type LoggerSinkOptions, type LoggerOutput } from './sinks/loggerSink.js';
export { observerSink, type ObserverSinkOptions, type EventObserver } from './sinks/observerSink.js';
export { consumerSink, type ConsumerSinkOptions, type ConsumerHandler, type HandlerResult } from './sinks/consumerSink.js';
export { batchIterator, type BatchIterator, type BatchIteratorOptions } from './sinks/batchIterator.js';
export { kafkaSink, type KafkaSinkOptions } from './sinks/kafkaSink.js';
export { fileRollSink, type FileRollSinkOptions } from './sinks/fileRollSink.js';
export { hdfsSink, type HdfsSinkOptions } from './sinks/hdfs/hdfsSink.js';
export { createSerializer, defineSerializer, flumeSerializerName, isSerializerDefinition, serializerFactory, type EventSerializer, type SerializerDefinition, type SerializerName, type SerializerOptions, type SerializerSpec } from './serializers/eventSerializer.js';
export { defineHttpHandler, isHttpHandlerDefinition, type HttpBodyReader, type HttpHandler, type HttpHandlerDefinition, type HttpHandlerSpec, type Refusal as HttpRefusal } from './sources/http/handlers.js';
export { AVRO_EVENT_SCHEMA, type AvroCodecName } from './serializers/avroEventSerializer.js';
export { httpSink, type HttpSinkOptions } from './sinks/httpSink.js';
export { avroSink, type AvroSinkOptions } from './sinks/avroSink.js';
export { failoverSink, type FailoverSinkOptions } from './sinks/failoverSink.js';
export { loadBalanceSink, type LoadBalanceSinkOptions } from './sinks/loadBalanceSink.js';
export { createRpcClient, rpcClientFromProperties, type RpcClient, type RpcClientOptions } from './client/rpcClient.js';

// operators: routing (Flume channel selectors)
export { selector, type ChannelSelector, type BoundSelector, type Route } from '../operators/routing/channelSelector.js';
export { fanOut, fanOutStats, type FanOutOptions, type FanOutStats } from '../operators/routing/fanOut.js';
export { replicating, type ReplicatingOptions } from '../operators/routing/replicating.js';
export { multiplexing, type MultiplexingOptions } from '../operators/routing/multiplexing.js';
export { loadBalancing, type LoadBalancingOptions } from '../operators/routing/loadBalancing.js';
export { encodeFlumeEvent, decodeFlumeEvent, AVRO_FLUME_EVENT_SCHEMA } from './avro/flumeEventAvro.js';
