/**
 * The JKS reader and the TLS options of lib/kafka/security.ts, on real key stores made by the JDK's
 * keytool: a CA key pair (PKCS12), a server key pair signed by it, the CA certificate imported into
 * JKS, PKCS12 and PEM trust stores; a Node TLS server with the signed certificate is accepted with
 * the CA read from the JKS store and rejected without it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { jksDigest, jksTrustedCertificates, KeystoreError, pemCertificates, pemKeyAndChain, readJks } from '../../../lib/tls/keystore.js';
import { resolveSsl } from '../../../lib/kafka/security.js';
import { keytool as keytoolEnv, keytoolIn } from '../../support/keytool.js';


const dir = mkdtempSync(join(tmpdir(), 'rxflume-keystore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (f: string) => join(dir, f);
const keytool = keytoolIn(dir);

/** The server's key and certificate as PEM (from its PKCS12 store, through Node: no openssl needed). */
let server: { pfx: Buffer; passphrase: string };

beforeAll(() => {
  if (keytoolEnv.skip) return;
  const dname = (cn: string) => `CN=${cn},O=rxflume test`;
  // The CA.
  keytool('-genkeypair', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-dname', dname('rxflume test CA'), '-ext', 'bc:c', '-validity', '30');
  keytool('-exportcert', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-rfc', '-file', 'ca.pem');
  // The server (localhost), signed by the CA.
  keytool('-genkeypair', '-keystore', 'server.p12', '-storetype', 'PKCS12', '-storepass', 'serverpass', '-alias', 'server', '-keyalg', 'RSA', '-keysize', '2048', '-dname', dname('localhost'), '-validity', '30');
  keytool('-certreq', '-keystore', 'server.p12', '-storetype', 'PKCS12', '-storepass', 'serverpass', '-alias', 'server', '-file', 'server.csr');
  keytool('-gencert', '-keystore', 'ca.p12', '-storetype', 'PKCS12', '-storepass', 'capass', '-alias', 'ca', '-infile', 'server.csr', '-outfile', 'server.pem', '-rfc', '-ext', 'san=dns:localhost,ip:127.0.0.1', '-validity', '30');
  keytool('-importcert', '-keystore', 'server.p12', '-storetype', 'PKCS12', '-storepass', 'serverpass', '-alias', 'ca', '-file', 'ca.pem', '-noprompt');
  keytool('-importcert', '-keystore', 'server.p12', '-storetype', 'PKCS12', '-storepass', 'serverpass', '-alias', 'server', '-file', 'server.pem', '-noprompt');
  server = { pfx: readFileSync(at('server.p12')), passphrase: 'serverpass' };
  // Trust stores holding the CA: JKS (version 2, as keytool writes it), PKCS12.
  keytool('-importcert', '-keystore', 'trust.jks', '-storetype', 'JKS', '-storepass', 'trustpass', '-alias', 'ca', '-file', 'ca.pem', '-noprompt');
  keytool('-importcert', '-keystore', 'trust.p12', '-storetype', 'PKCS12', '-storepass', 'trustpass', '-alias', 'ca', '-file', 'ca.pem', '-noprompt');
  // A JKS store with a private key entry and a second trusted certificate.
  keytool('-importkeystore', '-srckeystore', 'server.p12', '-srcstoretype', 'PKCS12', '-srcstorepass', 'serverpass', '-destkeystore', 'mixed.jks', '-deststoretype', 'JKS', '-deststorepass', 'mixedpass', '-noprompt');
}, 60_000);

/** A TLS server with `opts`; resolves its port. */
async function tlsServer(opts: tls.TlsOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = tls.createServer(opts, (socket) => socket.end('hello'));
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { port: (srv.address() as AddressInfo).port, close: () => new Promise((resolve) => srv.close(() => resolve())) };
}

/** Connects with `ssl` (as kafkajs would: host and servername set) and reads the greeting, or the error. */
function connect(port: number, ssl: Record<string, unknown>, host = 'localhost'): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ...ssl } as tls.ConnectionOptions, () => undefined);
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(`error: ${e.code ?? e.message}`));
  });
}

