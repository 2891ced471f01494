import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/lib/agent/cli.js');
const run = promisify(execFile);
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.properties'));
const unsupported = new Set(['unsupported-hdfs.properties']);

beforeAll(() => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
  for (const d of ['spool', 'out', 'failover']) mkdirSync(`/tmp/rxflume-examples/${d}`, { recursive: true });
}, 120_000);

describe('examples/', () => {
  it('holds the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(9);
  });

  for (const file of examples) {
    if (unsupported.has(file)) {
      it(`${file} is rejected, naming the unsupported type`, async () => {
        const err = await run(process.execPath, [cli, 'validate', '-n', 'a1', '-f', join('examples', file)], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
        expect(err).toMatchObject({ code: 2 });
        expect((err as { stderr: string }).stderr).toMatch(/sink type `hdfs` is a Flume type rxflume does not support yet/);
      });
      continue;
    }
    it(`${file} validates, starts and stops cleanly`, async () => {
      const { stdout } = await run(process.execPath, [cli, 'validate', '-n', 'a1', '-f', join('examples', file)], { cwd: root });
      expect(stdout).toMatch(/^agent a1\n/);
      // Run a copy on ephemeral ports: a fixed example port may be taken on a shared machine.
      const copy = join(mkdtempSync(join(tmpdir(), 'rxflume-example-')), file);
      writeFileSync(copy, readFileSync(join(root, 'examples', file), 'utf8').replace(/^(\S+\.port) = \d+$/gm, '$1 = 0'));
      const child = spawn(process.execPath, [cli, 'agent', '-n', 'a1', '-f', copy, '--no-reload-conf'], { cwd: root });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const until = Date.now() + 20_000;
      while (!out.includes('"msg":"agent started"') && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('"msg":"agent started"');
      child.kill('SIGTERM');
      const code = await exit;
      // A finite example (seq with totalEvents) may finish by itself just as the signal arrives.
      expect(code === 0 || (code === null && out.includes('"msg":"agent stopped"'))).toBe(true);
      expect(out).toContain('"msg":"agent stopped"');
    }, 40_000);
  }
});
