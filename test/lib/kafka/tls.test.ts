/**
 * Flume's Kafka security keys end to end: a broker of its own with an SSL and a SASL_SSL (PLAIN)
 * listener, its certificate signed by a CA made with keytool; Flume properties (JKS trust store,
 * sasl.jaas.config) mapped by the agent's mapOptions, kafkaSink producing over TLS and kafkaSource
 * reading back. Without the trust store, or with a wrong password, producing fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapOptions } from '../../../lib/agent/build.js';
import { createBatch } from '../../../lib/core/batch.js';
import type { ComponentSpec } from '../../../lib/core/config.js';
import { text, type FlumeEvent } from '../../../lib/core/event.js';
import { pipe } from '../../../lib/core/pipe.js';
import type { Sink } from '../../../lib/core/sink.js';
import { kafkaSink, kafkaSinkSpec } from '../../../lib/sinks/kafkaSink.js';
import { observerSink } from '../../../lib/sinks/observerSink.js';
import { kafkaSource, kafkaSourceSpec } from '../../../lib/sources/kafkaSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { freePort, startBroker, type Broker } from '../../../scripts/kafka.js';
import { kafkaEnv, uniqueTopic, waitFor } from '../../support/kafka.js';
import { keytool as keytoolEnv, keytoolIn } from '../../support/keytool.js';

const kafka = kafkaEnv();

function options(spec: ComponentSpec, props: Record<string, string>): Record<string, unknown> {
  const located = new Map(Object.entries(props).map(([key, value], i) => [key, { key, value, line: i + 1 }]));
  const { options: mapped, problems } = mapOptions(spec, located, new Set());
  expect(problems.map((p) => p.message)).toEqual([]);
  return { ...mapped, logLevel: 'nothing' };
}

function deliver(sink: Sink, events: readonly FlumeEvent[]): Promise<void> {
  return new Promise((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
}

const skip = kafka.skip || keytoolEnv.skip;
const note = kafka.skip ? kafka.note : keytoolEnv.note;

describe.skipIf(skip)(`Kafka over TLS and SASL_SSL from Flume keys${note}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-kafka-tls-'));
  const at = (f: string) => join(dir, f);
  let broker: Broker | undefined;
  let ssl = '';
  let saslSsl = '';

  beforeAll(async () => {
    const keytool = keytoolIn(dir);
    keytool('-genkeypair', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=rxflume test CA', '-ext', 'bc:c', '-validity', '30');
    keytool('-exportcert', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-rfc', '-file', 'ca.pem');
    keytool('-genkeypair', '-keystore', 'broker.p12', '-storetype', 'PKCS12', '-storepass', 'brokerpass', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=localhost', '-validity', '30');
    keytool('-certreq', '-keystore', 'broker.p12', '-storetype', 'PKCS12', '-storepass', 'brokerpass', '-alias', 'broker', '-file', 'broker.csr');
    keytool('-gencert', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-infile', 'broker.csr', '-outfile', 'broker.pem', '-rfc', '-ext', 'san=dns:localhost,ip:127.0.0.1', '-validity', '30');
    keytool('-importcert', '-keystore', 'broker.p12', '-storetype', 'PKCS12', '-storepass', 'brokerpass', '-alias', 'ca', '-file', 'ca.pem', '-noprompt');
    keytool('-importcert', '-keystore', 'broker.p12', '-storetype', 'PKCS12', '-storepass', 'brokerpass', '-alias', 'broker', '-file', 'broker.pem', '-noprompt');
    keytool('-importcert', '-keystore', 'truststore.jks', '-storetype', 'JKS', '-storepass', 'trustpass', '-alias', 'ca', '-file', 'ca.pem', '-noprompt');

    const [port, controllerPort, sslPort, saslPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    ssl = `127.0.0.1:${sslPort}`;
    saslSsl = `127.0.0.1:${saslPort}`;
    broker = await startBroker({
      port,
      controllerPort,
      autoCreateTopics: true,
      heapMb: 384,
      ...(kafka.major ? { major: kafka.major } : {}),
      properties: {
        listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslPort}`,
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslPort}`,
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
        'ssl.keystore.location': at('broker.p12'),
        'ssl.keystore.type': 'PKCS12',
        'ssl.keystore.password': 'brokerpass',
        'ssl.key.password': 'brokerpass',
        'sasl.enabled.mechanisms': 'PLAIN',
        'listener.name.sasl_ssl.plain.sasl.jaas.config':
          'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";',
      },
    });
  }, 240_000);

  afterAll(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const trust = (prefix: string, password = 'trustpass') => ({
    [`${prefix}ssl.truststore.location`]: at('truststore.jks'),
    [`${prefix}ssl.truststore.password`]: password,
  });
  const jaas = (password: string) => `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="${password}";`;

  async function roundTrip(bootstrap: string, producer: Record<string, string>, consumer: Record<string, string>): Promise<void> {
    const topic = uniqueTopic('tls');
    const sink = kafkaSink(options(kafkaSinkSpec, { 'kafka.bootstrap.servers': bootstrap, 'kafka.topic': topic, ...producer }) as never);
    const events = Array.from({ length: 10 }, (_, i) => ({ headers: {}, body: Buffer.from(`secure ${i}`) }));
    await deliver(sink, events);
    sink.complete();
    await sink.closed;
    const seen: FlumeEvent[] = [];
    const pipeline = pipe(
      kafkaSource({
        ...options(kafkaSourceSpec, { 'kafka.bootstrap.servers': bootstrap, 'kafka.topics': topic, 'kafka.consumer.auto.offset.reset': 'earliest', ...consumer }),
        groupId: uniqueTopic('tls-g'),
        batchDurationMs: 50,
      } as never),
      memoryChannel(),
      observerSink((e) => seen.push(e)),
    );
    try {
      await waitFor(() => seen.length >= 10, '10 events over TLS');
    } finally {
      await pipeline.stop();
    }
    expect(seen.map((e) => text(e))).toEqual(events.map((e) => text(e)));
  }

  it('SSL with a JKS trust store: kafkaSink produces and kafkaSource reads back', async () => {
    await roundTrip(ssl, { 'kafka.producer.security.protocol': 'SSL', ...trust('kafka.producer.') }, { 'kafka.consumer.security.protocol': 'SSL', ...trust('kafka.consumer.') });
  }, 90_000);

  it('SASL_SSL with PLAIN credentials from sasl.jaas.config', async () => {
    const sasl = (prefix: string) => ({
      [`${prefix}security.protocol`]: 'SASL_SSL',
      [`${prefix}sasl.mechanism`]: 'PLAIN',
      [`${prefix}sasl.jaas.config`]: jaas('alice-secret'),
      ...trust(prefix),
    });
    await roundTrip(saslSsl, sasl('kafka.producer.'), sasl('kafka.consumer.'));
  }, 90_000);

  it('fails without the trust store (unknown CA) and with a wrong SASL password', async () => {
    const produceOnce = async (props: Record<string, string>): Promise<unknown> => {
      const sink = kafkaSink({
        ...options(kafkaSinkSpec, { 'kafka.topic': uniqueTopic('tls-no'), 'kafka.producer.retries': '0', ...props }),
        connectionTimeoutMs: 3000,
      } as never);
      try {
        await deliver(sink, [{ headers: {}, body: Buffer.from('x') }]);
        return undefined;
      } catch (error) {
        return error;
      } finally {
        sink.complete();
        await sink.closed;
      }
    };
    const untrusted = await produceOnce({ 'kafka.bootstrap.servers': ssl, 'kafka.producer.security.protocol': 'SSL' });
    expect(String((untrusted as Error | undefined)?.message)).toMatch(/cannot connect to Kafka.*(certificate|self.signed|issuer)/i);
    const badPassword = await produceOnce({
      'kafka.bootstrap.servers': saslSsl,
      'kafka.producer.security.protocol': 'SASL_SSL',
      'kafka.producer.sasl.mechanism': 'PLAIN',
      'kafka.producer.sasl.jaas.config': jaas('wrong'),
      ...trust('kafka.producer.'),
    });
    expect(String((badPassword as Error | undefined)?.message)).toMatch(/cannot connect to Kafka.*(SASL|authentication)/i);
  }, 90_000);
});
