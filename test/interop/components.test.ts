/**
 * Interceptors, channel selectors and file_roll's serializers against a real Apache Flume 1.11.0 agent:
 * one properties text, run by Flume and by rxflume (loaded with loadAgentConfigTexts, run by runAgent),
 * where netcat sources, one per case family, each with its interceptor chain or selector, write through
 * memory channels to file_roll sinks. The same lines go to each pair of netcat sources (one connection
 * each); what each line is answered (its first word: OK or FAILED) and what each sink wrote must be the
 * same.
 *
 * Covered: `timestamp` (default, headerName + preserveExisting), `static` (preserveExisting default and
 * false, the default key/value, an empty value, multi-byte values), `remove_header` (withName, fromList
 * with the default and a custom fromListSeparator, empty list items, matching as a whole-name match, all
 * three at once), Flume's `UUIDInterceptor$Builder` (defaults, headerName + prefix + preserveExisting
 * false; its jar, which Flume's agent jars leave out, goes on Flume's classpath:
 * scripts/flume.ts FLUME_UUID_INTERCEPTOR_JAR); the `replicating` selector with `selector.optional` (a
 * required channel that fills up, an optional one that does too); `multiplexing` (mappings to several
 * channels, a value
 * with a dot, optional channels also required, optional for an unmapped value, default, no default,
 * blank, unmapped and missing values, case); file_roll's `TEXT` and `header_and_text` (appendNewline
 * true and false, names and builder class names) and `avro_event` (codec null and snappy, small
 * syncIntervalBytes). Headers "already present" are put there by a regex_extractor reading
 * `NAME=value|` from the body, so a line decides which headers its event has. Lines include empty
 * ones, multi-byte characters, CR before the newline and tabs. Non-ASCII text in the properties is
 * written as `\uXXXX` escapes, as Java properties files carry it (the `enc` family writes it raw).
 *
 * avro_event files are decoded with avsc (test/support/avroFileProbe.ts, snappy blocks' CRC-32 and
 * every sync marker checked); rxflume's are also read by Apache Avro's Java reader from Flume's jars,
 * which must give the same events.
 *
 * Normalised before comparing, only where values legitimately differ: a header value of 13 digits
 * within the run's time (the timestamp interceptor's clock) becomes `<now>`; a trailing random
 * version-4 UUID becomes `<uuid>` (its prefix kept); header_and_text's `{k=v, k=v}` has its entries
 * sorted (Flume prints Java's HashMap order; no header value here holds `, `, `{` or `}`). Avro headers
 * are maps, compared as such. Known differences are `differs` cases pinning both sides, with the reason
 * (for docs/differences-from-flume.md); one that goes away fails too: the properties file's encoding
 * (`enc`), and a netcat read of several lines stored as one batch (`rep2burst`, `mux2burst`; their
 * `rep2`/`mux2` twins send one line at a time and compare equal).
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { avscEvents, javaAvroEvents, type AvroEvent } from '../support/avroFileProbe.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { FLUME_UUID_INTERCEPTOR_JAR, flumeJarPath, withFlumeJars } from '../support/flumeJars.js';
import { netcatSend, sleep } from '../support/net.js';

const env = withFlumeJars(flumeEnv(), FLUME_UUID_INTERCEPTOR_JAR);

/** A header "already present": a regex_extractor setting `header` from `NAME=value|` in the body. */
const inject = (header: string, name = header.toUpperCase()): string[] => [`type = regex_extractor`, `regex = ${name}=([^|]*)[|]`, `serializers = s1`, `serializers.s1.name = ${header}`];

interface Family {
  /** Source key lines (after `a1.sources.r_<name>.`), besides type/bind/port/channels. */
  source?: string[];
  /** Interceptors in order: name → its key lines. */
  interceptors?: Record<string, string[]>;
  /** Channels (default one, `c_<name>`): name → extra key lines; `sink` false for a channel nothing drains. */
  channels?: Record<string, { keys?: string[]; sink?: string[] | false }>;
  lines: string[];
  /** Each line written once the previous one is answered (so each is a batch of its own), else all in one write. */
  oneByOne?: boolean;
  /** Non-ASCII characters of this family's keys written as UTF-8 into the properties text (else as \\uXXXX escapes). */
  rawUtf8?: boolean;
  /** Known differences, by sink directory (or `answers`): why, and a check pinning what each side does. */
  differs?: Record<string, Differ>;
}

