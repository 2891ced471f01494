/**
 * Kafka's own Java client (test/support/KafkaProbe.java, run by `java` as a source file on the broker's
 * jars) as the oracle of what Java consumers read and Java producers write: one JVM runs every command.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureJars } from '../../scripts/kafka.js';
import { runJava } from './javaProbe.js';

const PROBE = fileURLToPath(new URL('./KafkaProbe.java', import.meta.url));

export type ProbeCommand =
  | { read: string; count: number }
  | { size: string }
  | { write: string; codec: string; count: number; text: string };

export interface ProbeOutput {
  /** Values read per topic, in offset order. */
  values: Map<string, Buffer[]>;
  /** Partition 0's log size on the broker per topic. */
  sizes: Map<string, number>;
  written: Set<string>;
}

/** Runs the commands, in order, in one JVM against `bootstrap`. */
export async function kafkaProbe(bootstrap: string, commands: readonly ProbeCommand[], timeoutMs = 180_000): Promise<ProbeOutput> {
  const { libsDir } = await ensureJars();
  const args = commands.flatMap((c) =>
    'read' in c ? ['read', c.read, String(c.count)] : 'size' in c ? ['size', c.size] : ['write', c.write, c.codec, String(c.count), c.text],
  );
  const { code, stdout, stderr } = await runJava(['-Xmx256m', '-cp', join(libsDir, '*'), PROBE, bootstrap, ...args], { timeoutMs });
  if (code !== 0) throw new Error(`KafkaProbe exited ${code}: ${stderr.slice(-3000)}`);
  const out: ProbeOutput = { values: new Map(), sizes: new Map(), written: new Set() };
  for (const line of stdout.split('\n')) {
    const [kind, topic, value] = line.split(' ');
    if (kind === 'R') out.values.set(topic!, [...(out.values.get(topic!) ?? []), Buffer.from(value!, 'base64')]);
    if (kind === 'S') out.sizes.set(topic!, Number(value));
    if (kind === 'W') out.written.add(topic!);
  }
  return out;
}
