/**
 * Flume properties → options of kafkaSink, kafkaSource and kafkaChannel, through the agent's own
 * mapping (mapOptions): security (lib/kafka/security.ts), compression, linger, header maps and the
 * report of pass-through keys kafkajs cannot honour. Reads no file and needs no broker.
 */
import { describe, expect, it } from 'vitest';
import { mapOptions } from '../../../lib/agent/build.js';
import type { ComponentSpec } from '../../../lib/core/config.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { parseJaasConfig } from '../../../lib/kafka/security.js';
import { kafkaSink, kafkaSinkSpec } from '../../../lib/sinks/kafkaSink.js';
import { kafkaSource, kafkaSourceSpec } from '../../../lib/sources/kafkaSource.js';
import { kafkaChannel, kafkaChannelSpec } from '../../../operators/channels/kafkaChannel.js';

interface Mapped {
  options: Record<string, unknown>;
  errors: string[];
  warnings: string[];
  /** The schema's verdict on the options. */
  valid: boolean;
}

function mapFlume(spec: ComponentSpec, props: Record<string, string>): Mapped {
  const located = new Map(Object.entries(props).map(([key, value], i) => [key, { key, value, line: i + 1 }]));
  const { options, problems } = mapOptions(spec, located, new Set());
  const severity = (p: object) => (p as { severity?: string }).severity ?? 'error';
  return {
    options,
    errors: problems.filter((p) => severity(p) === 'error').map((p) => p.message),
    warnings: problems.filter((p) => severity(p) === 'warning').map((p) => p.message),
    valid: spec.schema.safeParse({ ...options, name: 'x' }).success,
  };
}

const sink = (props: Record<string, string>) => mapFlume(kafkaSinkSpec, { 'kafka.bootstrap.servers': 'b:9092', ...props });
const source = (props: Record<string, string>) => mapFlume(kafkaSourceSpec, { 'kafka.bootstrap.servers': 'b:9092', 'kafka.topics': 't', ...props });
const channel = (props: Record<string, string>) => mapFlume(kafkaChannelSpec, { 'kafka.bootstrap.servers': 'b:9092', ...props });

const P = 'kafka.producer.';
const C = 'kafka.consumer.';
const JAAS_PLAIN = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr;t";';
const JAAS_SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username=bob password="p\\"w";';

