/**
 * Vitest global setup: starts a real single-node Kafka broker for the run, on a free port with its own
 * temp data (auto-create off: tests create their topics), and hands its address to the tests as
 * `inject('kafka')` (see test/support/kafka.ts). Stops it and removes its data at the end.
 *
 * - Only when the run includes a test file with "kafka" in its path (otherwise no JVM is started).
 * - Java or Maven missing: Kafka tests are skipped with that reason — unless `RXFLUME_REQUIRE_KAFKA=1`
 *   (set by .ci/run), where they fail with it. Any other start failure makes them fail.
 * - `RXFLUME_KAFKA_MAJOR=4` runs the suite against Kafka 4.x.
 */
import type { TestProject } from 'vitest/node';
import { defaultMajor, KAFKA_VERSIONS, startBroker } from '../../scripts/kafka.js';
import type { KafkaTestEnv } from './kafka.js';
import { serviceGlobalSetup } from './serviceGlobalSetup.js';

export default function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const major = defaultMajor();
  const version = KAFKA_VERSIONS[major];
  return serviceGlobalSetup<KafkaTestEnv>(project, {
    tag: 'kafka',
    name: 'Kafka',
    testFiles: /kafka/i,
    what: `the Kafka ${version} broker`,
    requireEnv: 'RXFLUME_REQUIRE_KAFKA',
    provide: (env) => project.provide('kafka', env),
    without: (outcome) => ({ bootstrap: null, major, version, ...outcome }),
    async start() {
      const broker = await startBroker({ major, autoCreateTopics: false, numPartitions: 1 });
      return { env: { bootstrap: broker.bootstrap, major, version }, ready: `Kafka ${version} broker ready on ${broker.bootstrap}`, close: () => broker.close() };
    },
  });
}
