import type * as Avsc from 'avsc';
import { lazyRequire } from '../core/lazyRequire.js';

/**
 * avsc, loaded on first use: the agent imports every component's module, and only a configuration
 * with an Avro source or sink, a Kafka component reading or writing Flume's event format, or an
 * avro_event serializer needs it.
 */
export const avsc: () => typeof Avsc = lazyRequire<typeof Avsc>('avsc', 'Avro components and codecs');
