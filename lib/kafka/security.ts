/**
 * Kafka client security as Flume configures it — `security.protocol`, `ssl.truststore.*`,
 * `ssl.keystore.*`, hostname verification, `sasl.mechanism` with `sasl.jaas.config` — mapped onto the
 * Kafka components' options, and those options turned into kafkajs's `ssl` (Node TLS options) when a
 * component is built. Shared by kafkaSource (`kafka.consumer.`), kafkaSink (`kafka.producer.`) and
 * kafkaChannel (both). Not a component; imports lib/core (its keystore reader), node and zod.
 *
 * Mapping Flume keys reads no file (as Flume's validation opens no key store): `validate` accepts a
 * store that does not exist yet; the component reads it when built, and a missing or unreadable
 * store is then a ConfigError naming the option and the path.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { closest, pathOption, type FlumeMapped, type FlumeProblem } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { displayValue } from '../core/secrets.js';
import { jksTrustedCertificates, KeystoreError, pemCertificates, pemKeyAndChain } from '../tls/keystore.js';
import { kafkaOption } from './client.js';

// ---- the options -------------------------------------------------------------------------------

const storeType = z.enum(['JKS', 'PKCS12', 'PEM']);

export const securityOption = {
  sslStores: z
    .strictObject({
      truststore: z
        .strictObject({
          location: z.string().min(1).meta(pathOption('readFile')).describe('Path of the trust store.'),
          password: z.string().optional().describe('Its password; a JKS store\'s integrity digest is checked with it.'),
          type: storeType.default('JKS').describe('JKS (Kafka\'s default) or PEM; PKCS12 trust stores cannot be read by Node: convert them.'),
        })
        .optional(),
      keystore: z
        .strictObject({
          location: z.string().min(1).meta(pathOption('readFile')).describe('Path of the client key store.'),
          password: z.string().optional().describe('Its password.'),
          type: storeType.default('JKS').describe('PKCS12 or PEM (key and certificate chain in one file); JKS private keys cannot be read by Node: convert them.'),
          keyPassword: z.string().optional().describe('Password of the private key (Kafka ssl.key.password).'),
        })
        .optional(),
    })
    .optional()
    .describe(
      "Kafka-style trust and key stores (Flume's ssl.truststore.* / ssl.keystore.*), read when the component is built and merged into the TLS options: the trust store's certificates become `ca`, a PKCS12 key store `pfx`, a PEM one `key`/`cert`. Implies TLS unless `ssl` is false.",
    ),
  sslVerifyHostname: z
    .boolean()
    .default(true)
    .describe("Check that the broker's certificate names the host connected to (false = Kafka's ssl.endpoint.identification.algorithm empty, Flume's ssl.disableTLSHostnameVerification=true)."),
};

/** How a component's Kafka clients name themselves and secure their connections: the same keys on sources, sinks and channels. */
export const kafkaConnectionOptions = {
  clientId: kafkaOption.clientId,
  ssl: kafkaOption.ssl,
  sslStores: securityOption.sslStores,
  sslVerifyHostname: securityOption.sslVerifyHostname,
  sasl: kafkaOption.sasl,
};

type StoreType = z.output<typeof storeType>;

export interface SecurityConfig {
  name: string;
  ssl?: boolean | Record<string, unknown> | undefined;
  sslStores?: z.output<typeof securityOption.sslStores> | undefined;
  sslVerifyHostname?: boolean | undefined;
}

const PKCS12_TRUST_HINT =
  'Node cannot read a PKCS12 trust store (it holds no private key): convert it to JKS (keytool -importkeystore -srcstoretype PKCS12 -srckeystore IN.p12 -deststoretype JKS -destkeystore OUT.jks) or export its certificates to a PEM file (keytool -exportcert -rfc) and use type PEM';
const JKS_KEY_HINT =
  "a JKS key store's private key is protected by Sun's proprietary algorithm, which Node cannot read: convert it to PKCS12 (keytool -importkeystore -srcstoretype JKS -srckeystore IN.jks -deststoretype PKCS12 -destkeystore OUT.p12) and set the type to PKCS12";

/**
 * The kafkajs `ssl` setting of a component: `ssl` as given, plus the certificates and keys of
 * `sslStores` and the hostname check. Reads the store files: throws ConfigError naming the option,
 * the Kafka key and the path when one is missing, unreadable, of an unusable type or has a wrong password.
 */
