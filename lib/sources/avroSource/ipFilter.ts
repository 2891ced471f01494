/**
 * Flume's `ipFilterRules` for the Avro source: `allow|deny:ip|name:pattern,...` with `*` and `?`
 * wildcards; the first matching rule wins and no match allows. `name:` patterns match the reverse-DNS
 * names of the peer, and `localhost` matches loopback addresses.
 */
import { reverse } from 'node:dns/promises';
import { isIP } from 'node:net';

export const RULE = /^(allow|deny):(ip|name):(.+)$/;

export interface Rule {
  allow: boolean;
  kind: 'ip' | 'name';
  pattern: RegExp;
  localhost: boolean;
}

export function splitRules(text: string): string[] {
  return text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
}

export function parseRules(text: string): Rule[] {
  return splitRules(text).map((r) => {
    const [, verdict, kind, pattern] = RULE.exec(r)!;
    const glob = pattern!.trim();
    const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return { allow: verdict === 'allow', kind: kind as 'ip' | 'name', pattern: new RegExp(`^${source}$`, 'i'), localhost: glob.toLowerCase() === 'localhost' };
  });
}

export async function allowed(rules: readonly Rule[], remote: string): Promise<boolean> {
  const ip = remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote;
  const loopback = ip === '::1' || ip.startsWith('127.');
  let names: string[] | undefined;
  for (const rule of rules) {
    let match: boolean;
    if (rule.kind === 'ip') {
      match = rule.pattern.test(ip);
    } else if (rule.localhost && loopback) {
      match = true;
    } else {
      names ??= await reverse(ip).catch(() => [] as string[]);
      match = names.some((n) => rule.pattern.test(n));
    }
    if (match) return rule.allow;
  }
  return true;
}