describe.skipIf(keytoolEnv.skip)(`JKS reader on keytool's stores${keytoolEnv.note}`, () => {
  it('reads the trusted certificate of a JKS trust store, the digest checked with the password', () => {
    const data = readFileSync(at('trust.jks'));
    const store = readJks(data, 'trustpass');
    expect(store).toMatchObject({ version: 2, verified: true });
    expect(store.entries).toHaveLength(1);
    expect(store.entries[0]).toMatchObject({ alias: 'ca', kind: 'trustedCert' });
    const pems = jksTrustedCertificates(data, 'trustpass');
    expect(pems).toHaveLength(1);
    // The same certificate keytool exported.
    expect(pems[0]!.replace(/\s/g, '')).toBe(readFileSync(at('ca.pem'), 'utf8').replace(/\s/g, ''));
    // Without a password the digest is not checked (as Java's KeyStore.load(in, null)).
    expect(readJks(data).verified).toBe(false);
  });

  it('skips private key entries (they are not trust anchors) and keeps their chain readable', () => {
    const store = readJks(readFileSync(at('mixed.jks')), 'mixedpass');
    const kinds = store.entries.map((e) => `${e.alias}:${e.kind}`).sort();
    expect(kinds).toEqual(['ca:trustedCert', 'server:privateKey']);
    expect(store.entries.find((e) => e.kind === 'privateKey')!.certificates.length).toBeGreaterThanOrEqual(1);
    expect(jksTrustedCertificates(readFileSync(at('mixed.jks')), 'mixedpass')).toHaveLength(1);
  });

  it('rejects a wrong password', () => {
    expect(() => readJks(readFileSync(at('trust.jks')), 'nope')).toThrow(/integrity check failed: wrong password/);
  });

  it('rejects corrupted and truncated files, and names other formats', () => {
    const data = readFileSync(at('trust.jks'));
    const flipped = Buffer.from(data);
    flipped[100] = flipped[100]! ^ 0xff;
    expect(() => readJks(flipped, 'trustpass')).toThrow(/integrity check failed/);
    // Without the password, the structure itself is checked.
    expect(() => readJks(data.subarray(0, 60))).toThrow(KeystoreError);
    const badTag = Buffer.from(data);
    badTag.writeUInt32BE(7, 12);
    expect(() => readJks(badTag)).toThrow(/unknown entry tag 7/);
    // A re-signed file whose entry count lies: truncated, not a RangeError.
    const lying = Buffer.from(data);
    lying.writeUInt32BE(5, 8);
    const body = lying.subarray(0, lying.length - 20);
    const resigned = Buffer.concat([body, jksDigest('trustpass', body)]);
    expect(() => readJks(resigned, 'trustpass')).toThrow(/truncated or corrupted/);
    expect(() => readJks(readFileSync(at('trust.p12')))).toThrow(/looks like PKCS12/);
    expect(() => readJks(readFileSync(at('ca.pem')))).toThrow(/it is PEM/);
    expect(() => readJks(Buffer.alloc(0))).toThrow(KeystoreError);
  });

  it('reads PEM trust stores and PEM key stores', () => {
    expect(pemCertificates(readFileSync(at('ca.pem'), 'utf8'))).toHaveLength(1);
    expect(() => pemCertificates('nothing here')).toThrow(/no "-----BEGIN CERTIFICATE-----"/);
    expect(() => pemKeyAndChain(readFileSync(at('ca.pem'), 'utf8'))).toThrow(/one private key block; found 0/);
  });

  it('a TLS server signed by the CA is accepted with the CA from the JKS store and rejected without it', async () => {
    const srv = await tlsServer({ pfx: server.pfx, passphrase: server.passphrase });
    try {
      const ssl = resolveSsl({ name: 'k1', ssl: true, sslStores: { truststore: { location: at('trust.jks'), password: 'trustpass', type: 'JKS' } } });
      expect(ssl).toMatchObject({ ca: [expect.stringContaining('-----BEGIN CERTIFICATE-----')] });
      expect(await connect(srv.port, ssl as Record<string, unknown>)).toBe('hello');
      // Without the CA: Node's default trust does not know it.
      expect(await connect(srv.port, {})).toMatch(/^error: (UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
      // The same through a PEM trust store.
      const pem = resolveSsl({ name: 'k1', sslStores: { truststore: { location: at('ca.pem'), type: 'PEM' } } });
      expect(await connect(srv.port, pem as Record<string, unknown>)).toBe('hello');
    } finally {
      await srv.close();
    }
  });

  it('a self-signed server certificate is accepted once it is in the JKS trust store', async () => {
    // The CA's own key pair serves: its certificate is self-signed, and the trust store holds it.
    const srv = await tlsServer({ pfx: readFileSync(at('ca.p12')), passphrase: 'capass' });
    try {
      const ssl = resolveSsl({ name: 'k1', ssl: true, sslStores: { truststore: { location: at('trust.jks'), password: 'trustpass', type: 'JKS' } }, sslVerifyHostname: false });
      expect(await connect(srv.port, ssl as Record<string, unknown>, 'rxflume test CA')).toBe('hello');
      expect(await connect(srv.port, {}, 'rxflume test CA')).toMatch(/^error: (SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)/);
    } finally {
      await srv.close();
    }
  });

  it('checks the host name unless sslVerifyHostname is false', async () => {
    const srv = await tlsServer({ pfx: server.pfx, passphrase: server.passphrase });
    try {
      const stores = { truststore: { location: at('trust.jks'), password: 'trustpass', type: 'JKS' as const } };
      const checked = resolveSsl({ name: 'k1', ssl: true, sslStores: stores }) as Record<string, unknown>;
      expect(await connect(srv.port, checked, 'kafka-1.example')).toBe('error: ERR_TLS_CERT_ALTNAME_INVALID');
      const unchecked = resolveSsl({ name: 'k1', ssl: true, sslStores: stores, sslVerifyHostname: false }) as Record<string, unknown>;
      expect(await connect(srv.port, unchecked, 'kafka-1.example')).toBe('hello');
    } finally {
      await srv.close();
    }
  });

  it('a PKCS12 key store becomes the client certificate (pfx) a server requiring one accepts', async () => {
    const srv = await tlsServer({ pfx: server.pfx, passphrase: server.passphrase, requestCert: true, rejectUnauthorized: true, ca: [readFileSync(at('ca.pem'), 'utf8')] });
    try {
      const truststore = { location: at('trust.jks'), password: 'trustpass', type: 'JKS' as const };
      const withCert = resolveSsl({ name: 'k1', ssl: true, sslStores: { truststore, keystore: { location: at('server.p12'), password: 'serverpass', type: 'PKCS12' } } });
      expect(withCert).toMatchObject({ passphrase: 'serverpass' });
      expect(await connect(srv.port, withCert as Record<string, unknown>)).toBe('hello');
      const without = resolveSsl({ name: 'k1', ssl: true, sslStores: { truststore } }) as Record<string, unknown>;
      expect(await connect(srv.port, without)).not.toBe('hello');
    } finally {
      await srv.close();
    }
  });

  it('names the option, the Kafka key and the path of a store it cannot use', () => {
    const error = (fn: () => unknown): ConfigError => {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    };
    const missing = error(() => resolveSsl({ name: 'k1', ssl: true, sslStores: { truststore: { location: '/path/to/truststore.jks', type: 'JKS' } } }));
    expect(missing.message).toBe(
      'k1.sslStores.truststore.location (Kafka ssl.truststore.location): expected a readable JKS trust store file, received "/path/to/truststore.jks" (no such file)',
    );
    const dirAsFile = error(() => resolveSsl({ name: 'k1', sslStores: { truststore: { location: dir, type: 'JKS' } } }));
    expect(dirAsFile.message).toContain('(a directory)');
    const wrong = error(() => resolveSsl({ name: 'k1', sslStores: { truststore: { location: at('trust.jks'), password: 'nope', type: 'JKS' } } }));
    expect(wrong.message).toMatch(/^k1\.sslStores\.truststore\.password \(Kafka ssl\.truststore\.password\): expected the trust store's password, received ".*trust\.jks": .*wrong password/);
    const p12 = error(() => resolveSsl({ name: 'k1', sslStores: { truststore: { location: at('trust.p12'), password: 'trustpass', type: 'PKCS12' } } }));
    expect(p12.message).toMatch(/Node cannot read a PKCS12 trust store.*keytool -importkeystore -srcstoretype PKCS12/);
    const jksKey = error(() => resolveSsl({ name: 'k1', sslStores: { keystore: { location: at('mixed.jks'), password: 'mixedpass', type: 'JKS' } } }));
    expect(jksKey.message).toMatch(/Sun's proprietary algorithm.*-deststoretype PKCS12/);
    const notJks = error(() => resolveSsl({ name: 'k1', sslStores: { truststore: { location: at('ca.pem'), type: 'JKS' } } }));
    expect(notJks.message).toMatch(/expected a JKS trust store, received ".*ca\.pem": not a JKS key store: .*it is PEM/);
    // ssl: false wins, as Kafka ignores ssl.* keys with PLAINTEXT: nothing is read.
    expect(resolveSsl({ name: 'k1', ssl: false, sslStores: { truststore: { location: '/nope', type: 'JKS' } } })).toBe(false);
    // Nothing to add: ssl as given.
    expect(resolveSsl({ name: 'k1', ssl: true })).toBe(true);
    expect(resolveSsl({ name: 'k1' })).toBeUndefined();
  });

  it('reads a PEM key store (key and chain in one file)', () => {
    // Any PKCS#8 key: this checks how the file is split, not that the key matches the certificate.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const cert = readFileSync(at('server.pem'), 'utf8');
    writeFileSync(at('client.pem'), `${privateKey}${cert}${readFileSync(at('ca.pem'), 'utf8')}`);
    const ssl = resolveSsl({ name: 'k1', sslStores: { keystore: { location: at('client.pem'), type: 'PEM' } } }) as Record<string, unknown>;
    expect(ssl['key']).toContain('-----BEGIN PRIVATE KEY-----');
    expect((ssl['cert'] as string).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });
});
