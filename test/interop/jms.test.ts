/**
 * The JMS source against a real Apache Flume 1.11.0 agent's, on the run's ActiveMQ broker
 * (test/support/activemqGlobalSetup.ts): the same messages are sent to two queues, one read by Flume's
 * JMS source (OpenWire, with ActiveMQ's javax client: scripts/activemq.ts FLUME_JMS_JARS), the other by
 * rxflume's (AMQP 1.0), each from one properties text (rxflume's loaded with loadAgentConfigTexts, run by
 * runAgent: Flume's keys as written, JNDI keys included) into file_roll (header_and_text). The events must
 * be the same: bodies and headers, for text and bytes messages sent over STOMP and over AMQP, properties
 * of every type, and a map message (an empty body). Flume alone also sees the broker's `JMS_AMQP_*`
 * properties on messages that came in over AMQP (ActiveMQ's record of their AMQP sections): the
 * comparison leaves them out and checks which they are.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfigTexts } from '../../lib/agent/loadConfig.js';
import { runAgent, type RunningAgent } from '../../lib/agent/runAgent.js';
import { FLUME_JMS_JARS, jmsSourceLines } from '../../scripts/activemq.js';
import { activemqEnv, requireActiveMq, sendAmqp, sendStomp, uniqueName, type OutMessage } from '../support/activemq.js';
import { scratch } from '../support/cli.js';
import { flumeEnv, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { flumeExtraJars, withFlumeJars } from '../support/flumeJars.js';
import { rolledHeaderAndText, type HeaderAndText } from '../support/sideBySide.js';

const flume = withFlumeJars(flumeEnv(), FLUME_JMS_JARS);
const mq = activemqEnv();
const env = { skip: flume.skip || mq.skip, note: flume.note || mq.note };

const STOMP: { body: string | Buffer; bytes?: boolean; headers?: Record<string, string> }[] = [
  { body: 'stomp text', headers: { a: '1', region: 'eu' } },
  { body: Buffer.from('stomp bytes'), bytes: true, headers: { kind: 'bytes' } },
];
const AMQP: OutMessage[] = [
  { body: 'amqp text é', properties: { s: 'x', i: 42, yes: true, d: 2.5 } },
  { body: Buffer.from('amqp bytes'), properties: { kind: 'bytes' } },
  { body: { k: 'v' }, properties: { kind: 'map' } },
];
const COUNT = STOMP.length + AMQP.length;

function conf(providerUrl: string, queue: string, out: string): string {
  return `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
${jmsSourceLines(providerUrl, queue, 10).join('\n')}
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.serializer = header_and_text
a1.sinks.k1.sink.rollInterval = 0
`;
}

const byBody = (a: HeaderAndText, b: HeaderAndText): number => (a.body < b.body ? -1 : a.body > b.body ? 1 : 0);

describe.skipIf(env.skip)(`jms source interop with Flume 1.11${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  let ours: RunningAgent | undefined;
  const cleanups: (() => void)[] = [];
  afterAll(async () => {
    await ours?.stop();
    await agent?.stop();
    for (const c of cleanups) c();
  }, 60_000);

  it('makes the same events of the same messages as Flume', async () => {
    const broker = requireActiveMq();
    const queues = { flume: uniqueName('flume-jms'), rxflume: uniqueName('rxflume-jms') };
    for (const queue of Object.values(queues)) {
      await sendStomp(broker.stompPort, `/queue/${queue}`, STOMP);
      await sendAmqp(broker.amqpUrl, `queue://${queue}`, AMQP);
    }
    const work = scratch('jms-interop');
    cleanups.push(() => work.cleanup());
    const ourOut = join(work.dir, 'out');
    mkdirSync(ourOut);
    agent = await startFlumeAgent({
      conf: conf(broker.openwireUrl, queues.flume, '{{dir}}/out'),
      mkdirs: ['out'],
      classpath: await flumeExtraJars(FLUME_JMS_JARS),
      // Flume 1.11 allows only java: JNDI URLs unless told otherwise.
      systemProperties: { JndiAllowedProtocols: 'tcp' },
    });
    const loaded = await loadAgentConfigTexts([{ file: 'jms.conf', text: conf(broker.amqpUrl, queues.rxflume, ourOut) }], 'a1');
    // The JNDI keys are accepted and said to be ignored.
    expect(loaded.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message)).toEqual(
      expect.arrayContaining([expect.stringContaining('ignored: rxflume connects over AMQP 1.0 without JNDI')]),
    );
    ours = runAgent(loaded.topology);

    const [theirs, mine] = await Promise.all([
      rolledHeaderAndText(join(agent.dir, 'out'), { count: COUNT, timeoutMs: 90_000, encoding: 'latin1' }),
      rolledHeaderAndText(ourOut, { count: COUNT, timeoutMs: 90_000, encoding: 'latin1' }),
    ]);
    const amqpOnly = new Set<string>();
    const comparable = theirs.map((e) => ({
      body: e.body,
      headers: Object.fromEntries(
        Object.entries(e.headers).filter(([k]) => {
          if (!k.startsWith('JMS_AMQP_')) return true;
          amqpOnly.add(k);
          return false;
        }),
      ),
    }));
    expect(mine.sort(byBody)).toEqual(comparable.sort(byBody));
    expect(mine.map((e) => e.body)).toEqual(['', 'amqp bytes', 'amqp text Ã©', 'stomp bytes', 'stomp text']);
    expect([...amqpOnly].sort()).toEqual(expect.arrayContaining(['JMS_AMQP_HEADER']));
  }, 240_000);
});
