/**
 * lib/sinks/hdfs/bucketPath.ts and javaTime.ts: Flume's path escapes, rounding and zones. The oracle is
 * Flume 1.11's own BucketPath.escapeString, run in a JVM on the same generated cases
 * (FlumeBucketPath.java beside this file, compiled against the Flume jars of scripts/flume.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFlumeJars } from '../../../../scripts/flume.js';
import { runToEnd } from '../../../../scripts/service.js';
import { escapeTokens, EscapeError, parseEscapes, parseJavaLong, parseJavaLongExact, resolveHostNames, type EscapeContext } from '../../../../lib/sinks/hdfs/bucketPath.js';
import { formatJava, localTime, localZone, resolveZone, roundDown, type RoundUnit } from '../../../../lib/sinks/hdfs/javaTime.js';
import { flumeEnv } from '../../../support/flume.js';

const here = dirname(fileURLToPath(import.meta.url));
const flume = flumeEnv();
const NODE_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

interface Case {
  template: string;
  headers: Record<string, string>;
  zone: string | undefined;
  round: { unit: RoundUnit; value: number } | undefined;
  useLocalTimeStamp: boolean;
  clock: number;
}

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** Flume's answer for each case: the escaped string, or undefined when it threw. */
async function flumeEscapes(classes: string, libs: string, cases: readonly Case[]): Promise<(string | undefined)[]> {
  const input = cases
    .map((c) =>
      [
        hex(c.template),
        Object.entries(c.headers).map(([k, v]) => `${hex(k)}=${hex(v)}`).join(',') || '-',
        c.zone === undefined ? '-' : hex(c.zone),
        c.round ? '1' : '0',
        c.round?.unit ?? 'second',
        String(c.round?.value ?? 1),
        c.useLocalTimeStamp ? '1' : '0',
        String(c.clock),
      ].join('\t'),
    )
    .join('\n');
  const child = spawn('java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Duser.language=en', '-Duser.country=US', `-Duser.timezone=${NODE_ZONE}`, '-cp', [classes, join(libs, '*')].join(delimiter), 'FlumeBucketPath'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(`${input}\n`);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`FlumeBucketPath exited ${code}: ${err}`);
  const lines = out.split('\n').filter(Boolean);
  if (lines.length !== cases.length) throw new Error(`FlumeBucketPath answered ${lines.length} of ${cases.length} cases: ${err}`);
  return lines.map((l) => {
    const [status, value = ''] = l.split('\t');
    return status === 'ok' ? Buffer.from(value, 'hex').toString('utf8') : undefined;
  });
}

function ours(c: Case): string | undefined {
  const ctx: EscapeContext = { zone: c.zone === undefined ? localZone() : resolveZone(c.zone), round: c.round, useLocalTimeStamp: c.useLocalTimeStamp, now: () => c.clock };
  try {
    return escapeTokens(parseEscapes(c.template), c.headers, ctx);
  } catch (error) {
    if (error instanceof EscapeError) return undefined;
    throw error;
  }
}

