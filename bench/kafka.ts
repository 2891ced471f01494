/**
 * kafkaSink throughput against a real local broker, beside a bare kafkajs loop in the same run:
 *
 *   pipeline:  sequence → pad bodies to 200 bytes → memory channel → kafkaSink (acks all)
 *   bare:      the same 200-byte records, kafkajs producer.sendBatch, the same batch size and
 *              requests in flight, acks all
 *
 * Starts its own broker (scripts/kafka.ts; Java + Maven needed), alternates the two cases ROUNDS
 * times on fresh topics and reports the best and the median round of each with the pipeline/bare
 * ratios, plus the client CPU per event (the broker shares the machine, so wall-clock rates are noisy).
 *
 *   npm run build && npm run bench:kafka      (EVENTS, BATCH, IN_FLIGHT, PARTITIONS, ROUNDS to change)
 */
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import type { FlumeEvent } from '../lib/core/event.js';
import { pipe } from '../lib/core/pipe.js';
import { kafkaSink } from '../lib/sinks/kafkaSink.js';
import { sequenceSource } from '../lib/sources/sequenceSource.js';
import { memoryChannel } from '../operators/channels/memoryChannel.js';
import { mapEvents } from '../operators/interceptors/mapEvents.js';
import { startBroker } from '../scripts/kafka.js';
import { printJsonLine } from './jsonLine.js';

const EVENTS = Number(process.env['EVENTS'] ?? 300_000);
const BATCH = Number(process.env['BATCH'] ?? 1000);
const IN_FLIGHT = Number(process.env['IN_FLIGHT'] ?? 4);
const PARTITIONS = Number(process.env['PARTITIONS'] ?? 3);
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const BODY = 200;

/** The sequence number's digits at the start of a 200-byte body padded with spaces: what both cases send. */
function pad(digits: Buffer): Buffer {
  const body = Buffer.allocUnsafe(BODY);
  digits.copy(body);
  body.fill(32, digits.length);
  return body;
}

interface Result {
  case: 'bare' | 'pipeline';
  events: number;
  seconds: number;
  eventsPerSec: number;
  mbPerSec: number;
  /** CPU time of this Node process (the client side; the broker's JVM is not counted), µs per event. */
  clientCpuUsPerEvent: number;
}

const result = (kind: Result['case'], seconds: number, cpu: NodeJS.CpuUsage): Result => ({
  case: kind,
  events: EVENTS,
  seconds: Number(seconds.toFixed(3)),
  eventsPerSec: Math.round(EVENTS / seconds),
  mbPerSec: Number(((EVENTS * BODY) / seconds / 1e6).toFixed(1)),
  clientCpuUsPerEvent: Number(((cpu.user + cpu.system) / EVENTS).toFixed(2)),
});

async function bare(kafka: Kafka, topic: string): Promise<Result> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: false });
  await producer.connect();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const inFlight = new Set<Promise<unknown>>();
  for (let next = 0; next < EVENTS; ) {
    const n = Math.min(BATCH, EVENTS - next);
    const messages = new Array<{ key: null; value: Buffer }>(n);
    for (let i = 0; i < n; i++) messages[i] = { key: null, value: pad(Buffer.from(String(next + i))) };
    next += n;
    const p: Promise<unknown> = producer
      .sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [{ topic, messages }] })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  await producer.disconnect();
  return result('bare', seconds, used);
}

async function pipeline(bootstrap: string, topic: string): Promise<Result> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const running = pipe(
    sequenceSource({ totalEvents: EVENTS, batchSize: BATCH }),
    mapEvents((e): FlumeEvent => ({ headers: e.headers, body: pad(e.body) }), { name: 'pad200' }),
    memoryChannel({ capacity: BATCH * IN_FLIGHT * 4, transactionCapacity: BATCH, maxInFlight: IN_FLIGHT }),
    kafkaSink({ brokers: [bootstrap], topic, batchSize: BATCH, acks: 'all', logLevel: 'warn' }),
  );
  await running.done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const delivered = running.metrics()['SINK.kafkaSink']?.['EventDrainSuccessCount'] ?? 0;
  if (delivered !== EVENTS) throw new Error(`kafkaSink delivered ${delivered} of ${EVENTS} events`);
  return result('pipeline', seconds, used);
}

async function main(): Promise<void> {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  const broker = await startBroker({ autoCreateTopics: false, heapMb: 1024, log: (l) => console.error(l) });
  try {
    const kafka = new Kafka({ clientId: 'bench', brokers: [broker.bootstrap], logLevel: logLevel.WARN });
    const admin = kafka.admin();
    await admin.connect();
    let topics = 0;
    const topic = async (): Promise<string> => {
      const name = `bench-${++topics}`;
      await admin.createTopics({ topics: [{ topic: name, numPartitions: PARTITIONS }], waitForLeaders: true });
      return name;
    };
    console.log(
      `Kafka ${broker.major === 4 ? '4' : '3.9'} on ${broker.bootstrap}: ${EVENTS.toLocaleString('en-US')} events of ${BODY} bytes, ` +
        `batches of ${BATCH}, ${IN_FLIGHT} in flight, ${PARTITIONS} partitions, acks all, ${ROUNDS} rounds`,
    );
    // Warm-up: JIT on both sides, broker log segments created.
    await bare(kafka, await topic());
    await pipeline(broker.bootstrap, await topic());
    const results: Result[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      results.push(await bare(kafka, await topic()));
      results.push(await pipeline(broker.bootstrap, await topic()));
    }
    await admin.disconnect();

    const of = (kind: Result['case']) => results.filter((r) => r.case === kind).sort((a, b) => b.eventsPerSec - a.eventsPerSec);
    const median = (rs: Result[]) => rs[Math.floor(rs.length / 2)]!;
    const rows = results.map((r) => [r.case, r.events, r.eventsPerSec.toLocaleString('en-US'), r.mbPerSec, r.seconds, r.clientCpuUsPerEvent]);
    const header = ['case', 'events', 'events/s', 'MB/s', 'seconds', 'client CPU µs/event'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
    const line = (cells: unknown[]) => cells.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    const bares = of('bare');
    const piped = of('pipeline');
    const summary = (label: string, p: Result, b: Result) => {
      const ratio = Number((p.eventsPerSec / b.eventsPerSec).toFixed(3));
      console.log(
        `${label}: pipeline ${p.eventsPerSec.toLocaleString('en-US')} events/s (${p.mbPerSec} MB/s), ` +
          `bare kafkajs ${b.eventsPerSec.toLocaleString('en-US')} events/s (${b.mbPerSec} MB/s): ratio ${ratio} (target ≥ 0.9)`,
      );
      return ratio;
    };
    const bestRatio = summary('best  ', piped[0]!, bares[0]!);
    const medianRatio = summary('median', median(piped), median(bares));
    // One result per case, its median round (best and every round beside it); both cases run in
    // this process, so neither has a peak RSS of its own.
    const summarised = (rs: Result[]) => {
      const { case: name, ...m } = median(rs);
      return { case: name, server: name === 'bare' ? 'kafkajs' : 'rxflume', batch: BATCH, ...m, peakRssMB: null, bestEventsPerSec: rs[0]!.eventsPerSec, runsEventsPerSec: rs.map((r) => r.eventsPerSec) };
    };
    printJsonLine('kafka', [summarised(bares), summarised(piped)], { node: process.version, inFlight: IN_FLIGHT, partitions: PARTITIONS, rounds: ROUNDS, ratio: bestRatio, medianRatio });
  } finally {
    await broker.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
