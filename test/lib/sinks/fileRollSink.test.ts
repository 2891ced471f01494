import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import zlib from 'node:zlib';
import avro from 'avsc';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { pollSource } from '../../../lib/core/pollSource.js';
import { fileRollSink, flumeSerializerName } from '../../../lib/sinks/fileRollSink.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rxflume-fileroll-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

interface Settled {
  batch: Batch;
  done: Promise<'ack' | Error>;
}

function batchOf(events: FlumeEvent[], onAck?: () => void): Settled {
  let settle!: (v: 'ack' | Error) => void;
  const done = new Promise<'ack' | Error>((r) => (settle = r));
  const batch = createBatch(events, {
    onAck: () => {
      onAck?.();
      settle('ack');
    },
    onNack: (e) => settle(e),
  });
  return { batch, done };
}

const texts = (...bodies: string[]): FlumeEvent[] => bodies.map((b) => event(b));
const files = async (): Promise<string[]> => (await readdir(dir)).sort(byCounter);
const byCounter = (a: string, b: string): number => Number(/-(\d+)/.exec(a)?.[1]) - Number(/-(\d+)/.exec(b)?.[1]);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const snappyjs = createRequire(import.meta.url)('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };
/** Avro's snappy block codec: raw snappy, then the CRC-32 of the uncompressed bytes, checked. */
function avroSnappy(buf: Buffer, cb: (e: Error | null, b?: Buffer) => void): void {
  const data = Buffer.from(snappyjs.uncompress(buf.subarray(0, buf.length - 4)));
  if (zlib.crc32(data) !== buf.readUInt32BE(buf.length - 4)) cb(new Error('snappy block CRC mismatch'));
  else cb(null, data);
}

async function decodeAvro(path: string): Promise<{ records: FlumeEvent[]; schema: unknown; codec: string }> {
  return new Promise((resolve, reject) => {
    const records: FlumeEvent[] = [];
    let schema: unknown;
    let codec = '';
    avro
      .createFileDecoder(path, { codecs: { null: (b: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, b), deflate: zlib.inflateRaw, snappy: avroSnappy } } as object)
      .on('metadata', (type: avro.Type, c: string) => {
        schema = type.schema();
        codec = c;
      })
      .on('data', (r: FlumeEvent) => records.push({ headers: { ...r.headers }, body: r.body }))
      .on('end', () => resolve({ records, schema, codec }))
      .on('error', reject);
  });
}

describe('fileRollSink — serializers', () => {
  it('TEXT: each body and a newline; the file named <startMillis>-1', async () => {
    const sink = fileRollSink({ directory: dir });
    const a = batchOf(texts('alpha', 'beta'));
    const b = batchOf([event(Buffer.from([0xff, 0x00, 0x41]))]);
    sink.next(a.batch);
    sink.next(b.batch);
    expect(await a.done).toBe('ack');
    expect(await b.done).toBe('ack');
    sink.complete();
    await sink.closed;
    const names = await files();
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^\d{13}-1$/);
    expect(await readFile(join(dir, names[0]!))).toEqual(Buffer.concat([Buffer.from('alpha\nbeta\n'), Buffer.from([0xff, 0x00, 0x41, 0x0a])]));
  });

  it('TEXT without appendNewline writes the bodies back to back', async () => {
    const sink = fileRollSink({ directory: dir, appendNewline: false });
    const a = batchOf(texts('a', 'b'));
    sink.next(a.batch);
    await a.done;
    sink.complete();
    await sink.closed;
    expect(await readFile(join(dir, (await files())[0]!), 'utf8')).toBe('ab');
  });

  it("HEADER_AND_TEXT: Java's Map.toString, a space, the body, a newline", async () => {
    const sink = fileRollSink({ directory: dir, serializer: 'HEADER_AND_TEXT' });
    const a = batchOf([event('body one', { host: 'web-1', n: '7' }), event('two'), event('ü', { k: 'v w' })]);
    sink.next(a.batch);
    await a.done;
    sink.complete();
    await sink.closed;
    expect(await readFile(join(dir, (await files())[0]!), 'utf8')).toBe('{host=web-1, n=7} body one\n{} two\n{k=v w} ü\n');
  });

  it('avro_event: an Avro container file of Flume Event records that avsc decodes', async () => {
    const sink = fileRollSink({ directory: dir, serializer: 'avro_event', extension: 'avro' });
    const first = [event('one', { a: '1' }), event(Buffer.from([0, 1, 2, 255]), {})];
    const second = [event('three', { x: 'y', z: 'ü' })];
    const a = batchOf(first);
    sink.next(a.batch);
    await a.done;
    const b = batchOf(second);
    sink.next(b.batch);
    await b.done;
    sink.complete();
    await sink.closed;
    const names = await files();
    expect(names[0]).toMatch(/^\d{13}-1\.avro$/);
    const { records, schema, codec } = await decodeAvro(join(dir, names[0]!));
    expect(codec).toBe('null');
    expect(schema).toEqual({
      type: 'record',
      name: 'Event',
      fields: [
        { name: 'headers', type: { type: 'map', values: 'string' } },
        { name: 'body', type: 'bytes' },
      ],
    });
    expect(records).toEqual([...first, ...second]);
    const raw = await readFile(join(dir, names[0]!));
    expect(raw.subarray(0, 4)).toEqual(Buffer.from('Obj\x01', 'latin1'));
  });

  it.each(['deflate', 'snappy'] as const)('avro_event: each acked batch is already a decodable block on disk, %s too', async (compressionCodec) => {
    const sink = fileRollSink({ directory: dir, serializer: 'avro_event', compressionCodec, rollIntervalS: 0 });
    const all: FlumeEvent[] = [];
    for (let i = 0; i < 3; i++) {
      const events = Array.from({ length: 50 }, (_, k) => event(`event ${i}-${k} `.repeat(5), { i: String(i) }));
      all.push(...events);
      const s = batchOf(events);
      sink.next(s.batch);
      expect(await s.done).toBe('ack');
      // Before the sink is closed, the file holds every acked batch.
      const { records, codec } = await decodeAvro(join(dir, (await files())[0]!));
      expect(codec).toBe(compressionCodec);
      expect(records).toEqual(all);
    }
    sink.complete();
    await sink.closed;
  });

  it('avro_event: a batch larger than syncIntervalBytes is split into several blocks', async () => {
    const sink = fileRollSink({ directory: dir, serializer: 'avro_event', syncIntervalBytes: 256 });
    const events = Array.from({ length: 40 }, (_, k) => event(`x${k}`.padEnd(40, '.')));
    const s = batchOf(events);
    sink.next(s.batch);
    await s.done;
    sink.complete();
    await sink.closed;
    const path = join(dir, (await files())[0]!);
    let blocks = 0;
    await new Promise<void>((resolve, reject) => {
      avro
        .createFileDecoder(path)
        .on('block', () => blocks++)
        .on('data', () => undefined)
        .on('end', resolve)
        .on('error', reject);
    });
    expect((await decodeAvro(path)).records).toEqual(events);
    expect(blocks).toBeGreaterThan(1);
  });
});

