/**
 * Reads a TCP stream as exact-size pieces and varint-delimited messages, one reader at a time (the
 * IPC response loop, a pipeline's ack loop, a block read). The socket's end or error fails the read
 * waiting and every later one.
 */
import type { Socket } from 'node:net';
import { readVarint } from './protobuf.js';

export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;

  constructor(socket: Socket, private readonly describe: () => string) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.wake();
    });
    socket.on('end', () => this.fail(new Error(`${this.describe()} closed the connection`)));
    socket.on('close', () => this.fail(new Error(`${this.describe()}: connection closed`)));
    socket.on('error', (error) => this.fail(error));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async waitFor(n: number): Promise<void> {
    while (this.buffered < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks.length > 1 && this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    const head = this.chunks[0]!;
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }

  async read(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    await this.waitFor(n);
    return this.take(n);
  }

  /** A varint length, then that many bytes. */
  async readDelimited(maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    for (let want = 1; ; want++) {
      await this.waitFor(want);
      const v = readVarint(this.peek(Math.min(this.buffered, 10)), 0);
      if (!v) continue;
      const length = Number(v[0]);
      if (length > maxBytes) throw new Error(`${this.describe()} announced a ${length}-byte message`);
      this.take(v[1]);
      return this.read(length);
    }
  }
}
