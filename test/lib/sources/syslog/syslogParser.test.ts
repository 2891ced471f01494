import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { keepFieldsFromFlume, parseSyslog, SyslogFramer, type Frame } from '../../../../lib/sources/syslog/syslogParser.js';

const now = Date.UTC(2024, 5, 15, 12, 0, 0);
const parse = (text: string | Buffer, keepFields: 'none' | 'all' | ('priority' | 'version' | 'timestamp' | 'hostname')[] = 'none') =>
  parseSyslog(Buffer.isBuffer(text) ? text : Buffer.from(text), { keepFields, now });

describe('parseSyslog', () => {
  it('parses RFC 5424 into Flume headers, the rest of the message is the body', () => {
    const e = parse('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
    expect(e.headers).toEqual({ Facility: '20', Severity: '5', priority: '165', version: '1', timestamp: String(Date.UTC(2003, 9, 11, 22, 14, 15, 3)), host: 'mymachine.example.com' });
    expect(e.body.toString()).toBe('evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
  });

  it('honours zone offsets and nil values in RFC 5424', () => {
    expect(parse('<13>1 2003-08-24T05:14:15.000003-07:00 h m').headers['timestamp']).toBe(String(Date.UTC(2003, 7, 24, 12, 14, 15, 0)));
    const nil = parse('<13>1 - - msg');
    expect(nil.headers).toEqual({ Facility: '1', Severity: '5', priority: '13', version: '1' });
    expect(nil.body.toString()).toBe('msg');
  });

  it('parses RFC 3164 with the year that keeps it near now', () => {
    const e = parse('<34>Oct 11 22:14:15 mymachine su: bad su');
    expect(e.headers['Facility']).toBe('4');
    expect(e.headers['Severity']).toBe('2');
    expect(e.headers['host']).toBe('mymachine');
    // Oct is more than a month after June 2024: the previous year.
    expect(e.headers['timestamp']).toBe(String(new Date(2023, 9, 11, 22, 14, 15).getTime()));
    expect(e.body.toString()).toBe('su: bad su');
    expect(parse('<34>Jun  5 01:02:03 h x').headers['timestamp']).toBe(String(new Date(2024, 5, 5, 1, 2, 3).getTime()));
  });

  it('keeps fields in the body as Flume does', () => {
    const msg = '<34>Oct 11 22:14:15 mymachine su: bad';
    expect(parse(msg, 'all').body.toString()).toBe(msg);
    expect(parse(msg, ['priority', 'timestamp', 'hostname']).body.toString()).toBe('<34>Oct 11 22:14:15 mymachine su: bad');
    expect(parse('<13>1 - host m', ['version', 'hostname']).body.toString()).toBe('1 host m');
    expect(keepFieldsFromFlume('true')).toBe('all');
    expect(keepFieldsFromFlume('none')).toBe('none');
    expect(keepFieldsFromFlume('priority hostname')).toEqual(['priority', 'hostname']);
  });

  it('flags invalid messages and keeps them whole', () => {
    for (const bad of ['no priority', '<>x', '<1234>x', '<1a>x', '<13']) {
      const e = parse(bad);
      expect(e.headers).toEqual({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
      expect(e.body.toString()).toBe(bad);
    }
    // A valid priority with an unparseable header: Flume keeps the whole message, unflagged.
    expect(parse('<13>garbage').headers).toEqual({ Facility: '1', Severity: '5' });
    expect(parse('<13>garbage').body.toString()).toBe('<13>garbage');
  });

  it('flags a priority above 191 Invalid and keeps the message whole (no facility past 23)', () => {
    for (const bad of ['<192>1 2003-10-11T22:14:15Z host app - - hi', '<999>Oct 11 22:14:15 mymachine su: x', '<200>garbage']) {
      const e = parse(bad);
      expect(e.headers, bad).toEqual({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
      expect(e.body.toString()).toBe(bad);
    }
    expect(parse('<191>1 - - x').headers).toEqual({ Facility: '23', Severity: '7', priority: '191', version: '1' });
    expect(parse('<0>1 - - x').headers['Facility']).toBe('0');
  });

  it('flags impossible RFC 5424 dates Invalid instead of rolling them over', () => {
    for (const stamp of [
      '2023-02-29T10:00:00Z',
      '2023-04-31T10:00:00Z',
      '2023-13-01T10:00:00Z',
      '2023-00-10T10:00:00Z',
      '2023-01-00T10:00:00Z',
      '2023-01-01T24:00:00Z',
      '2023-01-01T23:60:00Z',
      '2023-01-01T23:59:60Z',
      '2023-01-01T10:00:00+24:00',
      '2023-01-01T10:00:00+05:60',
      '9999-99-99T99:99:99',
    ]) {
      const bad = `<13>1 ${stamp} host app - - msg`;
      const e = parse(bad);
      expect(e.headers, stamp).toEqual({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
      expect(e.body.toString()).toBe(bad);
    }
    expect(parse('<13>1 2024-02-29T23:59:59.5+14:00 h m').headers['timestamp']).toBe(String(Date.UTC(2024, 1, 29, 9, 59, 59, 500)));
    // Four-digit years below 100 are those years, not 19xx.
    expect(parse('<13>1 0050-06-01T00:00:00Z h m').headers['timestamp']).toBe(String(new Date('0050-06-01T00:00:00Z').getTime()));
  });

  it('flags impossible RFC 3164 dates Invalid', () => {
    for (const stamp of ['Feb 30 10:00:00', 'Apr 31 10:00:00', 'Jan 32 10:00:00', 'Jan  0 10:00:00', 'Jan 11 24:00:00', 'Jan 11 10:60:00', 'Jan 11 10:00:60', 'Feb 29 10:00:00']) {
      const bad = `<34>${stamp} mymachine su: x`;
      const e = parseSyslog(Buffer.from(bad), { keepFields: 'none', now: Date.UTC(2023, 5, 15) });
      expect(e.headers, stamp).toEqual({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
      expect(e.body.toString()).toBe(bad);
    }
    // Feb 29 exists in the year the window picks (2024, a leap year).
    expect(parseSyslog(Buffer.from('<34>Feb 29 10:00:00 h x'), { keepFields: 'none', now: Date.UTC(2024, 2, 10) }).headers['timestamp']).toBe(String(new Date(2024, 1, 29, 10).getTime()));
  });

  it('flags incomplete messages', () => {
    expect(parseSyslog(Buffer.from('<13>1 - - cut'), { keepFields: 'none', now, incomplete: true }).headers['flume.syslog.status']).toBe('Incomplete');
  });

  it('property: never throws; always has Facility and Severity; invalid ones keep their bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const e = parseSyslog(buf, { keepFields: 'none', now });
        expect(Number(e.headers['Facility'])).toBeLessThanOrEqual(23);
        expect(e.headers['Facility']).toMatch(/^\d+$/);
        expect(e.headers['Severity']).toMatch(/^[0-7]$/);
        if (e.headers['flume.syslog.status'] === 'Invalid') expect(e.body.equals(buf)).toBe(true);
        expect(parseSyslog(buf, { keepFields: 'all', now }).body.equals(buf)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: generated RFC 5424 messages give back their fields', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9.-]{0,15}$/);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 191 }),
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) }),
        name,
        fc.uint8Array({ maxLength: 100 }),
        (pri, ms, host, msg) => {
          const stamp = new Date(ms).toISOString();
          const raw = Buffer.concat([Buffer.from(`<${pri}>1 ${stamp} ${host} `), Buffer.from(msg)]);
          const e = parseSyslog(raw, { keepFields: 'none', now });
          expect(e.headers).toEqual({ Facility: String(pri >> 3), Severity: String(pri & 7), priority: String(pri), version: '1', timestamp: String(ms), host });
          expect(e.body.equals(Buffer.from(msg))).toBe(true);
        },
      ),
    );
  });
});

describe('SyslogFramer', () => {
  const frame = (chunks: Buffer[], max = 2500): Frame[] => {
    const f = new SyslogFramer(max);
    const out: Frame[] = [];
    for (const c of chunks) f.push(c, out);
    return out;
  };

  it('splits newline and octet-counted messages, mixed on one stream', () => {
    const out = frame([Buffer.from('<1>a\n\n10 <2>b\nc d e<3>f\n12abc\n')]);
    expect(out.map((f) => f.bytes.toString())).toEqual(['<1>a', '<2>b\nc d e', '<3>f', '12abc']);
  });

  it('cuts long newline messages (the rest is the next message) and octet-counted ones (the rest is skipped)', () => {
    const out = frame([Buffer.from(`<1>${'x'.repeat(20)}\n24 <2>${'y'.repeat(21)}<3>z\n`)], 10);
    expect(out.map((f) => [f.bytes.toString(), f.incomplete])).toEqual([
      ['<1>xxxxxxx', true],
      ['xxxxxxxxxx', true],
      ['xxx', false],
      ['<2>yyyyyyy', true],
      ['<3>z', false],
    ]);
  });

  it('property: any framing of any messages, cut into any chunks, gives the messages back', () => {
    const message = fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b.map((x) => (x === 10 ? 32 : x))));
    fc.assert(
      fc.property(fc.array(fc.tuple(message, fc.boolean()), { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (messages, cuts) => {
        // Newline framing only for messages that cannot be mistaken for a length.
        const wire = Buffer.concat(
          messages.map(([m, counted]) =>
            counted || (m[0]! >= 0x31 && m[0]! <= 0x39) ? Buffer.concat([Buffer.from(`${m.length} `), m]) : Buffer.concat([m, Buffer.from('\n')]),
          ),
        );
        const chunks: Buffer[] = [];
        for (let i = 0, k = 0; i < wire.length; k++) {
          const n = cuts[k % cuts.length]!;
          chunks.push(wire.subarray(i, i + n));
          i += n;
        }
        const out = frame(chunks);
        expect(out.map((f) => f.bytes.toString('hex'))).toEqual(messages.map(([m]) => m.toString('hex')));
        expect(out.every((f) => !f.incomplete)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseSyslog, as Flume 1.11 does it (differential suite: test/interop/syslog.test.ts)', () => {
  it('an RFC 3164 stamp with a month name Java does not know: parsed, without a timestamp header', () => {
    const e = parse('<13>Foo 12 10:00:00 host msg');
    expect(e.headers).toEqual({ Facility: '1', Severity: '5', priority: '13', host: 'host' });
    expect(e.body.toString()).toBe('msg');
  });

  it("multiport (Flume's SyslogParser): Priority and Version headers, the nil timestamp is now", () => {
    const e = parseSyslog(Buffer.from('<165>1 - host app msg'), { keepFields: 'none', now, multiport: true });
    expect(e.headers).toEqual({ Facility: '20', Severity: '5', Priority: '165', Version: '1', timestamp: String(now), host: 'host' });
    expect(e.body.toString()).toBe('app msg');
    const r3164 = parseSyslog(Buffer.from('<34>Jun  5 01:02:03 h x'), { keepFields: 'none', now, multiport: true });
    expect(r3164.headers).toEqual({ Facility: '4', Severity: '2', Priority: '34', timestamp: String(new Date(2024, 5, 5, 1, 2, 3).getTime()), host: 'h' });
  });

  it('multiport: the nil host name is kept as the header host = -', () => {
    const e = parseSyslog(Buffer.from('<165>1 2003-10-11T22:14:15.003Z - app msg'), { keepFields: 'none', now, multiport: true });
    expect(e.headers['host']).toBe('-');
    expect(parse('<165>1 2003-10-11T22:14:15.003Z - app msg').headers['host']).toBeUndefined();
  });

  it('multiport: what it cannot read carries only flume.syslog.status Invalid, a header that does not parse too', () => {
    for (const text of ['no priority', '<13>Feb  5 17:32:18 nohost', '<13>hello world', '<192>1 - h m']) {
      const e = parseSyslog(Buffer.from(text), { keepFields: 'none', now, multiport: true });
      expect(e.headers, text).toEqual({ 'flume.syslog.status': 'Invalid' });
      expect(e.body.toString()).toBe(text);
    }
  });
});
