/**
 * The package as a new user gets it (issue #15): `npm pack`, then `npm install` of the tarball into a fresh
 * app — no warning from npm (an install script anywhere in the dependency tree makes npm warn every user),
 * no lifecycle script of our own — and a strict TypeScript app importing the main entry and a subpath
 * type-checks against the installed types. Dependencies come from the npm registry (its cache when warm).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch } from './support/cli.js';
import { buildDist, root } from './support/examples.js';

const run = promisify(execFile);
const dir = scratch('rxflume-pack-');
let installOutput = '';
let app = '';

beforeAll(async () => {
  buildDist();
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir.dir], { cwd: root });
  const tarball = join(dir.dir, stdout.trim().split('\n').pop()!);
  app = join(dir.dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true, type: 'module' }));
  const rxjs = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['rxjs']!;
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel', 'warn', tarball, `rxjs@${rxjs}`], { cwd: app, timeout: 240_000 });
  installOutput = `${installed.stdout}${installed.stderr}`;
}, 300_000);
afterAll(() => dir.cleanup());

describe('the packed tarball in a fresh app', () => {
  it('installs without a warning', () => {
    expect(installOutput).not.toMatch(/npm (warn|WARN)/);
  });

  it('has no install-time script of its own', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/rxflume/package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts?.[script], script).toBeUndefined();
  });

  it('installs the rxflume command, which runs Node with its memory flags and 2 malloc arenas (its shebang)', async () => {
    // The flags and the variable are the command's memory defaults (lib/agent/cli.ts): lost from the shebang,
    // agents run with Node's larger young generation, an old generation let grow up to 4× and a malloc arena
    // per thread, and nothing else would notice.
    // The shebang sets the variable over the environment's (8 here).
    const out = join(app, 'exec-argv.json');
    const preload = join(app, 'report-exec-argv.cjs');
    writeFileSync(preload, "process.on('exit', () => require('node:fs').writeFileSync(process.env.EXEC_ARGV_OUT, JSON.stringify([process.execArgv, process.env.MALLOC_ARENA_MAX])));\n");
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, NODE_OPTIONS: `--require ${preload}`, EXEC_ARGV_OUT: out, MALLOC_ARENA_MAX: '8' };
    const { stdout } = await run(join(app, 'node_modules/.bin/rxflume'), ['demo', '--events', '10', '--batch', '5'], { cwd: app, env });
    expect(stdout).toContain('EventDrainSuccessCount');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual([['--max-semi-space-size=2', '--heap-growing-percent=30'], '2']);
  }, 60_000);

  it('type-checks a strict app using the main entry and a subpath', async () => {
    writeFileSync(
      join(app, 'app.ts'),
      [
        "import { pipe, sequenceSource, memoryChannel, nullSink, type FlumeEvent } from 'rxflume';",
        "import { kafkaSink } from 'rxflume/kafka';",
        'const first: FlumeEvent = { headers: {}, body: Buffer.from("x") };',
        'const pipeline = pipe(sequenceSource({ totalEvents: 1 }), memoryChannel(), nullSink());',
        'void pipeline.done.then(() => console.log(first.body.length, typeof kafkaSink));',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false }, files: ['app.ts'] }),
    );
    // The repository's TypeScript and @types/node, as the app's own would be.
    mkdirSync(join(app, 'node_modules/@types'), { recursive: true });
    await run('ln', ['-s', join(root, 'node_modules/@types/node'), join(app, 'node_modules/@types/node')]);
    const tsc = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(tsc.output).toBe('');
    expect(tsc.code).toBe(0);
  }, 120_000);
});
