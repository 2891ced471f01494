import type { SecureVersion } from 'node:tls';
import { z } from 'zod';

/** Flume's `exclude-protocols` values. */
export const TLS_PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsProtocol = (typeof TLS_PROTOCOLS)[number];

/** [min, max] TLS versions left after the exclusions, or undefined when not a contiguous range. */
export function protocolRange(excluded: readonly TlsProtocol[]): [SecureVersion, SecureVersion] | undefined {
  const names: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  const allowed = names.map((p) => !excluded.includes(p));
  const first = allowed.indexOf(true);
  const last = allowed.lastIndexOf(true);
  if (first < 0 || allowed.slice(first, last + 1).includes(false)) return undefined;
  return [names[first]!, names[last]!];
}

/** Flume's `exclude-protocols` as an option, for TLS servers and clients alike. */
export const excludeProtocolsOption = {
  excludeProtocols: z
    .array(z.enum(TLS_PROTOCOLS))
    .default(['SSLv3'])
    .describe('TLS protocol versions refused (Flume exclude-protocols); the rest must be a contiguous range.'),
};

/** The schema issue of `excludeProtocolsOption` when TLS is on and no contiguous range is left. */
export function protocolRangeIssues(v: { ssl: boolean; excludeProtocols: readonly TlsProtocol[] }): { path: string[]; message: string; input: unknown }[] {
  if (!v.ssl || protocolRange(v.excludeProtocols) !== undefined) return [];
  return [{ path: ['excludeProtocols'], message: 'exclusions leaving a contiguous, non-empty range of TLSv1…TLSv1.3', input: v.excludeProtocols }];
}
