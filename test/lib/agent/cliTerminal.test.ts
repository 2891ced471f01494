/**
 * Issue #15, the CLI on a terminal: logs on stderr (pretty on a terminal, JSON when piped, or as
 * `--log-format` says), so that a logger sink's events on stdout stay clean; colours as NO_COLOR and
 * FORCE_COLOR say; a status line that never ends up inside another line (checked in a real
 * pseudo-terminal, util-linux `script`); an unknown command's hint.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, cli, root } from '../../support/examples.js';
import { runCli, scratch } from '../../support/cli.js';

const tmp = scratch('rxflume-cli-terminal-');
beforeAll(() => buildDist(), 180_000);
afterAll(() => tmp.cleanup());

/** seq(3) → memory → logger: the agent finishes by itself once the source has ended (no reload). */
const seqToLogger = `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 3
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`;

const ESCAPE = /\x1b\[/;
const env = (vars: Record<string, string | undefined>): NodeJS.ProcessEnv => {
  const out: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...vars };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
};

describe('rxflume agent, piped', () => {
  it("writes the logger sink's events alone on stdout and its log as JSON lines on stderr", async () => {
    const file = tmp.write('seq.properties', seqToLogger);
    const r = await runCli(['agent', '-n', 'a1', '-f', file, '--no-reload-conf'], 60_000, env({}));
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(3);
    for (const line of out) expect(line).toMatch(/^Event: \{ headers:\{\} body: /);
    const logged = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(logged.map((l) => l.msg)).toEqual(expect.arrayContaining(['agent started', 'agent stopped']));
    expect(r.stderr).not.toMatch(ESCAPE);
  }, 60_000);

  it('--log-format pretty: one readable line per entry; colours only when FORCE_COLOR says, never with NO_COLOR alone', async () => {
    const file = tmp.write('seq-pretty.properties', seqToLogger);
    const args = ['agent', '-n', 'a1', '-f', file, '--no-reload-conf', '--log-format', 'pretty'];
    const plain = await runCli(args, 60_000, env({ NO_COLOR: '1' }));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  agent started\n {2}topology:\n {4}agent a1\n/m);
    expect(plain.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  agent stopped metrics=\{"CHANNEL\.c1":/m);
    expect(plain.stderr).not.toMatch(ESCAPE);
    expect(plain.stdout.trim().split('\n')).toHaveLength(3);
    const forced = await runCli(args, 60_000, env({ FORCE_COLOR: '1' }));
    expect(forced.stderr).toContain('\x1b[32mINFO \x1b[39m agent started');
    const json = await runCli(['agent', '-n', 'a1', '-f', file, '--no-reload-conf', '--log-format', 'json'], 60_000, env({ FORCE_COLOR: '1' }));
    expect(JSON.parse(json.stderr.split('\n')[0]!)).toMatchObject({ msg: 'agent started' });
  }, 90_000);

  it('refuses a --log-format it does not know, as a usage error', async () => {
    const r = await runCli(['agent', '-n', 'a1', '-f', 'x.properties', '--log-format', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rxflume: --log-format: expected json or pretty, received "xml"');
  });
});

describe('rxflume with an unknown command', () => {
  it('gives a one-line hint and the usage on stderr, exit 2', async () => {
    const r = await runCli(['agnet', '-n', 'a1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const [first, ...rest] = r.stderr.split('\n');
    expect(first).toBe("rxflume: unknown command 'agnet'; did you mean 'agent'?");
    expect(rest.join('\n')).toContain('Usage:\n  rxflume agent -n NAME -f FILE');
    const far = await runCli(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr.split('\n')[0]).toBe("rxflume: unknown command 'frobnicate'");
  });
});

/**
 * What a terminal shows for `raw`: carriage returns move to the line's start, `ESC[2K` erases the
 * line, colour codes take no room. Only what the status line and the logs use.
 */
function render(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\x1b') {
      const m = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(raw.slice(i, i + 16));
      if (!m) throw new Error(`unexpected escape at ${i}: ${JSON.stringify(raw.slice(i, i + 16))}`);
      if (m[2] === 'K' && m[1] === '2') line = [];
      i += m[0].length - 1;
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') {
      lines.push(line.join(''));
      line = [];
      col = 0;
    } else line[col++] = ch;
  }
  if (line.length) lines.push(line.join(''));
  return lines;
}

describe('rxflume agent in a pseudo-terminal', () => {
  it('draws the status line below the logs and events, never inside them, and says when a source finished', async () => {
    // r1 ends at once. r2 waits for the test to have seen the status line, then prints an event (stdout, the
    // same terminal) and a line on stderr (logged); once the status line is drawn again, the last event; then
    // it ends, and the agent with it. Its waits are bounded (30 s each), as the test's are.
    const go = (n: number) => `i=0; until [ -e '${tmp.dir}/go${n}' ] || [ $i -ge 600 ]; do sleep 0.05; i=$((i+1)); done`;
    const file = tmp.write(
      'exec.properties',
      `a1.sources = r1 r2
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = exec
a1.sources.r1.command = echo first
a1.sources.r1.channels = c1
a1.sources.r2.type = exec
a1.sources.r2.shell = /bin/sh -c
a1.sources.r2.command = ${go(1)}; echo second; echo to-stderr >&2; ${go(2)}; echo third
a1.sources.r2.logStdErr = true
a1.sources.r2.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`,
    );
    const command = `exec '${process.execPath}' '${cli}' agent -n a1 -f '${file}' --no-reload-conf`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: root, env: env({ COLUMNS: '120' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let raw = '';
    child.stdout.on('data', (d: Buffer) => (raw += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    /** Resolves once `raw` from `from` on matches (checked every 50 ms, 30 s at most); returns where it matched. */
    const seen = async (pattern: RegExp, from = 0): Promise<number> => {
      for (let i = 0; i < 600; i++) {
        const at = raw.slice(from).search(pattern);
        if (at >= 0) return from + at;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${pattern} in the terminal's output within 30 s:\n${raw}`);
    };
    // The status line, saying that r1 finished.
    const status = /\r\x1b\[2K[^\n]*source r1 [^\n]*finished/;
    await seen(status);
    tmp.write('go1', '');
    // r2's logged stderr line and its event (a batch, sent when the exec source's batch timeout expires), then
    // the status line drawn again below both.
    const after = Math.max(await seen(/second \}/), await seen(/stderr: to-stderr/));
    await seen(status, after + 1);
    tmp.write('go2', '');
    const code = await exited;
    clearTimeout(killer);
    expect(code, raw).toBe(0);

    // Every time it was drawn, the status line was cleared again before anything else was written.
    const shown = render(raw);
    for (const line of shown) expect(line, JSON.stringify(shown)).not.toMatch(/ev\/s|% full|finished/);
    // Events and log lines each whole, on a line of their own.
    const events = shown.filter((l) => l.startsWith('Event: '));
    expect(events.map((l) => / (\w+) \}$/.exec(l)?.[1]).sort()).toEqual(['first', 'second', 'third']);
    expect(shown.filter((l) => l.includes('stderr: to-stderr'))).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} \w+ +r2 stderr: to-stderr$/)]);
    expect(shown.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}agent st(arted|opped)/.test(l))).toHaveLength(2);
  }, 120_000);
});
