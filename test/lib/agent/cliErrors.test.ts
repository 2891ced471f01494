/**
 * Issue #10.7: what goes wrong at the command line or at start is one line naming the flag, or the
 * file, line and key — exit 2, never a stack trace — and what `validate` can check without starting
 * (paths, ports) it checks.
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';
import { runCli, scratch } from '../../support/cli.js';

const tmp = scratch('rxflume-cli-errors-');
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  buildDist();
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
}, 180_000);
afterAll(() => {
  taken.close();
  tmp.cleanup();
});

const netcatToLogger = (port: number | string, extra = '') => `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = ${port}
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
${extra}`;

/** Exit 2 and no stack trace, whatever else is said. */
function expectContract(r: { code: number | null; stdout: string; stderr: string }): string {
  const all = r.stdout + r.stderr;
  expect(r.code, all).toBe(2);
  expect(all).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
  expect(all).not.toMatch(/\bcaused by\b/);
  return all;
}

describe('command-line and start errors', () => {
  it('demo --events or --batch that is not a whole number is a usage error naming it, before anything runs', async () => {
    for (const [args, said] of [
      [['--events', 'abc'], 'demo --events: expected a whole number ≥ 0, received "abc"'],
      [['--batch', '0'], 'demo --batch: expected a whole number ≥ 1, received "0"'],
    ] as const) {
      const r = await runCli(['demo', ...args]);
      expect(expectContract(r)).toContain(said);
      expect(r.stdout).not.toContain('sequence(');
    }
  });

  it('a wrong -n is reported once, as the root cause, without what its empty topology lacks', async () => {
    const file = tmp.write('ok.properties', netcatToLogger(0));
    const r = await runCli(['agent', '-n', 'zz', '-f', file]);
    const all = expectContract(r);
    expect(all).toContain('no configuration for agent `zz`; the file defines `a1`');
    expect(all.match(/error:/g)).toHaveLength(1);
  });

  it('--monitor-port out of range is a usage error naming the flag', async () => {
    const file = tmp.write('ok.properties', netcatToLogger(0));
    const r = await runCli(['agent', '-n', 'a1', '-f', file, '--monitor-port', '99999']);
    expect(expectContract(r)).toContain('--monitor-port: expected a port number 0–65535, received "99999"');
  });

  it("Flume's -Dflume.monitoring.port out of range is a usage error naming it", async () => {
    const file = tmp.write('ok.properties', netcatToLogger(0));
    const r = await runCli(['agent', '-n', 'a1', '-f', file, '-Dflume.monitoring.type=http', '-Dflume.monitoring.port=70000']);
    expect(expectContract(r)).toContain('-Dflume.monitoring.port: expected a port number 0–65535, received "70000"');
  });

  it('a monitoring port already in use: one line, before any component starts', async () => {
    const file = tmp.write('ok.properties', netcatToLogger(0));
    const r = await runCli(['agent', '-n', 'a1', '-f', file, '--monitor-port', String(takenPort)]);
    const all = expectContract(r);
    expect(r.stderr.trim()).toBe(`rxflume: monitoring server: cannot listen on 127.0.0.1:${takenPort}: listen EADDRINUSE: address already in use 127.0.0.1:${takenPort}`);
    expect(all).not.toContain('agent started');
  });

  it("a source's port already in use: file:line and the key, the cause once, and the agent stops", async () => {
    const file = tmp.write('taken.properties', netcatToLogger(takenPort));
    const r = await runCli(['agent', '-n', 'a1', '-f', file]);
    expectContract(r);
    // The log (JSON lines, stderr not being a terminal) says it once, and one plain line for a person.
    const located = `${file}:6: error: a1.sources.r1.port: r1: cannot listen on 127.0.0.1:${takenPort}: listen EADDRINUSE: address already in use 127.0.0.1:${takenPort}`;
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('{'))).toEqual([located]);
    expect(lines.filter((l) => l.startsWith('{') && (JSON.parse(l) as { msg: string }).msg === located)).toHaveLength(1);
    expect(r.stderr).toContain('"msg":"agent stopped"');
    expect(r.stdout).toBe('');
  });

  it('validate checks the paths a configuration names: a missing keystore, an output directory that cannot be created', async () => {
    const notADir = tmp.write('plain-file', 'x');
    const file = tmp.write(
      'paths.properties',
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.sources.r1.ssl = true
a1.sources.r1.keystore = ${tmp.dir}/missing.p12
a1.sources.r1.keystore-password = x
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${notADir}/out
`,
    );
    const r = await runCli(['validate', '-n', 'a1', '-f', file]);
    const all = expectContract(r);
    expect(all).toContain(`${file}:8: error: a1.sources.r1.keystore: "${tmp.dir}/missing.p12": no such file`);
    expect(all).toContain(`${file}:13: error: a1.sinks.k1.sink.directory: "${notADir}/out": cannot be created: ${notADir} is not a directory`);
  });

  it("validate names a spool directory or a taildir file group's directory that does not exist", async () => {
    const file = tmp.write(
      'dirs.properties',
      `a1.sources = r1 r2
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = ${tmp.dir}/no-spool
a1.sources.r1.channels = c1
a1.sources.r2.type = TAILDIR
a1.sources.r2.filegroups = f1
a1.sources.r2.filegroups.f1 = ${tmp.dir}/no-logs/.*log
a1.sources.r2.positionFile = ${tmp.dir}/taildir.json
a1.sources.r2.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`,
    );
    for (const command of ['validate', 'agent']) {
      const r = await runCli([command, '-n', 'a1', '-f', file]);
      const all = expectContract(r);
      expect(all).toContain(`${file}:5: error: a1.sources.r1.spoolDir: "${tmp.dir}/no-spool": no such directory`);
      expect(all).toContain(`${file}:9: error: a1.sources.r2.filegroups.f1: "${tmp.dir}/no-logs/.*log": no such directory`);
      expect(all).not.toContain('agent started');
    }
  });

  it('a key store that exists but cannot be read as one: the agent names its key at start, exit 2, and leaves nothing running', async () => {
    const bogus = tmp.write('bogus.p12', 'not a key store');
    const file = tmp.write(
      'keystore.properties',
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.sources.r1.ssl = true
a1.sources.r1.keystore = ${bogus}
a1.sources.r1.keystore-password = PLANTED-kspw-Zq7x
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = ${tmp.dir}/ks-checkpoint
a1.channels.c1.dataDirs = ${tmp.dir}/ks-data
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`,
    );
    expect((await runCli(['validate', '-n', 'a1', '-f', file])).code).toBe(0);
    const r = await runCli(['agent', '-n', 'a1', '-f', file], 30_000);
    const all = expectContract(r);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(9|10): error: a1\\.sources\\.r1\\.keystore(-password)?: r1\\.keystore(Password)?: expected`, 'm'));
    expect(all).not.toContain('PLANTED-kspw-Zq7x');
  });

  it('an output directory that does not exist yet but can be created passes', async () => {
    mkdirSync(join(tmp.dir, 'parent'), { recursive: true });
    const file = tmp.write('creatable.properties', netcatToLogger(0).replace('a1.sinks.k1.type = logger', `a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = ${tmp.dir}/parent/a/b`));
    const r = await runCli(['validate', '-n', 'a1', '-f', file]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('control characters from a configuration are escaped, never sent to the terminal', async () => {
    const file = join(tmp.dir, 'control.properties');
    writeFileSync(file, netcatToLogger(0).replace('a1.channels.c1.type = memory', 'a1.channels.c1.type = mem\x1b[2J\x07ory'));
    const r = await runCli(['validate', '-n', 'a1', '-f', file]);
    const all = expectContract(r);
    expect(all).toContain('unknown channel type `mem\\x1b[2J\\x07ory`');
    expect(all).not.toMatch(/[\x07\x1b]/);
  });

  it('reports at most 100 problems, then their count', async () => {
    const unknown = Array.from({ length: 150 }, (_, i) => `a1.channels.c1.bogus${i} = ${i}`).join('\n');
    const file = tmp.write('many.properties', netcatToLogger(0, unknown));
    const r = await runCli(['validate', '-n', 'a1', '-f', file]);
    const all = expectContract(r);
    expect(r.stderr.match(/: error: /g)).toHaveLength(100);
    expect(all).toContain('… and 50 more problems');
    expect(all).toContain('150 errors; nothing would start');
  });
});
