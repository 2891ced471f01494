/**
 * java.util.regex itself as an oracle (test/support/JavaRegexProbe.java, run by `java` as a source
 * file): a batch of (pattern, input, replacement?) cases in, Java's answers out.
 */
import { fileURLToPath } from 'node:url';
import { runJava } from './javaProbe.js';

export interface JavaCase {
  pattern: string;
  input: string;
  replacement?: string;
}

export type JavaAnswer =
  | { kind: 'error'; message: string }
  | { kind: 'crash'; message: string }
  | { kind: 'match'; found: false; replaced?: string | null }
  | { kind: 'match'; found: true; start: number; end: number; groups: (string | undefined)[]; replaced?: string | null };

const PROBE = fileURLToPath(new URL('./JavaRegexProbe.java', import.meta.url));
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** Runs every case through one JVM. */
export async function javaRegexAnswers(cases: readonly JavaCase[], timeoutMs = 60_000): Promise<JavaAnswer[]> {
  const input = cases.map((c) => [c.pattern, c.input, ...(c.replacement === undefined ? [] : [c.replacement])].map(b64).join(' ')).join('\n') + '\n';
  const { code, stdout, stderr } = await runJava(['-Xss16m', PROBE], { stdin: input, timeoutMs });
  const lines = stdout.split('\n').filter(Boolean);
  if (code !== 0 || lines.length !== cases.length) {
    throw new Error(`JavaRegexProbe exited ${code} with ${lines.length}/${cases.length} answers: ${stderr.slice(0, 2000)}`);
  }
  return lines.map((line) => {
    const f = line.split(' ');
    if (f[0] === 'E') return { kind: 'error', message: unb64(f[1]!) };
    if (f[0] === 'X') return { kind: 'crash', message: unb64(f[1]!) };
    const r = f.indexOf('R');
    const replaced = f.includes('RE') ? null : r >= 0 ? unb64(f[r + 1]!) : undefined;
    const fields = r >= 0 ? f.slice(0, r) : f.filter((x) => x !== 'RE');
    const withReplace = <T extends object>(a: T): T => (replaced === undefined ? a : { ...a, replaced });
    if (fields[0] === 'N') return withReplace({ kind: 'match' as const, found: false as const });
    return withReplace({
      kind: 'match' as const,
      found: true as const,
      start: Number(fields[1]),
      end: Number(fields[2]),
      groups: fields.slice(3).map((g) => (g === '-' ? undefined : unb64(g))),
    });
  });
}
