/**
 * The syslog sources against a real Apache Flume 1.11.0 agent: the same bytes go to Flume's
 * `syslogtcp`, `multiport_syslogtcp` and `syslogudp` sources and to rxflume's syslogTcpSource,
 * multiportSyslogTcpSource and syslogUdpSource, input by input, and the events each stores (every
 * header and the body, byte for byte) must be the same. Flume's events are read back through its avro
 * sink into an rxflume avroSource, which carries headers and body bytes unchanged.
 *
 * Each input is sent from its own loopback address (127.1.x.y), so `clientIPHeader` tells which input
 * an event came from; the multiport source (which has no clientIPHeader in Flume) gets a port of its
 * own per input and tells them apart by `portHeader`. A marker per source, sent once every input is
 * in, says all has arrived.
 *
 * The sources: syslogtcp with keepFields none, true and "hostname timestamp"; syslogudp with keepFields
 * none and true; both with clientHostnameHeader too; multiport_syslogtcp with portHeader; eventSize
 * 100 on each (syslogudp ignores it, in Flume and in rxflume's mapping of Flume keys). Inputs: RFC 3164
 * and 5424, nil and missing fields, invalid PRI, impossible dates, messages at and over eventSize,
 * CRLF, empty lines, multi-byte and invalid UTF-8, octet-counted framing, several lines per datagram.
 *
 * Normalised before comparing (`normalised`, below): the `ip` and `port` headers (which input it was;
 * that `ip` holds the sender's address on both sides is what finds an input's events at all); Flume's
 * stale `priority`/`version` on messages it cannot parse (its SyslogUtils never clears them; pinned
 * in 'tcp: an invalid line after a valid one'); for multiport, a timestamp of the time of arrival
 * (a nil timestamp, stamped on both sides) and the year of RFC 3164 stamps (Flume's multiport parser
 * puts them in 2001; pinned in 'mp: RFC 3164'). The `timestamp` of an RFC 3164 message (no year) is
 * otherwise computed from the current year on both sides, in the same time zone (both run on this
 * machine), so it compares equal. Where Flume is plainly wrong, the case is a `differs` case pinning
 * both sides, with the reason (for docs/differences-from-flume.md); a pinned difference that goes
 * away fails too.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import type { Batch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';
import { avroSource } from '../../lib/sources/avroSource.js';
import { multiportSyslogTcpSource } from '../../lib/sources/syslog/multiportSyslogTcpSource.js';
import { syslogTcpSource } from '../../lib/sources/syslog/syslogTcpSource.js';
import { syslogUdpSource } from '../../lib/sources/syslog/syslogUdpSource.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { flumeEnv, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { listening, recordingSink, sleep, waitFor } from '../support/net.js';

const env = flumeEnv();
const EVENT_SIZE = 100;

/** The sources compared: Flume's config keys beside the same options for rxflume. */
const SOURCES = {
  tcp: { type: 'syslogtcp', keepFields: 'none' },
  tcpAll: { type: 'syslogtcp', keepFields: 'true' },
  tcpSome: { type: 'syslogtcp', keepFields: 'hostname timestamp' },
  mp: { type: 'multiport_syslogtcp', keepFields: 'none' },
  udp: { type: 'syslogudp', keepFields: 'none' },
  udpAll: { type: 'syslogudp', keepFields: 'true' },
  // With clientHostnameHeader = name as well.
  tcpName: { type: 'syslogtcp', keepFields: 'none' },
  udpName: { type: 'syslogudp', keepFields: 'none' },
} as const;
type Kind = keyof typeof SOURCES;
const KINDS = Object.keys(SOURCES) as Kind[];

interface Case {
  name: string;
  /** TCP: written in order on one connection, then closed; UDP: one datagram each. */
  writes: Array<string | Buffer>;
  /** The sources it goes to (default tcp, mp, udp). */
  kinds?: Kind[];
  /** Known differences, per source: why, and a check pinning what each side does. */
  differs?: Partial<Record<Kind, Differ>>;
}

interface Differ {
  why: string;
  check: (flume: View[], ours: View[]) => void;
}

interface View {
  headers: Record<string, string>;
  body: string;
}

