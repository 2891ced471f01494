/**
 * Java key stores as Flume components configure them (Kafka's `ssl.truststore.*`/`ssl.keystore.*`,
 * the servers' `keystore`), read into what Node's TLS takes: a JKS reader (trusted certificates,
 * integrity digest checked), PEM files, and PKCS12 key stores passed to Node as `pfx`. Imports only
 * node:crypto.
 *
 * JKS layout (sun.security.provider.JavaKeyStore): magic 0xFEEDFEED, version 1|2, entry count, then
 * per entry a tag (1 = private key, 2 = trusted certificate), the alias (Java modified UTF-8 with a
 * 2-byte length), a timestamp (int64 ms) and — for a trusted certificate — [v2: the certificate type
 * as UTF] a 4-byte length and the DER bytes; a private key entry holds the protected key (length +
 * bytes) and its chain (count, then certificates as above). The file ends with a SHA-1 digest of
 * (password as UTF-16BE, "Mighty Aphrodite" in UTF-8, every byte before the digest).
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;
const DIGEST_WHITENER = Buffer.from('Mighty Aphrodite', 'utf8');

/** A key store that cannot be used as it is: the message says why (and how to convert it, where that helps). */
export class KeystoreError extends Error {
  override readonly name = 'KeystoreError';
}

export interface JksEntry {
  alias: string;
  /** 'trustedCert' (tag 2) or 'privateKey' (tag 1). */
  kind: 'trustedCert' | 'privateKey';
  /** The trusted certificate, or a private key entry's chain (leaf first), as DER. */
  certificates: Buffer[];
}

export interface Jks {
  version: 1 | 2;
  entries: JksEntry[];
  /** Whether the integrity digest was checked (a password was given) and matched. */
  verified: boolean;
}

/** A bounds-checked reader over the store's bytes: a truncated file is a KeystoreError, never a RangeError. */
class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new KeystoreError(`truncated or corrupted JKS key store (needed ${n} bytes at offset ${this.offset} of ${this.buf.length})`);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  /** Java's DataInput.readUTF: 2-byte length, modified UTF-8 (plain UTF-8 for the aliases and types met in practice). */
  utf(): string {
    return this.bytes(this.u16()).toString('utf8');
  }
}

/** The JKS integrity digest: SHA-1 over the password (UTF-16BE), "Mighty Aphrodite" and `data`. */
export function jksDigest(password: string, data: Buffer): Buffer {
  const pw = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2);
  return createHash('sha1').update(pw).update(DIGEST_WHITENER).update(data).digest();
}

/** Whether the bytes are a JKS key store (by its magic number). */
export const isJks = (data: Buffer): boolean => data.length >= 4 && data.readUInt32BE(0) === JKS_MAGIC;

/**
 * Parses a JKS key store. With a password the trailing digest is checked first (a wrong password or a
 * modified file is a KeystoreError); without one it is not, as Java's KeyStore.load(in, null).
 */
