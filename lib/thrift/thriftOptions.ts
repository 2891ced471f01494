/**
 * The options the Thrift source and sink share, declared once: the protocol, and Flume's Kerberos
 * and cipher-suite keys, which rxflume names as unsupported instead of ignoring.
 */
import { z } from 'zod';
import type { FlumeKeyMapping } from '../core/config.js';

export const thriftProtocolOption = {
  protocol: z
    .enum(['compact', 'binary'])
    .default('compact')
    .describe("Thrift protocol, the same at both ends: 'compact' (Flume's default) or 'binary' (Flume protocol)."),
};

const KERBEROS = 'Kerberos (SASL GSSAPI) is not supported by rxflume: leave it unset, or use TLS (ssl)';
const CIPHERS = 'choosing TLS versions and cipher suites by Java name is not supported: use excludeProtocols (Node picks secure suites)';

/** Flume's Kerberos keys (`principals`: the sink's client- and server-principal, or the source's agent-principal) and its TLS include/exclude lists. */
export function unsupportedSecurityOptions<K extends string>(principals: readonly K[]) {
  const principal = Object.fromEntries(principals.map((p) => [p, z.string().optional().describe(`Not supported (${KERBEROS}).`)]));
  return {
    kerberos: z.boolean().default(false).describe(`Flume's Kerberos switch: only false (${KERBEROS}).`),
    ...principal,
    includeProtocols: z.string().optional().describe(`Not supported (${CIPHERS}).`),
    includeCipherSuites: z.string().optional().describe(`Not supported (${CIPHERS}).`),
    excludeCipherSuites: z.string().optional().describe(`Not supported (${CIPHERS}).`),
  } as {
    kerberos: z.ZodDefault<z.ZodBoolean>;
    includeProtocols: z.ZodOptional<z.ZodString>;
    includeCipherSuites: z.ZodOptional<z.ZodString>;
    excludeCipherSuites: z.ZodOptional<z.ZodString>;
  } & Record<K, z.ZodOptional<z.ZodString>>;
}

type Issue = { code: 'custom'; path: string[]; message: string; input: unknown };

/** The issues of those options: kerberos true, or any principal, keytab or list set. */
export function unsupportedSecurityIssues(v: Record<string, unknown>, principals: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  if (v['kerberos'] === true) issues.push({ code: 'custom', path: ['kerberos'], message: KERBEROS, input: true });
  for (const key of principals) if (v[key] !== undefined) issues.push({ code: 'custom', path: [key], message: KERBEROS, input: v[key] });
  for (const key of ['includeProtocols', 'includeCipherSuites', 'excludeCipherSuites'])
    if (v[key] !== undefined && String(v[key]).trim() !== '') issues.push({ code: 'custom', path: [key], message: CIPHERS, input: v[key] });
  return issues;
}

const bool = (option: string) => ({ option, convert: (v: string) => v.trim().toLowerCase() === 'true' });

/** Flume's keys for them (and `protocol`, whose value is read ignoring case). */
export function thriftFlumeKeys(principals: Readonly<Record<string, string>>): Readonly<Record<string, FlumeKeyMapping>> {
  return {
    protocol: { option: 'protocol', convert: (v) => v.trim().toLowerCase() },
    kerberos: bool('kerberos'),
    ...principals,
    'include-protocols': 'includeProtocols',
    'include-cipher-suites': 'includeCipherSuites',
    'exclude-cipher-suites': 'excludeCipherSuites',
  };
}
