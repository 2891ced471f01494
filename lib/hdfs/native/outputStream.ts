/**
 * One file open for writing (Hadoop's DFSOutputStream, reduced to what a sink needs): bytes go to the
 * current block's pipeline (blockWriter.ts); a full block is ended and the next one asked for with
 * addBlock(previous); `write` resolves once its bytes are hsynced (on disk at every DataNode of the
 * pipeline), so they survive this process, the DataNodes' and a crash of their machines, and readers see them. `close` ends the last block and
 * completes the file, retrying complete() while the NameNode waits for the DataNodes to report the
 * block, as Hadoop's client does (from 25 ms, doubling, instead of its 400 ms). Writes run one at a
 * time; after any failure the stream is broken: every later call rejects, and the file, still leased
 * to this client, needs a lease recovery (NativeHdfsClient does it).
 */
import { WebHdfsError } from '../webHdfsError.js';
import { BlockWriter } from './blockWriter.js';
import type { ExtendedBlock, LocatedBlock, NameNodeClient } from './nameNodeClient.js';

export interface OutputStreamContext {
  nn: NameNodeClient;
  clientName: string;
  bytesPerChecksum: number;
  packetSize: number;
  timeoutMs: number;
  component?: string | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class HdfsOutputStream {
  /** Bytes of the file hflushed so far. */
  length: number;
  private writer: BlockWriter | undefined;
  private previous: ExtendedBlock | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly ctx: OutputStreamContext,
    readonly path: string,
    private readonly fileId: number,
    private readonly blockSize: number,
    /** Append: the file's length and last block (a new block is started after it). */
    start: { length: number; lastBlock: ExtendedBlock | undefined } = { length: 0, lastBlock: undefined },
  ) {
    this.length = start.length;
    this.previous = start.lastBlock;
  }

  get broken(): boolean {
    return this.failure !== undefined;
  }

  /** Sends `data` and resolves once the whole pipeline has it on disk (hsync). */
  write(data: Buffer): Promise<void> {
    return this.serial(async () => {
      let at = 0;
      while (at < data.length) {
        if (!this.writer || this.writer.bytesInBlock >= this.blockSize) await this.nextBlock();
        const writer = this.writer!;
        const n = Math.min(data.length - at, this.blockSize - writer.bytesInBlock);
        // The last packet of the write is hsynced: the batch is acked only once it is on the DataNodes' disks.
        writer.write(data.subarray(at, at + n), at + n >= data.length);
        at += n;
      }
      await this.writer?.flush();
      this.length += data.length;
    });
  }

  /** Ends the last block and completes the file. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.writer) {
        await this.writer.end();
        this.previous = this.finished(this.writer);
        this.writer = undefined;
      }
      this.closed = true;
      for (let attempt = 0, delay = 25; ; attempt++, delay = Math.min(delay * 2, 1600)) {
        if (await this.ctx.nn.complete(this.path, this.ctx.clientName, this.previous, this.fileId)) return;
        if (attempt >= 12) throw this.error('FLUME_HDFS_IO', `the NameNode did not complete the file after ${attempt + 1} attempts (its last block was not reported by the DataNodes)`);
        await sleep(delay);
      }
    });
  }

  /** Breaks the pipeline; the file stays leased until recovered. */
  abort(reason?: string): void {
    this.failure ??= this.error('FLUME_HDFS_IO', reason ?? 'the stream was abandoned');
    this.writer?.abort(reason);
  }

  private serial(task: () => Promise<void>): Promise<void> {
    const run = async () => {
      if (this.failure) throw this.failure;
      if (this.closed) throw this.error('FLUME_HDFS_IO', 'the stream is closed');
      try {
        await task();
      } catch (error) {
        this.failure ??= error as Error;
        this.writer?.abort();
        throw error;
      }
    };
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private finished(writer: BlockWriter): ExtendedBlock {
    return { ...writer.located.block, numBytes: BigInt(writer.bytesInBlock) };
  }

  private async nextBlock(): Promise<void> {
    if (this.writer) {
      await this.writer.end();
      this.previous = this.finished(this.writer);
      this.writer = undefined;
    }
    let located: LocatedBlock;
    for (let attempt = 0, delay = 25; ; attempt++, delay = Math.min(delay * 2, 1600)) {
      try {
        located = await this.ctx.nn.addBlock(this.path, this.ctx.clientName, this.previous, this.fileId);
        break;
      } catch (error) {
        // The previous block is not reported by its DataNodes yet: Hadoop's client retries too.
        if (!(error instanceof WebHdfsError && error.exception === 'NotReplicatedYetException') || attempt >= 12) throw error;
        await sleep(delay);
      }
    }
    this.writer = await BlockWriter.open(located, {
      path: this.path,
      clientName: this.ctx.clientName,
      bytesPerChecksum: this.ctx.bytesPerChecksum,
      packetSize: this.ctx.packetSize,
      timeoutMs: this.ctx.timeoutMs,
      component: this.ctx.component,
    });
  }

  private error(code: 'FLUME_HDFS_IO', what: string): WebHdfsError {
    return new WebHdfsError(code, `HDFS write ${this.path} failed: ${what}`, { op: 'write', path: this.path, component: this.ctx.component });
  }
}