export function resolveSsl(opts: SecurityConfig): boolean | Record<string, unknown> | undefined {
  const stores = opts.sslStores;
  const verify = opts.sslVerifyHostname ?? true;
  if (opts.ssl === false || (!stores?.truststore && !stores?.keystore && verify)) return opts.ssl;
  const tls: Record<string, unknown> = typeof opts.ssl === 'object' ? { ...opts.ssl } : {};
  const fail = (option: string, kafkaKey: string, expected: string, received: string): never => {
    throw new ConfigError([{ path: `${opts.name}.sslStores.${option} (Kafka ${kafkaKey})`, expected, received }], { component: opts.name });
  };
  const read = (which: 'truststore' | 'keystore', location: string, type: StoreType): Buffer => {
    try {
      return readFileSync(location);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'a directory' : e.message;
      return fail(`${which}.location`, `ssl.${which}.location`, `a readable ${type} ${which === 'truststore' ? 'trust' : 'key'} store file`, `${JSON.stringify(location)} (${why})`);
    }
  };

  const trust = stores?.truststore;
  if (trust) {
    if (trust.type === 'PKCS12') fail('truststore.type', 'ssl.truststore.type', 'JKS or PEM', `"PKCS12": ${PKCS12_TRUST_HINT}`);
    const data = read('truststore', trust.location, trust.type);
    let ca: string[] = [];
    try {
      ca = trust.type === 'JKS' ? jksTrustedCertificates(data, trust.password) : pemCertificates(data.toString('utf8'));
    } catch (error) {
      if (!(error instanceof KeystoreError)) throw error;
      const wrongPassword = /integrity check failed/.test(error.message);
      fail(
        wrongPassword ? 'truststore.password' : 'truststore.location',
        wrongPassword ? 'ssl.truststore.password' : 'ssl.truststore.location',
        wrongPassword ? "the trust store's password" : `a ${trust.type} trust store`,
        `${JSON.stringify(trust.location)}: ${error.message}`,
      );
    }
    const given = tls['ca'];
    tls['ca'] = [...(given === undefined ? [] : Array.isArray(given) ? (given as unknown[]) : [given]), ...ca];
  }

  const key = stores?.keystore;
  if (key) {
    if (key.type === 'JKS') fail('keystore.type', 'ssl.keystore.type', 'PKCS12 or PEM', `"JKS": ${JKS_KEY_HINT}`);
    const data = read('keystore', key.location, key.type);
    if (key.type === 'PKCS12') {
      tls['pfx'] = data;
      const passphrase = key.password ?? key.keyPassword;
      if (passphrase !== undefined) tls['passphrase'] = passphrase;
    } else {
      try {
        Object.assign(tls, pemKeyAndChain(data.toString('utf8')));
      } catch (error) {
        if (!(error instanceof KeystoreError)) throw error;
        fail('keystore.location', 'ssl.keystore.location', 'a PEM key store (private key and certificate chain)', `${JSON.stringify(key.location)}: ${error.message}`);
      }
      if (key.keyPassword !== undefined) tls['passphrase'] = key.keyPassword;
    }
  }

  if (!verify) tls['checkServerIdentity'] = () => undefined;
  return tls;
}

// ---- Flume keys → options ----------------------------------------------------------------------

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const GSSAPI_MESSAGE = `GSSAPI (Kerberos) is not supported by rxflume's Kafka client; supported: ${MECHANISMS.join(', ')}`;

/** The Kafka client keys mapped here, after the `kafka.producer.` / `kafka.consumer.` prefix. */
export const SECURITY_KEYS = [
  'security.protocol',
  'ssl.truststore.location',
  'ssl.truststore.password',
  'ssl.truststore.type',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.keystore.type',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
  'ssl.disableTLSHostnameVerification',
  'sasl.mechanism',
  'sasl.jaas.config',
] as const;
type SecurityKey = (typeof SECURITY_KEYS)[number] | 'sasl.kerberos.service.name';

/** Values compared case-insensitively when the two prefixes of the channel must agree. */
const CASELESS: ReadonlySet<string> = new Set(['security.protocol', 'sasl.mechanism', 'ssl.truststore.type', 'ssl.keystore.type']);

