/** `rxflume/thrift`: Flume's Thrift RPC source and sink, and its Scribe source. */
export { thriftSource, type ThriftSourceOptions } from '../sources/thriftSource.js';
export { thriftSink, type ThriftSinkOptions } from '../sinks/thriftSink.js';
export { scribeSource, type ScribeSourceOptions } from '../sources/scribeSource.js';
