/**
 * Flume jars beside the agent's (scripts/flume.ts: FLUME_UUID_INTERCEPTOR_JAR, FLUME_TAILDIR_JAR,
 * FLUME_SINK_JARS), for an agent's classpath: `startFlumeAgent({ classpath: [await flumeJarPath(set)] })`
 * for a one-jar set, `await flumeExtraJars(set)` for one with dependencies. `npm run flume:fetch` (CI
 * runs it first) fetches them; here they are fetched with Maven when missing.
 */
import { isCached, type MavenSet } from '../../scripts/maven.js';
import { checkTools, startFailure } from '../../scripts/service.js';
import type { FlumeEnv } from './flume.js';

export { FLUME_KAFKA_CHANNEL_JAR, FLUME_SINK_JARS, FLUME_TAILDIR_JAR, FLUME_UUID_INTERCEPTOR_JAR, flumeExtraJars, flumeJarPath } from '../../scripts/flume.js';

/** `flumeEnv()`, also skipping (unless RXFLUME_REQUIRE_FLUME=1) when `set` is not cached and mvn is missing. */
export function withFlumeJars(env: FlumeEnv, set: MavenSet): FlumeEnv {
  if (env.skip || isCached(set)) return env;
  try {
    checkTools(set.title, { maven: true });
    return env;
  } catch (error) {
    const outcome = startFailure(error, set.title, 'RXFLUME_REQUIRE_FLUME');
    return 'skipReason' in outcome ? { skip: true, note: ` [skipped: ${outcome.skipReason}]` } : env;
  }
}
