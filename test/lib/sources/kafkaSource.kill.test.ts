/**
 * Issue #10, kill tests for durable components: Kafka offsets. An agent reading a topic into a file
 * channel and on to files is killed with SIGKILL at random points, several times, and restarted each
 * time without help. An offset is committed only once its batch is stored in the file channel, so no
 * record may be missing at the end, and duplicates are bounded by what was in flight at each kill.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';
import { scratch, startCli } from '../../support/cli.js';
import { createTopic, kafkaEnv, requireKafka, testKafka, waitFor } from '../../support/kafka.js';

const kafka = kafkaEnv();
const tmp = scratch('rxflume-kafka-kill-');
beforeAll(() => buildDist(), 180_000);
afterAll(() => tmp.cleanup());

const TOTAL = 40_000;
const BATCH = 500; // kafkaSource batchSize, one batch in flight
const TX = 1000; // channel transactionCapacity: what one sink take may redeliver
// Short in CI; `RXFLUME_KILL_ROUNDS=20 npx vitest run kafkaSource.kill` for the long form.
const ROUNDS = Number(process.env['RXFLUME_KILL_ROUNDS'] ?? 4);

/** Every line file_roll wrote so far, across its files. */
function delivered(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '');
}

describe.skipIf(kafka.skip)(`kafkaSource under SIGKILL${kafka.note}`, () => {
  it(`${ROUNDS} kills at random points: no committed record lost, duplicates within the batches in flight`, async () => {
    const bootstrap = requireKafka();
    const topic = await createTopic(bootstrap, 'kill', 3);
    const producer = testKafka(bootstrap).producer();
    await producer.connect();
    for (let i = 0; i < TOTAL; i += 2000) {
      await producer.send({ topic, messages: Array.from({ length: 2000 }, (_, j) => ({ value: String(i + j) })) });
    }
    await producer.disconnect();

    const out = join(tmp.dir, 'out');
    const file = tmp.write(
      'agent.properties',
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
a1.sources.r1.channels = c1
a1.sources.r1.kafka.bootstrap.servers = ${bootstrap}
a1.sources.r1.kafka.topics = ${topic}
a1.sources.r1.kafka.consumer.group.id = kill-${topic}
a1.sources.r1.kafka.consumer.auto.offset.reset = earliest
a1.sources.r1.batchSize = ${BATCH}
a1.sources.r1.batchDurationMillis = 100
a1.sources.r1.kafka.consumer.session.timeout.ms = 6000
a1.sources.r1.kafka.consumer.heartbeat.interval.ms = 1000
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = ${tmp.dir}/checkpoint
a1.channels.c1.dataDirs = ${tmp.dir}/data
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = ${TX}
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = ${TX}
`,
    );
    const args = ['agent', '-n', 'a1', '-f', file, '--no-reload-conf', '--quiet'];
    const kills: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const agent = startCli(args);
      await agent.waitFor(/agent started/, 30_000);
      // Somewhere while records flow: after a random share of the remaining records arrived.
      const before = delivered(out).length;
      const target = before + Math.floor(Math.random() * Math.max(1, (TOTAL - before) / (ROUNDS - round + 1)));
      await waitFor(() => delivered(out).length >= target || agent.child.exitCode !== null, `${target} lines`, 60_000, 20);
      agent.child.kill('SIGKILL');
      await agent.exited;
      kills.push(delivered(out).length);
    }
    // The last run, undisturbed, reads the rest.
    const last = startCli(args);
    await last.waitFor(/agent started/, 30_000);
    await waitFor(() => new Set(delivered(out)).size >= TOTAL, `all ${TOTAL} distinct records`, 120_000, 100);
    const result = await last.stop();
    expect(result.code, result.stderr).toBe(0);

    const lines = delivered(out);
    const distinct = new Set(lines);
    const missing = Array.from({ length: TOTAL }, (_, i) => String(i)).filter((v) => !distinct.has(v));
    const duplicates = lines.length - distinct.size;
    console.log(`kafkaSource kill -9 × ${ROUNDS} (lines at each kill: ${kills.join(', ')}): ${TOTAL} records, ${lines.length} lines, ${missing.length} missing, ${duplicates} duplicates`);
    expect(missing).toEqual([]);
    expect(distinct.size).toBe(TOTAL);
    // Per kill: the source's batch stored but not yet committed, and the sink's take written but not yet committed.
    expect(duplicates).toBeLessThanOrEqual(ROUNDS * (BATCH + TX));
  }, 600_000);
});
