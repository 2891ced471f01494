/**
 * The command-line tools some tests need (the JDK's keytool, openssl, java and mvn): whether they run
 * here, and how a test that needs one skips — saying why — or, in CI, fails.
 *
 * CI (`.ci/run`) sets RXFLUME_CI=1 and installs the tools: there a missing tool is a failure, never a
 * quiet skip (issue #19).
 */
import { execFileSync } from 'node:child_process';

/** True under `.ci/run`: tests that would skip for a missing tool fail instead. */
export const requireTools = process.env['RXFLUME_CI'] === '1';

/** Why `command args` does not run here, or undefined when it does. */
export function toolProblem(command: string, args: readonly string[]): string | undefined {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return undefined;
  } catch (error) {
    return `${command} does not run here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

/**
 * For `describe.skipIf(env.skip)(\`…${env.note}\`)`: skipped, saying why, when `problem` is set — unless
 * in CI, where the tests run and fail on the missing tool.
 */
export function toolEnv(problem: string | undefined): { skip: boolean; note: string } {
  const skip = problem !== undefined && !requireTools;
  return { skip, note: problem === undefined ? '' : skip ? ` [skipped: ${problem}]` : ` [required in CI: ${problem}]` };
}

/** For a test that finds out while running: skips it with `why` (vitest's `ctx.skip`), or fails with it in CI. */
export function skipOrFail(ctx: { skip: (note?: string) => void }, why: string): never {
  if (!requireTools) ctx.skip(why);
  throw new Error(`${why} (RXFLUME_CI=1: a test needing a tool fails instead of skipping)`);
}

/** Whether keytool runs here (the JDK that runs Kafka and Flume in CI has it). */
export const keytoolProblem = toolProblem('keytool', ['-help']);
export const hasKeytool = keytoolProblem === undefined;
/** describe.skipIf(keytool.skip) for tests that make stores with keytool. */
export const keytool = toolEnv(keytoolProblem);

/** Runs keytool in `dir` with the given arguments; throws with its output on failure. */
export const keytoolIn =
  (dir: string) =>
  (...args: string[]): Buffer =>
    execFileSync('keytool', args, { cwd: dir, stdio: 'pipe' });
