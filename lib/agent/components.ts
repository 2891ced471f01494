import type { Component } from '../core/config.js';
import { pollSource } from '../core/pollSource.js';
import { bufferedSource } from '../core/bufferedSource.js';
import { sequenceSource } from '../sources/sequenceSource.js';
import { stressSource } from '../sources/stressSource.js';
import { fromObservable } from '../sources/fromObservable.js';
import { tailSource } from '../sources/tailSource.js';
import { taildirSource } from '../sources/taildir/taildirSource.js';
import { spooldirSource } from '../sources/spooldir/spooldirSource.js';
import { execSource } from '../sources/execSource.js';
import { kafkaSource } from '../sources/kafkaSource.js';
import { jmsSource } from '../sources/jmsSource.js';
import { kafkaChannel } from '../../operators/channels/kafkaChannel.js';
import { fileChannel } from '../../operators/channels/fileChannel.js';
import { spillableMemoryChannel } from '../../operators/channels/spillableMemoryChannel.js';
import { netcatSource } from '../sources/netcatSource.js';
import { netcatUdpSource } from '../sources/netcatUdpSource.js';
import { httpSource } from '../sources/http/httpSource.js';
import { syslogTcpSource } from '../sources/syslog/syslogTcpSource.js';
import { syslogUdpSource } from '../sources/syslog/syslogUdpSource.js';
import { multiportSyslogTcpSource } from '../sources/syslog/multiportSyslogTcpSource.js';
import { httpSink } from '../sinks/httpSink.js';
import { avroSource } from '../sources/avroSource.js';
import { avroSink } from '../sinks/avroSink.js';
import { ircSink } from '../sinks/ircSink.js';
import { thriftSource } from '../sources/thriftSource.js';
import { scribeSource } from '../sources/scribeSource.js';
import { thriftSink } from '../sinks/thriftSink.js';
import { nullSink } from '../sinks/nullSink.js';
import { loggerSink } from '../sinks/loggerSink.js';
import { observerSink } from '../sinks/observerSink.js';
import { consumerSink } from '../sinks/consumerSink.js';
import { batchIterator } from '../sinks/batchIterator.js';
import { kafkaSink } from '../sinks/kafkaSink.js';
import { fileRollSink } from '../sinks/fileRollSink.js';
import { hdfsSink } from '../sinks/hdfs/hdfsSink.js';
import { failoverSink } from '../sinks/failoverSink.js';
import { loadBalanceSink } from '../sinks/loadBalanceSink.js';
import { competingSinks } from './competingSinks.js';
import { Registry } from './registry.js';
import { fanOut } from '../../operators/routing/fanOut.js';
import { replicating } from '../../operators/routing/replicating.js';
import { multiplexing } from '../../operators/routing/multiplexing.js';
import { loadBalancing } from '../../operators/routing/loadBalancing.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { mapEvents } from '../../operators/interceptors/mapEvents.js';
import { filterEvents } from '../../operators/interceptors/filterEvents.js';
import { timestampInterceptor } from '../../operators/interceptors/timestampInterceptor.js';
import { hostInterceptor } from '../../operators/interceptors/hostInterceptor.js';
import { staticInterceptor } from '../../operators/interceptors/staticInterceptor.js';
import { removeHeaderInterceptor } from '../../operators/interceptors/removeHeaderInterceptor.js';
import { uuidInterceptor } from '../../operators/interceptors/uuidInterceptor.js';
import { searchReplaceInterceptor } from '../../operators/interceptors/searchReplaceInterceptor.js';
import { regexFilterInterceptor } from '../../operators/interceptors/regexFilterInterceptor.js';
import { regexExtractorInterceptor } from '../../operators/interceptors/regexExtractorInterceptor.js';

/**
 * Every component the agent can build, selectors and sink processors included, in the order the docs
 * list them. The composition root's one list.
 */
export const components: readonly Component<(...args: never[]) => unknown>[] = [
  pollSource,
  bufferedSource,
  sequenceSource,
  stressSource,
  fromObservable,
  tailSource,
  taildirSource,
  spooldirSource,
  execSource,
  kafkaSource,
  jmsSource,
  netcatSource,
  netcatUdpSource,
  httpSource,
  avroSource,
  thriftSource,
  scribeSource,
  syslogTcpSource,
  syslogUdpSource,
  multiportSyslogTcpSource,
  mapEvents,
  filterEvents,
  timestampInterceptor,
  hostInterceptor,
  staticInterceptor,
  removeHeaderInterceptor,
  uuidInterceptor,
  searchReplaceInterceptor,
  regexFilterInterceptor,
  regexExtractorInterceptor,
  fanOut,
  replicating,
  multiplexing,
  loadBalancing,
  memoryChannel,
  fileChannel,
  spillableMemoryChannel,
  kafkaChannel,
  nullSink,
  loggerSink,
  observerSink,
  consumerSink,
  batchIterator,
  kafkaSink,
  fileRollSink,
  hdfsSink,
  httpSink,
  avroSink,
  ircSink,
  thriftSink,
  competingSinks,
  failoverSink,
  loadBalanceSink,
] as never;

/**
 * A registry of every component, loaded: for `rxflume components`, the docs and the tests. The agent builds
 * a configuration from the generated catalog instead (catalog.ts), loading only what it names.
 */
export const registry = new Registry(components as never);