/**
 * Maps the security keys under `prefixes` (one for a source or a sink; `kafka.producer.` and
 * `kafka.consumer.` for the channel, which has one connection setting: the two must agree) onto
 * `ssl`, `sslStores`, `sslVerifyHostname` and `sasl`. Reads no file.
 */
export function securityFromFlume(props: ReadonlyMap<string, string>, prefixes: readonly string[]): FlumeMapped {
  const consumed: string[] = [];
  const problems: FlumeProblem[] = [];
  const options: Record<string, unknown> = {};

  // One value per key; the prefixes must agree on it.
  const chosen = new Map<SecurityKey, { key: string; value: string }>();
  for (const suffix of [...SECURITY_KEYS, 'sasl.kerberos.service.name'] as SecurityKey[]) {
    const found = prefixes.map((p) => ({ key: p + suffix, value: props.get(p + suffix) })).filter((f): f is { key: string; value: string } => f.value !== undefined);
    if (found.length === 0) continue;
    if (suffix !== 'sasl.kerberos.service.name') consumed.push(...found.map((f) => f.key));
    const norm = (v: string) => (CASELESS.has(suffix) ? v.trim().toUpperCase() : v.trim());
    const first = found[0]!;
    const other = found.find((f) => norm(f.value) !== norm(first.value));
    if (other) {
      problems.push({
        key: other.key,
        message: `disagrees with \`${first.key}\` = ${JSON.stringify(displayValue(first.key, first.value))}: rxflume's Kafka channel uses one connection setting for its producer and its consumer; set both alike`,
      });
    }
    chosen.set(suffix, first);
  }
  if (prefixes.length > 1) {
    // A protocol set on one side only leaves the other on Kafka's default, PLAINTEXT.
    const set = prefixes.filter((p) => props.has(`${p}security.protocol`));
    const value = chosen.get('security.protocol')?.value.trim().toUpperCase();
    if (set.length > 0 && set.length < prefixes.length && value !== 'PLAINTEXT') {
      const missing = prefixes.find((p) => !props.has(`${p}security.protocol`))!;
      problems.push({
        key: `${set[0]!}security.protocol`,
        message: `\`${missing}security.protocol\` is not set, so it is PLAINTEXT: rxflume's Kafka channel uses one connection setting for its producer and its consumer; set both alike`,
      });
    }
  }
  const get = (suffix: SecurityKey) => chosen.get(suffix);

  const protocolAt = get('security.protocol');
  let protocol: Protocol = 'PLAINTEXT';
  if (protocolAt) {
    const v = protocolAt.value.trim().toUpperCase();
    if ((PROTOCOLS as readonly string[]).includes(v)) protocol = v as Protocol;
    else problems.push({ key: protocolAt.key, message: `unknown security protocol; expected one of ${PROTOCOLS.join(', ')}` });
  }
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const sasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  if (protocolAt) options['ssl'] = tls;

  // TLS: with PLAINTEXT or SASL_PLAINTEXT, Kafka ignores the ssl.* keys; so does rxflume.
  if (tls) {
    const typeOf = (suffix: 'ssl.truststore.type' | 'ssl.keystore.type'): StoreType | undefined => {
      const at = get(suffix);
      if (!at) return 'JKS';
      const v = at.value.trim().toUpperCase();
      if (v === 'JKS' || v === 'PKCS12' || v === 'PEM') return v;
      problems.push({ key: at.key, message: 'unknown store type; expected one of JKS, PKCS12, PEM' });
      return undefined;
    };
    const stores: Record<string, unknown> = {};
    const trustAt = get('ssl.truststore.location');
    if (trustAt) {
      const type = typeOf('ssl.truststore.type');
      if (type === 'PKCS12') problems.push({ key: get('ssl.truststore.type')!.key, message: PKCS12_TRUST_HINT });
      else if (type) stores['truststore'] = { location: trustAt.value.trim(), type, ...passwordOf(get('ssl.truststore.password')) };
    }
    const keyAt = get('ssl.keystore.location');
    if (keyAt) {
      const type = typeOf('ssl.keystore.type');
      const keyPassword = get('ssl.key.password');
      if (type === 'JKS') problems.push({ key: get('ssl.keystore.type')?.key ?? keyAt.key, message: `ssl.keystore.type is JKS (Kafka's default): ${JKS_KEY_HINT}` });
      else if (type) {
        stores['keystore'] = {
          location: keyAt.value.trim(),
          type,
          ...passwordOf(get('ssl.keystore.password')),
          ...(keyPassword ? { keyPassword: keyPassword.value } : {}),
        };
      }
    }
    if (Object.keys(stores).length > 0) options['sslStores'] = stores;

    const algorithm = get('ssl.endpoint.identification.algorithm');
    if (algorithm) {
      const v = algorithm.value.trim().toLowerCase();
      if (v === '') options['sslVerifyHostname'] = false;
      else if (v !== 'https') problems.push({ key: algorithm.key, message: 'expected "https" (verify the broker\'s host name, the default) or empty (do not)' });
    }
    const disable = get('ssl.disableTLSHostnameVerification');
    if (disable) {
      const v = disable.value.trim().toLowerCase();
      if (v === 'true') options['sslVerifyHostname'] = false;
      else if (v !== 'false') problems.push({ key: disable.key, message: 'expected true or false' });
    }
  }

  // SASL: Kafka's default mechanism is GSSAPI.
  const mechanismAt = get('sasl.mechanism');
  const mechanism = mechanismAt ? mechanismAt.value.trim().toUpperCase() : 'GSSAPI';
  const kerberos = get('sasl.kerberos.service.name');
  if (kerberos && mechanism === 'GSSAPI') consumed.push(...prefixes.map((p) => `${p}sasl.kerberos.service.name`).filter((k) => props.has(k)));
  if (sasl) {
    if (mechanism === 'GSSAPI') {
      problems.push({
        key: mechanismAt?.key ?? protocolAt!.key,
        message: mechanismAt ? GSSAPI_MESSAGE : `${protocol} without sasl.mechanism means GSSAPI (Kafka's default): ${GSSAPI_MESSAGE}`,
      });
    } else if (mechanism === 'OAUTHBEARER') {
      problems.push({
        key: mechanismAt!.key,
        message: `OAUTHBEARER is not supported from a properties file (its token comes from a Java login callback handler class); supported: ${MECHANISMS.join(', ')}`,
      });
    } else if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
      problems.push({ key: mechanismAt!.key, message: `unknown SASL mechanism; supported: ${MECHANISMS.join(', ')}` });
    } else {
      const jaasAt = get('sasl.jaas.config');
      const keyName = `${prefixes[0]!}sasl.jaas.config`;
      if (!jaasAt) {
        problems.push({
          key: mechanismAt!.key,
          message: `${mechanism} needs \`${keyName}\` with the credentials, e.g. ${loginModuleOf(mechanism)} required username="alice" password="secret";`,
        });
      } else {
        try {
          const jaas = parseJaasConfig(jaasAt.value);
          if (jaas.loginModule !== loginModuleOf(mechanism)) {
            throw new Error(`sasl.mechanism ${mechanism} needs the login module ${loginModuleOf(mechanism)}, not ${jaas.loginModule}`);
          }
          const { username, password } = jaas.options;
          if (username === undefined || password === undefined) throw new Error('the login module needs username="…" and password="…"');
          options['sasl'] = { mechanism: mechanism.toLowerCase(), username, password };
        } catch (error) {
          problems.push({ key: jaasAt.key, message: (error as Error).message });
        }
      }
    }
  }
  return { options, consumed, problems };
}