export function readJks(data: Buffer, password?: string): Jks {
  if (data.length < 4) throw new KeystoreError(`not a JKS key store (${data.length} bytes)`);
  const magic = data.readUInt32BE(0);
  if (magic === JCEKS_MAGIC) throw new KeystoreError('a JCEKS key store, not JKS: convert it (keytool -importkeystore -srcstoretype JCEKS -deststoretype JKS …)');
  if (magic !== JKS_MAGIC) {
    const hint = data[0] === 0x30 ? ' (it looks like PKCS12: set the store type to PKCS12)' : data.subarray(0, 11).toString('latin1') === '-----BEGIN ' ? ' (it is PEM: set the store type to PEM)' : '';
    throw new KeystoreError(`not a JKS key store: bad magic 0x${magic.toString(16).padStart(8, '0')}${hint}`);
  }
  if (data.length < 12 + 20) throw new KeystoreError('truncated or corrupted JKS key store');
  let verified = false;
  if (password !== undefined) {
    const body = data.subarray(0, data.length - 20);
    const expected = data.subarray(data.length - 20);
    if (!timingSafeEqual(jksDigest(password, body), expected)) {
      throw new KeystoreError('the JKS key store\'s integrity check failed: wrong password, or the file was modified');
    }
    verified = true;
  }
  const r = new Reader(data.subarray(0, data.length - 20));
  r.u32();
  const version = r.u32();
  if (version !== 1 && version !== 2) throw new KeystoreError(`unsupported JKS version ${version} (expected 1 or 2)`);
  const count = r.u32();
  const cert = (): Buffer => {
    if (version === 2) {
      const type = r.utf();
      if (type !== 'X.509') throw new KeystoreError(`unsupported certificate type "${type}" in the JKS key store (only X.509)`);
    }
    return Buffer.from(r.bytes(r.u32()));
  };
  const entries: JksEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u32();
    const alias = r.utf();
    r.bytes(8); // creation date
    if (tag === 1) {
      r.bytes(r.u32()); // the key, under Sun's proprietary protection
      const n = r.u32();
      const chain: Buffer[] = [];
      for (let j = 0; j < n; j++) chain.push(cert());
      entries.push({ alias, kind: 'privateKey', certificates: chain });
    } else if (tag === 2) {
      entries.push({ alias, kind: 'trustedCert', certificates: [cert()] });
    } else {
      throw new KeystoreError(`corrupted JKS key store: unknown entry tag ${tag} (entry ${i + 1} of ${count})`);
    }
  }
  if (r.offset !== data.length - 20) throw new KeystoreError('corrupted JKS key store: bytes left after the last entry');
  return { version, entries, verified };
}

/** DER certificate → PEM text; a certificate Node cannot parse is a KeystoreError naming its alias. */
export function derToPem(der: Buffer, alias = '?'): string {
  try {
    return new X509Certificate(der).toString();
  } catch (error) {
    throw new KeystoreError(`certificate "${alias}" in the key store is not a valid X.509 certificate: ${(error as Error).message}`);
  }
}

/** The trusted certificates of a JKS trust store as PEM, as Java's trust manager takes them (private key entries are not trust anchors). */
export function jksTrustedCertificates(data: Buffer, password?: string): string[] {
  const store = readJks(data, password);
  const pems = store.entries.filter((e) => e.kind === 'trustedCert').map((e) => derToPem(e.certificates[0]!, e.alias));
  if (pems.length === 0) throw new KeystoreError('the JKS trust store holds no trusted certificate entry');
  return pems;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** The PEM blocks of a text, with their labels (CERTIFICATE, PRIVATE KEY, ENCRYPTED PRIVATE KEY, …). */
export function pemBlocks(text: string): Array<{ label: string; pem: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: `${m[0]}\n` }));
}

/** The certificates of a PEM trust store; each is checked to parse. */
export function pemCertificates(text: string): string[] {
  const certs = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE');
  if (certs.length === 0) throw new KeystoreError('no "-----BEGIN CERTIFICATE-----" block in the PEM file');
  certs.forEach((c, i) => {
    try {
      new X509Certificate(c.pem);
    } catch (error) {
      throw new KeystoreError(`certificate ${i + 1} of the PEM file does not parse: ${(error as Error).message}`);
    }
  });
  return certs.map((c) => c.pem);
}

/** Kafka's PEM key store: the private key (PKCS#8, maybe encrypted) and the certificate chain in one file. */
export function pemKeyAndChain(text: string): { key: string; cert: string } {
  const blocks = pemBlocks(text);
  const keys = blocks.filter((b) => /PRIVATE KEY$/.test(b.label));
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (keys.length !== 1) throw new KeystoreError(`a PEM key store holds one private key block; found ${keys.length}`);
  if (certs.length === 0) throw new KeystoreError('a PEM key store holds the certificate chain after its key; found no certificate');
  return { key: keys[0]!.pem, cert: certs.map((c) => c.pem).join('') };
}
