import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subject, type Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { afterAll, beforeAll } from 'vitest';
import type { Batch } from '../../../../lib/core/batch.js';
import type { ComponentLogger } from '../../../../lib/core/log.js';
import { batchOf, type Recorded } from '../../../support/batches.js';

export async function tempDir(prefix = 'rxflume-fc-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Polls `cond` until true; fails after `timeoutMs` with `what`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface LogLine {
  level: string;
  message: string;
}

export function memoryLogger(): { lines: LogLine[]; logger: ComponentLogger } {
  const lines: LogLine[] = [];
  return { lines, logger: (level, message) => lines.push({ level, message }) };
}

/** Subscribes a channel with a sink that keeps every take for the test to settle. */
export function harness(channel: OperatorFunction<Batch, Batch>) {
  const input = new Subject<Batch>();
  const takes: Batch[] = [];
  let completed = false;
  let failed: unknown;
  const out: Observable<Batch> = input.pipe(channel);
  const sub: Subscription = out.subscribe({
    next: (b) => takes.push(b),
    complete: () => (completed = true),
    error: (e: unknown) => (failed = e),
  });
  const put = (...values: (string | number)[]): Recorded => {
    const rec = batchOf(values);
    input.next(rec.batch);
    return rec;
  };
  return { input, takes, put, sub, state: () => ({ completed, failed }) };
}

/** Acks every take as it arrives and records the bodies, in order. */
export function collect(channel: OperatorFunction<Batch, Batch>, source: Observable<Batch>) {
  const received: string[] = [];
  let completed = false;
  let failed: unknown;
  const sub = source.pipe(channel).subscribe({
    next: (b) => {
      for (const e of b.events) received.push(e.body.toString());
      b.ack();
    },
    complete: () => (completed = true),
    error: (e: unknown) => (failed = e),
  });
  return { received, sub, state: () => ({ completed, failed }) };
}

/**
 * Transpiles lib/core, lib/fs and the channel sources (no type check) into a temporary directory that plain
 * `node` children can import, with node_modules linked. Cheaper and independent of other work than a
 * full `npm run build` into dist/.
 */
export async function buildForChildren(): Promise<string> {
  const ts = (await import('typescript')).default;
  const root = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
  const out = await tempDir('rxflume-fc-build-');
  const dirsToBuild = ['lib/core', 'lib/fs', 'operators/channels', 'operators/channels/durableLog'];
  for (const rel of dirsToBuild) {
    await fs.mkdir(path.join(out, rel), { recursive: true });
    for (const name of await fs.readdir(path.join(root, rel))) {
      if (!name.endsWith('.ts')) continue;
      const source = await fs.readFile(path.join(root, rel, name), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        fileName: name,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      await fs.writeFile(path.join(out, rel, name.replace(/\.ts$/, '.js')), outputText);
    }
  }
  await fs.writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
  await fs.symlink(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  return out;
}

/**
 * For a test file of child processes: `buildForChildren()` in beforeAll; in afterAll the build and every
 * directory the tests pushed to `dirs` removed.
 */
export function childBuild(): { build: () => string; dirs: string[] } {
  let build = '';
  const dirs: string[] = [];
  beforeAll(async () => {
    build = await buildForChildren();
    dirs.push(build);
  });
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });
  return { build: () => build, dirs };
}
