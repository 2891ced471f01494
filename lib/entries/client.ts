/** `rxflume/client`: Flume's client SDK for apps — an RPC client (default, failover, load-balancing) to Avro sources. */
export { createRpcClient, rpcClientFromProperties, type RpcClient, type RpcClientOptions } from '../client/rpcClient.js';
