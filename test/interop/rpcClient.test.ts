/**
 * The RPC client and the pino transport against a real Apache Flume 1.11.0 agent (one JVM for the
 * file): createRpcClient (default, deflate, loadBalance) → Flume avro sources → file_roll
 * (header_and_text), events and headers compared; pino.transport({ target: rxflume/pino }) in a
 * worker thread → Flume and → an rxflume agent (the CLI, avro → file_roll). Both load dist/ (built here).
 * The receiving agents run in other processes: pino's end() blocks this thread until the worker is done.
 * Flume's own Java client (RpcClientFactory, run from a probe source file) and rpcClientFromProperties,
 * given the same client.properties, pick the same host for every call (load balancing with a dead
 * host and back-off, failover past a dead first host, failover while hosts die and come back).
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, transport as pinoTransport } from 'pino';
import { createRpcClient, rpcClientFromProperties } from '../../lib/client/rpcClient.js';
import { event, type FlumeEvent } from '../../lib/core/event.js';
import { avroSource } from '../../lib/sources/avroSource.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { ensureFlumeJars } from '../../scripts/flume.js';
import { runJava } from '../support/javaProbe.js';
import { listening, recordingSink, sleep, waitFor, type RecordingSink } from '../support/net.js';
import { startCli, scratch } from '../support/cli.js';
import { buildDist, root } from '../support/examples.js';
import { flumeEnv, freePort, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { rolledHeaderAndText, type HeaderAndText } from '../support/sideBySide.js';

const env = flumeEnv();

const TRANSPORT = join(root, 'dist/lib/client/pinoTransport.js');
const rolled = (dir: string, count: number): Promise<HeaderAndText[]> => rolledHeaderAndText(dir, { count, timeoutMs: 60_000 });
const plain = (events: readonly FlumeEvent[]): HeaderAndText[] => events.map((e) => ({ headers: e.headers, body: e.body.toString() }));

/** Flume's Java client: `java -cp <flume libs>/* RpcClientProbe.java client.properties <calls> [paced]` sends appendBatch calls of 3 events tagged with their call number. */
const PROBE = `
import java.io.FileReader;
import java.io.Reader;
import java.util.*;
import org.apache.flume.Event;
import org.apache.flume.EventDeliveryException;
import org.apache.flume.api.RpcClient;
import org.apache.flume.api.RpcClientFactory;
import org.apache.flume.event.EventBuilder;

public class RpcClientProbe {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (Reader r = new FileReader(args[0])) { props.load(r); }
    RpcClient client = RpcClientFactory.getInstance(props);
    // With a third argument, each call waits for a line on stdin (the test changes the hosts in between).
    java.io.BufferedReader paced = args.length > 2 ? new java.io.BufferedReader(new java.io.InputStreamReader(System.in)) : null;
    for (int k = 0; k < Integer.parseInt(args[1]); k++) {
      if (paced != null && paced.readLine() == null) break;
      List<Event> batch = new ArrayList<>();
      for (int i = 0; i < 3; i++) batch.add(EventBuilder.withBody(("call " + k + " event " + i).getBytes("UTF-8"), new HashMap<>(Map.of("call", String.valueOf(k)))));
      try { client.appendBatch(batch); System.out.println("ok " + k); } catch (EventDeliveryException e) { System.out.println("failed " + k); }
      System.out.flush();
    }
    client.close();
  }
}
`;