interface Differ {
  why: string;
  check: (flume: View[], ours: View[]) => void;
}

type View = { headers: Record<string, string>; body: string };

const MULTI = 'é€😀';
const INTERCEPTOR_LINES = ['plain', '', `${MULTI} body`, 'crlf\r', 'tab\there'];
const REMOVE_CHAIN: Record<string, string[]> = {
  ia: inject('a'),
  ib: ['type = static', 'key = b', 'value = 2'],
  ic: ['type = static', 'key = c', 'value = 3'],
  id: ['type = static', 'key = d', `value = ${MULTI}`],
  itx: ['type = static', 'key = tmp.x', 'value = 5'],
  ity: ['type = static', 'key = tmpy', 'value = 6'],
  ik: ['type = static', 'key = keep', 'value = 7'],
};
const REMOVE_LINES = ['A=1|with a', 'no a', '', `A=${MULTI}|${MULTI}`];
const UUID = 'org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder';
const avroSink = (...keys: string[]): string[] => ['sink.serializer = avro_event', ...keys];

/**
 * Why the burst cases differ: rxflume's netcat source puts the lines of one read into the channels as
 * one batch (one transaction); Flume's puts each line on its own.
 */
const BURST =
  "rxflume's netcat source stores the lines that arrive together as one batch (one transaction per channel), where Flume's stores each line on its own: when a required channel cannot take the whole batch, every line of it is answered FAILED (Flume stores and answers OK those that fit)";

/** replicating: a required channel that takes 3 events (nothing drains it), an optional one drained, an optional one full after 2. */
function fillingUp(name: string, oneByOne: boolean): Family {
  return {
    oneByOne,
    source: [`selector.optional = c_${name}_b c_${name}_c`],
    channels: {
      [`c_${name}_a`]: { keys: ['capacity = 3', 'transactionCapacity = 3', 'keep-alive = 0'], sink: false },
      [`c_${name}_b`]: {},
      [`c_${name}_c`]: { keys: ['capacity = 2', 'transactionCapacity = 2', 'keep-alive = 0'], sink: false },
    },
    lines: ['1', '2', '3', '4', '5', '6'],
  };
}

/** multiplexing without default: a channel required for one value and optional for another; unmapped and missing values dropped. */
function optionalAndRequired(name: string, oneByOne: boolean): Family {
  return {
    oneByOne,
    source: [
      'selector.type = org.apache.flume.channel.MultiplexingChannelSelector',
      'selector.header = region',
      `selector.mapping.a = c_${name}_1`,
      `selector.optional.zz = c_${name}_1`,
      `selector.optional.b = c_${name}_2`,
    ],
    interceptors: { i: inject('region', 'R') },
    channels: { [`c_${name}_1`]: {}, [`c_${name}_2`]: {} },
    lines: ['R=a|1', 'R=b|2', '3 no header', 'R=zz|4', 'R=|5', 'R=a|6'],
  };
}

