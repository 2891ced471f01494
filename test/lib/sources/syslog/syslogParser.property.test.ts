/**
 * Fuzzing the syslog parser and TCP framer with bytes from outside: they never throw, never hold
 * more than their bounds, flag exactly the impossible, and a valid message around garbage still
 * comes out whole.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSyslog, SyslogFramer, type Frame } from '../../../../lib/sources/syslog/syslogParser.js';
import { retainedBytes } from '../../../support/hostile.js';

const now = Date.UTC(2024, 5, 15, 12, 0, 0);
const INVALID = { Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' };

/** Cuts `wire` into chunks of the given sizes, cycling through them. */
function chunked(wire: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < wire.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(wire.subarray(i, i + n));
    i += n;
  }
  return out;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

describe('parseSyslog (property)', () => {
  it('never throws; facility ≤ 23, priority ≤ 191, timestamps are integers; Invalid keeps the bytes whole', () => {
    const head = fc.oneof(
      fc.integer({ min: 0, max: 999 }).map((p) => `<${p}>`),
      fc.constantFrom('<', '<>', '<1a>', '', '<13', '<0013>'),
    );
    const stamp = fc.oneof(
      fc.constant('-'),
      fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
        .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}Z`),
      fc.tuple(fc.constantFrom('Jan', 'Feb', 'Foo', 'Dec'), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([m, d, h]) => `${m} ${d} ${pad(h, 2)}:00:00`),
    );
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.tuple(head, fc.constantFrom('1 ', '', '2'), stamp, fc.constantFrom(' host ', ' - ', '  '), fc.string({ maxLength: 20 })).map((parts) => Buffer.from(parts.join(''))),
    );
    fc.assert(
      fc.property(message, fc.constantFrom<'none' | 'all'>('none', 'all'), fc.boolean(), (frame, keepFields, incomplete) => {
        const e = parseSyslog(frame, { keepFields, now, incomplete });
        expect(Number(e.headers['Facility'])).toBeLessThanOrEqual(23);
        expect(Number(e.headers['Severity'])).toBeLessThanOrEqual(7);
        if (e.headers['priority'] !== undefined) expect(Number(e.headers['priority'])).toBeLessThanOrEqual(191);
        if (e.headers['timestamp'] !== undefined) expect(e.headers['timestamp']).toMatch(/^-?\d+$/);
        if (e.headers['flume.syslog.status'] === 'Invalid') {
          expect(e.headers).toEqual(INVALID);
          expect(e.body.equals(frame)).toBe(true);
        }
        if (keepFields === 'all') expect(e.body.equals(frame)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('flags an RFC 5424 stamp Invalid exactly when its date, time or offset does not exist; otherwise gives its instant', () => {
    const field = (max: number) => fc.integer({ min: 0, max });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }),
        field(13),
        field(32),
        field(25),
        field(61),
        field(61),
        fc.option(fc.tuple(fc.constantFrom('+', '-'), field(25), field(61)), { nil: undefined }),
        (y, mo, d, h, mi, s, zone) => {
          const offset = zone ? `${zone[0]}${pad(zone[1], 2)}:${pad(zone[2], 2)}` : 'Z';
          const raw = `<13>1 ${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${offset} host app - - m`;
          const e = parseSyslog(Buffer.from(raw), { keepFields: 'none', now });
          // Existence decided independently: a UTC date built from the fields must give the same fields back.
          const t = new Date(0);
          t.setUTCFullYear(y, mo - 1, d);
          t.setUTCHours(h, mi, s, 0);
          const exists =
            mo >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s && (!zone || (zone[1] <= 23 && zone[2] <= 59));
          if (!exists) {
            expect(e.headers, raw).toEqual(INVALID);
            return;
          }
          const shift = zone ? (zone[0] === '+' ? -1 : 1) * (zone[1] * 60 + zone[2]) * 60_000 : 0;
          expect(e.headers['timestamp'], raw).toBe(String(t.getTime() + shift));
          expect(e.body.toString()).toBe('app - - m');
        },
      ),
      { numRuns: 3000 },
    );
  });
});

/** Streams mixing garbage, newlines, empty lines and octet counts (true or not). */
const wireArb = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)),
      fc.constantFrom('\n', '\n\n', '<13>1 - h m\n', '12 ', '3 abc', '99999 '),
      fc.integer({ min: 1, max: 30 }).map((n) => `${n} ${'o'.repeat(n)}`),
      fc.string({ maxLength: 50 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));

describe('SyslogFramer (property)', () => {
  it('never throws, never yields a frame over its size, and frames the same whatever the chunking and frame limit', () => {
    fc.assert(
      fc.property(wireArb, fc.array(fc.noBias(fc.integer({ min: 1, max: 200 })), { minLength: 1, maxLength: 5 }), fc.integer({ min: 10, max: 40 }), fc.integer({ min: 1, max: 4 }), (wire, sizes, max, limit) => {
        const whole: Frame[] = [];
        new SyslogFramer(max).push(wire, whole);
        // Fed in chunks, at most `limit` frames per call, the rest of each chunk fed again.
        const framer = new SyslogFramer(max);
        const parts: Frame[] = [];
        for (let chunk of chunked(wire, sizes)) {
          for (let calls = 1; chunk.length > 0; calls++) {
            const out: Frame[] = [];
            const used = framer.push(chunk, out, limit);
            expect(out.length).toBeLessThanOrEqual(limit);
            // Short of its limit, a call consumes the whole chunk.
            if (out.length < limit) expect(used).toBe(chunk.length);
            parts.push(...out);
            chunk = chunk.subarray(used);
            expect(calls).toBeLessThan(1000);
          }
        }
        expect(parts.map((f) => [f.bytes.toString('hex'), f.incomplete])).toEqual(whole.map((f) => [f.bytes.toString('hex'), f.incomplete]));
        for (const f of whole) expect(f.bytes.length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives back a valid message whole after a garbage line, whatever the chunking', () => {
    // Garbage is a newline-framed line: any bytes but a newline, not opening with an octet count (a digit 1–9).
    const garbage = fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b.filter((x) => x !== 10)));
    const safeGarbage = garbage.map((b) => (b.length > 0 && b[0]! >= 0x31 && b[0]! <= 0x39 ? Buffer.concat([Buffer.from('x'), b]) : b));
    const host = fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}$/);
    fc.assert(
      fc.property(safeGarbage, fc.integer({ min: 0, max: 191 }), host, fc.string({ maxLength: 40 }).map((s) => s.replace(/\n/g, ' ')), safeGarbage, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }), (before, pri, h, text, after, sizes) => {
        const valid = `<${pri}>1 2024-06-15T11:00:00.5Z ${h} ${text}`;
        const wire = Buffer.concat([before, Buffer.from('\n'), Buffer.from(valid), Buffer.from('\n'), after, Buffer.from('\n')]);
        const framer = new SyslogFramer(2500);
        const frames: Frame[] = [];
        for (const c of chunked(wire, sizes)) framer.push(c, frames);
        const events = frames.map((f) => parseSyslog(f.bytes, { keepFields: 'none', now, incomplete: f.incomplete }));
        const good = events.filter((e) => e.headers['host'] === h && e.headers['priority'] === String(pri));
        expect(good).toHaveLength(1);
        expect(good[0]!.headers['timestamp']).toBe(String(Date.UTC(2024, 5, 15, 11, 0, 0, 500)));
        expect(good[0]!.body.equals(Buffer.from(text))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('holds at most its size, however much garbage goes through it', () => {
    const framer = new SyslogFramer(2500);
    // No newline and no digit: every message runs to the size limit.
    const chunk = Buffer.alloc(64 * 1024, 'garbage <x> \x00\xff');
    const before = retainedBytes();
    let frames = 0;
    // 64 MB without a newline, then octet counts announcing 999,999,999 bytes.
    for (let i = 0; i < 1024; i++) {
      const out: Frame[] = [];
      framer.push(chunk, out);
      frames += out.length;
    }
    const counted = new SyslogFramer(2500);
    counted.push(Buffer.from('999999999 '), []);
    for (let i = 0; i < 256; i++) counted.push(chunk, []);
    expect(frames).toBeGreaterThan(64 * 1024 * 1024 / 2500 - 10);
    expect(retainedBytes() - before).toBeLessThan(4 * 1024 * 1024);
  });
});
