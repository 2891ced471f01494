/**
 * What the HDFS sink needs of a file system client; WebHdfsClient (REST) and NativeHdfsClient (Hadoop
 * RPC and DataTransferProtocol) both provide it, with the same errors (WebHdfsError, stable codes).
 */
import type { CreateOptions, FileStatus } from './webHdfsClient.js';

export interface WriteOptions {
  /**
   * The caller gives `data` up (nothing else refers to its memory, and the caller will not read it
   * again): the client may free it as soon as it no longer needs it, rather than leave it to the GC. The
   * native client does when the write settles; WebHDFS leaves it to the GC (a request may still be sending
   * its body when the answer comes).
   */
  handOver?: boolean;
}

export interface HdfsClient {
  create(path: string, data: Uint8Array, options?: CreateOptions & WriteOptions): Promise<void>;
  append(path: string, data: Uint8Array, options?: { bufferSize?: number } & WriteOptions): Promise<void>;
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
