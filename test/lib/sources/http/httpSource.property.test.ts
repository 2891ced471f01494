/**
 * Fuzzing httpSource's JSON handler over real HTTP: whatever the body, the source answers it (never
 * throws out of the component), answers exactly what JSON.parse and Flume's event shape say, keeps
 * its memory within a stated multiple of its bounds, and valid requests around garbage get through.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'node:http';
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import type { Batch } from '../../../../lib/core/batch.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { EventArrayScan } from '../../../../lib/sources/http/eventArrayScan.js';
import { httpSource, type HttpSourceOptions } from '../../../../lib/sources/http/httpSource.js';
import { memoryOf, retainedBytes } from '../../../support/hostile.js';
import { listening } from '../../../support/net.js';

let subscription: Subscription | undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});
afterAll(() => agent.destroy());

/** A source whose batches are acked at once; `errors` records anything it emitted as an error. */
async function start(options: Partial<HttpSourceOptions> = {}) {
  const l = listening();
  const source = httpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const got: string[][] = [];
  const errors: unknown[] = [];
  subscription = source.subscribe({
    next(batch: Batch) {
      got.push(batch.events.map((e) => JSON.stringify([e.headers, e.body.toString('base64')])));
      batch.ack();
    },
    error: (e) => errors.push(e),
  });
  return { port: await l.port, got, errors, counters: metricsOf(source)! };
}

function post(port: number, body: Buffer | string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A value Gson reads as a String: a string, number, boolean or null. */
const stringLike = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Gson reading a `headers` value into a Map<String, String>: undefined when it reads it. */
function headersStatus(headers: unknown): 400 | 500 | undefined {
  if (Array.isArray(headers)) {
    const names = new Set<unknown>();
    for (const pair of headers) {
      // Gson reads the key and the value, puts them (a null key: NPE, 500; a repeated one: 400), then expects the pair's end.
      if (!Array.isArray(pair) || pair.length < 2 || !pair.slice(0, 2).every(stringLike)) return 400;
      if (pair[0] === null) return 500;
      if (names.has(String(pair[0]))) return 400;
      if (pair.length > 2) return 400;
      if (pair[1] !== null) names.add(String(pair[0]));
    }
  } else if (headers !== null && (typeof headers !== 'object' || !Object.values(headers).every(stringLike))) {
    return 400;
  }
  return undefined;
}

/** How many members the objects in a parsed value hold. */
const memberCount = (v: unknown): number =>
  Array.isArray(v) ? v.reduce((n: number, x) => n + memberCount(x), 0) : v !== null && typeof v === 'object' ? Object.values(v).reduce((n: number, x) => n + 1 + memberCount(x), 0) : 0;

/**
 * What Flume's JSONHandler (Gson, lenient) makes of a UTF-8 body that JSON.parse also reads: 200 for
 * an array of event objects whose body and header values are string-like (headers an object, or an
 * array of [name, value] pairs), 500 for no value, `null`, a null event or a null header name
 * (Flume's NullPointerExceptions), else 400. A body JSON.parse refuses (Gson may still read it):
 * undefined, and the lenient property below judges those.
 */
function expected(body: Buffer): 200 | 400 | 500 | undefined {
  const text = body.toString('utf8');
  if (/^[ \t\n\r]*$/.test(text)) return 500;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null) return 500;
  // JSON.parse keeps a repeated name's last value where Gson refuses the repeat or stops at the first: unjudged here.
  if (text.replace(/"(?:[^"\\]|\\.)*"/g, '').split(':').length - 1 !== memberCount(parsed)) return undefined;
  if (!Array.isArray(parsed)) return 400;
  let nullEvent = false;
  for (const item of parsed) {
    // Gson reads the whole list first: a malformed event after a null one is still a 400.
    if (item === null) {
      nullEvent = true;
      continue;
    }
    if (typeof item !== 'object' || Array.isArray(item)) return 400;
    // Gson reads an event's fields in the body's order, so the first bad one decides (JSON.parse keeps that order for these names).
    for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
      const status = name === 'headers' ? headersStatus(value) : name === 'body' && !stringLike(value) ? 400 : undefined;
      if (status !== undefined) return status;
    }
  }
  return nullEvent ? 500 : 200;
}

