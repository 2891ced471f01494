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
import { startFailure } from '../../scripts/service.js';
import type { KafkaTestEnv } from './kafka.js';

async function runIncludesKafkaTests(project: TestProject): Promise<boolean> {
  try {
    // The CLI file filters (`vitest run kafka`); not in vitest's public types, hence the guard.
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? [];
    const { testFiles } = await project.globTestFiles(filters);
    return testFiles.some((file) => /kafka/i.test(file));
  } catch {
    return true;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const provide = (env: KafkaTestEnv) => project.provide('kafka', env);
  const major = defaultMajor();
  const version = KAFKA_VERSIONS[major];
  if (!(await runIncludesKafkaTests(project))) {
    provide({ bootstrap: null, skipReason: 'no Kafka test file in this run' });
    return undefined;
  }
  const started = Date.now();
  try {
    const broker = await startBroker({ major, autoCreateTopics: false, numPartitions: 1 });
    console.log(`[kafka] Kafka ${version} broker ready on ${broker.bootstrap} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    provide({ bootstrap: broker.bootstrap, major, version });
    return async () => {
      await broker.close();
    };
  } catch (error) {
    const outcome = startFailure(error, `the Kafka ${version} broker`, 'RXFLUME_REQUIRE_KAFKA');
    if ('skipReason' in outcome) console.warn(`[kafka] Kafka tests skipped: ${outcome.skipReason}`);
    else console.error(`[kafka] ${outcome.failure}`);
    provide({ bootstrap: null, major, version, ...outcome });
    return undefined;
  }
}