const ZONES = ['UTC', 'GMT', 'America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/St_Johns', 'GMT+05:30', 'GMT-3', 'PST', 'EST', 'IST', 'Pacific/Chatham'];
const PIECES = [...'aAbBcdeDHIjklmMnpsStyYz%'].map((c) => `%${c}`).concat(['%Z', '%1', '%_', '%{host}', '%{a.b-c}', '%{missing}', '/', '-', 'x', '%', '%-', '%{', '%[', '$', '\\', 'é']);
const arbTimestamp = fc.oneof(
  fc.integer({ min: 1, max: 4_102_444_800_000 }),
  // Around DST changes and day, month and year ends.
  fc.constantFrom(1_711_846_800_000, 1_729_990_800_000, 1_704_067_199_999, 1_704_067_200_000, 951_782_400_000, 1),
  // 1969 (negative milliseconds); earlier dates differ in Java by its Julian calendar and old zone data, which no event carries.
  fc.integer({ min: -31_536_000_000, max: 0 }),
);
const arbCase: fc.Arbitrary<Case> = fc.record({
  template: fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((p) => p.join('')),
  headers: fc.record(
    {
      timestamp: fc.oneof(arbTimestamp.map(String), fc.constantFrom('abc', '', '12.5', '+17', '0017', ' 5', '9223372036854775808')),
      host: fc.constantFrom('web-1', 'a$b', 'c\\d', ''),
      'a.b-c': fc.string({ maxLength: 5 }),
    },
    { requiredKeys: [] },
  ),
  zone: fc.option(fc.constantFrom(...ZONES), { nil: undefined }),
  round: fc.option(fc.record({ unit: fc.constantFrom<RoundUnit>('second', 'minute', 'hour'), value: fc.integer({ min: 1, max: 24 }) }), { nil: undefined }),
  useLocalTimeStamp: fc.boolean(),
  clock: arbTimestamp.filter((t) => t > 0),
});

describe.skipIf(flume.skip)(`bucketPath: the same answers as Flume's BucketPath${flume.note}`, () => {
  let classes = '';
  let libs = '';
  beforeAll(async () => {
    libs = await ensureFlumeJars();
    classes = mkdtempSync(join(tmpdir(), 'rxflume-bucketpath-'));
    const { code, output } = await runToEnd('javac', ['-nowarn', '-cp', join(libs, '*'), '-d', classes, join(here, 'FlumeBucketPath.java')]);
    if (code !== 0) throw new Error(`javac failed: ${output}`);
  }, 180_000);
  afterAll(() => rmSync(classes, { recursive: true, force: true }));

  it('every generated template, header set, zone, rounding and clock', async () => {
    const cases = fc.sample(arbCase, { numRuns: 3000, seed: 20240521 });
    const flumeAnswers = await flumeEscapes(classes, libs, cases);
    const differences = cases.map((c, i) => ({ c, flume: flumeAnswers[i], ours: ours(c) })).filter((d) => d.flume !== d.ours);
    expect(differences.slice(0, 5)).toEqual([]);
  }, 120_000);

  it("the guide's examples: 10-minute rounding, dates, %t and %s", async () => {
    const headers = { timestamp: String(Date.UTC(2012, 5, 12, 11, 54, 34)) };
    const cases: Case[] = [
      { template: '/flume/events/%Y-%m-%d/%H%M/%S', headers, zone: 'UTC', round: { unit: 'minute', value: 10 }, useLocalTimeStamp: false, clock: 1 },
      { template: '%y-%m-%d %a %b %c %t %s %z %j %p', headers, zone: 'America/New_York', round: undefined, useLocalTimeStamp: false, clock: 1 },
    ];
    const [rounded, plain] = await flumeEscapes(classes, libs, cases);
    expect(rounded).toBe('/flume/events/2012-06-12/1150/00');
    expect(ours(cases[0]!)).toBe(rounded);
    expect(ours(cases[1]!)).toBe(plain);
  }, 60_000);
});

