/**
 * The Flume properties of the tiered chaos topology (docs/deploying.md shows them): edges tail files into
 * a file channel and balance over two collectors by Avro; collectors put into a file channel and write to
 * Kafka with acks=all; the consumer reads Kafka into a file channel and rolls files, and into a second one
 * that an HDFS sink writes out.
 */

export interface Paths {
  /** The agent's own folder (channels, taildir positions). */
  dir: string;
}

/** Avro port of the collectors (each on its own address) and Kafka's client port on each broker. */
export const AVRO_PORT = 4141;
export const KAFKA_PORT = 9092;
export const TOPIC = 'chaos';

/** A file channel sized for an outage: capacity in events, small segments so emptied ones are freed soon. */
const fileChannel = (dir: string, minimumRequiredSpace: number, name = 'c1') => {
  const folder = `${dir}/${name === 'c1' ? 'channel' : `channel-${name}`}`;
  return `a1.channels.${name}.type = file
a1.channels.${name}.checkpointDir = ${folder}/checkpoint
a1.channels.${name}.dataDirs = ${folder}/data
a1.channels.${name}.capacity = 500000
a1.channels.${name}.transactionCapacity = 1000
a1.channels.${name}.maxFileSize = 8388608
a1.channels.${name}.minimumRequiredSpace = ${minimumRequiredSpace}
a1.channels.${name}.checkpointInterval = 5000`;
};

/** Edge: taildir over the generator's file and its rotated copies → file channel → load_balance over 2 avro sinks. */
export function edgeConf(dir: string, logDir: string, collectors: readonly string[]): string {
  const sinks = collectors.map((_, i) => `k${i + 1}`);
  return `a1.sources = r1
a1.channels = c1
a1.sinks = ${sinks.join(' ')}
a1.sinkgroups = g1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = ${logDir}/app.log.*
a1.sources.r1.positionFile = ${dir}/taildir_position.json
a1.sources.r1.batchSize = 500
a1.sources.r1.writePosInterval = 1000
${fileChannel(dir, 16 * 1024 * 1024)}
${collectors
  .map(
    (address, i) => `a1.sinks.k${i + 1}.type = avro
a1.sinks.k${i + 1}.channel = c1
a1.sinks.k${i + 1}.hostname = ${address}
a1.sinks.k${i + 1}.port = ${AVRO_PORT}
a1.sinks.k${i + 1}.batch-size = 500
a1.sinks.k${i + 1}.connect-timeout = 3000
a1.sinks.k${i + 1}.request-timeout = 5000
a1.sinks.k${i + 1}.maxReconnectBackoffMs = 2000`,
  )
  .join('\n')}
a1.sinkgroups.g1.sinks = ${sinks.join(' ')}
a1.sinkgroups.g1.processor.type = load_balance
a1.sinkgroups.g1.processor.backoff = true
a1.sinkgroups.g1.processor.selector = round_robin
a1.sinkgroups.g1.processor.selector.maxTimeOut = 8000
`;
}

/**
 * Collector: avro source → file channel → Kafka sink (acks=all) on the cluster, with the sink's default
 * produce retries unless `producerRetries` is given. The kill-leader fault is what found kafkajs's own produce
 * retry losing acked records (it resent only to brokers that had not answered); rxflume now resends whole
 * requests itself (lib/kafka/producer.ts), and this run with retries on is the proof.
 */
export function collectorConf(dir: string, address: string, bootstrap: string, minimumRequiredSpace: number, producerRetries?: number): string {
  return `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = avro
a1.sources.r1.channels = c1
a1.sources.r1.bind = ${address}
a1.sources.r1.port = ${AVRO_PORT}
${fileChannel(dir, minimumRequiredSpace)}
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.channel = c1
a1.sinks.k1.kafka.bootstrap.servers = ${bootstrap}
a1.sinks.k1.kafka.topic = ${TOPIC}
a1.sinks.k1.kafka.producer.acks = all
a1.sinks.k1.kafka.flumeBatchSize = 1000
a1.sinks.k1.kafka.producer.request.timeout.ms = 10000
${producerRetries === undefined ? '' : `a1.sinks.k1.kafka.producer.retries = ${producerRetries}\n`}`;
}

/** Where the consumer's HDFS sink writes: the NameNode's RPC address and how (`transport`). */
export interface HdfsTarget {
  nameNode: string;
  transport: 'native' | 'webhdfs';
  /** The NameNode's HTTP address, for `transport: webhdfs`. */
  http: string;
}

/** The HDFS folder the consumer writes, and the prefix of its files. */
export const HDFS_DIR = '/chaos';

/**
 * Consumer: Kafka source (one group) → file channel → file_roll (one file per life of the process),
 * and with `hdfs`, by the replicating selector, also → a second file channel → HDFS sink (DataStream of
 * TEXT lines, a file per 30 s).
 */
export function consumerConf(dir: string, outDir: string, bootstrap: string, hdfs?: HdfsTarget): string {
  return `a1.sources = r1
a1.channels = c1${hdfs ? ' c2' : ''}
a1.sinks = k1${hdfs ? ' k2' : ''}
a1.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
a1.sources.r1.channels = c1${hdfs ? ' c2' : ''}
a1.sources.r1.kafka.bootstrap.servers = ${bootstrap}
a1.sources.r1.kafka.topics = ${TOPIC}
a1.sources.r1.kafka.consumer.group.id = chaos
a1.sources.r1.kafka.consumer.auto.offset.reset = earliest
a1.sources.r1.kafka.consumer.session.timeout.ms = 10000
a1.sources.r1.kafka.consumer.request.timeout.ms = 10000
a1.sources.r1.batchSize = 1000
a1.sources.r1.batchDurationMillis = 200
${fileChannel(dir, 16 * 1024 * 1024)}
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${outDir}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = 1000
${
  hdfs
    ? `${fileChannel(dir, 16 * 1024 * 1024, 'c2')}
a1.sinks.k2.type = hdfs
a1.sinks.k2.channel = c2
a1.sinks.k2.hdfs.path = hdfs://${hdfs.nameNode}${HDFS_DIR}
a1.sinks.k2.transport = ${hdfs.transport}
${hdfs.transport === 'webhdfs' ? `a1.sinks.k2.webHdfsUrl = http://${hdfs.http}\n` : ''}a1.sinks.k2.hdfs.filePrefix = chaos
a1.sinks.k2.hdfs.fileType = DataStream
a1.sinks.k2.hdfs.rollInterval = 30
a1.sinks.k2.hdfs.rollSize = 0
a1.sinks.k2.hdfs.rollCount = 0
a1.sinks.k2.hdfs.batchSize = 1000
`
    : ''
}`;
}
