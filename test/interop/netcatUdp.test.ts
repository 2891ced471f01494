/**
 * The netcat UDP source against Apache Flume 1.11.0's `netcatudp` (issue #13): three sources — no
 * address header, the documented `remoteAddressHeader`, and the `remoteAddress` key Flume 1.11 actually
 * reads — into file_roll with header_and_text, run by a real Flume agent and by the rxflume CLI at once,
 * each sent the same datagrams: with and without a trailing newline, empty, a lone newline, two lines in
 * one datagram, CRLF, multi-byte text, bytes that are not UTF-8, and datagrams at and over 2048 bytes.
 * Each source's events (headers included; the sender's port becomes `<port>`) must be Flume's, in order.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { scratch, type CliResult } from '../support/cli.js';
import { flumeEnv, freePorts } from '../support/flume.js';
import { sleep } from '../support/net.js';
import { rolledHeaderAndText, rolledUntil, runSideBySide, type HeaderAndText, type Side } from '../support/sideBySide.js';

const env = flumeEnv();
/** Netty's default receive buffer for a datagram channel, which Flume's source keeps. */
const NETTY_BUFFER = 2048;

const SOURCES: Record<string, Record<string, string>> = {
  plain: {},
  documented: { remoteAddressHeader: 'remote' },
  flumeKey: { remoteAddress: 'ip' },
};

const DATAGRAMS: Buffer[] = [
  Buffer.from('hello\n'),
  Buffer.from('no newline'),
  Buffer.alloc(0),
  Buffer.from('\n'),
  Buffer.from('first\nsecond\n'),
  Buffer.from('crlf\r\n'),
  Buffer.from('é€😀\n'),
  Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]),
  Buffer.from('a'.repeat(NETTY_BUFFER)),
  Buffer.from(`${'b'.repeat(NETTY_BUFFER - 1)}\n`),
  Buffer.from(`${'c'.repeat(NETTY_BUFFER + 1)}\n`),
  Buffer.from('d'.repeat(5000)),
];

const conf = (ports: number[]) => (out: string): string => {
  let text = `a1.sources = ${Object.keys(SOURCES).join(' ')}\na1.channels = c1\na1.sinks = k1\n`;
  Object.entries(SOURCES).forEach(([name, props], i) => {
    text += `a1.sources.${name}.type = netcatudp\na1.sources.${name}.bind = 127.0.0.1\na1.sources.${name}.port = ${ports[i]}\na1.sources.${name}.channels = c1\n`;
    for (const [k, v] of Object.entries(props)) text += `a1.sources.${name}.${k} = ${v}\n`;
    text += `a1.sources.${name}.interceptors = i\na1.sources.${name}.interceptors.i.type = static\n`;
    text += `a1.sources.${name}.interceptors.i.key = src\na1.sources.${name}.interceptors.i.value = ${name}\n`;
  });
  return `${text}a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.serializer = header_and_text
`;
};

