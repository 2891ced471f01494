/**
 * Secrets never leave in a message. A configuration's secrets are the values of keys that name one
 * (`keystorePassword`, `ssl.truststore.password`, `sasl.jaas.config`, anything with password, secret,
 * token or credential in its name), the passwords inside a JAAS entry and the password of a URI's
 * user info. Diagnostics show such values as `***`; whatever text leaves the agent (diagnostics, log
 * lines, /metrics) is passed through a `SecretScrubber` that also knows the literal values, so an
 * error message that quotes a token of a broken value cannot leak it either.
 */
export const REDACTED = '***';

const SECRET_KEY = /passw(or)?d|passphrase|secret|token|credential|jaas|api[-_.]?key|private[-_.]?key/i;

/** True for a key (or option path) whose value is a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

// key="value" / key=value inside a value (JAAS options), JSON "key": "value", and URI user info.
const QUOTED_ASSIGNMENT = /\b([\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*)(\s*[=:]\s*)(\\?")((?:\\.|[^"\\])*)(\\?")/gi;
const BARE_ASSIGNMENT = /\b([\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*)(\s*=\s*)(?!\\?")([^\s;,'"]+)/gi;
const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):([^\s/@]*)@/gi;

/** Masks the secrets a text shows by their shape (JAAS `password="…"`, `https://user:pass@host`). */
export function redactText(text: string): string {
  return text
    .replace(QUOTED_ASSIGNMENT, (_m, key: string, eq: string, open: string, _v: string, close: string) => `${key}${eq}${open}${REDACTED}${close}`)
    .replace(BARE_ASSIGNMENT, (_m, key: string, eq: string) => `${key}${eq}${REDACTED}`)
    .replace(URI_USERINFO, (_m, head: string) => `${head}:${REDACTED}@`);
}

/** A value as a message may show it: masked whole when its key names a secret, else with its embedded secrets masked. */
export function displayValue(key: string, value: string): string {
  return isSecretKey(key) ? REDACTED : redactText(value);
}

/** The literal secrets in one key's value: the whole value of a secret key, and passwords embedded in any value. */
export function secretsIn(key: string, value: string): string[] {
  const out: string[] = [];
  if (isSecretKey(key)) out.push(value);
  for (const m of value.matchAll(QUOTED_ASSIGNMENT)) out.push(m[4]!);
  for (const m of value.matchAll(BARE_ASSIGNMENT)) out.push(m[3]!);
  for (const m of value.matchAll(URI_USERINFO)) out.push(m[2]!);
  return out;
}

/** Shorter values would mask ordinary words everywhere; they are still masked by key and by shape. */
const MIN_LITERAL = 4;

/** Removes known secret values, and secrets recognised by shape, from any text about to leave the process. */
export class SecretScrubber {
  private readonly literals = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(secrets: Iterable<string> = []) {
    this.add(secrets);
  }

  add(secrets: Iterable<string>): void {
    let grew = false;
    for (const s of secrets) {
      const trimmed = s.trim();
      for (const v of new Set([s, trimmed, JSON.stringify(trimmed).slice(1, -1)])) {
        if (v.length >= MIN_LITERAL && !this.literals.has(v)) {
          this.literals.add(v);
          grew = true;
        }
      }
    }
    if (grew) {
      // Longest first, so a secret containing another is masked whole.
      const alternatives = [...this.literals].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alternatives.join('|'), 'g');
    }
  }

  scrub(text: string): string {
    const masked = this.pattern ? text.replace(this.pattern, REDACTED) : text;
    return redactText(masked);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