function passwordOf(at: { value: string } | undefined): { password?: string } {
  return at ? { password: at.value } : {};
}

const loginModuleOf = (mechanism: string): string =>
  mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';

export interface JaasConfig {
  loginModule: string;
  flag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: Record<string, string>;
}

/**
 * Kafka's `sasl.jaas.config`: exactly one `LoginModuleClass flag key="value" key2=value;` entry.
 * Values are double-quoted (with \\ escapes) or bare words. A small tokenizer; nothing is evaluated.
 */
export function parseJaasConfig(text: string): JaasConfig {
  const tokens: Array<{ kind: 'word' | 'string' | 'eq' | 'semi'; text: string }> = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '=') {
      tokens.push({ kind: 'eq', text: c });
      i++;
    } else if (c === ';') {
      tokens.push({ kind: 'semi', text: c });
      i++;
    } else if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('sasl.jaas.config: unterminated quoted value');
        const d = text[i++]!;
        if (d === '"') break;
        if (d === '\\' && i < text.length) s += text[i++]!;
        else s += d;
      }
      tokens.push({ kind: 'string', text: s });
    } else {
      const m = /^[^\s=;"]+/.exec(text.slice(i))!;
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    }
  }
  const example = 'expected `LoginModuleClass required username="…" password="…";`';
  let t = 0;
  const module = tokens[t++];
  const flag = tokens[t++];
  if (module?.kind !== 'word' || flag?.kind !== 'word') throw new Error(`sasl.jaas.config: ${example}`);
  const flagText = flag.text.toLowerCase();
  if (!['required', 'requisite', 'sufficient', 'optional'].includes(flagText)) {
    throw new Error(`sasl.jaas.config: unknown control flag "${flag.text}" after ${module.text}; expected required, requisite, sufficient or optional`);
  }
  const options: Record<string, string> = {};
  while (t < tokens.length && tokens[t]!.kind !== 'semi') {
    const key = tokens[t++]!;
    const eq = tokens[t++];
    const value = tokens[t++];
    if (key.kind !== 'word' || eq?.kind !== 'eq' || (value?.kind !== 'word' && value?.kind !== 'string')) {
      // The offending text may be a password that lost its quotes: say where, never what.
      const n = Object.keys(options).length + 1;
      throw new Error(`sasl.jaas.config: expected key="value" after ${module.text} ${flag.text}, at the ${ordinal(n)} option`);
    }
    options[key.text] = value.text;
  }
  if (tokens[t]?.kind !== 'semi') throw new Error('sasl.jaas.config: the login module entry must end with ";"');
  if (t + 1 < tokens.length) throw new Error('sasl.jaas.config: a Kafka client takes exactly one login module');
  return { loginModule: module.text, flag: flagText as JaasConfig['flag'], options };
}