/** Probes every port until each source has stored one (UDP cannot tell when a socket listens), then sends the datagrams and an end mark. */
async function feed(out: string, ports: number[]): Promise<HeaderAndText[]> {
  const socket = createSocket('udp4');
  const send = (port: number, b: Buffer) => new Promise<void>((resolve, reject) => socket.send(b, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  try {
    for (const end = Date.now() + 90_000; ; ) {
      for (const [i, port] of ports.entries()) await send(port, Buffer.from(`probe-${i}`));
      const seen = await rolledHeaderAndText(out, { count: 1, timeoutMs: 1000 });
      if (ports.every((_, i) => seen.some((e) => e.body === `probe-${i}`))) break;
      if (Date.now() > end) throw new Error('the sources never stored a probe');
      await sleep(500);
    }
    for (const port of ports) {
      // One at a time, a little apart: a socket buffer never overflows on a loaded machine.
      for (const d of DATAGRAMS) {
        await send(port, d);
        await sleep(10);
      }
    }
    for (const [i, port] of ports.entries()) await send(port, Buffer.from(`end-${i}`));
    return await rolledUntil(out, ports.map((_, i) => `end-${i}`), { encoding: 'latin1' });
  } finally {
    socket.close();
  }
}

describe.skipIf(env.skip)(`netcat UDP source vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-netcatudp-interop-');
  let flume: HeaderAndText[] = [];
  let ours: HeaderAndText[] = [];
  let cli: CliResult | undefined;

  beforeAll(async () => {
    const ports: Record<Side, number[]> = { flume: await freePorts(3), rxflume: await freePorts(3) };
    ({ flume, rxflume: ours, cli } = await runSideBySide({
      work,
      conf: (out, side) => conf(ports[side])(out),
      collect: (out, side) => feed(out, ports[side]),
      timeoutMs: 120_000,
    }));
  }, 180_000);

  afterAll(() => work.cleanup());

  /** A source's events between its probes and its end mark, the sender's port as `<port>`. */
  const of = (events: HeaderAndText[], src: string): HeaderAndText[] => {
    const mine = events.filter((e) => e.headers['src'] === src && !e.body.startsWith('probe-'));
    return mine.slice(0, mine.findIndex((e) => e.body.startsWith('end-'))).map((e) => ({
      headers: Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, v.replace(/^\/127\.0\.0\.1:\d+$/, '/127.0.0.1:<port>')])),
      body: e.body,
    }));
  };
  const bodies = (events: HeaderAndText[], src: string) => of(events, src).map((e) => e.body);

  it('Flume stored a datagram per event, up to its first newline', () => {
    expect(cli?.stderr ?? '').not.toMatch(/"level":50/);
    expect(bodies(flume, 'plain').slice(0, 8)).toEqual(['hello', 'no newline', '', '', 'first', 'crlf\r', Buffer.from('é€😀').toString('latin1'), 'bad\xff\xfe']);
  });

  /** The datagrams over Netty's 2048-byte buffer, compared apart (the last two sent). */
  const OVER = 2;
  const within = (events: HeaderAndText[]) => events.slice(0, -OVER);

  it('flumeKey: the `remoteAddress` key names the header, as in Flume 1.11; the same events, in order', () => {
    expect(of(flume, 'flumeKey')[0]!.headers).toEqual({ ip: '/127.0.0.1:<port>', src: 'flumeKey' });
    expect(of(flume, 'flumeKey')).toHaveLength(DATAGRAMS.length);
    expect(within(of(ours, 'flumeKey'))).toEqual(within(of(flume, 'flumeKey')));
  });

  it('plain and documented: the same bodies as Flume, in order', () => {
    for (const src of ['plain', 'documented']) {
      expect(of(flume, src)).toHaveLength(DATAGRAMS.length);
      expect(within(of(ours, src)).map((e) => e.body)).toEqual(within(of(flume, src)).map((e) => e.body));
    }
  });

  it('DIFFERS: a datagram over 2048 bytes is cut there by Flume (Netty\'s receive buffer), kept whole by rxflume', () => {
    for (const src of Object.keys(SOURCES)) {
      expect(of(flume, src).slice(-OVER).map((e) => e.body)).toEqual(['c'.repeat(NETTY_BUFFER), 'd'.repeat(NETTY_BUFFER)]);
      expect(of(ours, src).slice(-OVER).map((e) => e.body)).toEqual(['c'.repeat(NETTY_BUFFER + 1), 'd'.repeat(5000)]);
    }
  });

  it('DIFFERS: without `remoteAddress` Flume puts the address under a null header name (`remoteAddressHeader` is not read), rxflume adds none', () => {
    for (const src of ['plain', 'documented']) expect(of(flume, src).map((e) => e.headers)).toEqual(DATAGRAMS.map(() => ({ null: '/127.0.0.1:<port>', src })));
    expect(of(ours, 'plain').map((e) => e.headers)).toEqual(DATAGRAMS.map(() => ({ src: 'plain' })));
    expect(of(ours, 'documented').map((e) => e.headers)).toEqual(DATAGRAMS.map(() => ({ remote: '/127.0.0.1:<port>', src: 'documented' })));
  });
});