const bytes = (...b: number[]): Buffer => Buffer.from(b);
const line = (s: string): string => `${s}\n`;
const KEEP: Kind[] = ['tcp', 'tcpAll', 'tcpSome', 'udp', 'udpAll'];
const TCP_UDP: Kind[] = ['tcp', 'udp'];
const ALL3: Kind[] = ['tcp', 'mp', 'udp'];

/** The same difference on several sources. */
const on = (kinds: Kind[], why: string, check: Differ['check']): Partial<Record<Kind, Differ>> => Object.fromEntries(kinds.map((k) => [k, { why, check }]));
const ts = (v: View[], i = 0): string | undefined => v[i]?.headers['timestamp'];
const invalid = (v: View[], i = 0): boolean => v[i]?.headers['flume.syslog.status'] === 'Invalid';
/** Bodies as Flume stores what it parsed: decoded as UTF-8 (bad bytes become U+FFFD) and encoded again. */
const reencoded = (v: View): string => (v.body.startsWith('base64:') ? Buffer.from(v.body.slice(7), 'base64').toString('utf8') : v.body);

const STALE =
  "Flume's SyslogUtils never clears the priority and version it read last: a message it cannot parse carries those of the connection's (syslogudp: the source's) previous message";
const PRI_PAST_191 = 'Flume takes any 1–3 digit priority (its multiport parser up to 5 digits), giving facilities past 23; rxflume flags it Invalid and keeps the message whole';
const ROLLED = 'Flume rolls an impossible date over (Feb 30 → Mar 2, 24:00 → the next day; its multiport parser gives timestamp 0 or drops the read); rxflume flags it Invalid and keeps the message whole';
const REENCODED = 'Flume decodes a parsed message as UTF-8 and encodes it again, so bytes that are not UTF-8 (or a character cut at eventSize) become U+FFFD; rxflume keeps the bytes';
const OCTETS = 'rxflume also takes RFC 6587 octet-counted frames (a message starting with digits and a space); Flume frames by newline only';
const EMPTY_MSG = 'Flume stores the whole raw message as body when the message after the header is empty; rxflume stores the empty message';
const CRLF = "Flume's syslogtcp/syslogudp patterns end in `.*$`, which does not match the \\r of CRLF: the header is not parsed and the raw line is the body; rxflume parses it (the \\r stays in the body)";
const MP_LOST = "Flume's multiport source loses the whole read when one line throws anything but IllegalArgumentException (an empty line, a date java.time refuses)";

