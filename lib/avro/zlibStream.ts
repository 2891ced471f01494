/**
 * Netty's zlib layer (JZlibDecoder/JZlibEncoder) for Flume's Avro RPC, shared by avroSource and
 * avroSink; imports only node built-ins.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { constants as zlibConstants, createDeflate, createInflate } from 'node:zlib';

/**
 * The socket as a zlib stream both ways, as Netty's JZlibDecoder/JZlibEncoder: what is written is
 * deflated and sync-flushed at once (one flush per write, so each message or TLS record leaves
 * whole); what arrives is inflated. A corrupt inbound stream calls `onCorrupt` when given (the
 * caller reports it, and zlib failures then close the stream without an error); without it the
 * stream is destroyed with the zlib error.
 */
export function zlibStream(socket: Socket, level: number, onCorrupt?: () => void): Duplex {
  const inflate = createInflate();
  const deflate = createDeflate({ level });
  const stream = new Duplex({
    read() {
      inflate.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      deflate.write(chunk);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => callback());
    },
    final(callback) {
      deflate.end(() => callback());
    },
    destroy(error, callback) {
      inflate.destroy();
      deflate.destroy();
      socket.destroy();
      callback(error);
    },
  });
  stream.on('error', () => undefined); // reported through onCorrupt, 'close' or the socket
  socket.on('data', (c: Buffer) => {
    if (!inflate.write(c)) socket.pause();
  });
  inflate.on('drain', () => socket.resume());
  // The peer's zlib stream never gets a final block (sync flushes only): its end is just EOF. What it sent
  // last may still be in inflate (zlib works off the thread pool): flushed out first, so that a last message
  // (an error answer before the peer closed) is read, not dropped.
  let flushed: Promise<void> | undefined;
  socket.on('end', () => {
    flushed = inflate.destroyed ? Promise.resolve() : new Promise<void>((resolve) => {
      inflate.once('close', resolve); // destroyed meanwhile (a corrupt stream): no flush callback comes
      inflate.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve());
    });
    void flushed.then(() => stream.push(null));
  });
  socket.on('close', () => {
    if (flushed) void flushed.then(() => stream.destroy());
    else stream.destroy();
  });
  inflate.on('data', (c: Buffer) => {
    if (!stream.push(c)) inflate.pause();
  });
  inflate.on('end', () => stream.push(null));
  inflate.on('error', (e) => (onCorrupt ? onCorrupt() : stream.destroy(e)));
  deflate.on('data', (c: Buffer) => {
    if (socket.writable) socket.write(c);
  });
  deflate.on('error', (e) => stream.destroy(onCorrupt ? undefined : e));
  return stream;
}
