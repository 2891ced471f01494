/**
 * The RPC client and the pino transport against a real Apache Flume 1.11.0 agent (one JVM for the
 * file): createRpcClient (default, deflate, loadBalance) → Flume avro sources → file_roll
 * (header_and_text), events and headers compared; pino.transport({ target: rxflume/pino }) in a
 * worker thread → Flume and → an rxflume agent (the CLI, avro → file_roll). Both load dist/ (built here).
 * The receiving agents run in other processes: pino's end() blocks this thread until the worker is done.
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, transport as pinoTransport } from 'pino';
import { createRpcClient } from '../../lib/client/rpcClient.js';
import { event, type FlumeEvent } from '../../lib/core/event.js';
import { startCli, scratch } from '../support/cli.js';
import { buildDist, root } from '../support/examples.js';
import { flumeEnv, freePort, freePorts, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { rolledHeaderAndText, type HeaderAndText } from '../support/sideBySide.js';

const env = flumeEnv();

const TRANSPORT = join(root, 'dist/lib/client/pinoTransport.js');
const rolled = (dir: string, count: number): Promise<HeaderAndText[]> => rolledHeaderAndText(dir, { count, timeoutMs: 60_000 });
const plain = (events: readonly FlumeEvent[]): HeaderAndText[] => events.map((e) => ({ headers: e.headers, body: e.body.toString() }));

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
