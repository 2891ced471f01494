/**
 * The Java probes of the tests (test/support/*.java, each run by `java` as a source file in one JVM):
 * started, fed, waited for and their output collected in one place.
 */
import { spawn } from 'node:child_process';

export interface JavaRun {
  code: number | null;
  /** Everything the probe printed, decoded as UTF-8 once it exited. */
  stdout: string;
  stderr: string;
}

/** Runs `java <args>` to its end, with `stdin` written to it (nothing when undefined); killed after `timeoutMs`. */
export async function runJava(args: readonly string[], { stdin, timeoutMs = 60_000 }: { stdin?: string; timeoutMs?: number } = {}): Promise<JavaRun> {
  const child = spawn('java', args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  if (stdin !== undefined) {
    child.stdin!.on('error', () => undefined); // a probe that died early: its exit code and stderr tell
    child.stdin!.end(stdin);
  }
  const code = await closed.finally(() => clearTimeout(timer));
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
