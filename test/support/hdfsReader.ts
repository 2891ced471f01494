/**
 * Hadoop's own readers as a test tool: test/fixtures/hdfs/HadoopRead.java, compiled with javac against
 * the HDFS jars into the jar cache (once per source version), then run on the same classpath as FsShell.
 * No vitest imports: the global setup compiles it before any test runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd, tail, ToolsMissingError } from '../../scripts/service.js';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hdfs', 'HadoopRead.java');

/** The folder holding HadoopRead.class for the jars in `libsDir` (compiled there unless it already is). */
export async function compileHadoopReader(libsDir: string): Promise<string> {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const classes = join(libsDir, '..', 'reader', hash);
  if (existsSync(join(classes, 'HadoopRead.class'))) return classes;
  const building = `${classes}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  let result: { code: number; output: string };
  try {
    result = await runToEnd('javac', ['-nowarn', '-encoding', 'UTF-8', '-cp', join(libsDir, '*'), '-d', building, SOURCE]);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ToolsMissingError("Hadoop's reader for the HDFS tests needs javac (a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless) on the PATH", ['javac']);
    }
    throw error;
  }
  if (result.code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`javac ${SOURCE} failed (exit ${result.code}):\n${tail(result.output, 30)}`);
  }
  try {
    renameSync(building, classes);
  } catch {
    // Another worker finished first: its classes are the same.
    rmSync(building, { recursive: true, force: true });
  }
  return classes;
}
