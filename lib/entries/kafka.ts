/** `rxflume/kafka`: the Kafka source, sink and channel (kafkajs is loaded when one is built). */
export { kafkaSource, type KafkaSourceOptions } from '../sources/kafkaSource.js';
export { kafkaSink, type KafkaSinkOptions } from '../sinks/kafkaSink.js';
export { kafkaChannel, type KafkaChannelOptions } from '../../operators/channels/kafkaChannel.js';
