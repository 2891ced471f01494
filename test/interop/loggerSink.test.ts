/**
 * The logger sink against Apache Flume 1.11.0's LoggerSink (issue #13): one properties text — an exec
 * source per sink printing the same lines (empty, 1, 15, 16, 17, 33 and 40 bytes, control bytes, DEL,
 * multi-byte text), each into a logger sink with the default `maxBytesToLog`, 0, 20 and 40 — run by a
 * real Flume agent and by the rxflume CLI at once. What each printed for every event must be the same:
 * Flume's lines (from its log, each stripped of log4j's `date LEVEL [thread] (LoggerSink) ` prefix; a
 * dump past 16 bytes goes on in rows of its own) against the rxflume CLI's stdout. Skipped when
 * java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratch } from '../support/cli.js';
import { flumeEnv } from '../support/flume.js';
import { sleep } from '../support/net.js';
import { runSideBySide } from '../support/sideBySide.js';

const env = flumeEnv();

const LINES: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('a'),
  Buffer.from('fifteen bytes!!'),
  Buffer.from('sixteen bytes!!!'),
  Buffer.from('seventeen bytes!!'),
  Buffer.from('thirty-three bytes, three rows!!!'),
  Buffer.from('forty bytes: exactly the third row ends'),
  Buffer.from([0x09, 0x01, 0x7f, 0x20, 0x7e, 0x41]),
  Buffer.from('é€😀 multi-byte'),
];
/** Sink name → maxBytesToLog; the `fq` ones are typed by class name (the others `logger`). */
const SINKS: Record<string, string | undefined> = { k16: undefined, k0: '0', k20: '20', fq40: '40' };

const printf = (lines: Buffer[]): string =>
  `printf '${lines.map((b) => [...b, 10].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x27 && c !== 0x25 && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`)).join('')).join('')}'`;

const conf = (dir: string) => (): string => {
  const names = Object.keys(SINKS);
  let text = `a1.sources = ${names.map((n) => `s_${n}`).join(' ')}\na1.channels = ${names.map((n) => `c_${n}`).join(' ')}\na1.sinks = ${names.join(' ')}\n`;
  for (const [n, max] of Object.entries(SINKS)) {
    text += `a1.sources.s_${n}.type = exec\na1.sources.s_${n}.command = sh ${dir}/lines.sh\na1.sources.s_${n}.channels = c_${n}\n`;
    text += `a1.sources.s_${n}.interceptors = i\na1.sources.s_${n}.interceptors.i.type = static\n`;
    text += `a1.sources.s_${n}.interceptors.i.key = sink\na1.sources.s_${n}.interceptors.i.value = ${n}\n`;
    text += `a1.channels.c_${n}.type = memory\na1.sinks.${n}.type = ${n.startsWith('fq') ? 'org.apache.flume.sink.LoggerSink' : 'logger'}\na1.sinks.${n}.channel = c_${n}\n`;
    if (max !== undefined) text += `a1.sinks.${n}.maxBytesToLog = ${max}\n`;
  }
  return text;
};

/**
 * The events a logger printed in `output`: from each `Event: {` to the line ending ` }` (a dump of more
 * than 16 bytes spans lines), log4j's prefix (Flume) taken off first.
 */
function printedEvents(output: string): string[] {
  const events: string[] = [];
  let open: string | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.replace(/^\d{4}-\d\d-\d\dT[\d:,]+ INFO +\[[^\]]*\] \(LoggerSink\) /, '');
    if (line.startsWith('Event: {')) open = line;
    else if (open !== undefined) open += `\n${line}`;
    else continue;
    if (open.endsWith(' }')) {
      events.push(open);
      open = undefined;
    }
  }
  return events;
}

describe.skipIf(env.skip)(`logger sink vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-logger-interop-');
  work.write('lines.sh', `${printf(LINES)}\n`);
  let flume: string[] = [];
  let ours: string[] = [];

  beforeAll(async () => {
    const expected = LINES.length * Object.keys(SINKS).length;
    const run = await runSideBySide({
      work,
      conf: conf(work.dir),
      collect: async (_out, _side, output) => {
        for (const end = Date.now() + 60_000; Date.now() < end; await sleep(200)) {
          const events = printedEvents(await output());
          if (events.length >= expected) return events;
        }
        return printedEvents(await output());
      },
      timeoutMs: 90_000,
    });
    flume = run.flume;
    ours = run.rxflume;
  }, 180_000);

  afterAll(() => work.cleanup());

  const of = (events: string[], sink: string) => events.filter((e) => e.startsWith(`Event: { headers:{sink=${sink}} `));

  it('Flume printed every event of every sink', () => {
    for (const sink of Object.keys(SINKS)) expect(of(flume, sink)).toHaveLength(LINES.length);
    expect(of(flume, 'k16')[4]).toBe('Event: { headers:{sink=k16} body: 73 65 76 65 6E 74 65 65 6E 20 62 79 74 65 73 21 seventeen bytes! }');
  });

  it("default maxBytesToLog (16): rxflume prints what Flume prints, event by event", () => {
    expect(of(ours, 'k16')).toEqual(of(flume, 'k16'));
  });

  /** A sink's lines as the default sink's would read. */
  const asK16 = (events: string[], sink: string) => of(events, sink).map((e) => e.replace(`{sink=${sink}}`, '{sink=k16}'));

  it('DIFFERS: Flume 1.11 prints 16 body bytes whatever maxBytesToLog says (typed `logger` or by class name); rxflume honours it', () => {
    for (const sink of ['k0', 'k20', 'fq40']) expect(asK16(flume, sink)).toEqual(of(flume, 'k16'));
    // rxflume: no body bytes for 0, and rows of 16 past the first, each after its offset.
    expect(of(ours, 'k0').map((e) => e.replace(/^Event: \{ headers:\{sink=k0\} body:/, ''))).toEqual(LINES.map(() => ' }'));
    expect(of(ours, 'k20')[4]).toBe(
      'Event: { headers:{sink=k20} body: 73 65 76 65 6E 74 65 65 6E 20 62 79 74 65 73 21 seventeen bytes!\n00000010 21                                              ! }',
    );
    expect(of(ours, 'fq40')[6]).toBe(
      'Event: { headers:{sink=fq40} body: 66 6F 72 74 79 20 62 79 74 65 73 3A 20 65 78 61 forty bytes: exa\n' +
        '00000010 63 74 6C 79 20 74 68 65 20 74 68 69 72 64 20 72 ctly the third r\n' +
        '00000020 6F 77 20 65 6E 64 73                            ow ends }',
    );
    // Up to 16 bytes, what rxflume prints for any maxBytesToLog ≥ 16 is Flume's line.
    expect(asK16(ours, 'k20').slice(0, 4)).toEqual(of(flume, 'k16').slice(0, 4));
  });
});