const headerValue = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean());
const eventArb = fc.record(
  { headers: fc.dictionary(fc.string({ maxLength: 5 }), headerValue, { maxKeys: 4 }), body: fc.option(fc.string({ maxLength: 20 }), { nil: null }) },
  { requiredKeys: [] },
);
const validBody = fc.array(eventArb, { maxLength: 6 }).map((events) => JSON.stringify(events));

/** Valid bodies with one character inserted, removed or replaced: mostly invalid, sometimes still valid. */
const mutated = fc
  .tuple(validBody, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom('[', ']', '{', '}', ',', ':', '"', '\\', ' ', 'x', '1', 'null'))
  .map(([text, at, how, ch]) => {
    const i = at % (text.length + 1);
    if (how === 'insert') return text.slice(0, i) + ch + text.slice(i);
    if (how === 'delete') return text.slice(0, i) + text.slice(i + 1);
    return text.slice(0, i) + ch + text.slice(i + 1);
  });

const anyBody = fc.oneof(
  validBody,
  mutated,
  fc.json({ maxDepth: 4 }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }).map((a) => JSON.stringify(a)),
  fc.array(fc.dictionary(fc.constantFrom('headers', 'body', 'other'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), { maxLength: 4 }).map((a) => JSON.stringify(a)),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 40 }),
);

/**
 * A lenient reference: events drawn as values, written in Gson's lenient syntax with choices drawn
 * too (quotes, unquoted names and values, `=`/`=>`/`;`, comments, the non-execute prefix, empty array
 * slots as null events, headers as [name, value] pairs, members Gson skips), with the events Flume
 * makes of them: a string-like value as its text, booleans lower-case, a null header dropped.
 */