describe('fileRollSink — files', () => {
  it('acks a batch only once its bytes are in the file', async () => {
    const sink = fileRollSink({ directory: dir, fsync: true });
    let contentAtAck = '';
    const s = batchOf(texts('x', 'y'), () => {
      contentAtAck = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    });
    sink.next(s.batch);
    expect(await s.done).toBe('ack');
    expect(contentAtAck).toBe('x\ny\n');
    sink.complete();
    await sink.closed;
  });

  it('rolls to a new file every rollIntervalS, prefix and extension applied, counter going on', async () => {
    const sink = fileRollSink({ directory: dir, rollIntervalS: 0.15, prefix: 'log-', extension: 'txt' });
    const metrics = metricsOf(sink)!;
    const a = batchOf(texts('1', '2'));
    sink.next(a.batch);
    await a.done;
    await waitFor(() => metrics.get('ConnectionClosedCount') >= 1);
    const b = batchOf(texts('3'));
    sink.next(b.batch);
    await b.done;
    sink.complete();
    await sink.closed;
    const names = await files();
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^log-\d{13}-1\.txt$/);
    expect(names[1]).toBe(names[0]!.replace('-1.txt', '-2.txt'));
    expect(await readFile(join(dir, names[0]!), 'utf8')).toBe('1\n2\n');
    expect(await readFile(join(dir, names[1]!), 'utf8')).toBe('3\n');
    expect(metrics.get('ConnectionCreatedCount')).toBe(2);
  });

  it('rollIntervalS 0 never rolls', async () => {
    const sink = fileRollSink({ directory: dir, rollIntervalS: 0 });
    for (const body of ['a', 'b', 'c']) {
      const s = batchOf(texts(body));
      sink.next(s.batch);
      await s.done;
      await new Promise((r) => setTimeout(r, 20));
    }
    sink.complete();
    await sink.closed;
    expect(await files()).toHaveLength(1);
  });

  it('a restart in the same millisecond does not overwrite: the existing name is skipped', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    for (const body of ['first run', 'second run']) {
      const sink = fileRollSink({ directory: dir });
      const s = batchOf(texts(body));
      sink.next(s.batch);
      expect(await s.done).toBe('ack');
      sink.complete();
      await sink.closed;
    }
    expect(await files()).toEqual(['1700000000000-1', '1700000000000-2']);
    expect(await readFile(join(dir, '1700000000000-1'), 'utf8')).toBe('first run\n');
    expect(await readFile(join(dir, '1700000000000-2'), 'utf8')).toBe('second run\n');
  });

  it('ROLLTIME names files by the local time of the roll', async () => {
    const sink = fileRollSink({ directory: dir, pathManager: 'ROLLTIME' });
    const s = batchOf(texts('x'));
    sink.next(s.batch);
    await s.done;
    sink.complete();
    await sink.closed;
    expect((await files())[0]).toMatch(/^20\d{12}-1$/);
  });

  it('creates a missing directory; when it cannot, nacks retriably and counts ConnectionFailedCount', async () => {
    const nested = join(dir, 'a', 'b');
    const ok = fileRollSink({ directory: nested });
    const s = batchOf(texts('x'));
    ok.next(s.batch);
    expect(await s.done).toBe('ack');
    ok.complete();
    await ok.closed;

    await writeFile(join(dir, 'plain-file'), 'not a directory');
    const bad = fileRollSink({ directory: join(dir, 'plain-file') });
    const f = batchOf(texts('y'));
    bad.next(f.batch);
    const result = await f.done;
    expect(result).toBeInstanceOf(Error);
    expect(result).toMatchObject({ code: 'FLUME_SINK_FAILED', retriable: true });
    expect(metricsOf(bad)!.snapshot()).toMatchObject({ ConnectionFailedCount: 1, EventWriteFail: 1 });
    bad.complete();
    await bad.closed;
  });

  it('serializes concurrent batches in arrival order', async () => {
    const sink = fileRollSink({ directory: dir });
    const batches = Array.from({ length: 20 }, (_, i) => batchOf(texts(String(i))));
    for (const b of batches) sink.next(b.batch);
    await Promise.all(batches.map((b) => b.done));
    sink.complete();
    await sink.closed;
    expect(await readFile(join(dir, (await files())[0]!), 'utf8')).toBe(Array.from({ length: 20 }, (_, i) => `${i}\n`).join(''));
  });

  it('releases its roll timer on complete', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const sink = fileRollSink({ directory: dir, rollIntervalS: 60 });
    const s = batchOf(texts('x'));
    sink.next(s.batch);
    await s.done;
    expect(timers()).toBe(before + 1);
    sink.complete();
    await sink.closed;
    expect(timers()).toBe(before);
  });
});

