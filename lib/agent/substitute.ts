/**
 * Value substitution and configuration filters, as Flume 1.11 applies them to a properties file before
 * reading components (MapResolver, then FlumeConfiguration's config filters):
 *
 * - `${NAME}` is another key of the file; with `envFallback` (Flume's
 *   `-DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties`) an environment variable
 *   when no key has that name. `${env:NAME}`, `${sys:NAME}` (the `-D` properties) always; `${X:-default}`
 *   gives a default; `$${…}` is a literal `${…}`.
 * - `<agent>.configfilters = f1` with `…configfilters.f1.type = env | external`, referenced as
 *   `${f1['key']}`, `${f1["key"]}` or `${f1[key]}` inside any value of that agent.
 *
 * Nothing is evaluated: a reference is a name looked up in a map, the environment, or the output of the
 * external filter's command, which is run without a shell with the key as its only argument.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { reporter, type Diagnostic } from './diagnostic.js';
import type { PropertyEntry } from './properties.js';

export interface SubstitutionOptions {
  /** Environment for `${env:…}`, the env filter and the fallback; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The `-Dkey=value` properties of the command line, for `${sys:…}`. */
  systemProperties?: ReadonlyMap<string, string>;
  /** Bare `${NAME}` falls back to the environment (Flume's EnvVarResolverProperties). */
  envFallback?: boolean;
  /** How long an external filter's command may take for one key; 10 000 ms by default. */
  externalTimeoutMs?: number;
}

/** Flume's property naming the legacy resolver; `-DpropertiesImplementation=<this>` turns envFallback on. */
export const ENV_VAR_RESOLVER = 'org.apache.flume.node.EnvVarResolverProperties';

/** Java charset names the external filter's `charset` may take, as Node encodings. */
const CHARSETS: Readonly<Record<string, BufferEncoding>> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'us-ascii': 'ascii',
  ascii: 'ascii',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'utf-16le': 'utf16le',
};

const EXTERNAL_TIMEOUT_MS = 10_000;
const execFileAsync = promisify(execFile);
/** Nested references resolved at most this deep (a key referring to itself stops here). */
const MAX_DEPTH = 10;

interface Filter {
  name: string;
  lookup(key: string): Promise<string | undefined>;
  describe(key: string): string;
}

/**
 * Returns the entries with every value resolved, and a diagnostic for each reference that cannot be: a
 * warning for a variable (the text stays, as in Flume; a component expecting a number then names it),
 * an error for a config filter reference. The filter declarations themselves are consumed. An external
 * filter's command runs asynchronously, so a reload never blocks the running agent's event loop.
 */