type Scalar = string | number | boolean | null;
const KEYWORD = /^(true|false|null)$/i;
const BREAKS = /[\/\\;#={}\[\]:, \t\f\r\n]/;
const scalar: fc.Arbitrary<Scalar> = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
const lenientEvent = fc.option(
  fc.record(
    {
      headers: fc.dictionary(fc.string({ maxLength: 5 }), scalar, { maxKeys: 4 }),
      body: scalar,
      skipped: fc.tuple(fc.constantFrom('x', 'Body', 'HEADERS', 'charset'), fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  ),
  { nil: null, freq: 6 },
);
const lenientBody = fc
  .tuple(fc.array(lenientEvent, { maxLength: 6 }), fc.infiniteStream(fc.nat(1000)))
  .map(([events, stream]) => {
    const pick = <T,>(options: readonly T[]): T => options[stream.next().value % options.length]!;
    const gap = () => pick(['', '', ' ', '\n', '\t', '/* c */', '// c\n', '# c\n', '\r\n']);
    const quoted = (text: string) => {
      const q = pick(['"', "'"]);
      let out = q;
      for (const ch of text) out += ch === q || ch === '\\' ? `\\${ch}` : pick([0, 0, 1]) ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch;
      return out + q;
    };
    // Unquoted only where Gson reads back the same text: literal characters, not a keyword, no leading quote or '>'.
    const bare = (text: string) => text !== '' && !BREAKS.test(text) && !KEYWORD.test(text) && !/^["'>]/.test(text) && pick([0, 1]) ? text : quoted(text);
    const scalarText = (v: Scalar) =>
      v === null ? pick(['null', 'NULL', 'Null']) : typeof v === 'boolean' ? pick([String(v), String(v).toUpperCase()]) : typeof v === 'number' ? String(v) : bare(v);
    const member = (name: string, value: string) => `${gap()}${bare(name)}${gap()}${pick([':', '=', '=>'])}${gap()}${value}${gap()}`;
    const obj = (members: string[]) => `{${members.join(pick([',', ';']))}}`;
    const rendered = events.map((e) => {
      if (e === null) return events.length > 1 ? pick(['null', '']) : 'null';
      const members: string[] = [];
      if (e.skipped) members.push(member(e.skipped[0], JSON.stringify(e.skipped[1])));
      if (e.headers) {
        const entries = Object.entries(e.headers);
        members.push(
          member(
            'headers',
            pick([0, 1]) ? obj(entries.map(([k, v]) => member(k, scalarText(v)))) : `[${entries.map(([k, v]) => `[${gap()}${scalarText(k)},${gap()}${scalarText(v)}]`).join(',')}]`,
          ),
        );
      }
      if (e.body !== undefined) members.push(member('body', scalarText(e.body)));
      return obj(members.sort(() => pick([-1, 1])));
    });
    const text = `${pick(['', '\ufeff'])}${gap()}${pick(['', ")]}'\n"])}${gap()}[${rendered.map((r) => `${gap()}${r}${gap()}`).join(pick([',', ';']))}]${pick(['', ' ', '\n'])}`;
    const want = events.map((e) => [
      Object.fromEntries(Object.entries(e?.headers ?? {}).flatMap(([k, v]) => (v === null ? [] : [[k, String(v)]]))),
      Buffer.from(e?.body === null || e?.body === undefined ? '' : String(e.body)).toString('base64'),
    ]);
    return { text, status: events.includes(null) ? 500 : 200, events: want.map((w) => JSON.stringify(w)) };
  });

describe('httpSource JSON bodies (property)', () => {
  // First in the file, so that this worker's peak RSS has not been raised by anything else yet.
  it('stays within a stated memory bound for the largest hostile bodies, and keeps nothing of them', async () => {
    const { port, errors, got } = await start();
    // Bodies written straight into buffers: the test's own allocations must not hide the source's peak.
    const n = Math.floor((16 * 1024 * 1024 - 4) / 3);
    const tiny = Buffer.alloc(3 * n + 4);
    tiny.write('[', 0);
    tiny.fill('{},', 1, 3 * n + 1);
    tiny.write('{}]', 3 * n + 1);
    const headers = Buffer.alloc(16 * 1024 * 1024);
    let at = headers.write('[{"headers":{');
    for (let i = 0; i < 1_500_000; i++) at += headers.write(`${i ? ',' : ''}"${i.toString(36)}":""`, at);
    at += headers.write('}}]', at);
    const legit = Buffer.alloc(16 * 1024 * 1024);
    let end = legit.write('[');
    for (let i = 0; i < 10_000; i++) end += legit.write(`${i ? ',' : ''}{"headers":{"i":"${i}"},"body":"${'x'.repeat(1600)}"}`, end);
    end += legit.write(']', end);
    const base = memoryOf();
    const retainedBefore = retainedBytes();
    // 5.6 million empty events; one event with 1.5 million headers; a legitimate 16 MB request of 10,000 events.
    expect(await post(port, tiny)).toBe(503);
    expect(await post(port, headers.subarray(0, at))).toBe(413);
    expect(await post(port, legit.subarray(0, end))).toBe(200);
    // Bound: 12 × maxBodyBytes of peak growth (body, its copy, the decoded text, the parse, the events); before the scan the first two took GBs.
    expect(memoryOf().peakMb - base.peakMb).toBeLessThan(12 * 16);
    // The legitimate events arrived; the test's own record of them (21 MB of base64 text) is let go before measuring.
    expect(got.flat().length).toBe(10_000);
    got.length = 0;
    expect(retainedBytes() - retainedBefore).toBeLessThan(20 * 1024 * 1024);
    expect(errors).toEqual([]);
  });

  it("answers every body JSON.parse reads as Gson's adapters say (200, 400 or 500), anything else 200, 400 or 500, never throwing", async () => {
    const { port, errors, counters } = await start();
    await fc.assert(
      fc.asyncProperty(anyBody, async (body) => {
        const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
        const status = await post(port, bytes);
        expect([200, 400, 500]).toContain(status);
        const want = expected(bytes);
        if (want !== undefined) expect(status).toBe(want);
      }),
      // A bad body before a null header name: Gson stops at the body (400), as the fields come.
      { numRuns: 400, examples: [['[{"body":{},"headers":[[null,null]]}]'], ['[{"headers":[[null,null]],"body":{}}]'], ['[{"headers":{"a":"1","a":"2"}}]']] },
    );
    expect(errors).toEqual([]);
    expect(counters.get('GenericProcessingFail') ?? 0).toBe(0);
  });

  it("reads what Gson's lenient mode reads, as Flume does: the same events, 500 for a null event, in any chunking", async () => {
    const { port, got, errors } = await start();
    await fc.assert(
      fc.asyncProperty(lenientBody, fc.integer({ min: 1, max: 7 }), async (body, size) => {
        got.length = 0;
        const bytes = Buffer.from(body.text);
        expect(await post(port, bytes)).toBe(body.status);
        if (body.status === 200) expect(got[0] ?? []).toEqual(body.events);
        // The reader alone, fed in small chunks that split characters and tokens.
        const scan = new EventArrayScan('UTF-8', 100, 1000);
        let result: ReturnType<EventArrayScan['end']> | undefined;
        for (let i = 0; i < bytes.length && !result; i += size) result = scan.feed(bytes.subarray(i, i + size));
        result ??= scan.end();
        if (body.status === 200) expect(Array.isArray(result) && result.map((e) => JSON.stringify([e.headers, e.body.toString('base64')]))).toEqual(body.events);
        else expect(result).toMatchObject({ status: 500 });
      }),
      { numRuns: 300 },
    );
    expect(errors).toEqual([]);
  });

  it('answers 200 up to maxEventsPerRequest events and maxFieldsPerRequest fields, 503 / 413 past them', async () => {
    const { port, errors } = await start({ maxEventsPerRequest: 5, maxFieldsPerRequest: 12 });
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 9 }), async (events) => {
        const fields = events.reduce((n, e) => n + Object.keys(e).length + Object.keys(e.headers ?? {}).length, 0);
        const status = events.length > 5 ? 503 : fields > 12 ? 413 : 200;
        // When both are past, the one reached first while reading decides.
        const got = await post(port, JSON.stringify(events));
        if (events.length > 5 && fields > 12) expect([413, 503]).toContain(got);
        else expect(got).toBe(status);
      }),
      { numRuns: 200 },
    );
    expect(errors).toEqual([]);
  });

  it('scans UTF-16 and UTF-32 bodies (either byte order, with or without a BOM) as it scans UTF-8', async () => {
    const { port, got, errors } = await start({ maxEventsPerRequest: 5 });
    const postAs = (body: Buffer, charset: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', agent, headers: { 'content-type': `application/json; charset=${charset}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
    const utf32 = (text: string, le: boolean) => {
      const points = Array.from(text, (c) => c.codePointAt(0)!);
      const out = Buffer.alloc(points.length * 4);
      points.forEach((cp, i) => (le ? out.writeUInt32LE(cp, i * 4) : out.writeUInt32BE(cp, i * 4)));
      return out;
    };
    const encodings: Record<string, [string, (t: string) => Buffer]> = {
      'utf-16 BE': ['UTF-16', (t) => Buffer.from(t, 'utf16le').swap16()],
      'utf-16 BE BOM': ['UTF-16', (t) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()])],
      'utf-16 LE BOM': ['UTF-16', (t) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')])],
      'utf-32 BE': ['UTF-32', (t) => utf32(t, false)],
      'utf-32 LE BOM': ['UTF-32', (t) => Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), utf32(t, true)])],
    };
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 8 }), fc.constantFrom(...Object.keys(encodings)), async (events, name) => {
        const [charset, encode] = encodings[name]!;
        got.length = 0;
        const status = await postAs(encode(JSON.stringify(events)), charset);
        expect(status).toBe(events.length > 5 ? 503 : 200);
        if (status === 200) expect(got[0]).toHaveLength(events.length);
      }),
      { numRuns: 200 },
    );
    expect(errors).toEqual([]);
  });

  it('puts exactly the valid requests sent around garbage, in order, on one keep-alive connection', async () => {
    const { port, got, errors } = await start({ maxEventsPerRequest: 20 });
    const lone = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', agent: lone, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
    const garbage = fc.oneof(mutated, fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1')), fc.constant(`[${'{},'.repeat(30)}{}]`));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), validBody, garbage), { minLength: 1, maxLength: 8 }), async (steps) => {
          got.length = 0;
          const want: string[][] = [];
          for (const [valid, good, bad] of steps) {
            const body = Buffer.from(valid ? good : bad, valid ? 'utf8' : 'latin1');
            const status = await send(body);
            if (valid) {
              expect(status).toBe(200);
              want.push((JSON.parse(good) as { headers?: Record<string, unknown>; body?: string | null }[]).map((e) => JSON.stringify([Object.fromEntries(Object.entries(e.headers ?? {}).map(([k, v]) => [k, String(v)])), Buffer.from(e.body ?? '').toString('base64')])));
            } else if (status === 200) {
              // A mutation that happened to stay valid is a valid request too.
              want.push(got[got.length - 1]!);
            }
          }
          expect(got).toEqual(want);
        }),
        { numRuns: 100 },
      );
    } finally {
      lone.destroy();
    }
    expect(errors).toEqual([]);
  });
});