describe('fileRollSink — configuration', () => {
  it('requires a directory and names bad options', () => {
    expect(() => fileRollSink({} as never)).toThrow(ConfigError);
    expect(() => fileRollSink({ directory: dir, serializer: 'json' as never })).toThrow(/fileRollSink\.serializer/);
    expect(() => fileRollSink({ directory: dir, rollInterval: 5 } as never)).toThrow(/did you mean `rollIntervalS`/);
  });

  it("maps Flume's keys and serializer names", () => {
    const keys = fileRollSink.spec.flumeKeys!;
    expect(keys['sink.directory']).toBe('directory');
    expect(keys['sink.rollInterval']).toBe('rollIntervalS');
    expect(keys['sink.batchSize']).toBe('batchSize');
    expect(keys['sink.pathManager.prefix']).toBe('prefix');
    expect(keys['sink.pathManager.extension']).toBe('extension');
    expect(flumeSerializerName('text')).toBe('TEXT');
    expect(flumeSerializerName('Header_And_Text')).toBe('HEADER_AND_TEXT');
    expect(flumeSerializerName('AVRO_EVENT')).toBe('avro_event');
    expect(flumeSerializerName('org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder')).toBe('avro_event');
    expect(fileRollSink.spec.flumeTypes).toEqual(['file_roll', 'org.apache.flume.sink.RollingFileSink']);
  });
});

describe('fileRollSink — end to end', () => {
  it('source → memory channel → avro files: every event, in order, decodable', async () => {
    let n = 0;
    const sink = fileRollSink({ directory: dir, serializer: 'avro_event', rollIntervalS: 0.05, batchSize: 25 });
    const p = pipe(
      pollSource(() => (n < 1000 ? Array.from({ length: 25 }, () => event(`line ${n}`, { seq: String(n++) })) : null)),
      memoryChannel({ capacity: 200, transactionCapacity: 25, maxInFlight: 3 }),
      sink,
    );
    await p.done;
    const names = await files();
    const all: FlumeEvent[] = [];
    for (const name of names) all.push(...(await decodeAvro(join(dir, name))).records);
    expect(all.map((e) => e.headers['seq'])).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
    expect(all[999]!.body.toString()).toBe('line 999');
    expect(p.metrics()['SINK.fileRollSink']).toMatchObject({ EventDrainSuccessCount: 1000, BatchCompleteCount: 40 });
  });
});
