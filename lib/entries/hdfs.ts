/** `rxflume/hdfs`: the HDFS sink (WebHDFS or the native transport). */
export { hdfsSink, type HdfsSinkOptions } from '../sinks/hdfs/hdfsSink.js';
