/**
 * avroSource's memory bounds (issue #10): what one frame, one call and one connection may cost, and
 * the budget across connections. Each over-limit client gets an error and is closed; others go on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { smallBufferPool } from '../../support/bufferPool.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { createBatch } from '../../../lib/core/batch.js';
import { avroSink } from '../../../lib/sinks/avroSink.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { waitFor } from '../../support/net.js';
import { MB, usedAfterGc } from '../avro/heap.js';
import { HANDSHAKE, OK, PING, appendBatch, emptyEvents, errorText, frameHeader, int32, manyHeaders, rawClient, type RawClient } from './avroSource/client.js';
import { startSource, type Running } from './avroSource/server.js';
import { writeCallHeader, zigzag } from '../../../lib/avro/rpc.js';
import { encodeFrame } from '../../../lib/avro/frames.js';

const running: Running[] = [];
const clients: RawClient[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.subscription.unsubscribe();
  for (const c of clients.splice(0)) c.destroy();
});

async function server(options: Parameters<typeof startSource>[0] = {}, direct = false): Promise<Running> {
  const r = await startSource(options, direct);
  running.push(r);
  return r;
}

/** A client past its handshake (serial 0 was the ping). */
async function connected(port: number, opts: { deflate?: boolean; read?: boolean } = {}): Promise<RawClient> {
  const c = await rawClient(port, opts);
  clients.push(c);
  await c.frame(0, [HANDSHAKE, PING]);
  if (opts.read !== false) await c.answer(0);
  return c;
}

const event = (body: string | Buffer, headers: Record<string, string> = {}): FlumeEvent => ({ headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });

/** A good client's call still answered OK within 5 s. */
async function stillServes(r: Running, serial = 1): Promise<void> {
  const good = await connected(r.port);
  const before = r.sink.events.length;
  await good.frame(serial, [appendBatch([event('good')])]);
  expect(await good.answer(serial, 5000)).toEqual(OK);
  await waitFor(() => r.sink.events.length === before + 1, 'the good event');
}


// Sizes below tell copies (Node's small-Buffer pool) from views of 64 KiB chunks: see bufferPool.ts.
let restorePool: () => void;
beforeAll(() => {
  restorePool = smallBufferPool();
});
afterAll(() => restorePool());

