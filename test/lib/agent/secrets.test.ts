/**
 * Issue #10.5: no secret of a configuration leaves the agent — in `validate`'s diagnostics, the agent's
 * log lines, its failure reports or /metrics. Each broken configuration below plants distinct secrets;
 * every byte the CLI prints is searched for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';
import { runCli, scratch, startCli } from '../../support/cli.js';

const tmp = scratch('rxflume-secrets-');
beforeAll(() => buildDist(), 180_000);
afterAll(() => tmp.cleanup());

const planted = (what: string) => `PLANTED-${what}-Zq7x`;

const base = (rest: string) => `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.channel = c1
${rest}`;

const kafkaSink = `a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:1
a1.sinks.k1.kafka.topic = t
`;

/** name → [configuration text, the secrets it holds, extra CLI arguments, environment] */
const broken: Record<string, { text: string; secrets: string[]; args?: string[]; env?: Record<string, string> }> = {
  'a JAAS entry that does not parse': {
    text: base(`${kafkaSink}a1.sinks.k1.kafka.producer.security.protocol = SASL_PLAINTEXT
a1.sinks.k1.kafka.producer.sasl.mechanism = PLAIN
a1.sinks.k1.kafka.producer.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="${planted('jaas')}" trailing
`),
    secrets: [planted('jaas')],
  },
  'an unquoted JAAS password the parser stops at': {
    text: base(`${kafkaSink}a1.sinks.k1.kafka.producer.security.protocol = SASL_PLAINTEXT
a1.sinks.k1.kafka.producer.sasl.mechanism = PLAIN
a1.sinks.k1.kafka.producer.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="u" ${planted('bare')};
`),
    secrets: [planted('bare')],
  },
  'a trust store that does not exist, with its password': {
    text: base(`${kafkaSink}a1.sinks.k1.kafka.producer.security.protocol = SSL
a1.sinks.k1.kafka.producer.ssl.truststore.location = ${tmp.dir}/missing.jks
a1.sinks.k1.kafka.producer.ssl.truststore.password = ${planted('truststore')}
`),
    secrets: [planted('truststore')],
  },
  'a Kafka channel whose producer and consumer passwords disagree': {
    text: `a1.sources = r1
a1.channels = c1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel
a1.channels.c1.kafka.bootstrap.servers = 127.0.0.1:1
a1.channels.c1.kafka.producer.security.protocol = SSL
a1.channels.c1.kafka.producer.ssl.truststore.password = ${planted('producer')}
a1.channels.c1.kafka.consumer.ssl.truststore.password = ${planted('consumer')}
`,
    secrets: [planted('producer'), planted('consumer')],
  },
  'a keystore password where a number is expected, through an environment variable named as a secret': {
    text: base(`a1.sinks.k1.type = logger
a1.channels.c1.capacity = \${env:DB_PASSWORD}
`),
    secrets: [planted('env')],
    env: { DB_PASSWORD: planted('env') },
  },
  'a password given to a component that has no such option': {
    text: base(`a1.sinks.k1.type = logger
a1.sources.r1.keystorePassword = ${planted('unknown')}
a1.sources.r1.apiToken = ${planted('token')}
`),
    secrets: [planted('unknown'), planted('token')],
  },
  'an https configuration URI with user info that cannot be fetched': {
    text: base('a1.sinks.k1.type = logger\n'),
    secrets: [planted('uri')],
    args: ['-u', `https://operator:${planted('uri')}@127.0.0.1:1/agent.properties`],
  },
};

describe('secrets never leave in messages', () => {
  for (const [name, c] of Object.entries(broken)) {
    it(`validate and agent, ${name}`, async () => {
      const file = tmp.write(`${name.replace(/\W+/g, '-')}.properties`, c.text);
      const env = { ...process.env, ...c.env };
      for (const command of ['validate', 'agent']) {
        const r = await runCli([command, '-n', 'a1', '-f', file, '--no-reload-conf', ...(c.args ?? [])].filter((a) => command === 'agent' || a !== '--no-reload-conf'), 30_000, env);
        const all = r.stdout + r.stderr;
        expect(r.code, all).toBe(2);
        expect(all).toMatch(/error/);
        for (const secret of c.secrets) expect(all).not.toContain(secret);
        expect(all).not.toMatch(/^\s+at /m);
      }
    });
  }

  it('a running agent with secrets: its logs, its failing sink and /metrics do not show them', async () => {
    const file = tmp.write(
      'running.properties',
      base(`${kafkaSink}a1.sinks.k1.kafka.producer.security.protocol = SASL_PLAINTEXT
a1.sinks.k1.kafka.producer.sasl.mechanism = PLAIN
a1.sinks.k1.kafka.producer.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="${planted('running')}";
a1.sinks.k1.kafka.producer.request.timeout.ms = 500
a1.sources.r1.totalEvents = 10
`),
    );
    const agent = startCli(['agent', '-n', 'a1', '-f', file, '--monitor-port', '0', '--log-level', 'debug', '--quiet']);
    await agent.waitFor(/monitoring server listening/);
    const port = Number(/"port":(\d+)/.exec(agent.output())![1]);
    // The sink cannot reach its broker: its failure is logged (once, with the cause).
    await agent.waitFor(/"component":"k1".*failed/, 30_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const prometheus = await (await fetch(`http://127.0.0.1:${port}/metrics/prometheus`)).text();
    const result = await agent.stop('SIGKILL');
    const all = result.stdout + result.stderr + metrics + prometheus;
    expect(metrics).toContain('"SINK.k1"');
    expect(all).not.toContain(planted('running'));
  }, 60_000);
});
