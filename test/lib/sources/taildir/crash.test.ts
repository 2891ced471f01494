import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../..', import.meta.url));
const runner = join(root, 'test/fixtures/taildir/runner.mjs');
let build: string;

// The child runs the compiled source. Only this component's import closure is compiled, into a temp
// folder, so the test neither depends on nor disturbs the project's dist/.
beforeAll(() => {
  build = mkdtempSync(join(tmpdir(), 'rxflume-taildir-build-'));
  symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'), 'dir');
  // Type errors are the typecheck's business: what matters here is that the JavaScript was emitted.
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      ...['--outDir', join(build, 'dist'), '--rootDir', root, '--module', 'NodeNext', '--moduleResolution', 'NodeNext'],
      ...['--target', 'ES2022', '--types', 'node', '--skipLibCheck', '--strict'],
      ...['lib/sources/taildir/taildirSource.ts', 'operators/channels/memoryChannel.ts', 'lib/core/pipe.ts', 'lib/core/sink.ts'],
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (!existsSync(join(build, 'dist/lib/sources/taildir/taildirSource.js'))) throw new Error(`tsc emitted nothing:\n${tsc.stdout}${tsc.stderr}`);
}, 120_000);

afterAll(() => rmSync(build, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function start(dir: string, options: object): ChildProcess {
  const child = spawn(
    process.execPath,
    [runner, join(build, 'dist'), join(dir, 'logs'), join(dir, 'position.json'), join(dir, 'out.txt'), JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
/** Numbered lines `from` … `to - 1`, with some padding. */
const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${from + i} ${'p'.repeat((from + i) % 50)}\n`).join('');
/** The complete lines the sink wrote. */
const outLines = (dir: string) =>
  existsSync(join(dir, 'out.txt')) ? readFileSync(join(dir, 'out.txt'), 'latin1').split('\n').slice(0, -1) : [];

describe('taildirSource: crash', () => {
  it('SIGKILL mid-run, restart on the same position file: nothing lost, duplicates only from batches not yet checkpointed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxflume-taildir-crash-'));
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const app = join(logs, 'app.log');
    const options = { batchSize: 100, writePosIntervalMs: 0 };
    try {
      writeFileSync(app, lines(0, 100_000));
      const first = start(dir, options);
      // A writer keeps appending while the source runs.
      let written = 100_000;
      const writer = setInterval(() => {
        appendFileSync(app, lines(written, written + 2000));
        written += 2000;
      }, 5);
      try {
        await waitFor(() => outLines(dir).length >= 60_000, 'the first run to deliver 60k lines');
      } finally {
        clearInterval(writer);
      }
      first.kill('SIGKILL');
      await exited(first);
      const delivered = outLines(dir).length;
      const stored = JSON.parse(readFileSync(join(dir, 'position.json'), 'utf8')) as Array<{ inode: number; pos: number }>;
      const pos = stored.find((p) => p.inode === statSync(app).ino)!.pos;
      const checkpointed = readFileSync(app, 'latin1').slice(0, pos).split('\n').length - 1;

      // While it is down: more lines, then a rotation to a name outside the group, and a new file.
      appendFileSync(app, lines(written, written + 5000));
      written += 5000;
      renameSync(app, join(logs, 'app.log-rotated'));
      writeFileSync(app, lines(written, written + 5000));
      written += 5000;

      const second = start(dir, options);
      try {
        await waitFor(() => outLines(dir).length >= written + (delivered - checkpointed), 'the restart to deliver the rest', 120_000);
        await sleep(500); // anything more would be an extra duplicate
      } finally {
        second.kill('SIGTERM');
        await exited(second);
      }

      const counts = new Map<number, number>();
      let malformed = 0;
      for (const line of outLines(dir)) {
        const seq = Number(line.split(' ', 1)[0]);
        if (!Number.isInteger(seq) || line !== lines(seq, seq + 1).slice(0, -1)) malformed++;
        else counts.set(seq, (counts.get(seq) ?? 0) + 1);
      }
      let lost = 0;
      let duplicated = 0;
      for (let seq = 0; seq < written; seq++) {
        const n = counts.get(seq) ?? 0;
        if (n === 0) lost++;
        else duplicated += n - 1;
      }
      const beyondCheckpoint = delivered - checkpointed;
      console.log(
        `taildir SIGKILL: ${written} lines written, ${delivered} delivered before the kill, ${checkpointed} of them in the position file; ` +
          `after restart: lost ${lost}, duplicated ${duplicated} (= delivered beyond the checkpoint: ${beyondCheckpoint}, ` +
          `${Math.ceil(beyondCheckpoint / options.batchSize)} batches of ${options.batchSize}), malformed ${malformed}`,
      );
      expect(malformed).toBe(0);
      expect(lost).toBe(0);
      // Every duplicate is a line the sink had got after the last position write, none before it.
      expect(duplicated).toBe(beyondCheckpoint);
      for (const [seq, n] of counts) if (n > 1) expect(seq).toBeGreaterThanOrEqual(checkpointed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
