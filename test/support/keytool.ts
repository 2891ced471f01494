/** The JDK's keytool, which makes the real key stores the TLS tests read. */
import { execFileSync } from 'node:child_process';

/** Whether keytool runs here (the JDK that runs Kafka and Flume in CI has it). */
export const hasKeytool = (() => {
  try {
    execFileSync('keytool', ['-help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Runs keytool in `dir` with the given arguments; throws with its output on failure. */
export const keytoolIn =
  (dir: string) =>
  (...args: string[]): Buffer =>
    execFileSync('keytool', args, { cwd: dir, stdio: 'pipe' });