describe('bucketPath escapes', () => {
  const ctx = (over: Partial<EscapeContext> = {}): EscapeContext => ({ zone: resolveZone('UTC'), round: undefined, useLocalTimeStamp: false, now: () => 0, ...over });

  it('headers are inserted as they are; a missing header is empty; unknown %x is empty; % before anything else stays', () => {
    const t = parseEscapes('/a/%{h}/%{missing}/%Q/%-x/%{bad key}');
    expect(escapeTokens(t, { h: 'v$1\\', timestamp: '1' }, ctx())).toBe('/a/v$1\\///%-x/%{bad key}');
  });

  it('a time escape without a timestamp header fails, %% too (Flume reads it first), unless useLocalTimeStamp', () => {
    for (const template of ['%Y', '%%', '%Q', '%t']) {
      expect(() => escapeTokens(parseEscapes(template), {}, ctx())).toThrow(EscapeError);
      expect(() => escapeTokens(parseEscapes(template), { timestamp: 'x1' }, ctx())).toThrow(/not a number of milliseconds/);
    }
    expect(escapeTokens(parseEscapes('%t %Y'), {}, ctx({ useLocalTimeStamp: true, now: () => 86_400_000 * 366 }))).toBe('31622400000 1971');
    expect(escapeTokens(parseEscapes('/static/%{h}'), {}, ctx())).toBe('/static/');
  });

  it('host escapes: the key case-insensitive; anything else is refused when the template is parsed', async () => {
    const host = await resolveHostNames();
    expect(escapeTokens(parseEscapes('%[localhost]|%[IP]|%[fqdn]'), {}, ctx({ host }))).toBe(`${host.localhost}|${host.ip}|${host.fqdn}`);
    expect(() => parseEscapes('/x/%[hostname]')).toThrow(/%\[hostname\] is none of %\[localhost\], %\[IP\], %\[FQDN\]/);
  });

  it("parseJavaLong accepts what Long.valueOf does", () => {
    expect(parseJavaLong('+17')).toBe(17);
    expect(parseJavaLong('-0017')).toBe(-17);
    expect(parseJavaLongExact('9223372036854775807')).toBe(9223372036854775807n);
    expect(parseJavaLongExact('-9223372036854775808')).toBe(-9223372036854775808n);
    for (const bad of ['', ' 1', '1.0', '0x10', '9223372036854775808', '1e3']) expect(parseJavaLong(bad)).toBeUndefined();
  });

  it('tokens: literal text and escapes reassemble to the template', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES.filter((p) => !p.startsWith('%['))), { maxLength: 10 }), (pieces) => {
        const template = pieces.join('');
        const back = parseEscapes(template)
          .map((t) => (t.kind === 'text' ? t.text : t.kind === 'header' ? `%{${t.name}}` : t.kind === 'time' ? `%${t.char}` : `%[${t.which}]`))
          .join('');
        expect(back).toBe(template);
      }),
    );
  });
});

describe('javaTime', () => {
  it('rounding never moves forward, lands on a multiple of the unit, and is idempotent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4_102_444_800_000 }), fc.constantFrom<RoundUnit>('second', 'minute', 'hour'), fc.integer({ min: 1, max: 24 }), fc.constantFrom('UTC', 'Asia/Kolkata', 'GMT-3'), (ms, unit, value, id) => {
        const zone = resolveZone(id);
        const r = roundDown(ms, unit, value, zone);
        expect(r).toBeLessThanOrEqual(ms);
        const t = localTime(r, zone);
        const field = unit === 'second' ? t.second : unit === 'minute' ? t.minute : t.hour;
        expect(field % value).toBe(0);
        if (r > 0) expect(roundDown(r, unit, value, zone)).toBe(r);
      }),
    );
  });

  it("rounding needs a timestamp > 0 (Java's precondition)", () => {
    expect(() => roundDown(0, 'second', 1, resolveZone('UTC'))).toThrow(RangeError);
  });

  it('zones: Java IDs, custom offsets, short IDs; an unknown ID is refused (Java would use GMT silently)', () => {
    const at = Date.UTC(2024, 6, 1, 12);
    expect(formatJava('ZZZ', localTime(at, resolveZone('GMT+05:30')))).toBe('+0530');
    expect(formatJava('ZZZ', localTime(at, resolveZone('GMT-0930')))).toBe('-0930');
    expect(formatJava('ZZZ', localTime(at, resolveZone('PST')))).toBe('-0700');
    expect(formatJava('ZZZ', localTime(at, resolveZone('EST')))).toBe('-0500');
    expect(formatJava('HH', localTime(at, resolveZone('Europe/Paris')))).toBe('14');
    expect(() => resolveZone('Mars/Olympus')).toThrow(/not a time zone/);
  });
});
