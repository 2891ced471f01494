/**
 * What the vitest global setups of the real services (Kafka, HDFS) share: start the service only when
 * the run includes a test file that needs it, hand its address to the tests (`project.provide`), and
 * turn a start failure into a skip (Java or Maven missing) or a failure (anything else, or the tools
 * missing while `RXFLUME_REQUIRE_<SERVICE>=1`, as .ci/run sets).
 */
import type { TestProject } from 'vitest/node';
import { startFailure } from '../../scripts/service.js';

/** Whether the files of this run (after the CLI's file filters) include one whose path matches `pattern`. */
export async function runIncludesTests(project: TestProject, pattern: RegExp): Promise<boolean> {
  try {
    // The CLI file filters (`vitest run kafka`); not in vitest's public types, hence the guard.
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? [];
    const { testFiles } = await project.globTestFiles(filters);
    return testFiles.some((file) => pattern.test(file));
  } catch {
    return true;
  }
}

export interface ServiceGlobalSetup<Env> {
  /** Log prefix, e.g. "kafka". */
  tag: string;
  /** Tests that need the service: files whose path matches. */
  testFiles: RegExp;
  /** For messages, e.g. "the Kafka 3.9.2 broker". */
  what: string;
  /** Names its tests in messages, e.g. "Kafka" ("no Kafka test file in this run", "Kafka tests skipped: …"). */
  name: string;
  /** e.g. "RXFLUME_REQUIRE_KAFKA". */
  requireEnv: string;
  provide(env: Env): void;
  /** The env handed to tests when there is no service: a skip reason or a failure. */
  without(outcome: { skipReason: string } | { failure: string }): Env;
  /** Starts the service: the env for the tests, a line saying where it is ready, and how to stop it. */
  start(): Promise<{ env: Env; ready: string; close(): Promise<void> }>;
}

/** The body of a service's global setup: returns its teardown. */
export async function serviceGlobalSetup<Env>(project: TestProject, setup: ServiceGlobalSetup<Env>): Promise<(() => Promise<void>) | undefined> {
  if (!(await runIncludesTests(project, setup.testFiles))) {
    setup.provide(setup.without({ skipReason: `no ${setup.name} test file in this run` }));
    return undefined;
  }
  const started = Date.now();
  try {
    const service = await setup.start();
    console.log(`[${setup.tag}] ${service.ready} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    setup.provide(service.env);
    return () => service.close();
  } catch (error) {
    const outcome = startFailure(error, setup.what, setup.requireEnv);
    if ('skipReason' in outcome) console.warn(`[${setup.tag}] ${setup.name} tests skipped: ${outcome.skipReason}`);
    else console.error(`[${setup.tag}] ${outcome.failure}`);
    setup.provide(setup.without(outcome));
    return undefined;
  }
}

/** What a global setup tells the tests of its service besides the service itself. */
export interface ServiceOutcome {
  /** Why its tests are skipped (tools missing, no such test file in the run). */
  skipReason?: string;
  /** Why the service could not start although it should have: its tests fail with it. */
  failure?: string;
}

/** What a test file's `<service>Env()` adds to the provided env. */
export interface ServiceSkip {
  /** True when the service's tests must be skipped (`describe.skipIf(env.skip)`). */
  skip: boolean;
  /** Appended to a describe title: " [skipped: …]" when skipped, else "". */
  note: string;
}

/**
 * How a test file treats a provided service (`present`: it runs): skip it, saying why, only when it is
 * absent without a failure and `requireEnv` is not "1" (CI sets it: there a missing service fails).
 */
export function serviceSkip(present: boolean, outcome: ServiceOutcome, requireEnv: string): ServiceSkip {
  const skip = !present && outcome.failure === undefined && process.env[requireEnv] !== '1';
  return { skip, note: skip ? ` [skipped: ${outcome.skipReason}]` : '' };
}

/** The service, or an error with the setup's failure or skip reason: called in each test, so a missing service fails it. */
export function requireService<V>(value: V | null, outcome: ServiceOutcome, what: string): V {
  if (outcome.failure !== undefined) throw new Error(outcome.failure);
  if (value === null) throw new Error(`no ${what}: ${outcome.skipReason}`);
  return value;
}
