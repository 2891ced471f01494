/**
 * Snappy end to end on the run's broker: kafkaSink with `compression: 'snappy'` (kafkajs-snappy,
 * registered by lib/kafka/client.ts when kafkajs is first loaded) produces compressed record batches,
 * which kafkaSource reads back intact — bodies, the headers of `headerMap` renamed — decompressing
 * them with the same codec.
 */
import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../lib/core/batch.js';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import type { Sink } from '../../../lib/core/sink.js';
import { kafkajs } from '../../../lib/kafka/client.js';
import { kafkaSink } from '../../../lib/sinks/kafkaSink.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { kafkaSource } from '../../../lib/sources/kafkaSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { createTopic, kafkaEnv, requireKafka, uniqueTopic, waitFor } from '../../support/kafka.js';

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** Counts the snappy codec's uses, in the kafkajs instance lib/kafka/client.ts loads and registers it in. */
function countSnappy(): { compressed: number; decompressed: number; restore: () => void } {
  const codecs = (kafkajs() as unknown as { CompressionCodecs: Record<number, (() => Codec) | undefined> }).CompressionCodecs;
  const original = codecs[2];
  if (original === undefined) throw new Error('no snappy codec registered in kafkajs');
  const counts = {
    compressed: 0,
    decompressed: 0,
    restore: () => {
      codecs[2] = original;
    },
  };
  codecs[2] = () => {
    const codec = original();
    return {
      compress: (encoder) => {
        counts.compressed++;
        return codec.compress(encoder);
      },
      decompress: (buffer) => {
        counts.decompressed++;
        return codec.decompress(buffer);
      },
    };
  };
  return counts;
}

function deliver(sink: Sink, events: readonly FlumeEvent[]): Promise<void> {
  return new Promise((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
}

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`kafkaSink snappy compression against a real broker${kafka.note}`, () => {
  it('produces snappy record batches that kafkaSource reads back intact', async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'sink-snappy');
    const counts = countSnappy();
    try {
      const sink = kafkaSink({ brokers: [bootstrap], topic, compression: 'snappy', headerMap: { trace: 'X-Trace' }, logLevel: 'nothing' });
      const line = (i: number) => `event ${i} ${'compressible text '.repeat(50)}`;
      const events: FlumeEvent[] = Array.from({ length: 200 }, (_, i) => ({ headers: { trace: `t${i}`, other: 'not copied' }, body: Buffer.from(line(i)) }));
      await deliver(sink, events.slice(0, 100));
      await deliver(sink, events.slice(100));
      sink.complete();
      await sink.closed;
      expect(counts.compressed).toBeGreaterThanOrEqual(2);

      const seen: FlumeEvent[] = [];
      const pipeline = pipe(
        kafkaSource({ brokers: [bootstrap], topics: topic, groupId: uniqueTopic('snappy'), fromBeginning: true, batchDurationMs: 50, headerMap: { traceId: 'X-Trace' }, logLevel: 'nothing' }),
        memoryChannel({ capacity: 1000, transactionCapacity: 1000 }),
        observerSink((e) => seen.push(e)),
      );
      try {
        await waitFor(() => seen.length >= 200, '200 events back');
      } finally {
        await pipeline.stop();
      }
      expect(seen.map((e) => text(e))).toEqual(events.map((_, i) => line(i)));
      expect(seen.map((e) => e.headers['traceId'])).toEqual(events.map((_, i) => `t${i}`));
      expect(seen.every((e) => e.headers['other'] === undefined && e.headers['trace'] === undefined)).toBe(true);
      expect(counts.decompressed).toBeGreaterThanOrEqual(1);
    } finally {
      counts.restore();
    }
  }, 90_000);
});