const FAMILIES: Record<string, Family> = {
  ts1: {
    interceptors: { i: inject('timestamp', 'TS'), t: ['type = timestamp'] },
    lines: [...INTERCEPTOR_LINES, 'TS=123|kept? no: overwritten', 'TS=|empty'],
  },
  ts2: {
    interceptors: { i: inject('when'), j: inject('timestamp', 'TS'), t: ['type = org.apache.flume.interceptor.TimestampInterceptor$Builder', 'headerName = when', 'preserveExisting = true'] },
    lines: [...INTERCEPTOR_LINES, 'WHEN=abc|kept', 'WHEN=|empty kept', 'TS=5|WHEN=6|both', 'TS=5|only ts'],
  },
  st: {
    interceptors: {
      i: inject('dc'),
      j: inject('zone'),
      s1: ['type = static', 'key = dc', 'value = NEW_YORK'],
      s2: ['type = static', 'key = zone', `value = ${MULTI} x=y`, 'preserveExisting = false'],
      s3: ['type = static'],
      s4: ['type = static', 'key = blank', 'value ='],
      s5: ['type = org.apache.flume.interceptor.StaticInterceptor$Builder', 'key = dc', 'value = overwritten?', 'preserveExisting = true'],
    },
    lines: [...INTERCEPTOR_LINES, 'DC=LONDON|kept', 'ZONE=z1|replaced', 'DC=|empty kept'],
  },
  rm1: { interceptors: { ...REMOVE_CHAIN, x: ['type = remove_header', 'withName = a'] }, lines: REMOVE_LINES },
  rm2: { interceptors: { ...REMOVE_CHAIN, x: ['type = remove_header', 'fromList = b, c ,d,,nothere'] }, lines: REMOVE_LINES },
  rm3: { interceptors: { ...REMOVE_CHAIN, x: ['type = remove_header', 'fromList = b;;tmp.x ; a', 'fromListSeparator = ;'] }, lines: REMOVE_LINES },
  rm4: { interceptors: { ...REMOVE_CHAIN, x: ['type = remove_header', 'matching = tmp[.].*|k'] }, lines: REMOVE_LINES },
  rm5: { interceptors: { ...REMOVE_CHAIN, x: ['type = org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder', 'withName = keep', 'fromList = b', 'matching = [cd]|a'] }, lines: REMOVE_LINES },
  uu1: { interceptors: { i: inject('id'), u: [`type = ${UUID}`] }, lines: [...INTERCEPTOR_LINES, 'ID=given|kept', 'ID=|empty kept'] },
  uu2: {
    interceptors: { i: inject('eid'), u: [`type = ${UUID}`, 'headerName = eid', `prefix = web-${MULTI}-`, 'preserveExisting = false'] },
    lines: [...INTERCEPTOR_LINES, 'EID=given|replaced'],
  },
  rep: {
    source: ['selector.type = replicating', 'selector.optional = c_rep_b'],
    channels: { c_rep_a: {}, c_rep_b: {} },
    lines: ['one', '', MULTI, 'four'],
  },
  rep2: fillingUp('rep2', true),
  rep2burst: {
    ...fillingUp('rep2burst', false),
    differs: {
      answers: { why: BURST, check: (f, r) => expect([f, r].map((a) => a.map((x) => x.body).join())).toEqual(['OK,OK,OK,FAILED,FAILED,FAILED', 'FAILED,FAILED,FAILED,FAILED,FAILED,FAILED']) },
      k_rep2burst_b: { why: BURST, check: (f, r) => expect([f.length, r.length]).toEqual([3, 0]) },
    },
  },
  mux: {
    source: [
      'selector.type = multiplexing',
      'selector.header = region',
      'selector.mapping.us = c_mux_1',
      'selector.mapping.eu = c_mux_2 c_mux_3',
      'selector.mapping.multi.dot = c_mux_3',
      'selector.optional.eu = c_mux_4 c_mux_2',
      'selector.optional.asia = c_mux_4',
      'selector.default = c_mux_5',
    ],
    interceptors: { i: inject('region', 'R') },
    channels: { c_mux_1: {}, c_mux_2: {}, c_mux_3: {}, c_mux_4: {}, c_mux_5: {} },
    lines: ['R=us|1', 'R=eu|2', 'R=asia|3', 'R=xx|4', 'R=|5', 'R= |6', '7 no header', 'R=US|8', 'R=multi.dot|9', `R=${MULTI}|10`, '', 'R=eu|12'],
  },
  mux2: optionalAndRequired('mux2', true),
  mux2burst: {
    ...optionalAndRequired('mux2burst', false),
    differs: {
      k_mux2burst_1: {
        why: `${BURST}; a channel required for some events of a batch and optional for others gets the required ones first (as Flume's processEventBatch does for batch sources)`,
        check: (f, r) => expect([f, r].map((e) => e.map((x) => x.body).join())).toEqual(['R=a|1,R=zz|4,R=a|6', 'R=a|1,R=a|6,R=zz|4']),
      },
    },
  },
  enc: {
    rawUtf8: true,
    interceptors: { s: ['type = static', 'key = raw', `value = ${MULTI}`] },
    lines: ['one'],
    differs: {
      k_enc: {
        why: "Flume 1.11 reads its properties file as ISO-8859-1 (java.util.Properties.load of the bytes): non-ASCII text written as UTF-8 becomes one character per byte, and only \\uXXXX escapes give other characters; rxflume reads the file as UTF-8 (escapes work the same)",
        check: (f, r) => {
          expect(f[0]!.headers['raw']).toBe(Buffer.from(MULTI).toString('latin1'));
          expect(r[0]!.headers['raw']).toBe(MULTI);
        },
      },
    },
  },
  ser: {
    interceptors: { i: inject('h'), s: ['type = static', 'key = s', `value = ${MULTI} x=y`] },
    channels: {
      c_ser_text: { sink: [] },
      c_ser_text_nonl: { sink: ['sink.serializer = TEXT', 'sink.serializer.appendNewline = false'] },
      c_ser_hat: { sink: ['sink.serializer = org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder'] },
      c_ser_hat_nonl: { sink: ['sink.serializer = HEADER_AND_TEXT', 'sink.serializer.appendNewline = false'] },
      c_ser_avro: { sink: avroSink() },
      c_ser_snappy: { sink: avroSink('sink.serializer.compressionCodec = snappy') },
      c_ser_blocks: { sink: avroSink('sink.serializer.compressionCodec = snappy', 'sink.serializer.syncIntervalBytes = 64') },
    },
    lines: ['plain', '', `H=v|${MULTI}`, 'H=|empty h', '  spaces  ', 'tab\there', 'crlf\r', 'x'.repeat(300), `H=${MULTI} w=1|last`],
  },
};
const NAMES = Object.keys(FAMILIES);

