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

/**
 * What Flume's JSONHandler (Gson) makes of a UTF-8 body: 200 for an array of event objects, 500 for
 * no value, `null` or a null event (Flume's NullPointerException), else 400.
 */
function expected(body: Buffer): 200 | 400 | 500 {
  const text = body.toString('utf8');
  if (/^[ \t\n\r]*$/.test(text)) return 500;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 400;
  }
  if (parsed === null) return 500;
  if (!Array.isArray(parsed)) return 400;
  let nullEvent = false;
  for (const item of parsed) {
    // Gson reads the whole list first: a malformed event after a null one is still a 400.
    if (item === null) {
      nullEvent = true;
      continue;
    }
    if (typeof item !== 'object' || Array.isArray(item)) return 400;
    const { headers, body: b } = item as { headers?: unknown; body?: unknown };
    if (headers !== undefined && headers !== null) {
      if (typeof headers !== 'object' || Array.isArray(headers)) return 400;
      if (Object.values(headers).some((v) => v !== null && !['string', 'number', 'boolean'].includes(typeof v))) return 400;
    }
    if (b !== undefined && b !== null && typeof b !== 'string') return 400;
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

describe('httpSource JSON bodies (property)', () => {
  // First in the file, so that this worker's peak RSS has not been raised by anything else yet.
  it('stays within a stated memory bound for the largest hostile bodies, and keeps nothing of them', async () => {
    const { port, errors } = await start();
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
    expect(retainedBytes() - retainedBefore).toBeLessThan(20 * 1024 * 1024);
    expect(errors).toEqual([]);
  });

  it('answers every body as JSON.parse and the event shape say (200, 400 or 500), never more, never throwing', async () => {
    const { port, errors, counters } = await start();
    await fc.assert(
      fc.asyncProperty(anyBody, async (body) => {
        const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
        expect(await post(port, bytes)).toBe(expected(bytes));
      }),
      { numRuns: 400 },
    );
    expect(errors).toEqual([]);
    expect(counters.get('GenericProcessingFail') ?? 0).toBe(0);
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

