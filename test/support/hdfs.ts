/**
 * Test-side helpers for the real HDFS that test/support/hdfsGlobalSetup.ts starts for the run, and for
 * Hadoop's own readers on the same jars (FsShell, SequenceFile.Reader, the codecs: test/fixtures/hdfs/HadoopRead.java).
 *
 *   const env = hdfsEnv();
 *   describe.skipIf(env.skip)(`x${env.note}`, () => {
 *     it('…', async () => {
 *       const hdfs = requireHdfs();                      // fails the test when HDFS could not start
 *       const [file] = await hadoopReadSequenceFiles(hdfs, ['/t/a.seq']);
 *     });
 *   });
 */
import { inject } from 'vitest';
import { fsShell, hadoopTool, mustRun, type Hdfs } from '../../scripts/hdfs.js';
import { requireService, serviceSkip, type ServiceOutcome, type ServiceSkip } from './serviceGlobalSetup.js';

export interface HdfsCluster extends Pick<Hdfs, 'uri' | 'webhdfs' | 'port' | 'httpPort' | 'superuser' | 'version' | 'confDir' | 'libsDir' | 'dataDir'> {
  /** The folder of the compiled HadoopRead class. */
  readerClasses: string;
}

/** skipReason: why HDFS tests are skipped (Java or Maven missing, no HDFS test in the run); failure: why HDFS could not start although it should have (HDFS tests fail with it). */
export interface HdfsTestEnv extends ServiceOutcome {
  cluster: HdfsCluster | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    hdfs: HdfsTestEnv;
  }
}

export interface HdfsEnv extends HdfsTestEnv, ServiceSkip {}

export function hdfsEnv(): HdfsEnv {
  const env: HdfsTestEnv = inject('hdfs') ?? { cluster: null, skipReason: 'the HDFS global setup (test/support/hdfsGlobalSetup.ts) did not run' };
  // With RXFLUME_REQUIRE_HDFS=1 (CI) nothing is skipped: a cluster that is missing for any reason fails the tests.
  return { ...env, ...serviceSkip(env.cluster !== null, env, 'RXFLUME_REQUIRE_HDFS') };
}

/** The run's cluster; throws the global setup's failure, so an HDFS that should run but did not fails the test (call it in each test). */
export function requireHdfs(): HdfsCluster {
  const env = hdfsEnv();
  return requireService(env.cluster, env, 'HDFS');
}

let counter = 0;
/** An absolute HDFS path no other test (or earlier run) has used: `/rxflume-test/<prefix>-<pid>-<time>-<n>`. */
export function uniquePath(prefix: string): string {
  return `/rxflume-test/${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

export interface SequenceFileDump {
  file: string;
  keyClass: string;
  valueClass: string;
  compressed: boolean;
  blockCompressed: boolean;
  /** The codec's class name, or "-". */
  codec: string;
  metadata: Record<string, string>;
  /** As HadoopRead prints them: `long:<n>`, `bytes:<hex>`, `text:<hex>`. */
  records: Array<{ key: string; value: string }>;
}

/** Reads each file with Hadoop's `SequenceFile.Reader` (one JVM for all of them). Throws when Hadoop cannot read one. */
export async function hadoopReadSequenceFiles(hdfs: HdfsCluster, paths: readonly string[]): Promise<SequenceFileDump[]> {
  const out = await mustRun(hadoopTool(hdfs, 'HadoopRead', ['seq', ...paths], { extraClasspath: [hdfs.readerClasses] }), `SequenceFile.Reader on ${paths.join(', ')}`);
  const files: SequenceFileDump[] = [];
  let file: SequenceFileDump | undefined;
  for (const line of out.toString('utf8').split('\n')) {
    if (!line) continue;
    const [tag, a = '', b = ''] = line.split('\t');
    if (tag === 'file') {
      file = { file: a, keyClass: '', valueClass: '', compressed: false, blockCompressed: false, codec: '', metadata: {}, records: [] };
      files.push(file);
      continue;
    }
    if (!file) throw new Error(`HadoopRead printed ${line} before a file line`);
    if (tag === 'keyClass') file.keyClass = a;
    else if (tag === 'valueClass') file.valueClass = a;
    else if (tag === 'compressed') file.compressed = a === 'true';
    else if (tag === 'blockCompressed') file.blockCompressed = a === 'true';
    else if (tag === 'codec') file.codec = a;
    else if (tag === 'meta') file.metadata[a] = b;
    else if (tag === 'record') file.records.push({ key: a, value: b });
    else if (tag === 'end' && Number(a) !== file.records.length) throw new Error(`HadoopRead counted ${a} records of ${file.file}, parsed ${file.records.length}`);
  }
  return files;
}

/** The file decompressed by the Hadoop codec its extension names (`CompressionCodecFactory`). */
export function hadoopDecompress(hdfs: HdfsCluster, path: string): Promise<Buffer> {
  return mustRun(hadoopTool(hdfs, 'HadoopRead', ['codec', path], { extraClasspath: [hdfs.readerClasses] }), `Hadoop's codec on ${path}`);
}

/** `hadoop fs -text <path>` (what a user runs to look at a SequenceFile or a compressed file). */
export function fsText(hdfs: HdfsCluster, path: string): Promise<Buffer> {
  return mustRun(fsShell(hdfs, ['-text', path]), `hadoop fs -text ${path}`);
}

/** `hadoop fs -cat <path>`: the raw bytes. */
export function fsCat(hdfs: HdfsCluster, path: string): Promise<Buffer> {
  return mustRun(fsShell(hdfs, ['-cat', path]), `hadoop fs -cat ${path}`);
}

/** How HadoopRead prints a LongWritable key, a BytesWritable value and a Text value. */
export const shown = {
  long: (n: bigint | number) => `long:${n}`,
  bytes: (b: Uint8Array) => `bytes:${Buffer.from(b).toString('hex')}`,
  text: (b: Uint8Array) => `text:${Buffer.from(b).toString('hex')}`,
};