const channelsOf = (name: string): Record<string, { keys?: string[]; sink?: string[] | false }> => FAMILIES[name]!.channels ?? { [`c_${name}`]: { sink: avroSink() } };
/** Every sink: its channel and serializer keys. */
const SINKS = NAMES.flatMap((name) =>
  Object.entries(channelsOf(name))
    .filter(([, c]) => c.sink !== false)
    .map(([channel, c]) => ({ family: name, channel, dir: `k_${channel.slice(2)}`, keys: (c.sink === undefined ? avroSink() : c.sink) as string[] })),
);
const isAvro = (keys: string[]): boolean => keys.includes('sink.serializer = avro_event');

/** Java properties' \\uXXXX escapes for every non-ASCII UTF-16 unit. */
const escaped = (line: string): string => line.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function conf(ports: Record<string, number>, outDir: string): string {
  const l: string[] = [];
  const allChannels = NAMES.flatMap((n) => Object.keys(channelsOf(n)));
  l.push(`a1.sources = ${NAMES.map((n) => `r_${n}`).join(' ')}`, `a1.channels = ${allChannels.join(' ')}`, `a1.sinks = ${SINKS.map((s) => s.dir).join(' ')}`);
  for (const name of NAMES) {
    const f = FAMILIES[name]!;
    const r = `a1.sources.r_${name}`;
    const from = l.length;
    l.push(`${r}.type = netcat`, `${r}.bind = 127.0.0.1`, `${r}.port = ${ports[name]}`, `${r}.channels = ${Object.keys(channelsOf(name)).join(' ')}`);
    for (const k of f.source ?? []) l.push(`${r}.${k}`);
    if (f.interceptors) {
      l.push(`${r}.interceptors = ${Object.keys(f.interceptors).join(' ')}`);
      for (const [i, keys] of Object.entries(f.interceptors)) for (const k of keys) l.push(`${r}.interceptors.${i}.${k}`);
    }
    for (const [c, spec] of Object.entries(channelsOf(name))) {
      l.push(`a1.channels.${c}.type = memory`);
      for (const k of spec.keys ?? []) l.push(`a1.channels.${c}.${k}`);
    }
    if (!f.rawUtf8) l.splice(from, l.length - from, ...l.slice(from).map(escaped));
  }
  for (const s of SINKS) {
    const k = `a1.sinks.${s.dir}`;
    l.push(`${k}.type = file_roll`, `${k}.channel = ${s.channel}`, `${k}.sink.directory = ${join(outDir, s.dir)}`, `${k}.sink.rollInterval = 0`);
    for (const key of s.keys) l.push(`${k}.${key}`);
  }
  return `${l.join('\n')}\n`;
}

interface Output {
  /** avro_event: the events (avsc); text: the bytes. */
  avro?: AvroEvent[];
  codec?: string;
  text?: Buffer;
  /** What avsc said of a file it could not read. */
  error?: string;
  files: string[];
}

async function readSink(dir: string, avro: boolean): Promise<Output> {
  const files = (await readdir(dir).catch(() => [] as string[])).sort().map((f) => join(dir, f));
  if (!avro) return { text: Buffer.concat(await Promise.all(files.map((f) => readFile(f)))), files };
  const sized = await Promise.all(files.map(async (f) => ((await stat(f)).size > 0 ? f : undefined)));
  try {
    const decoded = sized.filter((f): f is string => f !== undefined).map((f) => avscEvents(f));
    return { avro: decoded.flatMap((d) => d.events), codec: decoded[0]?.codec, files };
  } catch (error) {
    return { error: String(error), files };
  }
}
const measure = (o: Output): number => o.avro?.length ?? o.text?.length ?? 0;

