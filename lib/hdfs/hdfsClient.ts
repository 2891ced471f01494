/**
 * What the HDFS sink needs of a file system client; WebHdfsClient (REST) and NativeHdfsClient (Hadoop
 * RPC and DataTransferProtocol) both provide it, with the same errors (WebHdfsError, stable codes).
 */
import type { CreateOptions, FileStatus } from './webHdfsClient.js';

export interface HdfsClient {
  create(path: string, data: Uint8Array, options?: CreateOptions): Promise<void>;
  append(path: string, data: Uint8Array, options?: { bufferSize?: number }): Promise<void>;
  mkdirs(path: string, permission?: string): Promise<boolean>;
  rename(from: string, to: string): Promise<boolean>;
  delete(path: string, recursive?: boolean): Promise<boolean>;
  truncate(path: string, newLength: number): Promise<boolean>;
  stat(path: string): Promise<FileStatus | undefined>;
  listStatus(path: string): Promise<FileStatus[]>;
  open(path: string, options?: { offset?: number; length?: number }): Promise<Buffer>;
  /** Completes the file's open output stream, for a client that keeps one (native). */
  closeFile?(path: string): Promise<void>;
  close(): void | Promise<void>;
}