describe('kafkaSink Flume keys', () => {
  it("maps the Flume User Guide's sink example", () => {
    const m = sink({
      'kafka.topic': 'mytopic',
      'kafka.flumeBatchSize': '20',
      'kafka.producer.acks': '1',
      'kafka.producer.linger.ms': '1',
      'kafka.producer.compression.type': 'snappy',
    });
    expect(m.errors).toEqual([]);
    expect(m.options).toMatchObject({ brokers: ['b:9092'], topic: 'mytopic', batchSize: 20, acks: 1, lingerMs: 1, compression: 'snappy' });
    expect(m.warnings).toEqual([expect.stringMatching(/^`kafka\.producer\.linger\.ms` = "1": has no effect/)]);
    expect(m.valid).toBe(true);
  });

  it('takes compression.type none, gzip, snappy, lz4 and zstd in any case', () => {
    expect(sink({ [`${P}compression.type`]: 'GZIP' }).options['compression']).toBe('gzip');
    expect(sink({ [`${P}compression.type`]: 'none' }).options['compression']).toBe('none');
    expect(sink({ [`${P}compression.type`]: 'LZ4' }).options['compression']).toBe('lz4');
    expect(sink({ [`${P}compression.type`]: 'zstd' }).options['compression']).toBe('zstd');
    expect(sink({ [`${P}compression.type`]: 'brotli' }).errors).toEqual(['`kafka.producer.compression.type` = "brotli": expected one of none, gzip, snappy, lz4, zstd']);
    // kafkaChannel's producer takes the same key.
    expect(channel({ [`${P}compression.type`]: 'zstd' })).toMatchObject({ errors: [], options: { compression: 'zstd' } });
  });

  it("maps Flume 1.11's header.<flumeHeader> = <kafkaHeaderName> onto headerMap", () => {
    const m = sink({ 'header.trace-id': 'X-Trace', 'header.host': 'origin' });
    expect(m.errors).toEqual([]);
    expect(m.options['headerMap']).toEqual({ 'trace-id': 'X-Trace', host: 'origin' });
    expect(m.valid).toBe(true);
    expect(sink({ 'header.a': ' ' }).errors[0]).toMatch(/both non-empty/);
  });

  it('maps SSL with a JKS trust store and hostname verification off, reading no file', () => {
    const m = sink({
      [`${P}security.protocol`]: 'ssl',
      [`${P}ssl.truststore.location`]: '/path/to/truststore.jks',
      [`${P}ssl.truststore.password`]: 'changeit',
      [`${P}ssl.endpoint.identification.algorithm`]: '',
    });
    expect(m.errors).toEqual([]);
    expect(m.options).toMatchObject({
      ssl: true,
      sslStores: { truststore: { location: '/path/to/truststore.jks', password: 'changeit', type: 'JKS' } },
      sslVerifyHostname: false,
    });
    expect(m.valid).toBe(true);
    expect(sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.disableTLSHostnameVerification`]: 'true' }).options).toMatchObject({ ssl: true, sslVerifyHostname: false });
    expect(sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.endpoint.identification.algorithm`]: 'HTTPS' }).options['sslVerifyHostname']).toBeUndefined();
    expect(sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.endpoint.identification.algorithm`]: 'ldaps' }).errors[0]).toMatch(/expected "https"/);
  });

  it('maps PEM trust stores and PKCS12/PEM key stores; PKCS12 trust stores and JKS key stores are configuration errors with the conversion', () => {
    const pem = sink({
      [`${P}security.protocol`]: 'SSL',
      [`${P}ssl.truststore.location`]: '/etc/ca.pem',
      [`${P}ssl.truststore.type`]: 'pem',
      [`${P}ssl.keystore.location`]: '/etc/client.p12',
      [`${P}ssl.keystore.type`]: 'PKCS12',
      [`${P}ssl.keystore.password`]: 'kp',
      [`${P}ssl.key.password`]: 'kk',
    });
    expect(pem.errors).toEqual([]);
    expect(pem.options['sslStores']).toEqual({
      truststore: { location: '/etc/ca.pem', type: 'PEM' },
      keystore: { location: '/etc/client.p12', type: 'PKCS12', password: 'kp', keyPassword: 'kk' },
    });
    expect(pem.valid).toBe(true);
    const p12 = sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.truststore.location`]: '/t.p12', [`${P}ssl.truststore.type`]: 'PKCS12' });
    expect(p12.errors).toEqual([expect.stringMatching(/^`kafka\.producer\.ssl\.truststore\.type` = "PKCS12": Node cannot read a PKCS12 trust store .*keytool -importkeystore -srcstoretype PKCS12 .*-deststoretype JKS/)]);
    const jksKey = sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.keystore.location`]: '/k.jks' });
    expect(jksKey.errors).toEqual([expect.stringMatching(/^`kafka\.producer\.ssl\.keystore\.location` = "\/k\.jks": ssl\.keystore\.type is JKS \(Kafka's default\): .*Sun's proprietary/)]);
    expect(sink({ [`${P}security.protocol`]: 'SSL', [`${P}ssl.truststore.location`]: '/t', [`${P}ssl.truststore.type`]: 'BKS' }).errors[0]).toMatch(/unknown store type; expected one of JKS, PKCS12, PEM/);
  });

  it('with PLAINTEXT, ssl.* keys are ignored as Kafka ignores them', () => {
    const m = sink({ [`${P}security.protocol`]: 'PLAINTEXT', [`${P}ssl.truststore.location`]: '/nope.jks' });
    expect(m.errors).toEqual([]);
    expect(m.options['ssl']).toBe(false);
    expect(m.options['sslStores']).toBeUndefined();
  });

  it('rejects an unknown security.protocol naming the key, the value and the four allowed', () => {
    expect(sink({ [`${P}security.protocol`]: 'TLS' }).errors).toEqual([
      '`kafka.producer.security.protocol` = "TLS": unknown security protocol; expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL',
    ]);
  });

  it('maps SASL PLAIN and SCRAM credentials from sasl.jaas.config', () => {
    const plain = sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'PLAIN', [`${P}sasl.jaas.config`]: JAAS_PLAIN });
    expect(plain.errors).toEqual([]);
    expect(plain.options).toMatchObject({ ssl: true, sasl: { mechanism: 'plain', username: 'alice', password: 's3cr;t' } });
    expect(plain.valid).toBe(true);
    const scram = sink({ [`${P}security.protocol`]: 'sasl_plaintext', [`${P}sasl.mechanism`]: 'scram-sha-512', [`${P}sasl.jaas.config`]: JAAS_SCRAM });
    expect(scram.errors).toEqual([]);
    expect(scram.options).toMatchObject({ ssl: false, sasl: { mechanism: 'scram-sha-512', username: 'bob', password: 'p"w' } });
    expect(scram.valid).toBe(true);
    expect(sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'SCRAM-SHA-256', [`${P}sasl.jaas.config`]: JAAS_PLAIN }).errors[0]).toMatch(
      /SCRAM-SHA-256 needs the login module org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule/,
    );
    expect(sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'PLAIN' }).errors[0]).toMatch(/PLAIN needs `kafka\.producer\.sasl\.jaas\.config`/);
  });

  it('reports GSSAPI (also as the default mechanism), OAUTHBEARER and unknown mechanisms clearly', () => {
    const gssapi = sink({ [`${P}security.protocol`]: 'SASL_PLAINTEXT', [`${P}sasl.mechanism`]: 'GSSAPI', [`${P}sasl.kerberos.service.name`]: 'kafka' });
    expect(gssapi.errors).toEqual([
      "`kafka.producer.sasl.mechanism` = \"GSSAPI\": GSSAPI (Kerberos) is not supported by rxflume's Kafka client; supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
    ]);
    expect(sink({ [`${P}security.protocol`]: 'SASL_SSL' }).errors).toEqual([
      expect.stringMatching(/^`kafka\.producer\.security\.protocol` = "SASL_SSL": SASL_SSL without sasl\.mechanism means GSSAPI \(Kafka's default\): GSSAPI \(Kerberos\) is not supported/),
    ]);
    expect(sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'OAUTHBEARER' }).errors[0]).toMatch(/OAUTHBEARER is not supported from a properties file/);
    expect(sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'DIGEST-MD5' }).errors[0]).toMatch(/unknown SASL mechanism; supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
    // sasl.kerberos.service.name belongs to GSSAPI only.
    const stray = sink({ [`${P}security.protocol`]: 'SASL_SSL', [`${P}sasl.mechanism`]: 'PLAIN', [`${P}sasl.jaas.config`]: JAAS_PLAIN, [`${P}sasl.kerberos.service.name`]: 'kafka' });
    expect(stray.errors).toEqual([expect.stringMatching(/^`kafka\.producer\.sasl\.kerberos\.service\.name` = "kafka": unknown property/)]);
  });

  it('names kafka.producer.* keys kafkajs cannot honour, with a suggestion for a typo', () => {
    const m = sink({ [`${P}batch.size`]: '16384', [`${P}ack`]: '1' });
    expect(m.errors).toHaveLength(2);
    expect(m.errors[0]).toMatch(
      /^`kafka\.producer\.batch\.size` = "16384": unknown property `kafka\.producer\.batch\.size` for kafkaSink: Flume passes kafka\.producer\.\* keys to Kafka's Java client, and rxflume's Kafka client \(kafkajs\) has no such setting; supported: acks, .*security\.protocol/,
    );
    expect(m.errors[1]).toMatch(/unknown property `kafka\.producer\.ack` for kafkaSink \(did you mean `kafka\.producer\.acks`\?\)/);
  });

  it('reads the stores when the sink is built: a missing trust store is a ConfigError naming the key and path', () => {
    const build = () =>
      kafkaSink({ brokers: 'b:9092', name: 'k1', ssl: true, sslStores: { truststore: { location: '/path/to/truststore.jks', password: 'x' } }, logLevel: 'nothing' });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow('k1.sslStores.truststore.location (Kafka ssl.truststore.location): expected a readable JKS trust store file, received "/path/to/truststore.jks" (no such file)');
  });
});

describe('kafkaSource Flume keys', () => {
  it('maps security under kafka.consumer. and header.<flume> = <kafka>', () => {
    const m = source({
      [`${C}security.protocol`]: 'SASL_SSL',
      [`${C}sasl.mechanism`]: 'SCRAM-SHA-256',
      [`${C}sasl.jaas.config`]: JAAS_SCRAM,
      [`${C}ssl.truststore.location`]: '/etc/ts.jks',
      'header.traceId': 'trace-id',
    });
    expect(m.errors).toEqual([]);
    expect(m.options).toMatchObject({
      topics: ['t'],
      ssl: true,
      sslStores: { truststore: { location: '/etc/ts.jks', type: 'JKS' } },
      sasl: { mechanism: 'scram-sha-256', username: 'bob', password: 'p"w' },
      headerMap: { traceId: 'trace-id' },
    });
    expect(m.valid).toBe(true);
  });

  it('reports GSSAPI and kafkajs-less consumer keys; producer keys are not the source\'s', () => {
    expect(source({ [`${C}security.protocol`]: 'SASL_PLAINTEXT', [`${C}sasl.mechanism`]: 'gssapi', [`${C}sasl.kerberos.service.name`]: 'kafka' }).errors).toEqual([
      "`kafka.consumer.sasl.mechanism` = \"gssapi\": GSSAPI (Kerberos) is not supported by rxflume's Kafka client; supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
    ]);
    expect(source({ [`${C}fetch.min.bytes`]: '1' }).errors[0]).toMatch(/Flume passes kafka\.consumer\.\* keys to Kafka's Java client/);
    expect(source({ [`${P}security.protocol`]: 'SSL' }).errors[0]).toMatch(/unknown property `kafka\.producer\.security\.protocol` for kafkaSource/);
  });

  it('reads the stores when the source is built', () => {
    expect(() => kafkaSource({ brokers: 'b:9092', topics: 't', name: 'r1', sslStores: { truststore: { location: '/nope/ts.pem', type: 'PEM' } } })).toThrow(
      'r1.sslStores.truststore.location (Kafka ssl.truststore.location): expected a readable PEM trust store file, received "/nope/ts.pem" (no such file)',
    );
  });
});

describe('kafkaChannel Flume keys', () => {
  it('takes the security keys under kafka.producer. and kafka.consumer. when they agree', () => {
    const m = channel({
      [`${P}security.protocol`]: 'SSL',
      [`${P}ssl.truststore.location`]: '/path/to/truststore.jks',
      [`${P}ssl.truststore.password`]: 'pw',
      [`${C}security.protocol`]: 'ssl',
      [`${C}ssl.truststore.location`]: '/path/to/truststore.jks',
      [`${C}ssl.truststore.password`]: 'pw',
    });
    expect(m.errors).toEqual([]);
    expect(m.options).toMatchObject({ ssl: true, sslStores: { truststore: { location: '/path/to/truststore.jks', password: 'pw', type: 'JKS' } } });
    expect(m.valid).toBe(true);
    // Either side alone for the store, once the protocol agrees.
    expect(channel({ [`${P}security.protocol`]: 'SSL', [`${C}security.protocol`]: 'SSL', [`${C}ssl.truststore.location`]: '/c.jks' }).options['sslStores']).toEqual({
      truststore: { location: '/c.jks', type: 'JKS' },
    });
  });

  it('reports keys on which the producer and the consumer disagree, naming both', () => {
    const m = channel({ [`${P}security.protocol`]: 'SSL', [`${C}security.protocol`]: 'SASL_SSL', [`${C}sasl.mechanism`]: 'PLAIN', [`${C}sasl.jaas.config`]: JAAS_PLAIN });
    expect(m.errors).toContain(
      '`kafka.consumer.security.protocol` = "SASL_SSL": disagrees with `kafka.producer.security.protocol` = "SSL": rxflume\'s Kafka channel uses one connection setting for its producer and its consumer; set both alike',
    );
    const oneSide = channel({ [`${P}security.protocol`]: 'SSL' });
    expect(oneSide.errors).toEqual([
      '`kafka.producer.security.protocol` = "SSL": `kafka.consumer.security.protocol` is not set, so it is PLAINTEXT: rxflume\'s Kafka channel uses one connection setting for its producer and its consumer; set both alike',
    ]);
    const stores = channel({
      [`${P}security.protocol`]: 'SSL',
      [`${C}security.protocol`]: 'SSL',
      [`${P}ssl.truststore.location`]: '/a.jks',
      [`${C}ssl.truststore.location`]: '/b.jks',
    });
    expect(stores.errors).toEqual([expect.stringMatching(/^`kafka\.consumer\.ssl\.truststore\.location` = "\/b\.jks": disagrees with `kafka\.producer\.ssl\.truststore\.location` = "\/a\.jks"/)]);
  });

  it('reports GSSAPI once per side, and kafkajs-less pass-through keys', () => {
    const m = channel({
      [`${P}security.protocol`]: 'SASL_PLAINTEXT',
      [`${P}sasl.mechanism`]: 'GSSAPI',
      [`${P}sasl.kerberos.service.name`]: 'kafka',
      [`${C}security.protocol`]: 'SASL_PLAINTEXT',
      [`${C}sasl.mechanism`]: 'GSSAPI',
      [`${C}sasl.kerberos.service.name`]: 'kafka',
    });
    expect(m.errors).toEqual([expect.stringMatching(/^`kafka\.producer\.sasl\.mechanism` = "GSSAPI": GSSAPI \(Kerberos\) is not supported by rxflume's Kafka client/)]);
    expect(channel({ [`${P}linger.ms`]: '5' }).errors[0]).toMatch(/unknown property `kafka\.producer\.linger\.ms` for kafkaChannel: Flume passes kafka\.producer\.\* keys/);
  });

  it('reads the stores when the channel is built', () => {
    expect(() => kafkaChannel({ brokers: 'b:9092', name: 'c1', ssl: true, sslStores: { truststore: { location: '/path/to/truststore.jks' } } })).toThrow(ConfigError);
  });
});

describe('sasl.jaas.config', () => {
  it('parses one login module with quoted (escaped) and bare values', () => {
    expect(parseJaasConfig(JAAS_PLAIN)).toEqual({
      loginModule: 'org.apache.kafka.common.security.plain.PlainLoginModule',
      flag: 'required',
      options: { username: 'alice', password: 's3cr;t' },
    });
    expect(parseJaasConfig('  x.Y  Optional\n a = "b c"  d=e ;  ')).toEqual({ loginModule: 'x.Y', flag: 'optional', options: { a: 'b c', d: 'e' } });
    expect(parseJaasConfig(JAAS_SCRAM).options).toEqual({ username: 'bob', password: 'p"w' });
  });

  it('rejects what is not one well-formed entry', () => {
    expect(() => parseJaasConfig('')).toThrow(/expected `LoginModuleClass required/);
    expect(() => parseJaasConfig('x.Y always a="b";')).toThrow(/unknown control flag "always"/);
    expect(() => parseJaasConfig('x.Y required a="b"')).toThrow(/must end with ";"/);
    expect(() => parseJaasConfig('x.Y required a="b')).toThrow(/unterminated quoted value/);
    expect(() => parseJaasConfig('x.Y required a;')).toThrow(/expected key="value"/);
    expect(() => parseJaasConfig('x.Y required a="b"; z.W required;')).toThrow(/exactly one login module/);
  });
});