describe.skipIf(env.skip)(`RPC client and pino transport → Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  let ports: number[] = [];
  beforeAll(async () => {
    buildDist();
    ports = await freePorts(5);
    const sources = ports.map((_, i) => `r${i + 1}`);
    const conf = [
      `a1.sources = ${sources.join(' ')}`,
      `a1.channels = ${sources.map((_, i) => `c${i + 1}`).join(' ')}`,
      `a1.sinks = ${sources.map((_, i) => `k${i + 1}`).join(' ')}`,
      ...ports.flatMap((port, i) => {
        const n = i + 1;
        return [
          `a1.sources.r${n}.type = avro`,
          `a1.sources.r${n}.bind = 127.0.0.1`,
          `a1.sources.r${n}.port = ${port}`,
          ...(n === 2 ? [`a1.sources.r${n}.compression-type = deflate`] : []),
          `a1.sources.r${n}.channels = c${n}`,
          `a1.channels.c${n}.type = memory`,
          `a1.channels.c${n}.capacity = 10000`,
          `a1.channels.c${n}.transactionCapacity = 1000`,
          `a1.sinks.k${n}.type = file_roll`,
          `a1.sinks.k${n}.sink.directory = {{dir}}/out-${n}`,
          `a1.sinks.k${n}.sink.rollInterval = 0`,
          `a1.sinks.k${n}.sink.serializer = header_and_text`,
          `a1.sinks.k${n}.channel = c${n}`,
        ];
      }),
    ].join('\n');
    agent = await startFlumeAgent({ conf, mkdirs: ports.map((_, i) => `out-${i + 1}`) });
    for (const s of sources) await agent.waitForLog(new RegExp(`Avro source ${s} started`));
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
  });

  const host = (n: number) => `127.0.0.1:${ports[n - 1]}`;
  const out = (n: number) => join(agent!.dir, `out-${n}`);

  it('default client: append and appendBatch (split into batch-size calls) arrive in order with their headers', async () => {
    const client = createRpcClient({ hosts: [host(1)], batchSize: 100 });
    const sent = [event('single', { kind: 'append' }), ...Array.from({ length: 999 }, (_, i) => event(`body ${i} é`, { i: String(i), kind: 'batch' }))];
    await client.append(sent[0]!);
    await client.appendBatch(sent.slice(1));
    await client.close();
    expect(await rolled(out(1), sent.length)).toEqual(plain(sent));
  });

  it('deflate: the client compresses as a Flume source with compression-type deflate expects', async () => {
    const client = createRpcClient({ hosts: [host(2)], compressionType: 'deflate' });
    const sent = Array.from({ length: 300 }, (_, i) => event('x'.repeat(100) + i, { i: String(i) }));
    await client.appendBatch(sent);
    await client.close();
    expect(await rolled(out(2), sent.length)).toEqual(plain(sent));
  });

  it('loadBalance round_robin alternates calls between two Flume sources', async () => {
    const client = createRpcClient({ type: 'loadBalance', hosts: [host(3), host(4)] });
    for (let k = 0; k < 10; k++) await client.appendBatch(Array.from({ length: 10 }, (_, i) => event(`lb${k * 10 + i}`, { call: String(k) })));
    await client.close();
    const [a, b] = [await rolled(out(3), 50), await rolled(out(4), 50)];
    expect(a.map((e) => e.headers.call)).toEqual(['0', '2', '4', '6', '8'].flatMap((c) => Array<string>(10).fill(c)));
    expect(b.map((e) => e.headers.call)).toEqual(['1', '3', '5', '7', '9'].flatMap((c) => Array<string>(10).fill(c)));
  });

  describe("the same client.properties in Flume's Java client and in rpcClientFromProperties", () => {
    const CALLS = 8;

    /** Three hosts: rxflume avroSources, but the `dead` one's port is left unbound. */
    async function hosts(dead: number): Promise<{ sinks: RecordingSink[]; props: Record<string, string>; stop(): void }> {
      const sinks: RecordingSink[] = [];
      const subs: { unsubscribe(): void }[] = [];
      const addresses: string[] = [];
      for (let i = 0; i < 3; i++) {
        if (i === dead) {
          addresses.push(`127.0.0.1:${await freePort()}`);
          continue;
        }
        const l = listening();
        const sink = recordingSink();
        subs.push(avroSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening }).pipe(memoryChannel()).subscribe(sink));
        sinks.push(sink);
        addresses.push(`127.0.0.1:${await l.port}`);
      }
      return {
        sinks,
        props: { hosts: 'h1 h2 h3', 'hosts.h1': addresses[0]!, 'hosts.h2': addresses[1]!, 'hosts.h3': addresses[2]!, 'connect-timeout': '5000' },
        stop: () => subs.forEach((s) => s.unsubscribe()),
      };
    }

    /** The calls each live host took, in order. */
    const calls = (sinks: RecordingSink[]): string[][] => sinks.map((s) => [...new Set(s.events.map((e) => e.headers.call!))]);

    for (const [what, dead, extra] of [
      ['load_balance, round_robin, backoff, a dead second host', 1, { 'client.type': 'default_loadbalance', 'host-selector': 'round_robin', backoff: 'true' }],
      ['load_balance, round_robin, no backoff, a dead second host', 1, { 'client.type': 'default_loadbalance', 'host-selector': 'round_robin' }],
      ['failover, a dead first host', 0, { 'client.type': 'default_failover' }],
    ] as const) {
      it(what, async () => {
        const java = await hosts(dead);
        const ours = await hosts(dead);
        const all = (h: { sinks: RecordingSink[] }) => () => h.sinks.reduce((n, s) => n + s.events.length, 0) === 3 * CALLS;
        try {
          const work = scratch('rxflume-rpc-probe-');
          try {
            writeFileSync(join(work.dir, 'client.properties'), Object.entries({ ...java.props, ...extra }).map(([k, v]) => `${k}=${v}`).join('\n'));
            writeFileSync(join(work.dir, 'RpcClientProbe.java'), PROBE);
            const libs = await ensureFlumeJars();
            const run = await runJava(['-cp', `${libs}/*`, join(work.dir, 'RpcClientProbe.java'), join(work.dir, 'client.properties'), String(CALLS)], { timeoutMs: 120_000 });
            expect(run.stdout.trim().split('\n'), run.stderr.slice(-2000)).toEqual(Array.from({ length: CALLS }, (_, k) => `ok ${k}`));
          } finally {
            work.cleanup();
          }
          const client = rpcClientFromProperties({ ...ours.props, ...extra });
          for (let k = 0; k < CALLS; k++) await client.appendBatch([0, 1, 2].map((i) => event(`call ${k} event ${i}`, { call: String(k) })));
          await client.close();
          // Answered OK once the channel stored them; the recording sink takes them a moment later.
          await waitFor(all(java), "the Java client's events");
          await waitFor(all(ours), 'our events');
          expect(calls(ours.sinks)).toEqual(calls(java.sinks));
          expect(calls(java.sinks).flat()).toHaveLength(CALLS);
        } finally {
          java.stop();
          ours.stop();
        }
      }, 180_000);
    }
  });

  it("failover as Flume's FailoverRpcClient when hosts die and come back: next host in order, no fail-back", async () => {
    // Before call k: kill or restart a host. h1 dies before call 2, is back before call 4; h2 dies before call 5.
    const steps: Record<number, ['kill' | 'start', number]> = { 2: ['kill', 0], 4: ['start', 0], 5: ['kill', 1] };
    const CALLS = 7;

    /** Three avroSources on fixed ports; each index's calls kept across restarts. */
    async function cluster() {
      const ports = await freePorts(3);
      const got: string[][] = [[], [], []];
      const running: ({ unsubscribe(): void } | undefined)[] = [];
      const start = async (i: number): Promise<void> => {
        const l = listening();
        running[i] = avroSource({ bind: '127.0.0.1', port: ports[i]!, onListening: l.onListening })
          .pipe(memoryChannel())
          .subscribe({ next: (b) => (got[i]!.push(...b.events.map((e) => e.headers.call!)), b.ack()), error: () => undefined, complete: () => undefined });
        await l.port;
      };
      for (let i = 0; i < 3; i++) await start(i);
      return {
        props: { 'client.type': 'default_failover', hosts: 'h1 h2 h3', ...Object.fromEntries(ports.map((p, i) => [`hosts.h${i + 1}`, `127.0.0.1:${p}`])), 'connect-timeout': '5000' },
        async step(k: number): Promise<void> {
          const step = steps[k];
          if (step?.[0] === 'kill') running[step[1]]!.unsubscribe();
          if (step?.[0] === 'start') {
            await start(step[1]);
            // Past our reconnect back-off (500 ms after one failed connection; Flume has none), so
            // only the failover order decides whether the restarted host is tried.
            await sleep(1200);
          }
        },
        calls: () => got.map((list) => [...new Set(list)]),
        stop: () => running.forEach((r) => r?.unsubscribe()),
      };
    }

    const java = await cluster();
    const ours = await cluster();
    const work = scratch('rxflume-rpc-failover-');
    try {
      const props = join(work.dir, 'client.properties');
      writeFileSync(props, Object.entries(java.props).map(([k, v]) => `${k}=${v}`).join('\n'));
      writeFileSync(join(work.dir, 'RpcClientProbe.java'), PROBE);
      const child = spawn('java', ['-cp', `${await ensureFlumeJars()}/*`, join(work.dir, 'RpcClientProbe.java'), props, String(CALLS), 'paced'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      try {
        for (let k = 0; k < CALLS; k++) {
          await java.step(k);
          child.stdin.write('go\n');
          await waitFor(() => out.split('\n').filter(Boolean).length > k, `the Java client's call ${k}\n${err.slice(-2000)}`, 60_000);
        }
        child.stdin.end();
      } finally {
        clearTimeout(killer);
      }
      expect(out.trim().split('\n')).toEqual(Array.from({ length: CALLS }, (_, k) => `ok ${k}`));

      const client = rpcClientFromProperties(ours.props);
      for (let k = 0; k < CALLS; k++) {
        await ours.step(k);
        await client.appendBatch([0, 1, 2].map((i) => event(`call ${k} event ${i}`, { call: String(k) })));
      }
      await client.close();
      const total = (c: { calls(): string[][] }) => () => c.calls().flat().length >= CALLS;
      await waitFor(total(java), "the Java client's events");
      await waitFor(total(ours), 'our events');
      expect(ours.calls()).toEqual(java.calls());
      expect(java.calls()).toEqual([['0', '1'], ['2', '3', '4'], ['5', '6']]);
    } finally {
      work.cleanup();
      java.stop();
      ours.stop();
    }
  }, 240_000);

  describe('pino.transport in a worker thread', () => {
    const logLines = async (hosts: string[], name: string, n: number): Promise<void> => {
      const transport = pinoTransport({ target: TRANSPORT, options: { hosts, batchSize: 20, lingerMs: 50, headers: { app: name } } });
      const log = pino({ name }, transport);
      for (let i = 0; i < n; i++) (i % 3 === 0 ? log.error : log.info).call(log, { i }, `message ${i}`);
      // pino's end: the worker flushes and closes the transport before 'close'.
      await new Promise<void>((r) => {
        transport.once('close', () => r());
        transport.end();
      });
    };

    const check = (events: HeaderAndText[], name: string, n: number): void => {
      expect(events).toHaveLength(n);
      events.forEach((e, i) => {
        const line = JSON.parse(e.body) as { msg: string; level: number; time: number; name: string };
        expect(line).toMatchObject({ msg: `message ${i}`, name, level: i % 3 === 0 ? 50 : 30 });
        expect(e.headers).toMatchObject({
          app: name,
          level: i % 3 === 0 ? 'error' : 'info',
          'flume.client.log4j.log.level': i % 3 === 0 ? '40000' : '20000',
          'flume.client.log4j.logger.name': name,
          'flume.client.log4j.timestamp': String(line.time),
          'flume.client.log4j.message.encoding': 'UTF8',
        });
      });
    };

    it('→ a Flume avro source: every line arrives with its headers', async () => {
      await logLines([host(5)], 'to-flume', 150);
      check(await rolled(out(5), 150), 'to-flume', 150);
    });

    it('→ an rxflume agent (avro source → file_roll): every line arrives with its headers', async () => {
      const work = scratch('rxflume-pino-');
      try {
        const port = await freePort();
        const out = join(work.dir, 'out');
        mkdirSync(out);
        const conf = work.write(
          'agent.properties',
          [
            'a1.sources = r1',
            'a1.channels = c1',
            'a1.sinks = k1',
            'a1.sources.r1.type = avro',
            'a1.sources.r1.bind = 127.0.0.1',
            `a1.sources.r1.port = ${port}`,
            'a1.sources.r1.channels = c1',
            'a1.channels.c1.type = memory',
            'a1.sinks.k1.type = file_roll',
            `a1.sinks.k1.sink.directory = ${out}`,
            'a1.sinks.k1.sink.rollInterval = 0',
            'a1.sinks.k1.sink.serializer = header_and_text',
            'a1.sinks.k1.channel = c1',
          ].join('\n'),
        );
        const agent = startCli(['agent', '-n', 'a1', '-f', conf, '--no-reload-conf', '--quiet']);
        try {
          await agent.waitFor(/agent started/);
          await logLines([`127.0.0.1:${port}`], 'to-rxflume', 150);
          check(await rolled(out, 150), 'to-rxflume', 150);
        } finally {
          await agent.stop();
        }
      } finally {
        work.cleanup();
      }
    });
  });
});