describe('avroSource limits', () => {
  it('refuses a frame announcing more than maxBuffersPerFrame buffers at its header: error, closed, nothing kept of its zero-length buffers', async () => {
    const r = await server();
    const bad = await connected(r.port);
    const before = usedAfterGc();
    // A million empty buffers (4 MB of lengths): once one heap object each, ~200 MB.
    const lengths = Buffer.alloc(999_999 * 4);
    await bad.send(Buffer.concat([frameHeader(1, 1_000_000), lengths]));
    expect(errorText(await bad.answer(1))).toMatch(/1000000 buffers \(limit 65536/);
    await bad.closed;
    expect(usedAfterGc() - before).toBeLessThan(32 * MB);
    expect(r.counters.get('EventReadFail')).toBe(1);
    await stillServes(r);
    expect(r.errors).toEqual([]);
  });

  it('refuses a deflated frame of ~15 KB that inflates to millions of buffers, without inflating the rest', async () => {
    const r = await server({ compressionType: 'deflate' });
    const bad = await connected(r.port, { deflate: true });
    const bomb = Buffer.concat([frameHeader(1, 4_000_000), Buffer.alloc(4_000_000 * 4)]);
    expect(deflateSync(bomb, { level: 9 }).length).toBeLessThan(20_000);
    const before = usedAfterGc();
    await bad.send(bomb);
    expect(errorText(await bad.answer(1))).toMatch(/4000000 buffers/);
    await bad.closed;
    expect(usedAfterGc() - before).toBeLessThan(32 * MB);
    expect(r.counters.get('EventReadFail')).toBe(1);
    // A deflated buffer length past maxMessageBytes is refused at the length: nothing of it is inflated into memory.
    const big = await connected(r.port, { deflate: true });
    await big.send(Buffer.concat([frameHeader(1, 1), int32(64 * MB + 1)]));
    expect(errorText(await big.answer(1))).toMatch(/limit 67108864 per message/);
    await big.closed;
    const good = await connected(r.port, { deflate: true });
    await good.frame(1, [appendBatch([event('after the bomb')])]);
    expect(await good.answer(1, 5000)).toEqual(OK);
    expect(r.errors).toEqual([]);
  });

  it('answers a call of more than maxEventsPerBatch events with an error naming the limit and closes; none is received', async () => {
    const r = await server({ maxEventsPerBatch: 100 });
    const bad = await connected(r.port);
    await bad.frame(1, [emptyEvents(101)]);
    expect(errorText(await bad.answer(1))).toMatch(/more than 100 events.*maxEventsPerBatch/);
    await bad.closed;
    expect(r.counters.get('EventReadFail')).toBe(1);
    expect(r.counters.get('EventReceivedCount')).toBe(0);
    const ok = await connected(r.port);
    await ok.frame(1, [emptyEvents(100)]);
    expect(await ok.answer(1)).toEqual(OK);
    await waitFor(() => r.sink.events.length === 100, '100 events');
  });

  it('with defaults: refuses a million-event call (2 MB of wire) at its block count, and takes Flume batch-size 10,000', async () => {
    const r = await server();
    const bad = await connected(r.port);
    const before = usedAfterGc();
    await bad.frame(1, [emptyEvents(1_000_000)]);
    expect(errorText(await bad.answer(1))).toMatch(/maxEventsPerBatch/);
    await bad.closed;
    expect(usedAfterGc() - before).toBeLessThan(32 * MB);
    const sink = avroSink({ hostname: '127.0.0.1', port: r.port, batchSize: 10_000 });
    const events = Array.from({ length: 10_000 }, (_, i) => event(`e${i}`, { i: String(i) }));
    await new Promise<void>((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
    sink.complete();
    await sink.closed;
    expect(r.sink.events).toHaveLength(10_000);
    expect(r.counters.get('AppendBatchAcceptedCount')).toBe(1);
  });

  it('charges decoded headers against maxBufferedBytes: a call of 2-byte headers that would decode past it is refused before it is', async () => {
    const r = await server({ maxMessageBytes: 8 * MB, maxBufferedBytes: 16 * MB });
    const bad = await connected(r.port);
    const before = usedAfterGc();
    // ~1.6 MB of wire; ~40 MB decoded at the estimate, which is more than the budget.
    await bad.frame(1, [manyHeaders(300_000)]);
    expect(errorText(await bad.answer(1))).toMatch(/past maxBufferedBytes/);
    await bad.closed;
    expect(usedAfterGc() - before).toBeLessThan(16 * MB);
    expect(r.counters.get('EventReceivedCount')).toBe(0);
    // The same shape within the budget goes through.
    const ok = await connected(r.port);
    await ok.frame(1, [manyHeaders(1000)]);
    expect(await ok.answer(1)).toEqual(OK);
    await waitFor(() => r.sink.events.length === 1, 'the event');
    expect(Object.keys(r.sink.events[0]!.headers)).toHaveLength(1000);
  });

  it('closes a connection with more than maxPendingFrames calls waiting; one within the bound gets every answer', async () => {
    const r = await server({ maxPendingFrames: 4 }, true);
    r.sink.hold = true;
    const ok = await connected(r.port);
    // Five pipelined calls: one handled, four waiting.
    await ok.send(Buffer.concat([1, 2, 3, 4, 5].map((s) => encode(s, [appendBatch([event(`ok${s}`)])]))));
    const bad = await connected(r.port);
    await bad.send(Buffer.concat([1, 2, 3, 4, 5, 6, 7].map((s) => encode(s, [appendBatch([event(`bad${s}`)])]))));
    const refusal = await Promise.race([bad.answer(6), bad.answer(7)]);
    expect(errorText(refusal)).toMatch(/more than 4 calls waiting on one connection \(maxPendingFrames\)/);
    await bad.closed;
    expect(r.counters.get('EventReadFail')).toBe(1);
    r.sink.release();
    r.sink.hold = false;
    for (const s of [1, 2, 3, 4, 5]) expect(await ok.answer(s)).toEqual(OK);
    await waitFor(() => r.sink.events.filter((e) => e.body.toString().startsWith('ok')).length === 5, 'five ok events');
  });

  it('over maxBufferedBytes across connections, closes those holding the most unhandled bytes; a small client is still answered', async () => {
    const r = await server({ maxMessageBytes: 1 * MB, maxBufferedBytes: 4 * MB });
    const slow: RawClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await connected(r.port);
      // A frame announcing 1 MiB less 100 bytes, of which 900 KB arrive, and then nothing.
      await c.send(Buffer.concat([frameHeader(1, 1), int32(MB - 100), Buffer.alloc(900_000, 1)]));
      slow.push(c);
    }
    await waitFor(() => slow.filter((c) => c.isClosed()).length >= 2, 'two slow clients closed');
    for (const c of slow.filter((c) => c.isClosed())) expect(errorText(c.answers.get(1)!)).toMatch(/maxBufferedBytes/);
    expect(slow.filter((c) => !c.isClosed()).length).toBeLessThanOrEqual(4);
    await stillServes(r);
    expect(r.counters.get('EventReadFail')).toBeGreaterThanOrEqual(2);
  });

  it('makes a call that does not fit beside emitted batches wait for them to settle, then takes it', async () => {
    const r = await server({ maxMessageBytes: 1_100_000, maxBufferedBytes: 1_500_000 }, true);
    r.sink.hold = true;
    const a = await connected(r.port);
    await a.frame(1, [appendBatch([event(Buffer.alloc(1_000_000, 0x61))])]);
    await waitFor(() => r.sink.held.length === 1, 'the big batch emitted');
    // 2,000 small events: ~30 KB of wire, ~0.5 MB decoded at the estimate; with the big one held, past the budget.
    const b = await connected(r.port);
    await b.frame(1, [appendBatch(Array.from({ length: 2000 }, () => event('0123456789')))]);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.sink.held).toHaveLength(1);
    expect(b.answers.has(1)).toBe(false);
    r.sink.release();
    expect(await a.answer(1)).toEqual(OK);
    expect(await b.answer(1)).toEqual(OK);
    await waitFor(() => r.sink.events.length === 2001, 'all events');
    expect(r.counters.get('EventReadFail')).toBe(0);
  });

  it('stops handling a connection that does not read its answers (and stops reading it), then answers everything once it reads', async () => {
    const r = await server();
    const lazy = await connected(r.port, { read: false });
    // 60,000 calls of an unknown 250-byte name: each answered with a ~290-byte error, ~17 MB in all.
    const name = 'n'.repeat(250);
    const call = Buffer.concat([Buffer.from([0]), zigzag(name.length), Buffer.from(name)]);
    const frames = Buffer.concat(Array.from({ length: 60_000 }, (_, i) => encode(i + 1, [call])));
    const before = usedAfterGc();
    lazy.socket.write(frames);
    // Until the server stops handling them (it answers ~17 MB if it never stops).
    let handled = -1;
    for (let i = 0; i < 40 && (handled <= 0 || handled !== r.counters.get('EventReadFail')); i++) {
      handled = r.counters.get('EventReadFail');
      await new Promise((res) => setTimeout(res, 300));
    }
    expect(handled).toBeLessThan(60_000);
    expect(lazy.socket.writableLength).toBeGreaterThan(0); // the rest waits on this side, unread
    expect(usedAfterGc() - before).toBeLessThan(8 * MB);
    lazy.socket.resume();
    await waitFor(() => lazy.answers.size === 60_001, 'every answer', 30_000);
    expect(errorText(lazy.answers.get(60_000)!)).toMatch(/No message named n{250}/);
    expect(r.counters.get('EventReadFail')).toBe(60_000);
  });

  it('copies the bodies out of a message much larger than them, so a stored event does not keep the message alive', async () => {
    const r = await server();
    const c = await connected(r.port);
    // Call metadata of 1 MB (skipped), then one 5-byte event.
    const meta = Buffer.concat([Buffer.from([0x02, 0x02, 0x6b]), zigzag(MB), Buffer.alloc(MB), Buffer.from([0])]);
    const message = Buffer.concat([meta, writeCallHeader('appendBatch').subarray(1), Buffer.from([0x02, 0x00, 0x0a]), Buffer.from('small'), Buffer.from([0])]);
    await c.frame(1, [message]);
    expect(await c.answer(1)).toEqual(OK);
    await waitFor(() => r.sink.events.length === 1, 'the event');
    expect(r.sink.events[0]!.body.toString()).toBe('small');
    expect(r.sink.events[0]!.body.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it('copies small bodies out of the chunk they share with other calls; a large call keeps its bodies as views of what it arrived in', async () => {
    const r = await server();
    const c = await connected(r.port);
    // 600 one-event calls (~90 KB) sent back to back: the server reads them in chunks of up to 64 KiB.
    const body = (i: number) => Buffer.from(`small event ${i} `.padEnd(100, '.'));
    await c.send(Buffer.concat(Array.from({ length: 600 }, (_, i) => encodeFrame(i + 1, [appendBatch([{ headers: {}, body: body(i) }])]))));
    await waitFor(() => r.sink.events.length === 600, 'the events');
    expect(r.sink.events.map((e) => e.body.toString())).toEqual(Array.from({ length: 600 }, (_, i) => body(i).toString()));
    // Copied out (into the 8 KiB pool), or views of a read small enough to keep (Node 26 reads in 8 KiB
    // pieces here): never pinning more than the source's rule allows, 2 × the body + 8 KiB.
    for (const e of r.sink.events) expect(e.body.buffer.byteLength).toBeLessThanOrEqual(2 * e.body.length + 8192);
    // One call of 1,000 events of 200 bytes (~210 KB): its bodies stay views of the socket's reads (64 KiB at most), not of a joined copy.
    const events = Array.from({ length: 1000 }, (_, i) => ({ headers: { n: String(i) }, body: Buffer.alloc(200, i % 256) }));
    await c.frame(601, [appendBatch(events)]);
    expect(await c.answer(601)).toEqual(OK);
    await waitFor(() => r.sink.events.length === 1600, 'the large call');
    const views = r.sink.events.slice(600).map((e) => e.body);
    expect(views.map((b) => b[0])).toEqual(events.map((e) => e.body[0]));
    for (const b of views) expect(b.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(new Set(views.map((b) => b.buffer)).size).toBeGreaterThan(1);
  });
});

describe('avroSource limits over TLS', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxflume-avro-limits-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const compression of ['none', 'deflate'] as const) {
    it(`delivers the error of a call over a limit through TLS (compression ${compression}) before closing`, async () => {
      const r = await server({ ssl: true, sslKeyFile: join(dir, 'key.pem'), sslCertFile: join(dir, 'cert.pem'), compressionType: compression, maxEventsPerBatch: 5 });
      const sink = avroSink({ hostname: 'localhost', port: r.port, ssl: true, sslCaFile: join(dir, 'cert.pem'), compressionType: compression, batchSize: 10 });
      const events = Array.from({ length: 10 }, (_, i) => event(`e${i}`));
      await expect(new Promise<void>((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })))).rejects.toThrow(/more than 5 events.*maxEventsPerBatch/);
      await waitFor(() => r.counters.get('OpenConnectionCount') === 0, 'the connection closed');
      expect(r.counters.get('EventReadFail')).toBe(1);
      sink.complete();
      await sink.closed;
    });
  }
});

function encode(serial: number, parts: readonly Buffer[]): Buffer {
  return Buffer.concat([frameHeader(serial, parts.length), ...parts.flatMap((p) => [int32(p.length), p])]);
}
