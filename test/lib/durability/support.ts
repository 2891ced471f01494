/**
 * The durability tests' common part: an agent child process (the built CLI) run under strace, fed by
 * netcat clients, and the reading of its trace — which lines each `OK` acked, which write carried a body,
 * which sync covered it.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, root } from '../../support/examples.js';
import { freePort } from '../../support/hostile.js';
import { netcatSend, sleep } from '../../support/net.js';
import { isSync, isWrite, spawnTraced, straceProblem, type Syscall, type Trace, type TracedProcess } from '../../support/strace.js';

const problem = straceProblem();
/**
 * For `describe.skipIf(strace.skip)(\`…${strace.note}\`)`: skipped, saying why, only when strace cannot run
 * here and RXFLUME_REQUIRE_STRACE is not set (CI sets it: there a missing strace fails the tests).
 */
export const strace = {
  skip: problem !== undefined && process.env['RXFLUME_REQUIRE_STRACE'] !== '1',
  note: problem === undefined ? '' : ` (${problem})`,
};

/** Starts `node dist/lib/agent/cli.js agent` on a properties file, under strace writing to `dir/strace.txt`. */
export function tracedAgent(dir: string, confFile: string, name = 'a1'): TracedProcess {
  return spawnTraced(process.execPath, [cli, 'agent', '-n', name, '-f', confFile], { outFile: join(dir, 'strace.txt'), cwd: root });
}

/**
 * Sends `perClient` lines from each of `clients` connections at once, in chunks of `chunk` lines (each
 * after the previous chunk's answers), and returns every line answered OK. Bodies are `E<c>-<i>;`:
 * none is a prefix of another, so a body found in a write is that event.
 */
export async function feedNetcat(port: number, clients: number, perClient: number, chunk: number): Promise<string[]> {
  const acked: string[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i += chunk) {
        const lines = Array.from({ length: Math.min(chunk, perClient - i) }, (_, k) => `E${c}-${i + k};`);
        const answers = await netcatSend(port, lines);
        lines.forEach((l, k) => answers[k] === 'OK' && acked.push(l));
        await sleep(5 * c);
      }
    }),
  );
  return acked;
}

export interface Ack {
  line: string;
  /** The write of `OK` on the source's socket. */
  ack: Syscall;
}

/** Each line the agent answered `OK` on a TCP connection to `port`, with the write carrying that answer. */
export function netcatAcks(trace: Trace, port: number): Ack[] {
  const local = new RegExp(`^TCP:\\[[^\\]]*:${port}->`);
  const conns = new Map<number, { input: string; lines: string[]; acked: number }>();
  const out: Ack[] = [];
  for (const c of [...trace.calls].sort((a, b) => a.end - b.end)) {
    if (c.file === undefined || c.path === undefined || !local.test(c.path) || !c.data) continue;
    let conn = conns.get(c.file);
    if (!conn) conns.set(c.file, (conn = { input: '', lines: [], acked: 0 }));
    if (c.name === 'read') {
      conn.input += c.data.toString('latin1');
      const parts = conn.input.split('\n');
      conn.input = parts.pop()!;
      conn.lines.push(...parts);
    } else if (isWrite(c)) {
      for (const answer of c.data.toString('latin1').split('\n').slice(0, -1)) {
        const line = conn.lines[conn.acked++];
        if (answer === 'OK' && line !== undefined) out.push({ line, ack: c });
      }
    }
  }
  return out;
}

/** The successful writes whose bytes contain `body`, to a file whose path matches `path`. */
export function writesOf(trace: Trace, body: string, path: RegExp): Syscall[] {
  const needle = Buffer.from(body, 'latin1');
  return trace.calls.filter((c) => isWrite(c) && c.path !== undefined && path.test(c.path) && c.data !== undefined && c.data.includes(needle));
}

/** The first successful sync of file instance `file` that began after line `after`. */
export function syncAfter(trace: Trace, file: number, after: number): Syscall | undefined {
  return trace.calls.find((c) => isSync(c) && c.file === file && c.start > after);
}

const netcatToSink = fileURLToPath(new URL('./fixtures/netcatToSink.mjs', import.meta.url));

/**
 * Runs netcat → `sink` (an export of the library, e.g. fileRollSink) with no channel between, in a child
 * process under strace writing to `outFile`: the source's OK then marks the sink's ack. Resolves once it listens.
 */
export async function tracedNetcatToSink(outFile: string, sink: string, options: object): Promise<{ traced: TracedProcess; port: number }> {
  const traced = spawnTraced(process.execPath, [netcatToSink, sink, JSON.stringify(options)], { outFile });
  const until = Date.now() + 30_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /PORT (\d+)/.exec(traced.output())) && Date.now() < until && traced.child.exitCode === null) await sleep(20);
  if (!m) {
    await traced.stop();
    throw new Error(`${sink} child did not listen:\n${traced.output()}`);
  }
  return { traced, port: Number(m[1]) };
}

/** A port for the netcat source. */
export const port = (): Promise<number> => freePort();