const cases: Case[] = [
  { name: 'RFC 3164', writes: [line("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")], kinds: [...KEEP, 'mp'] },
  { name: 'RFC 3164, a single-digit day (two spaces)', writes: [line('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!')] },
  { name: 'RFC 3164 without a host', writes: [line('<13>Feb  5 17:32:18 nohost')] },
  { name: 'RFC 5424', writes: [line('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event')], kinds: [...KEEP, 'mp'] },
  {
    name: 'RFC 5424, microseconds and an offset',
    writes: [line('<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It is time')],
    differs: on(TCP_UDP, "Flume's first date pattern (yyyy-MM-dd'T'HH:mm:ss.S) takes the fraction and stops before the offset: the time is read as local time", (f, r) => {
      expect(ts(f)).toBe(String(new Date(2003, 7, 24, 5, 14, 15).getTime()));
      expect(ts(r)).toBe(String(Date.UTC(2003, 7, 24, 12, 14, 15)));
    }),
  },
  { name: 'RFC 5424, an offset without fraction', writes: [line('<165>1 2003-08-24T05:14:15-07:00 host app - - - msg')] },
  { name: 'RFC 5424, Z without fraction', writes: [line('<165>1 2003-08-24T05:14:15Z host app - - - msg')] },
  {
    name: 'RFC 5424, one fraction digit',
    writes: [line('<165>1 2003-08-24T05:14:15.5Z host msg')],
    differs: on(TCP_UDP, "SimpleDateFormat's S reads the fraction .5 as 5 milliseconds", (f, r) => {
      expect(ts(f)).toBe(String(Date.UTC(2003, 7, 24, 5, 14, 15, 5)));
      expect(ts(r)).toBe(String(Date.UTC(2003, 7, 24, 5, 14, 15, 500)));
    }),
  },
  {
    name: 'RFC 5424, no zone',
    writes: [line('<165>1 2003-08-24T05:14:15 host msg')],
    differs: on(['mp'], "Flume's multiport parser requires the offset (as RFC 5424 does) and flags the message Invalid; rxflume reads local time, as Flume's syslogtcp does", (f, r) => {
      expect(invalid(f)).toBe(true);
      expect(ts(r)).toBe(String(new Date(2003, 7, 24, 5, 14, 15).getTime()));
    }),
  },
  {
    name: 'RFC 5424, nil timestamp',
    writes: [line('<165>1 - host app - - - msg')],
    kinds: [...KEEP, 'mp'],
    differs: on(['tcpSome'], "Flume prepends Java's `null` for a nil timestamp kept in the body; rxflume keeps the `-` of the message", (f, r) => {
      expect([f[0]!.body, r[0]!.body]).toEqual(['null host app - - - msg', '- host app - - - msg']);
    }),
  },
  {
    name: 'RFC 5424, nil host',
    writes: [line('<165>1 2003-10-11T22:14:15.003Z - app msg')],
    kinds: [...KEEP, 'mp'],
    differs: on(['tcpSome'], "Flume prepends Java's `null` for a nil host name kept in the body; rxflume keeps the `-` of the message", (f, r) => {
      expect([f[0]!.body, r[0]!.body]).toEqual(['2003-10-11T22:14:15.003Z null app msg', '2003-10-11T22:14:15.003Z - app msg']);
    }),
  },
  { name: 'no timestamp, no host', writes: [line('<13>hello world')], kinds: [...KEEP, 'mp'] },
  { name: 'PRI 0', writes: [line('<0>Oct 11 22:14:15 host msg')] },
  { name: 'clientHostnameHeader: the name of the sender (reverse lookup)', writes: [line('<13>1 - host named')], kinds: ['tcpName', 'udpName'] },
  { name: 'PRI 191', writes: [line('<191>Oct 11 22:14:15 host msg')] },
  ...(['192', '999', '1234'] as const).map(
    (pri): Case => ({
      name: `PRI ${pri}`,
      writes: [line(`<${pri}>Oct 11 22:14:15 host msg`)],
      differs: on(pri === '1234' ? ['mp'] : ALL3, PRI_PAST_191, (f, r) => {
        expect(f[0]!.headers['Facility']).toBe(String(Math.floor(Number(pri) / 8)));
        expect(invalid(r)).toBe(true);
      }),
    }),
  ),
  { name: 'PRI missing', writes: [line('Oct 11 22:14:15 host msg')] },
  { name: 'PRI empty', writes: [line('<>Oct 11 22:14:15 host msg')] },
  { name: 'PRI with a letter', writes: [line('<1a>Oct 11 22:14:15 host msg')] },
  ...[
    ['RFC 3164 on Feb 30', '<13>Feb 30 10:00:00 host msg', '0'],
    ['RFC 5424 on Feb 30', '<13>1 2023-02-30T10:00:00Z host msg', undefined],
    ['RFC 5424 at 24:00', '<13>1 2023-02-01T24:00:00Z host msg', undefined],
  ].map(
    ([name, text, mpStamp]): Case => ({
      name: name!,
      writes: [line(text!)],
      differs: {
        ...on(TCP_UDP, ROLLED, (f, r) => {
          expect(ts(f)).toMatch(/^\d+$/);
          expect(invalid(r)).toBe(true);
        }),
        mp: {
          why: ROLLED,
          check: (f, r) => {
            if (mpStamp) expect(ts(f)).toBe(mpStamp);
            else expect(f).toEqual([]);
            expect(invalid(r)).toBe(true);
          },
        },
      },
    }),
  ),
  {
    name: 'RFC 3164, an unknown month',
    writes: [line('<13>Foo 12 10:00:00 host msg')],
    differs: on(['mp'], "Flume's multiport parser gives timestamp 0 to a date it cannot read; rxflume leaves the header out, as Flume's syslogtcp does", (f, r) => {
      expect(ts(f)).toBe('0');
      expect({ ...r[0]!.headers, timestamp: '0' }).toEqual(f[0]!.headers);
    }),
  },
  { name: `over eventSize (${EVENT_SIZE})`, writes: [line(`<13>Oct 11 22:14:15 host ${'x'.repeat(150)}`)] },
  {
    name: 'exactly eventSize',
    writes: [line(`<13>Oct 11 22:14:15 host ${'x'.repeat(EVENT_SIZE - 25)}`)],
    differs: on(['mp'], MP_LOST, (f, r) => {
      expect(f).toEqual([]);
      expect(r).toHaveLength(1);
    }),
  },
  { name: 'eventSize - 1', writes: [line(`<13>Oct 11 22:14:15 host ${'x'.repeat(EVENT_SIZE - 26)}`)] },
  {
    name: 'a multi-byte character across eventSize',
    writes: [line(`<13>Oct 11 22:14:15 host ${'x'.repeat(EVENT_SIZE - 26)}é tail`)],
    differs: {
      tcp: { why: REENCODED, check: (f, r) => expect(f).toEqual([{ ...r[0]!, body: reencoded(r[0]!) }, r[1]]) },
      mp: {
        why: "Flume's multiport source flags a line that does not decode as Invalid and keeps it whole; rxflume parses it and keeps the bytes",
        check: (f, r) => expect([invalid(f), invalid(r)]).toEqual([true, false]),
      },
    },
  },
  {
    name: 'CRLF',
    writes: ['<13>Oct 11 22:14:15 host crlf\r\n<13>1 2003-10-11T22:14:15.003Z host app - - - crlf5424\r\n'],
    kinds: [...KEEP, 'mp'],
    differs: on(KEEP, CRLF, (f, r) => {
      expect(f[0]!.headers['host']).toBeUndefined();
      expect(f[0]!.body).toBe('<13>Oct 11 22:14:15 host crlf\r');
      expect(r[0]!.headers['host']).toBe('host');
    }),
  },
  {
    name: 'empty lines',
    writes: ['\n\n<13>Oct 11 22:14:15 host a\n\n\n<13>Oct 11 22:14:15 host b\n'],
    differs: on(['mp'], MP_LOST, (f, r) => {
      expect(f).toEqual([]);
      expect(r.map((e) => e.body)).toEqual(['a', 'b']);
    }),
  },
  { name: 'multi-byte characters', writes: [line('<13>Oct 11 22:14:15 host héllo € 😀 ünïcödé')] },
  {
    name: 'invalid UTF-8',
    writes: [Buffer.concat([Buffer.from('<13>Oct 11 22:14:15 host bad '), bytes(0xff, 0xfe, 0xc3), Buffer.from('\n')])],
    differs: {
      ...on(TCP_UDP, REENCODED, (f, r) => expect(f).toEqual([{ ...r[0]!, body: reencoded(r[0]!) }])),
      mp: {
        why: "Flume's multiport source flags a line that does not decode as Invalid and keeps it whole; rxflume parses it and keeps the bytes",
        check: (f, r) => expect([invalid(f), invalid(r)]).toEqual([true, false]),
      },
    },
  },
  {
    name: 'octet-counted frame',
    writes: ['24 <13>1 - host app - - - m'],
    differs: on(['tcp', 'mp'], OCTETS, (f, r) => {
      expect(f).toEqual([]); // no newline: nothing until the connection closes, then lost
      expect(r.map((e) => e.body)).toEqual(['app - - - m']);
    }),
  },
  {
    name: 'octet-counted, then newline framing',
    writes: ['24 <13>1 - host app - - - m25 <13>1 - host app - - - m2\n'],
    differs: on(['tcp', 'mp'], OCTETS, (f, r) => {
      expect(f.map((e) => e.body)).toEqual(['24 <13>1 - host app - - - m25 <13>1 - host app - - - m2']);
      expect(r.map((e) => e.body)).toEqual(['app - - - m', 'app - - - m2']);
    }),
  },
  {
    name: 'a line starting with digits and a space',
    writes: [line('12 monkeys <13>1 - host x')],
    differs: on(['tcp', 'mp'], OCTETS, (f, r) => {
      expect(f.map((e) => e.body)).toEqual(['12 monkeys <13>1 - host x']);
      expect(r.map((e) => e.body)).toEqual(['monkeys <13>', '-', ' host x']);
    }),
  },
  {
    name: 'empty message after the header',
    writes: ['<13>Oct 11 22:14:15 host \n<13>1 - host \n'],
    differs: on(ALL3, EMPTY_MSG, (f, r) => {
      expect(f[0]!.body).toBe('<13>Oct 11 22:14:15 host ');
      expect(r[0]!.body).toBe('');
      expect({ ...r[0]!, body: f[0]!.body }).toEqual(f[0]);
    }),
  },
  { name: 'no newline at the end (TCP: then closed)', writes: ['<13>Oct 11 22:14:15 host first\n<13>Oct 11 22:14:15 host last'] },
  {
    name: 'an invalid line after a valid one',
    writes: ['<13>1 - host app a\nnot syslog\n<14>Oct 11 22:14:15 other b\n'],
    differs: on(['tcp'], STALE, (f, r) => {
      expect(f[1]!.headers).toMatchObject({ priority: '13', version: '1', 'flume.syslog.status': 'Invalid' });
      expect(r[1]!.headers).toEqual({ Facility: '0', Severity: '0', 'flume.syslog.status': 'Invalid' });
    }),
  },
  { name: 'two datagrams (UDP) / writes (TCP) of one message each', writes: [line('<13>1 - host one'), line('<13>1 - host two')] },
  { name: 'two lines in one datagram', writes: ['<13>1 - host first\n<13>1 - host second\n'], kinds: ['udp'] },
  {
    name: 'a datagram of 3000 bytes',
    writes: [`<13>1 - host ${'u'.repeat(2987)}`],
    kinds: ['udp'],
    differs: on(
      ['udp'],
      "Flume 1.11 reads a datagram into Netty's default 2048-byte buffer and silently drops the rest, though its SyslogUtils is set to 65536 (and ignores the eventSize key); rxflume takes the whole datagram, up to 65536 bytes",
      (f, r) => {
        expect(f.map((e) => [e.body.length, e.headers['flume.syslog.status']])).toEqual([[2048 - 13, undefined]]);
        expect(r.map((e) => e.body.length)).toEqual([2987]);
      },
    ),
  },
  { name: 'a datagram without newline', writes: ['<13>Oct 11 22:14:15 host no newline'], kinds: ['udp'] },
  { name: 'an empty datagram and a lone newline', writes: ['\n', Buffer.alloc(0), '<13>1 - host after'], kinds: ['udp'] },
];

