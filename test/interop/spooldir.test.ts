/**
 * The spooling directory source against a real Apache Flume 1.11.0 agent: the same spooldir →
 * memory → file_roll configuration runs on both, over identical spool files (an empty file, lines
 * at and over maxLineLength with multi-byte characters, CRLF, no trailing newline, malformed UTF-8
 * under each decodeErrorPolicy, Latin-1 and US-ASCII input, consumeOrder youngest, trackingPolicy
 * tracker_dir), and the files
 * file_roll wrote must hold the same bytes. Only the roll files' names differ legitimately (they are
 * concatenated in name order, one per sink). One documented difference is asserted as such: a
 * surrogate pair at the limit (Flume cuts it, each half becoming `?`; rxflume starts the next piece
 * with the pair). Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent } from '../../lib/agent/runAgent.js';
import { startFlumeAgent, flumeEnv, type FlumeAgent } from '../support/flume.js';
import { sleep } from '../support/net.js';

const env = flumeEnv();
const MAX = 8;
const T0 = 1_700_000_000;

const malformed = Buffer.concat([Buffer.from('ok1\nbad'), Buffer.from([0xff, 0xfe]), Buffer.from('x\nok2\n'), Buffer.from([0xc3]), Buffer.from('\n')]);

interface Case {
  /** Extra source properties. */
  props: Record<string, string>;
  /** File name → content, written with increasing modification times (or the given one, seconds). */
  files: Array<[string, string | Buffer, number?]>;
  /** The source fails (decodeErrorPolicy FAIL): nothing is completed. */
  fails?: boolean;
  /** trackingPolicy tracker_dir: completion is a mark in .flumespool, the files stay. */
  marks?: boolean;
}

const cases: Record<string, Case> = {
  lines: {
    props: { 'deserializer.maxLineLength': String(MAX) },
    files: [
      ['a-empty', ''],
      ['b-exact', '12345678\nabc\n'],
      ['c-over', '123456789abcdefghij\nx\n'],
      ['d-double', '1234567812345678\ny\n'],
      ['e-multibyte', 'ééééééé\néééééééé\n😀😀😀😀😀\n1234😀😀\n€€€€€€€€€\n'],
      ['f-crlf', 'ab\r\ncd\r\n1234567\r\n\r\n'],
      ['g-no-newline', 'last line no nl'],
      ['h-only-newline', '\n'],
      ['i-exact-at-eof', '12345678'],
      ['j-empty-again', ''],
    ],
  },
  defaults: {
    props: {},
    files: [
      ['long', 'x'.repeat(2047) + '\n' + 'y'.repeat(2048) + '\n' + 'z'.repeat(2049) + '\n' + 'é'.repeat(3000) + '\n'],
      ['empty', ''],
    ],
  },
  replace: { props: { decodeErrorPolicy: 'REPLACE' }, files: [['bad', malformed]] },
  ignore: { props: { decodeErrorPolicy: 'IGNORE' }, files: [['bad', malformed]] },
  replaceCut: {
    props: { decodeErrorPolicy: 'REPLACE', 'deserializer.maxLineLength': '4' },
    files: [['bad', Buffer.concat([Buffer.from('ab'), Buffer.from([0xff, 0xff]), Buffer.from('cdef\n'), Buffer.from([0xe2, 0x82]), Buffer.from('z\n')])]],
  },
  ignoreCut: {
    props: { decodeErrorPolicy: 'IGNORE', 'deserializer.maxLineLength': '4' },
    files: [['bad', Buffer.concat([Buffer.from('ab'), Buffer.from([0xff, 0xff]), Buffer.from('cdef\n'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('z\n')])]],
  },
  latin1: { props: { inputCharset: 'ISO-8859-1' }, files: [['l', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x80, 0xff, 0x0a])]] },
  ascii: { props: { inputCharset: 'US-ASCII', decodeErrorPolicy: 'REPLACE' }, files: [['a', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x41, 0x0a])]] },
  youngest: {
    props: { consumeOrder: 'youngest' },
    files: [
      ['y1', 'y1\n', T0 + 100],
      ['y2', 'y2\n', T0 + 200],
      ['tie-b', 'tie-b\n', T0 + 150],
      ['tie-a', 'tie-a\n', T0 + 150],
    ],
  },
  fail: { props: {}, files: [['bad', malformed]], fails: true },
  trackerDir: {
    props: { trackingPolicy: 'tracker_dir' },
    files: [
      ['t1', 'one\n'],
      ['t2', ''],
    ],
    marks: true,
  },
  pair: { props: { 'deserializer.maxLineLength': String(MAX) }, files: [['p', '1234567😀z\n']] },
};

/** The configuration of every case, rooted at `base` (spool_<case>, out_<case>). */
function conf(base: string, names: readonly string[]): string {
  let text = `a1.sources = ${names.map((n) => `s_${n}`).join(' ')}\na1.channels = ${names.map((n) => `c_${n}`).join(' ')}\na1.sinks = ${names.map((n) => `k_${n}`).join(' ')}\n`;
  for (const n of names) {
    text += `a1.sources.s_${n}.type = spooldir\na1.sources.s_${n}.spoolDir = ${join(base, `spool_${n}`)}\na1.sources.s_${n}.channels = c_${n}\n`;
    for (const [k, v] of Object.entries(cases[n]!.props)) text += `a1.sources.s_${n}.${k} = ${v}\n`;
    text += `a1.channels.c_${n}.type = memory\n`;
    text += `a1.sinks.k_${n}.type = file_roll\na1.sinks.k_${n}.channel = c_${n}\na1.sinks.k_${n}.sink.directory = ${join(base, `out_${n}`)}\na1.sinks.k_${n}.sink.rollInterval = 0\n`;
  }
  return text;
}

