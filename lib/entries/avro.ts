/** `rxflume/avro`: Flume's Avro RPC source and sink, and its event codec. */
export { avroSource, type AvroSourceOptions } from '../sources/avroSource.js';
export { avroSink, type AvroSinkOptions } from '../sinks/avroSink.js';
export { encodeFlumeEvent, decodeFlumeEvent, AVRO_FLUME_EVENT_SCHEMA } from '../avro/flumeEventAvro.js';
