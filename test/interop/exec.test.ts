/**
 * The exec source against Apache Flume 1.11.0's (issue #13): one properties text — exec sources for a
 * command split on whitespace, a `shell` running a script, `restart`/`restartThrottle` on a command that
 * exits, `logStdErr`, and `batchSize` 1 against 1000 — into one channel and file_roll with
 * header_and_text (a static `src` header tells the sources apart), run by a real Flume agent and by the
 * rxflume CLI at once. The script writes empty lines, CRLF, a lone CR, invalid UTF-8, multi-byte text,
 * a long line and a last line without a newline. Each source's events must be Flume's, in order (a
 * restarting command's first runs only: the count of runs depends on time). Skipped when java/mvn are
 * missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch, type CliResult } from '../support/cli.js';
import { flumeEnv } from '../support/flume.js';
import { rolledUntil, runSideBySide, type HeaderAndText, type Side } from '../support/sideBySide.js';

const env = flumeEnv();
const LONG = 'L'.repeat(70_000);

/** Written as octal escapes to printf, so the properties file holds no backslash for Java to read. */
const OUTPUT = Buffer.concat([
  Buffer.from(`one\n\n\ntwo\r\nthree\rfour\n\r\nbad `),
  Buffer.from([0xff, 0xfe]),
  Buffer.from(' x\ncut '),
  Buffer.from([0xe2, 0x82]),
  Buffer.from(`\néü€😀\n${LONG}\nlast without newline`),
]);
const printf = (b: Buffer): string => `printf '${[...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x27 && c !== 0x25 && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`)).join('')}'`;

const conf = (dir: string, side: Side) => (out: string): string => {
  const sources: Record<string, Record<string, string>> = {
    plain: { command: 'echo  split   on\twhitespace' },
    shell: { shell: '/bin/sh -c', command: `sh ${dir}/emit.sh` },
    restart: { command: `sh ${dir}/count.sh ${dir}/${side}-runs`, restart: 'true', restartThrottle: '500' },
    stderr: { command: `sh ${dir}/stderr.sh`, logStdErr: 'true' },
    batch1: { command: 'seq 1 30', batchSize: '1' },
    batch1000: { command: 'seq 1 30', batchSize: '1000', batchTimeout: '200' },
  };
  let text = `a1.sources = ${Object.keys(sources).join(' ')}\na1.channels = c1\na1.sinks = k1\n`;
  for (const [name, props] of Object.entries(sources)) {
    text += `a1.sources.${name}.type = exec\na1.sources.${name}.channels = c1\n`;
    for (const [k, v] of Object.entries(props)) text += `a1.sources.${name}.${k} = ${v}\n`;
    text += `a1.sources.${name}.interceptors = i\na1.sources.${name}.interceptors.i.type = static\n`;
    text += `a1.sources.${name}.interceptors.i.key = src\na1.sources.${name}.interceptors.i.value = ${name}\n`;
  }
  return `${text}a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.serializer = header_and_text
`;
};

describe.skipIf(env.skip)(`exec source vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-exec-interop-');
  work.write('emit.sh', `${printf(OUTPUT)}\n`);
  work.write('count.sh', 'echo x >> "$1"\necho "run $(wc -l < "$1" | tr -d " ")"\n');
  // stdout's end waits for stderr to be read: Flume kills the command once its stdout ends, and its stderr
  // reader then loses what it had not read ("StderrLogger exiting … Stream closed").
  work.write('stderr.sh', 'echo "to stderr" >&2\necho "more stderr" >&2\nsleep 1\necho "to stdout"\n');
  let flume: HeaderAndText[] = [];
  let ours: HeaderAndText[] = [];
  let cli: CliResult | undefined;
  let flumeLog = '';

  beforeAll(async () => {
    const run = await runSideBySide({
      work,
      conf: (out, side) => conf(work.dir, side)(out),
      collect: async (out, side, output) => {
        // latin1: every byte of a body stays one char, so bytes are compared, not their UTF-8 reading.
        const events = await rolledUntil(out, ['split on whitespace', 'last without newline', 'run 3', 'to stdout', '30'], { encoding: 'latin1', timeoutMs: 45_000 });
        if (side === 'flume') flumeLog = await output();
        return events;
      },
      timeoutMs: 90_000,
    });
    ({ flume, rxflume: ours, cli } = run);
  }, 180_000);

  afterAll(() => work.cleanup());

  const of = (events: HeaderAndText[], src: string): string[] => events.filter((e) => e.headers['src'] === src).map((e) => e.body);
  const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

  it('Flume ran every command', () => {
    expect(of(flume, 'plain')).toEqual(['split on whitespace']);
    expect(of(flume, 'stderr')).toEqual(['to stdout']);
    expect(of(flume, 'restart').slice(0, 3)).toEqual(['run 1', 'run 2', 'run 3']);
    expect(of(flume, 'batch1')).toHaveLength(30);
    expect(of(flume, 'batch1000')).toHaveLength(30);
  });

  for (const src of ['plain', 'stderr', 'batch1', 'batch1000']) {
    it(`${src}: rxflume gives Flume's events, in order`, () => {
      expect(of(flume, src).length).toBeGreaterThan(0);
      expect(of(ours, src)).toEqual(of(flume, src));
    });
  }

  it("restart: a command that exits runs again after restartThrottle, each run's output an event", () => {
    expect(of(ours, 'restart').slice(0, 3)).toEqual(of(flume, 'restart').slice(0, 3));
  });

  it('shell: the script output, line by line, as Flume reads it (the undecodable bytes aside)', () => {
    const valid = (bodies: string[]) => bodies.filter((b) => !b.startsWith('bad ') && !b.startsWith('cut '));
    expect(valid(of(ours, 'shell'))).toEqual(valid(of(flume, 'shell')));
    expect(valid(of(flume, 'shell'))).toEqual(['one', '', '', 'two', 'three', 'four', '', latin1('éü€😀'), LONG, 'last without newline']);
  });

  it('DIFFERS: bytes that are not UTF-8 become U+FFFD in Flume, rxflume keeps them', () => {
    const undecodable = (bodies: string[]) => bodies.filter((b) => b.startsWith('bad ') || b.startsWith('cut '));
    expect(undecodable(of(flume, 'shell'))).toEqual([latin1('bad \uFFFD\uFFFD x'), latin1('cut \uFFFD')]);
    expect(undecodable(of(ours, 'shell'))).toEqual(['bad \xff\xfe x', 'cut \xe2\x82']);
  });

  it('logStdErr: both log the stderr lines, and neither makes them events', () => {
    expect(flumeLog).toMatch(/StderrLogger\[1\] = 'to stderr'/);
    expect(flumeLog).toMatch(/StderrLogger\[2\] = 'more stderr'/);
    // The CLI logs (pino, JSON lines when not on a terminal) to its stderr.
    expect(cli?.stderr).toMatch(/"msg":"stderr: to stderr"/);
    expect(cli?.stderr).toMatch(/"msg":"stderr: more stderr"/);
    expect(of(ours, 'stderr')).toEqual(['to stdout']);
  });
});