/** One input sent to one source: its loopback address and, for multiport, its port on each side. */
interface Probe {
  c: Case;
  kind: Kind;
  ip: string;
  flumePort: number;
  ourPort: number;
}

const MARK = '<13>1 - marker marker';

async function sendTcp(port: number, localAddress: string, writes: Array<string | Buffer>): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  for (const w of writes) {
    socket.write(w);
    await sleep(50);
  }
  await new Promise<void>((r) => socket.end(() => r()));
  await sleep(50);
  socket.destroy();
}

async function sendUdp(port: number, localAddress: string, writes: Array<string | Buffer>): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, localAddress, () => r()));
  for (const w of writes) {
    await new Promise<void>((resolve, reject) => socket.send(w, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await sleep(20);
  }
  socket.close();
}

const view = (e: FlumeEvent): View => {
  const headers = { ...e.headers } as Record<string, string>;
  delete headers['ip'];
  delete headers['port'];
  const text = e.body.toString('utf8');
  return { headers, body: Buffer.from(text, 'utf8').equals(e.body) ? text : `base64:${e.body.toString('base64')}` };
};

describe.skipIf(env.skip)(`syslog sources vs Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  const subscriptions: Subscription[] = [];
  const fromFlume = recordingSink();
  const ours = recordingSink();
  const probes: Probe[] = [];

  beforeAll(async () => {
    // Probes: every case on each of its sources, each from its own address.
    for (const c of cases)
      for (const kind of c.kinds ?? ALL3) {
        const n = probes.length;
        probes.push({ c, kind, ip: `127.1.${Math.floor(n / 200)}.${(n % 200) + 1}`, flumePort: 0, ourPort: 0 });
      }
    const mpProbes = probes.filter((p) => p.kind === 'mp');

    const a = listening();
    subscriptions.push(avroSource({ name: 'from-flume', bind: '127.0.0.1', port: 0, onListening: a.onListening }).pipe(memoryChannel({ capacity: 10_000 })).subscribe(fromFlume));
    const avroPort = await a.port;

    // rxflume's sources.
    const ourPorts: Partial<Record<Kind, number>> = {};
    const start = (source: Observable<Batch>): void => void subscriptions.push(source.pipe(memoryChannel({ capacity: 10_000 })).subscribe(ours));
    const common = { bind: '127.0.0.1', eventSize: EVENT_SIZE, clientIPHeader: 'ip' } as const;
    const keep = (k: string): 'none' | 'all' | Array<'hostname' | 'timestamp'> => (k === 'none' ? 'none' : k === 'true' ? 'all' : ['hostname', 'timestamp']);
    for (const kind of KINDS) {
      if (kind === 'mp') continue;
      const l = listening();
      const { type, keepFields } = SOURCES[kind];
      const name = kind.endsWith('Name') ? { clientHostnameHeader: 'name' } : {};
      const opts = { ...common, ...name, name: kind, port: 0, keepFields: keep(keepFields), onListening: l.onListening };
      // Flume's syslogudp ignores its eventSize key (65536 always), and so does rxflume's mapping of it.
      start(type === 'syslogudp' ? syslogUdpSource({ ...opts, eventSize: undefined }) : syslogTcpSource(opts));
      ourPorts[kind] = await l.port;
    }
    const mpPorts: number[] = [];
    const mpAll = new Promise<void>((resolve) => {
      const onListening = ({ port }: { port: number }): void => {
        mpPorts.push(port);
        if (mpPorts.length === mpProbes.length + 1) resolve();
      };
      start(multiportSyslogTcpSource({ name: 'mp', bind: '127.0.0.1', ports: [...mpProbes, undefined].map(() => 0), eventSize: EVENT_SIZE, portHeader: 'port', onListening }));
    });
    await mpAll;

    // Flume's.
    const flumePorts: Partial<Record<Kind, number>> = {};
    const free = await freePorts(KINDS.length + mpProbes.length + 1);
    for (const kind of KINDS) if (kind !== 'mp') flumePorts[kind] = free.pop()!;
    const flumeMpPorts = free.slice(0, mpProbes.length + 1);
    mpProbes.forEach((p, i) => {
      p.flumePort = flumeMpPorts[i]!;
      p.ourPort = mpPorts[i]!;
    });
    const sourceConf = KINDS.map((kind) => {
      const s = SOURCES[kind];
      const lines = [`type = ${s.type}`, 'host = 127.0.0.1', `eventSize = ${EVENT_SIZE}`, `keepFields = ${s.keepFields}`, 'channels = c'];
      if (kind === 'mp') lines.push(`ports = ${flumeMpPorts.join(' ')}`, 'portHeader = port');
      else lines.push(`port = ${flumePorts[kind]}`, 'clientIPHeader = ip', ...(kind.endsWith('Name') ? ['clientHostnameHeader = name'] : []));
      return lines.map((l) => `a1.sources.${kind}.${l}`).join('\n');
    }).join('\n');
    agent = await startFlumeAgent({
      conf: `
a1.sources = ${KINDS.join(' ')}
a1.channels = c
a1.sinks = k
${sourceConf}
a1.channels.c.type = memory
a1.channels.c.capacity = 10000
a1.channels.c.transactionCapacity = 1000
a1.sinks.k.type = avro
a1.sinks.k.hostname = 127.0.0.1
a1.sinks.k.port = ${avroPort}
a1.sinks.k.channel = c
`,
    });
    for (const kind of KINDS) await agent.waitForLog(new RegExp(`(type: SOURCE, name: ${kind} started|source ${kind} started)`));
    await agent.waitForLog(/type: SINK, name: k started/);

    // Every probe, both sides at once, a few at a time.
    const send = (p: Probe, side: 'flume' | 'ours'): Promise<void> => {
      if (p.kind === 'mp') return sendTcp(side === 'flume' ? p.flumePort : p.ourPort, p.ip, p.c.writes);
      const port = (side === 'flume' ? flumePorts : ourPorts)[p.kind]!;
      return SOURCES[p.kind].type === 'syslogudp' ? sendUdp(port, p.ip, p.c.writes) : sendTcp(port, p.ip, p.c.writes);
    };
    for (let i = 0; i < probes.length; i += 16) await Promise.all(probes.slice(i, i + 16).flatMap((p) => [send(p, 'flume'), send(p, 'ours')]));
    await sleep(500);
    // Markers: one per source, sent last.
    const markIp = '127.1.250.1';
    for (const kind of KINDS) {
      if (kind === 'mp') {
        await sendTcp(flumeMpPorts[mpProbes.length]!, markIp, [line(MARK)]);
        await sendTcp(mpPorts[mpProbes.length]!, markIp, [line(MARK)]);
      } else {
        const sendIt = SOURCES[kind].type === 'syslogudp' ? sendUdp : sendTcp;
        await sendIt(flumePorts[kind]!, markIp, [line(MARK)]);
        await sendIt(ourPorts[kind]!, markIp, [line(MARK)]);
      }
    }
    const marked = (events: FlumeEvent[]): number => events.filter((e) => e.body.toString().endsWith('marker')).length;
    await waitFor(() => marked(fromFlume.events) === KINDS.length && marked(ours.events) === KINDS.length, 'every marker on both sides', 60_000);
  }, 180_000);

  afterAll(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await agent?.stop();
  }, 60_000);

  const eventsOf = (events: FlumeEvent[], p: Probe, side: 'flume' | 'ours'): View[] =>
    events.filter((e) => (p.kind === 'mp' ? e.headers['port'] === String(side === 'flume' ? p.flumePort : p.ourPort) : e.headers['ip'] === p.ip)).map(view);

  for (const c of cases)
    for (const kind of c.kinds ?? ALL3) {
      const differs = c.differs?.[kind];
      it(`${kind}: ${c.name}${differs ? ` (differs: ${differs.why})` : ''}`, () => {
        const p = probes.find((x) => x.c === c && x.kind === kind)!;
        const f = normalised(kind, eventsOf(fromFlume.events, p, 'flume'), differs?.why === STALE, true);
        const r = normalised(kind, eventsOf(ours.events, p, 'ours'), false, false);
        if (!differs) {
          expect(f, 'Flume stored nothing from this input: the case would compare nothing').not.toEqual([]);
          return expect(r).toEqual(f);
        }
        differs.check(f, r);
        expect(r, 'a pinned difference that is gone: drop its differs').not.toEqual(f);
      });
    }

  it("mp: RFC 3164 (differs: Flume's multiport parser dates RFC 3164 stamps in 2001)", () => {
    const p = probes.find((x) => x.c === cases[0] && x.kind === 'mp')!;
    const [f, r] = [eventsOf(fromFlume.events, p, 'flume'), eventsOf(ours.events, p, 'ours')];
    expect(new Date(Number(ts(f))).getUTCFullYear()).toBe(2001);
    expect(new Date(Number(ts(r))).getFullYear()).toBeGreaterThan(2020);
  });
});

/**
 * What legitimately differs, or is pinned elsewhere: Flume's stale priority/version on what it cannot
 * parse (pinned in 'tcp: an invalid line after a valid one'); for multiport, the time of arrival that
 * stamps a nil timestamp (both sides: `now`), and the year of RFC 3164 stamps (pinned in 'mp: RFC 3164').
 */
function normalised(kind: Kind, events: View[], keepStale: boolean, flume: boolean): View[] {
  return events.map((e) => {
    const headers = { ...e.headers };
    const unparsed = headers['flume.syslog.status'] === 'Invalid' || (e.body.startsWith('<') && !headers['host'] && !headers['timestamp']);
    if (flume && !keepStale && kind !== 'mp' && unparsed) {
      delete headers['priority'];
      delete headers['version'];
    }
    const t = headers['timestamp'];
    if (kind === 'mp' && t !== undefined && t !== '0') {
      const d = new Date(Number(t));
      if (Math.abs(d.getTime() - Date.now()) < 600_000) headers['timestamp'] = 'now';
      else if (d.getUTCFullYear() === 2001 || Math.abs(d.getFullYear() - new Date().getFullYear()) <= 1) headers['timestamp'] = `(year) ${d.toISOString().slice(5)}`;
    }
    return { headers, body: e.body };
  });
}
