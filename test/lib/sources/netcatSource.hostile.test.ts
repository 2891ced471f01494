/**
 * netcat (TCP) and netcatudp under hostile clients, in a real agent (child process, default source
 * options): slow senders, floods of lines whose answers are never read, endless lines, truncated and
 * garbage connections, oversized and garbage datagrams — while a good client's line is answered OK
 * (TCP) or stored (UDP) within 5 s, the agent stays alive and under the RSS ceiling (HOSTILE_CEILING_MB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, latenciesWhile, memoryOf, sleep, slowClients, startAgent, until, type AgentProcess, HOSTILE_CEILING_MB } from '../../support/hostile.js';

const CEILING_MB = HOSTILE_CEILING_MB;
const GOOD_WITHIN_MS = 5000;

/** Sends a line on a fresh connection; resolves with what came back once an answer line arrived (or 'timeout' after 20 s). */
function sendLine(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(`${line}\n`));
    const timer = setTimeout(() => (s.destroy(), resolve('timeout')), 20_000);
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(e.code ?? 'error')));
  });
}

/** A client that writes `chunk` up to `times` times, honouring back-pressure, for at most `ms`; never reads. */
function flood(port: number, chunk: Buffer, times: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.pause();
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    const end = Date.now() + ms;
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('connect', async () => {
      for (let i = 0; i < times && Date.now() < end && !s.destroyed; i++) {
        if (!s.write(chunk)) await new Promise((r) => (s.once('drain', r), s.once('close', r)));
      }
      clearTimeout(timer);
      s.destroy();
    });
  });
}

function raw(port: number, bytes: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(bytes);
      setTimeout(() => s.destroy(), 100);
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

describe('netcat and netcatudp against hostile clients (agent in a child process)', () => {
  let agent: AgentProcess;
  let tcp: number;
  let udp: number;

  beforeAll(async () => {
    tcp = await freePort();
    udp = await freePort('udp');
    agent = startAgent(`
a1.sources = tcp udp
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.tcp.type = netcat
a1.sources.tcp.bind = 127.0.0.1
a1.sources.tcp.port = ${tcp}
a1.sources.tcp.channels = c1
a1.sources.udp.type = netcatudp
a1.sources.udp.bind = 127.0.0.1
a1.sources.udp.port = ${udp}
a1.sources.udp.channels = c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = file_roll
a1.sinks.k2.channel = c2
a1.sinks.k2.sink.directory = \${dir}/out
a1.sinks.k2.sink.rollInterval = 0
`);
    await until(async () => (await sendLine(tcp, 'warm-up')) === 'OK\n', 'the agent serving', 60_000);
  }, 240_000);

  afterAll(async () => agent?.stop());

  it(`answers a good client within ${GOOD_WITHIN_MS} ms and stays alive under ${CEILING_MB} MB while attacked`, async () => {
    const base = memoryOf(agent.pid);
    let maxRss = base.rssMb;
    const sampler = setInterval(() => {
      if (agent.alive()) maxRss = Math.max(maxRss, memoryOf(agent.pid).rssMb);
    }, 100);
    // 300 connections sending a byte every 500 ms and never a newline, for 20 s.
    const slow = await slowClients(tcp, 300, () => 'x', 500, 40);
    const sender = createSocket('udp4');
    const datagrams = [Buffer.alloc(65_000, 'o'), Buffer.alloc(0), Buffer.from([0xff, 0, 10, 1]), Buffer.concat([Buffer.from('cut here\n'), Buffer.alloc(60_000, 'r')])];
    const attack = (async () => {
      // Rounds for 15 s (at most 60).
      const started = Date.now();
      for (let round = 0; round < 60 && (round < 1 || Date.now() - started < 15_000); round++) {
        await Promise.all([
          // Empty lines (3 bytes of answer per byte) whose answers are never read; lines that never end.
          ...Array.from({ length: 5 }, () => flood(tcp, Buffer.alloc(64 * 1024, 10), 128, 5000)),
          ...Array.from({ length: 5 }, () => flood(tcp, Buffer.alloc(64 * 1024, 'y'), 64, 5000)),
          // Truncated lines and garbage.
          ...Array.from({ length: 50 }, (_, i) => raw(tcp, `partial line ${i} without its newline`)),
          ...Array.from({ length: 50 }, (_, i) => raw(tcp, Buffer.from(Array.from({ length: 300 }, (_x, j) => (i * 13 + j * 7) % 256)))),
          // Oversized, empty and garbage datagrams, paced in bursts.
          (async () => {
            for (let i = 0; i < 400; i++) {
              sender.send(datagrams[i % datagrams.length]!, udp, '127.0.0.1');
              if (i % 20 === 19) await sleep(10);
            }
          })(),
        ]);
      }
    })();
    let n = 0;
    const tcpLatencies = latenciesWhile(attack, async () => expect(await sendLine(tcp, `good-${n++}`)).toBe('OK\n'), 200, 300);
    const udpLatencies = latenciesWhile(attack, async () => {
      // A datagram may be lost under a flood: it is sent again every 250 ms until stored.
      const mark = `good-udp-${n++}`;
      const out = join(agent.dir, 'out');
      const seen = () => existsSync(out) && readdirSync(out).some((f) => readFileSync(join(out, f), 'latin1').includes(mark));
      for (let i = 0; i < 40 && !seen(); i++) {
        sender.send(`${mark}\n`, udp, '127.0.0.1');
        await sleep(250);
      }
      expect(seen()).toBe(true);
    }, 200, 300);
    const [tcpTimes, udpTimes] = await Promise.all([tcpLatencies, udpLatencies]);
    slow.stop();
    sender.close();
    clearInterval(sampler);
    const after = memoryOf(agent.pid);

    console.log(`netcat hostile: good TCP client max ${Math.round(Math.max(...tcpTimes))} ms (${tcpTimes.length}), UDP max ${Math.round(Math.max(...udpTimes))} ms (${udpTimes.length}); agent RSS ${Math.round(base.rssMb)} → peak ${Math.round(after.peakMb)} MB`);
    expect(agent.alive(), agent.output().slice(-2000)).toBe(true);
    expect(Math.max(...tcpTimes)).toBeLessThan(GOOD_WITHIN_MS);
    expect(Math.max(...udpTimes)).toBeLessThan(GOOD_WITHIN_MS);
    expect(Math.max(maxRss, after.peakMb)).toBeLessThan(CEILING_MB);
    expect(await sendLine(tcp, 'after')).toBe('OK\n');
  }, 240_000);
});