function prepare(base: string): void {
  for (const [n, c] of Object.entries(cases)) {
    const spool = join(base, `spool_${n}`);
    mkdirSync(spool, { recursive: true });
    mkdirSync(join(base, `out_${n}`), { recursive: true });
    c.files.forEach(([name, content, mtime], i) => {
      writeFileSync(join(spool, name), content);
      const t = mtime ?? T0 + i * 10;
      utimesSync(join(spool, name), t, t);
    });
  }
}

const completed = (base: string, n: string): boolean =>
  cases[n]!.marks
    ? cases[n]!.files.every(([name]) => existsSync(join(base, `spool_${n}`, '.flumespool', `${name}.COMPLETED`)))
    : readdirSync(join(base, `spool_${n}`)).filter((f) => !f.startsWith('.') && !f.endsWith('.COMPLETED')).length === 0;

/** What file_roll wrote for case `n`: its files in name order, concatenated. */
const output = (base: string, n: string): Buffer => {
  const dir = join(base, `out_${n}`);
  return Buffer.concat(readdirSync(dir).sort().map((f) => readFileSync(join(dir, f))));
};

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(env.skip)(`spooldir against Apache Flume 1.11.0${env.note}`, () => {
  const root = mkdtempSync(join(tmpdir(), 'rxflume-spooldir-interop-'));
  const flumeBase = join(root, 'flume');
  const oursBase = join(root, 'rxflume');
  const names = Object.keys(cases);
  let agent: FlumeAgent | undefined;
  const fatal: Record<string, unknown> = {};

  beforeAll(async () => {
    prepare(flumeBase);
    prepare(oursBase);
    agent = await startFlumeAgent({ conf: conf(flumeBase, names) });
    // rxflume: every case that completes in one agent; the FAIL case alone (a fatal source error stops an rxflume agent).
    const runs: Array<[string[], string]> = [
      [names.filter((n) => !cases[n]!.fails), 'main'],
      ...names.filter((n) => cases[n]!.fails).map((n): [string[], string] => [[n], n]),
    ];
    const ours = await Promise.all(
      runs.map(async ([group, label]) => {
        const loaded = await loadAgentConfigTexts([{ file: `${label}.conf`, text: conf(oursBase, group) }], 'a1');
        expect(loaded.diagnostics.map((d) => d.message)).toEqual([]);
        return { group, running: runAgent(loaded.topology, { onFatal: (e) => (fatal[label] = e) }) };
      }),
    );
    const done = (base: string, n: string, failed: () => boolean) => (cases[n]!.fails ? failed() : completed(base, n));
    const flumeFailed = () => /FATAL: Spool Directory source s_fail/.test(readFileSync(agent!.logFile, 'utf8'));
    await until(() => names.every((n) => done(flumeBase, n, flumeFailed) && done(oursBase, n, () => fatal['fail'] !== undefined)), 'both agents to take every file');
    // Flume's sink runner backs off up to 5 s when its channel was empty: wait until Flume's output has
    // been the same for 6 s.
    let last = '';
    let since = Date.now();
    await until(() => {
      const now = names.map((n) => output(flumeBase, n).length).join(',');
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      return Date.now() - since > 6000 && names.every((n) => cases[n]!.fails || output(flumeBase, n).length > 0);
    }, "Flume's file_roll output to settle");
    for (const { running } of ours) await running.stop().catch(() => undefined);
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const n of Object.keys(cases).filter((c) => c !== 'pair')) {
    it(`${n}: rxflume writes what Flume writes`, () => {
      const flume = output(flumeBase, n);
      const ours = output(oursBase, n);
      expect(ours.toString('hex')).toBe(flume.toString('hex'));
      if (!cases[n]!.fails) expect(completed(oursBase, n)).toBe(true);
    });
  }

  it('lines: Flume facts (empty files, the boundary) as seen', () => {
    expect(output(flumeBase, 'lines').toString('utf8').split('\n').slice(0, 13)).toEqual([
      '', // a-empty
      '12345678', '', 'abc',
      '12345678', '9abcdefg', 'hij', 'x',
      '12345678', '12345678', '', 'y',
      'ééééééé',
    ]);
  });

  it('fail: the source stops, the file stays, nothing of its batch is written (both)', () => {
    expect(output(flumeBase, 'fail').length).toBe(0);
    expect(readdirSync(join(flumeBase, 'spool_fail'))).toContain('bad');
    expect(readdirSync(join(oursBase, 'spool_fail'))).toContain('bad');
    expect(String(fatal['fail'])).toMatch(/bad: bytes at offset 7 are not valid UTF-8 \(decodeErrorPolicy FAIL\)/);
  });

  it('trackerDir: both leave the files and mark them in .flumespool with empty files', () => {
    for (const base of [flumeBase, oursBase]) {
      expect(readdirSync(join(base, 'spool_trackerDir')).sort()).toEqual(['.flumespool', 't1', 't2']);
      for (const name of ['t1', 't2']) expect(readFileSync(join(base, 'spool_trackerDir', '.flumespool', `${name}.COMPLETED`)).length).toBe(0);
    }
  });

  it('pair (documented difference): Flume cuts a surrogate pair at the limit into two `?`, rxflume keeps it whole', () => {
    expect(output(flumeBase, 'pair').toString('utf8')).toBe('1234567?\n?z\n');
    expect(output(oursBase, 'pair').toString('utf8')).toBe('1234567\n😀z\n');
  });
});