let runStart = 0;
let runEnd = 0;
const UUID_V4 = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A header value as compared: the run's clock readings and random UUIDs replaced. */
function normalValue(value: string): string {
  if (/^\d{13}$/.test(value) && Number(value) >= runStart && Number(value) <= runEnd) return '<now>';
  return value.replace(UUID_V4, '<uuid>');
}
const text = (b: Buffer): string => (Buffer.from(b.toString('utf8')).equals(b) ? b.toString('utf8') : `base64:${b.toString('base64')}`);
const view = (events: AvroEvent[]): View[] =>
  events.map((e) => ({ headers: Object.fromEntries(Object.keys(e.headers).sort().map((k) => [k, normalValue(e.headers[k]!)])), body: text(Buffer.from(e.body)) }));
/** header_and_text with each `{k=v, …}` sorted. */
const sortedMaps = (s: string): string =>
  s.replace(/\{((?:[\w.]+=[^,{}\n]*)(?:, [\w.]+=[^,{}\n]*)*)?\} /g, (_, entries: string | undefined) => `{${(entries ?? '').split(', ').sort().join(', ')}} `);

describe.skipIf(env.skip)(`interceptors, selectors and file_roll serializers vs Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  const ourDir = mkdtempSync(join(tmpdir(), 'rxflume-components-'));
  const answers = { flume: new Map<string, string[]>(), ours: new Map<string, string[]>() };
  const outputs = { flume: new Map<string, Output>(), ours: new Map<string, Output>() };

  beforeAll(async () => {
    const ports = await freePorts(2 * NAMES.length);
    const flumePorts = Object.fromEntries(NAMES.map((n, i) => [n, ports[2 * i]!]));
    const ourPorts = Object.fromEntries(NAMES.map((n, i) => [n, ports[2 * i + 1]!]));
    runStart = Date.now();
    for (const s of SINKS) mkdirSync(join(ourDir, s.dir));
    agent = await startFlumeAgent({ conf: conf(flumePorts, '{{dir}}/out'), mkdirs: SINKS.map((s) => `out/${s.dir}`), classpath: [await flumeJarPath(FLUME_UUID_INTERCEPTOR_JAR)] });
    const loaded = await loadAgentConfigTexts([{ file: 'components.conf', text: conf(ourPorts, ourDir) }], 'a1');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}: ${d.message}`)).toEqual([]);
    ours = runAgent(loaded.topology);
    await Promise.all(
      NAMES.map(async (n) => {
        const [f, r] = await Promise.all([netcatSend(flumePorts[n]!, FAMILIES[n]!.lines, FAMILIES[n]!.oneByOne), netcatSend(ourPorts[n]!, FAMILIES[n]!.lines, FAMILIES[n]!.oneByOne)]);
        answers.flume.set(n, f);
        answers.ours.set(n, r);
      }),
    );
    // rxflume's sinks first (until nothing changes for a while), then Flume's until they hold as much
    // (its sink runners back off up to 5 s when a channel is empty); a difference waits out the 20 s.
    const snapshot = async (side: 'flume' | 'ours'): Promise<number[]> =>
      Promise.all(SINKS.map(async (s) => measure(await readSink(join(side === 'flume' ? join(agent!.dir, 'out') : ourDir, s.dir), isAvro(s.keys)))));
    let last = '';
    for (let stable = 0, tries = 0; stable < 5 && tries < 100; tries++) {
      const now = JSON.stringify(await snapshot('ours'));
      stable = now === last ? stable + 1 : 0;
      last = now;
      await sleep(200);
    }
    const until = Date.now() + 20_000;
    for (;;) {
      const flume = await snapshot('flume');
      // Every sink here gets events from Flume (checked below): an empty one is not written yet.
      if ((JSON.stringify(flume) === last && !flume.includes(0)) || Date.now() > until) break;
      await sleep(250);
    }
    runEnd = Date.now();
    for (const s of SINKS) {
      outputs.flume.set(s.dir, await readSink(join(agent.dir, 'out', s.dir), isAvro(s.keys)));
      outputs.ours.set(s.dir, await readSink(join(ourDir, s.dir), isAvro(s.keys)));
    }
  }, 180_000);

  afterAll(async () => {
    await ours?.stop({ timeoutMs: 1000 }).catch(() => undefined);
    await agent?.stop();
    rmSync(ourDir, { recursive: true, force: true });
  }, 60_000);

  for (const name of NAMES) {
    const differ = FAMILIES[name]!.differs?.['answers'];
    it(`${name}: every line answered ${differ ? 'as documented' : 'the same'}`, () => {
      expect(answers.flume.get(name)).toHaveLength(FAMILIES[name]!.lines.length);
      const view = (a: string[] | undefined): View[] => (a ?? []).map((body) => ({ headers: {}, body }));
      if (differ) differ.check(view(answers.flume.get(name)), view(answers.ours.get(name)));
      else expect(answers.ours.get(name)).toEqual(answers.flume.get(name));
    });
  }

  for (const s of SINKS) {
    const differ = FAMILIES[s.family]!.differs?.[s.dir];
    it(`${s.family} → ${s.dir} (${s.keys.join(', ') || 'TEXT'}): ${differ ? 'differs as documented' : 'the same output'}`, () => {
      const f = outputs.flume.get(s.dir)!;
      const r = outputs.ours.get(s.dir)!;
      expect([f.error, r.error]).toEqual([undefined, undefined]);
      if (differ) differ.check(view(f.avro!), view(r.avro!));
      else if (isAvro(s.keys)) {
        expect(r.codec).toBe(f.codec);
        expect(view(r.avro!)).toEqual(view(f.avro!));
      } else if (s.keys.some((k) => /header_?and_?(body)?_?text/i.test(k))) expect(sortedMaps(r.text!.toString())).toEqual(sortedMaps(f.text!.toString()));
      else expect(r.text!.equals(f.text!), `${JSON.stringify(r.text!.toString())}\nvs Flume's\n${JSON.stringify(f.text!.toString())}`).toBe(true);
    });
  }

  it("Apache Avro's Java reader reads rxflume's avro_event files (null, snappy, snappy in small blocks) as avsc does", async () => {
    const dirs = ['k_ser_avro', 'k_ser_snappy', 'k_ser_blocks'];
    const files = dirs.map((d) => outputs.ours.get(d)!.files[0]!);
    const java = await javaAvroEvents(files);
    expect(java.map((j) => j.codec)).toEqual(['null', 'snappy', 'snappy']);
    for (const [i, d] of dirs.entries()) expect(view(java[i]!.events)).toEqual(view(outputs.ours.get(d)!.avro!));
    expect(java[1]!.events.length).toBe(FAMILIES['ser']!.lines.length);
  }, 60_000);

  it('the cases exercise what they compare: every sink written, clocks, kept headers, UUIDs, removals, routes, a full channel', () => {
    const events = (dir: string): View[] => view(outputs.flume.get(dir)?.avro ?? []);
    for (const s of SINKS) expect(measure(outputs.flume.get(s.dir)!), s.dir).toBeGreaterThan(0);
    expect(events('k_ts1').map((e) => e.headers['timestamp'])).toEqual(FAMILIES['ts1']!.lines.map(() => '<now>'));
    expect(new Set(events('k_ts2').map((e) => e.headers['when']))).toEqual(new Set(['<now>', 'abc', '', '6']));
    expect(new Set(events('k_st').map((e) => e.headers['dc']))).toEqual(new Set(['NEW_YORK', 'LONDON', '']));
    expect(events('k_rm1').every((e) => !('a' in e.headers))).toBe(true);
    expect(events('k_rm2').map((e) => Object.keys(e.headers).sort().join())[0]).toBe('a,keep,tmp.x,tmpy');
    expect(events('k_rm4').map((e) => Object.keys(e.headers).sort().join())[0]).toBe('a,b,c,d,keep,tmpy');
    expect(new Set(events('k_uu1').map((e) => e.headers['id']))).toEqual(new Set(['<uuid>', 'given', '']));
    expect(events('k_uu2').every((e) => e.headers['eid'] === `web-${MULTI}-<uuid>`)).toBe(true);
    expect(answers.flume.get('rep2')).toEqual(['OK', 'OK', 'OK', 'FAILED', 'FAILED', 'FAILED']);
    expect(events('k_rep2_b').map((e) => e.body)).toEqual(['1', '2', '3']);
    expect(events('k_mux_5').map((e) => e.body)).toEqual(['R=asia|3', 'R=xx|4', 'R=|5', 'R= |6', '7 no header', 'R=US|8', `R=${MULTI}|10`, '']);
    expect(events('k_mux_4').map((e) => e.body)).toEqual(['R=eu|2', 'R=asia|3', 'R=eu|12']);
  });
});
