/** `rxflume/files`: sources reading files, the file_roll sink, the durable channels, the file serializers. */
export { tailSource, type TailSourceOptions } from '../sources/tailSource.js';
export { taildirSource, type TaildirSourceOptions } from '../sources/taildir/taildirSource.js';
export { spooldirSource, type SpooldirSourceOptions } from '../sources/spooldir/spooldirSource.js';
export { fileRollSink, type FileRollSinkOptions } from '../sinks/fileRollSink.js';
export { fileChannel, type FileChannelOptions } from '../../operators/channels/fileChannel.js';
export { spillableMemoryChannel, type SpillableMemoryChannelOptions } from '../../operators/channels/spillableMemoryChannel.js';
export {
  createSerializer,
  defineSerializer,
  flumeSerializerName,
  isSerializerDefinition,
  serializerFactory,
  type EventSerializer,
  type SerializerDefinition,
  type SerializerName,
  type SerializerOptions,
  type SerializerSpec,
} from '../serializers/eventSerializer.js';
export { AVRO_EVENT_SCHEMA, type AvroCodecName } from '../serializers/avroEventSerializer.js';
