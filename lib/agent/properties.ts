/**
 * Java's `Properties.load` syntax, with the line each entry came from so configuration errors can
 * say `file:line`. Handles `=`, `:` or whitespace separators, `#`/`!` comments, backslash line
 * continuations (leading whitespace of the next line dropped), `\t \n \r \f \uXXXX` escapes and a
 * backslash before any other character. Flume trims keys and values; so do we. Later duplicates win.
 */
export interface PropertyEntry {
  key: string;
  value: string;
  /** 1-based line where the logical line starts. */
  line: number;
  /** The file it came from, when several are merged. */
  file?: string;
}

export class PropertiesSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PropertiesSyntaxError';
  }
}

export function parseProperties(text: string): PropertyEntry[] {
  const natural = text.split(/\r\n|\r|\n/);
  const byKey = new Map<string, PropertyEntry>();
  for (let i = 0; i < natural.length; i++) {
    const startLine = i + 1;
    let part = stripLeading(natural[i]!);
    if (part === '' || part[0] === '#' || part[0] === '!') continue;
    // Join continuations: a line ending in an odd number of backslashes goes on. Parts are joined
    // once: each part's own trailing backslashes decide (what precedes it ends in an even number),
    // so thousands of continuation lines cost linear time.
    const parts: string[] = [];
    while (endsWithContinuation(part)) {
      parts.push(part.slice(0, -1));
      if (i + 1 >= natural.length) {
        part = '';
        break;
      }
      part = stripLeading(natural[++i]!);
    }
    parts.push(part);
    const line = parts.join('');
    const { key, value } = splitKeyValue(line, startLine);
    const entry = { key: key.trim(), value: value.trim(), line: startLine };
    byKey.delete(entry.key);
    byKey.set(entry.key, entry);
  }
  return [...byKey.values()];
}

function stripLeading(s: string): string {
  let i = 0;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\f')) i++;
  return s.slice(i);
}

function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string, lineNo: number): { key: string; value: string } {
  let i = 0;
  let keyEnd = line.length;
  let valueStart = line.length;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '=' || c === ':') {
      keyEnd = i;
      valueStart = i + 1;
      break;
    }
    if (c === ' ' || c === '\t' || c === '\f') {
      keyEnd = i;
      let j = i;
      while (j < line.length && (line[j] === ' ' || line[j] === '\t' || line[j] === '\f')) j++;
      if (line[j] === '=' || line[j] === ':') j++;
      valueStart = j;
      break;
    }
    i++;
  }
  const rawValue = stripLeading(line.slice(valueStart));
  return { key: unescape(line.slice(0, keyEnd), lineNo), value: unescape(rawValue, lineNo) };
}

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    if (next === undefined) break;
    switch (next) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesSyntaxError(lineNo, `malformed \\uxxxx escape: \\u${hex}`);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += next;
    }
  }
  return out;
}

/** Writes entries as Java's `Properties.store` would (used by tests and to echo configurations). */
export function formatProperties(entries: readonly { key: string; value: string }[]): string {
  return entries.map((e) => `${escape(e.key, true)}=${escape(e.value, false)}`).join('\n');
}

function escape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = c.charCodeAt(0);
    if (c === ' ' && (isKey || i === 0)) out += '\\ ';
    else if (c === '\\') out += '\\\\';
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\f') out += '\\f';
    else if ('=:#!'.includes(c)) out += `\\${c}`;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out;
}