function ordinal(n: number): string {
  return `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;
}

// ---- other Flume keys shared by the Kafka components --------------------------------------------

/** Flume 1.11's `header.<flumeHeader> = <kafkaHeaderName>` keys as a `headerMap` option. */
export function headerMapFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const headerMap: Record<string, string> = {};
  const consumed: string[] = [];
  const problems: FlumeProblem[] = [];
  for (const [key, value] of props) {
    if (!key.startsWith('header.')) continue;
    consumed.push(key);
    const flumeName = key.slice('header.'.length);
    const kafkaName = value.trim();
    if (flumeName === '' || kafkaName === '') problems.push({ key, message: 'expected header.<flumeHeader> = <kafkaHeaderName>, both non-empty' });
    else headerMap[flumeName] = kafkaName;
  }
  // Without header.* keys Flume 1.11 copies no header either way (checked against it): neither do we.
  if (consumed.length === 0) return { options: { copyHeaders: false }, consumed, problems };
  return { options: problems.length === 0 ? { headerMap } : {}, consumed, problems };
}

/**
 * The `kafka.producer.*` / `kafka.consumer.*` keys no mapping took: Flume hands them to Kafka's Java
 * client, which rxflume's client (kafkajs) has no setting for. Each is reported, naming the keys
 * that are supported under its prefix.
 */
export function unsupportedPassThrough(
  props: ReadonlyMap<string, string>,
  prefixes: readonly string[],
  known: readonly string[],
  component: string,
): FlumeMapped {
  const consumed: string[] = [];
  const problems: FlumeProblem[] = [];
  for (const key of props.keys()) {
    const prefix = prefixes.find((p) => key.startsWith(p));
    if (prefix === undefined || known.includes(key)) continue;
    consumed.push(key);
    const supported = known.filter((k) => k.startsWith(prefix));
    // Compared without the shared prefix, which would make every key look close.
    const near = closest(key.slice(prefix.length), supported.map((k) => k.slice(prefix.length)));
    const suggestion = near === undefined ? undefined : prefix + near;
    problems.push({
      key,
      message:
        `unknown property \`${key}\` for ${component}${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}: ` +
        `Flume passes ${prefix}* keys to Kafka's Java client, and rxflume's Kafka client (kafkajs) has no such setting; supported: ${supported.map((k) => k.slice(prefix.length)).join(', ')}`,
    });
  }
  return { options: {}, consumed, problems };
}

/** The security keys under `prefixes`, as full keys (for the supported-keys list of unsupportedPassThrough). */
export const securityKeysOf = (prefixes: readonly string[]): string[] => prefixes.flatMap((p) => SECURITY_KEYS.map((k) => p + k));