export async function substitute(
  entries: readonly PropertyEntry[],
  agent: string,
  file: string,
  options: SubstitutionOptions = {},
): Promise<{ entries: PropertyEntry[]; diagnostics: Diagnostic[] }> {
  const env = options.env ?? process.env;
  const sys = options.systemProperties ?? new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const report = reporter(file, diagnostics);
  const error = (e: PropertyEntry, message: string) => report('error', e, message);

  const byKey = new Map<string, PropertyEntry>();
  for (const e of entries) byKey.set(e.key, e);

  // Config filters of this agent.
  const prefix = `${agent}.configfilters`;
  const filters = new Map<string, Filter>();
  const filterEntries = new Set(entries.filter((e) => e.key === prefix || e.key.startsWith(`${prefix}.`)));
  const declared = byKey.get(prefix)?.value.split(/\s+/).filter(Boolean) ?? [];
  for (const name of declared) {
    const prop = (p: string) => byKey.get(`${prefix}.${name}.${p}`);
    const type = prop('type');
    if (type === undefined) {
      error(byKey.get(prefix)!, `config filter \`${name}\` has no \`${prefix}.${name}.type\` (env or external)`);
      continue;
    }
    const t = type.value.trim();
    if (t === 'env' || t === 'org.apache.flume.configfilter.EnvironmentVariableConfigFilter') {
      filters.set(name, { name, lookup: async (k) => env[k], describe: (k) => `environment variable \`${k}\` is not set` });
    } else if (t === 'external' || t === 'org.apache.flume.configfilter.ExternalProcessConfigFilter') {
      const command = prop('command');
      if (command === undefined || command.value.trim() === '') {
        error(type, `config filter \`${name}\` of type external needs \`${prefix}.${name}.command\``);
        continue;
      }
      const charset = CHARSETS[(prop('charset')?.value.trim() ?? 'UTF-8').toLowerCase()];
      if (charset === undefined) {
        error(prop('charset')!, `unknown charset ${JSON.stringify(prop('charset')!.value)}; expected UTF-8, US-ASCII or ISO-8859-1`);
        continue;
      }
      const failures = new Map<string, string>();
      const cache = new Map<string, Promise<string | undefined>>();
      const timeout = options.externalTimeoutMs ?? EXTERNAL_TIMEOUT_MS;
      const run = async (k: string): Promise<string | undefined> => {
        const running = execFileAsync(command.value.trim(), [k], { timeout, encoding: 'buffer' });
        running.child.stdin?.end();
        try {
          return (await running).stdout.toString(charset).split(/\r?\n/)[0];
        } catch (e) {
          const err = e as Error & { stderr?: Buffer; code?: unknown; killed?: boolean };
          const why = typeof err.code === 'number' ? `exited with ${err.code}` : err.killed && err.code == null ? `was stopped after ${timeout} ms` : `failed: ${err.message}`;
          failures.set(k, `${why}${err.stderr?.length ? `: ${err.stderr.toString().trim().slice(0, 200)}` : ''}`);
          return undefined;
        }
      };
      filters.set(name, {
        name,
        lookup: (k) => cache.get(k) ?? cache.set(k, run(k)).get(k)!,
        describe: (k) => `command \`${command.value.trim()} ${k}\` ${failures.get(k) ?? 'printed nothing'}`,
      });
    } else if (t === 'hadoop' || t === 'org.apache.flume.configfilter.HadoopCredentialStoreConfigFilter') {
      error(type, 'the hadoop credential store config filter is not supported; use an env or external filter');
    } else {
      error(type, `unknown config filter type ${JSON.stringify(t)}; expected env or external`);
    }
  }
  for (const e of filterEntries) {
    const name = e.key.slice(prefix.length + 1).split('.')[0];
    if (e.key !== prefix && name !== undefined && !declared.includes(name))
      report('warning', e, `config filter \`${name}\` is not listed in \`${prefix}\`; ignored`);
  }

  const used = new Set<string>();
  const resolve = async (e: PropertyEntry, value: string, depth: number): Promise<string> => {
    let out = '';
    let i = 0;
    while (i < value.length) {
      const start = value.indexOf('$', i);
      if (start < 0) break;
      out += value.slice(i, start);
      if (value.startsWith('$${', start)) {
        out += '${';
        i = start + 3;
        continue;
      }
      if (!value.startsWith('${', start)) {
        out += '$';
        i = start + 1;
        continue;
      }
      const end = closing(value, start + 2);
      if (end < 0) {
        out += value.slice(start);
        i = value.length;
        break;
      }
      const ref = value.slice(start + 2, end);
      const replaced = await lookup(e, ref, depth);
      out += replaced ?? value.slice(start, end + 1);
      i = end + 1;
    }
    return out + value.slice(i);
  };

  const lookup = async (e: PropertyEntry, ref: string, depth: number): Promise<string | undefined> => {
    if (depth >= MAX_DEPTH) {
      error(e, `\${${ref}}: references nested more than ${MAX_DEPTH} deep (does a key refer to itself?)`);
      return undefined;
    }
    const filterRef = /^([A-Za-z0-9_-]+)\[(?:'([^']*)'|"([^"]*)"|([^\]'"]*))\]$/.exec(ref);
    if (filterRef) {
      const filter = filters.get(filterRef[1]!);
      const key = (filterRef[2] ?? filterRef[3] ?? filterRef[4] ?? '').trim();
      if (!filter) {
        error(e, `\${${ref}}: no config filter \`${filterRef[1]}\` in \`${prefix}\``);
        return undefined;
      }
      const v = await filter.lookup(key);
      if (v === undefined) error(e, `\${${ref}}: ${filter.describe(key)}`);
      return v;
    }
    const dflt = ref.indexOf(':-');
    const name = dflt >= 0 ? ref.slice(0, dflt) : ref;
    const fallback = dflt >= 0 ? ref.slice(dflt + 2) : undefined;
    let v: string | undefined;
    if (name.startsWith('env:')) v = env[name.slice(4)];
    else if (name.startsWith('sys:')) v = sys.get(name.slice(4));
    else {
      const other = byKey.get(name);
      if (other !== undefined) {
        used.add(name);
        v = await resolve(other, other.value, depth + 1);
      } else if (options.envFallback) v = env[name];
    }
    if (v === undefined && fallback !== undefined) v = await resolve(e, fallback, depth + 1);
    if (v === undefined) {
      const hint = name.includes(':')
        ? ''
        : options.envFallback
          ? ' (no key and no environment variable of that name)'
          : ` (no key of that name; for the environment write \${env:${name}} or start with -DpropertiesImplementation=${ENV_VAR_RESOLVER})`;
      // Left as written, as Flume's StringSubstitutor does: a Java replacement such as `${name}` is legitimate text.
      report('warning', e, `\${${ref}} is not resolved and stays as written${hint}`);
    }
    return v;
  };

  const resolved: PropertyEntry[] = [];
  for (const e of entries) {
    if (filterEntries.has(e)) continue;
    resolved.push(e.value.includes('$') ? { ...e, value: await resolve(e, e.value, 0) } : e);
  }
  // A dotless key used only as a variable (`NC_PORT = 44444`) is not a component property: drop it quietly.
  return { entries: resolved.filter((e) => e.key.includes('.') || !used.has(e.key)), diagnostics };
}

/** Index of the `}` closing a reference whose text starts at `from`, allowing `[…]` and nested `${…}`. */
function closing(value: string, from: number): number {
  let depth = 0;
  for (let i = from; i < value.length; i++) {
    const c = value[i];
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
