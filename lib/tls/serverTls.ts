/**
 * The TLS identity of a server component (httpSource, avroSource): PEM key and certificate files, or
 * Flume's `keystore` when it is a PKCS#12 file — what `keytool` writes by default since Java 9, whatever
 * the file is called — which Node reads natively. A JKS keystore protects its keys with Sun's own
 * algorithm; it is refused with the keytool command that converts it.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { z } from 'zod';
import { pathOption } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { isJks } from './keystore.js';
import { excludeProtocolsOption, protocolRange, protocolRangeIssues, type TlsProtocol } from './protocols.js';

export const serverTlsOptions = {
  sslKeyFile: z.string().min(1).meta(pathOption('readFile')).optional().describe('PEM private key file (with ssl; or keystore).'),
  sslCertFile: z.string().min(1).meta(pathOption('readFile')).optional().describe('PEM certificate (chain) file (with ssl; or keystore).'),
  keystore: z.string().min(1).meta(pathOption('readFile')).optional().describe("Flume's keystore (with ssl): a PKCS#12 file holding the key and certificate chain; JKS files must be converted."),
  keystorePassword: z.string().optional().describe('Password of the keystore.'),
  keystoreType: z
    .string()
    .optional()
    .describe('JKS (Flume default; the file is read as PKCS#12 when it is one, as Java does) or PKCS12.'),
  ...excludeProtocolsOption,
};

interface ServerTlsValues {
  ssl: boolean;
  sslKeyFile?: string | undefined;
  sslCertFile?: string | undefined;
  keystore?: string | undefined;
  keystorePassword?: string | undefined;
  keystoreType?: string | undefined;
  excludeProtocols: readonly TlsProtocol[];
}

/** Schema issues of the TLS identity options (only when ssl is on: Flume ignores keystore keys otherwise). */
export function serverTlsIssues(v: ServerTlsValues): { path: string[]; message: string; input: unknown }[] {
  if (!v.ssl) return [];
  const issues = protocolRangeIssues(v);
  if (v.keystoreType !== undefined && !/^(jks|pkcs12)$/i.test(v.keystoreType.trim()))
    issues.push({ path: ['keystoreType'], message: 'JKS or PKCS12', input: v.keystoreType });
  if (v.keystore !== undefined) {
    for (const key of ['sslKeyFile', 'sslCertFile'] as const)
      if (v[key] !== undefined) issues.push({ path: [key], message: 'unset when keystore is given (one identity)', input: v[key] });
    return issues;
  }
  for (const key of ['sslKeyFile', 'sslCertFile'] as const)
    if (v[key] === undefined) issues.push({ path: [key], message: 'a PEM file path when ssl is true (or give keystore)', input: v[key] });
  return issues;
}

/**
 * The TLS settings of a server with `ssl` on, read when the component is built (a bad file or password
 * is a configuration error then, naming the option, not a failure once the source runs): the options for
 * `tls.createServer`/`https.createServer`, and the context they make (for sockets wrapped by hand).
 * Throws ConfigError.
 */
export function serverSecureContext(v: ServerTlsValues, component: string): { options: SecureContextOptions; context: SecureContext } {
  const option = v.keystore !== undefined ? 'keystore' : 'sslKeyFile';
  const fail = (path: string, expected: string, received: string): never => {
    throw new ConfigError([{ path: `${component}.${path}`, expected, received }], { component });
  };
  let identity: ReturnType<typeof serverCredentials> | undefined;
  try {
    identity = serverCredentials(v);
  } catch (error) {
    fail(option, 'a readable PKCS#12 keystore, or PEM key and certificate files', (error as Error).message);
  }
  const range = protocolRange(v.excludeProtocols)!;
  const options: SecureContextOptions = { ...identity!, minVersion: range[0], maxVersion: range[1] };
  try {
    return { options, context: createSecureContext(options) };
  } catch (error) {
    // Node says "mac verify failure" for a wrong PKCS#12 password, "bad decrypt" for an encrypted PEM key.
    const password = v.keystore !== undefined && /mac verify|password|decrypt/i.test((error as Error).message);
    const expected = password ? "the keystore's password" : v.keystore !== undefined ? 'a PKCS#12 keystore holding a key and its certificate chain' : 'a PEM key and the certificate that belongs to it';
    return fail(password ? 'keystorePassword' : option, expected, (error as Error).message);
  }
}

/** Reads the identity files; throws an Error saying which file and what is wrong. */
export function serverCredentials(v: ServerTlsValues): { key: Buffer; cert: Buffer } | { pfx: Buffer; passphrase?: string } {
  if (v.keystore !== undefined) {
    let pfx: Buffer;
    try {
      pfx = readFileSync(v.keystore);
    } catch (error) {
      throw new Error(`cannot read keystore ${v.keystore}: ${(error as Error).message}`);
    }
    if (isJks(pfx)) {
      throw new Error(
        `keystore ${v.keystore} is a JKS file, which rxflume cannot read; convert it to PKCS#12: ` +
          `keytool -importkeystore -srckeystore ${v.keystore} -destkeystore ${v.keystore}.p12 -deststoretype PKCS12`,
      );
    }
    return v.keystorePassword !== undefined ? { pfx, passphrase: v.keystorePassword } : { pfx };
  }
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(error as Error).message}`);
    }
  };
  return { key: read(v.sslKeyFile!, 'key'), cert: read(v.sslCertFile!, 'certificate') };
}
