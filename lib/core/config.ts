import type { Stats } from 'node:fs';
import path from 'node:path';

// Loaded when first needed (a path check), not with the module: importing 'node:fs' as ES module builds its
// whole namespace, fs/promises and its streams included, which `import 'rxflume'` would pay for (issue #15).
const fs = () => process.getBuiltinModule('node:fs');
const os = () => process.getBuiltinModule('node:os');
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { isSecretKey, REDACTED } from './secrets.js';

/** `router`: what applies a selector to a source (fanOut, Flume's ChannelProcessor); configured through its selector. */
export type ComponentKind = 'source' | 'channel' | 'sink' | 'interceptor' | 'selector' | 'sinkProcessor' | 'router';

/** How one Flume property key becomes an option: a plain rename, or a rename with a conversion. */
export type FlumeKeyMapping = string | { option: string; convert: (value: string) => unknown };

/**
 * What a component says about itself, once: its options schema (validation, types and docs in one),
 * the Flume type names it answers to, and how Flume's property keys map onto its options, so the
 * agent needs no table of its own.
 */
export interface ComponentSpec<S extends z.ZodType = z.ZodType> {
  /** The exported factory's name, e.g. `memoryChannel`. */
  name: string;
  kind: ComponentKind;
  /** One line for the README's component table. */
  summary: string;
  /** Flume's short type names and class names, matched case-insensitively by the agent. */
  flumeTypes: readonly string[];
  schema: S;
  /** Flume property keys whose name or unit differs from the option (`keep-alive` → `keepAliveMs`). */
  flumeKeys?: Readonly<Record<string, FlumeKeyMapping>>;
  /**
   * For Flume properties no key mapping can express (lists of named sub-components such as the regex
   * extractor's `serializers = s1 s2` + `serializers.s1.name`): returns the options they make and
   * the property keys it consumed; the agent maps the remaining keys as usual.
   */
  fromFlume?: (props: ReadonlyMap<string, string>) => FlumeMapped;
  /**
   * A sink that writes the batches it holds together, in one request (hdfs, whose every request pays a
   * fixed latency): the events it wants in hand at once. The agent lets its channel hand it that many
   * (at most the channel's capacity), unless the configuration sets the channel's `maxInFlight`.
   */
  takesAhead?: number;
  /**
   * Flume 1.11 compares batch size with transaction capacity only where its class implements
   * BatchSizeSupported (a source or sink: this one's `batchSize`) and the channel's implements
   * TransactionCapacitySupported (a channel: its `transactionCapacity`) — defaults included — and drops
   * the source or sink whose batch is larger. True where Flume's class implements it; the agent then
   * refuses such a configuration.
   */
  flumeChecksBatchSize?: boolean;
}

/** A problem a `fromFlume` found at a key: an error unless `severity` says 'warning' (the configuration still runs). */
export interface FlumeProblem {
  key: string;
  message: string;
  severity?: 'error' | 'warning';
}

/** What a component's `fromFlume` made of its properties; `problems` are reported at their keys' lines. */
export interface FlumeMapped {
  options: Record<string, unknown>;
  consumed: readonly string[];
  problems?: readonly FlumeProblem[];
}

/** Runs several `fromFlume` mappings over the same properties, each seeing only what the earlier ones left. */
export function combineFromFlume(props: ReadonlyMap<string, string>, ...steps: Array<(props: ReadonlyMap<string, string>) => FlumeMapped>): FlumeMapped {
  const options: Record<string, unknown> = {};
  const consumed: string[] = [];
  const problems: FlumeProblem[] = [];
  const remaining = new Map(props);
  for (const step of steps) {
    const r = step(remaining);
    Object.assign(options, r.options);
    consumed.push(...r.consumed);
    problems.push(...(r.problems ?? []));
    for (const k of r.consumed) remaining.delete(k);
  }
  return { options, consumed, problems };
}

export function defineComponent<S extends z.ZodType>(spec: ComponentSpec<S>): ComponentSpec<S> {
  return spec;
}

/** A component factory carrying its spec, so docs and the agent read the same declaration. */
export type Component<F extends (...args: never[]) => unknown, S extends z.ZodType = z.ZodType> = F & {
  readonly spec: ComponentSpec<S>;
};

export function component<F extends (...args: never[]) => unknown, S extends z.ZodType>(
  spec: ComponentSpec<S>,
  factory: F,
): Component<F, S> {
  return Object.assign(factory, { spec });
}

/**
 * Validates `input` against the component's schema. Throws `ConfigError` naming every bad option as
 * `component.option: expected …, received …`, before anything runs.
 */
export function parseOptions<S extends z.ZodType>(spec: Pick<ComponentSpec<S>, 'name' | 'schema'>, input: unknown): z.output<S> {
  const result = spec.schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(toConfigIssues(spec.name, spec.schema, input ?? {}, result.error.issues), { component: spec.name });
}

export function toConfigIssues(
  prefix: string,
  schema: z.ZodType,
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [prefix, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schemaAt(schema, issue.path));
      for (const key of issue.keys) {
        const suggestion = closest(key, known);
        out.push({
          path: `${path}.${key}`,
          expected: known.length ? `a known option (${known.join(', ')})` : 'no options',
          received: isSecretKey(key) ? REDACTED : describeValue((valueAt(input, issue.path) as Record<string, unknown> | undefined)?.[key]),
          ...(suggestion ? { suggestion } : {}),
        });
      }
      continue;
    }
    const received = issue.path.some((k) => isSecretKey(String(k))) ? REDACTED : describeValue(valueAt(input, issue.path));
    out.push({ path, expected: expectedOf(issue, schemaAt(schema, issue.path)), received });
  }
  return out;
}

function expectedOf(issue: z.core.$ZodIssue, at: z.ZodType | undefined): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'integer' : issue.expected;
    case 'too_small': {
      const what = sizeNoun(issue.origin, at);
      const op = issue.inclusive === false ? '>' : '≥';
      return what === 'number' || what === 'integer' ? `${what} ${op} ${issue.minimum}` : `${what} of ${op} ${issue.minimum}`;
    }
    case 'too_big': {
      const what = sizeNoun(issue.origin, at);
      const op = issue.inclusive === false ? '<' : '≤';
      return what === 'number' || what === 'integer' ? `${what} ${op} ${issue.maximum}` : `${what} of ${op} ${issue.maximum}`;
    }
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern ? `a string matching ${issue.pattern}` : `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_union':
      return issue.message.startsWith('Invalid input') ? unionExpected(at) : issue.message;
    default:
      return issue.message;
  }
}

function sizeNoun(origin: string, at: z.ZodType | undefined): string {
  if (origin === 'number' || origin === 'int') return origin === 'int' || isInt(at) ? 'integer' : 'number';
  if (origin === 'string') return 'length';
  if (origin === 'array' || origin === 'set') return 'size';
  return origin;
}

function isInt(schema: z.ZodType | undefined): boolean {
  return schema instanceof z.ZodNumber && schema.isInt;
}

function unionExpected(at: z.ZodType | undefined): string {
  const options = at instanceof z.ZodUnion ? (at.options as z.ZodType[]) : [];
  return options.length ? options.map((o) => describeSchema(o)).join(' or ') : 'a valid value';
}

function describeSchema(schema: z.ZodType): string {
  if (schema instanceof z.ZodLiteral) return JSON.stringify(schema.value);
  if (schema instanceof z.ZodEnum) return schema.options.map((v) => JSON.stringify(v)).join(' | ');
  if (isInt(schema)) return 'integer';
  return schema.def.type;
}

/** Unwraps optional/default/nullable wrappers and walks object shapes to the schema at `path`. */
export function schemaAt(schema: z.ZodType | undefined, path: readonly PropertyKey[]): z.ZodType | undefined {
  let at = unwrap(schema);
  for (const key of path) {
    if (at instanceof z.ZodObject) at = unwrap(at.shape[String(key)] as z.ZodType | undefined);
    else if (at instanceof z.ZodRecord) at = unwrap(at.valueType as z.ZodType);
    else if (at instanceof z.ZodArray) at = unwrap(at.element as z.ZodType);
    else return undefined;
  }
  return at;
}

export function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let at = schema;
  while (at && (at instanceof z.ZodOptional || at instanceof z.ZodDefault || at instanceof z.ZodNullable || at instanceof z.ZodPrefault)) {
    at = at.def.innerType as z.ZodType;
  }
  if (at instanceof z.ZodPipe) return unwrap(at.def.in as z.ZodType);
  return at;
}

function knownKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at = input;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  try {
    const json = JSON.stringify(value);
    if (json === undefined) return String(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The known key closest to `key` by edit distance, when close enough to be a likely typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Flume time keys are seconds; options are milliseconds. */
export const secondsToMs = (value: string): number => Number(value) * 1000;

/**
 * Flume's `byteCapacity` with `byteCapacityBufferPercentage` (default 20) as body bytes: Flume counts
 * only bodies against byteCapacity × (1 − percentage/100), keeping the rest for headers. Values that are
 * not numbers are passed through unchanged, so the schema names them.
 */
export function byteCapacityFromFlume(props: ReadonlyMap<string, string>): FlumeMapped {
  const raw = props.get('byteCapacity');
  const pctRaw = props.get('byteCapacityBufferPercentage');
  const consumed = ['byteCapacity', 'byteCapacityBufferPercentage'].filter((k) => props.has(k));
  const pct = pctRaw === undefined ? 20 : Number(pctRaw.trim());
  if (!Number.isInteger(pct) || pct < 0 || pct > 99)
    return { options: {}, consumed, problems: [{ key: 'byteCapacityBufferPercentage', message: `expected an integer percentage 0–99, received ${JSON.stringify(pctRaw)}` }] };
  if (raw === undefined) return { options: {}, consumed };
  const bytes = Number(raw.trim());
  // Not a number: the schema names it.
  if (!Number.isFinite(bytes) || raw.trim() === '') return { options: { byteCapacity: raw }, consumed };
  return { options: { byteCapacity: Math.max(1, Math.floor((bytes * (100 - pct)) / 100)) }, consumed };
}

/**
 * What an option naming a path needs before anything starts, checked by `rxflume validate` and before
 * the agent starts: `readFile` an existing readable file (a key store); `readDirectory` an existing
 * readable directory; `writeDirectory` an existing directory the agent may write (a spool directory);
 * `createDirectory` a writable directory or one that can be created (channel and output directories);
 * `createFile` a writable file or one its directory lets it create (a position file);
 * `patternDirectory` a path whose last part is a file name pattern, in an existing readable directory.
 */
export type PathKind = 'readFile' | 'readDirectory' | 'writeDirectory' | 'createDirectory' | 'createFile' | 'patternDirectory';

/** Schema metadata marking a string (or string array) option as a path: `z.string().meta(pathOption('readFile'))`. */
export const pathOption = (kind: PathKind) => ({ path: kind });

/** Problems with the paths the options name, by option; empty when every marked path is usable. */
export function pathProblems(schema: z.ZodType, options: Readonly<Record<string, unknown>>, prefix = ''): { option: string; message: string }[] {
  const shape = (unwrap(schema) as z.ZodObject | undefined)?.shape ?? {};
  const out: { option: string; message: string }[] = [];
  for (const [option, field] of Object.entries(shape)) {
    const value = options[option];
    if (value === undefined) continue;
    const kind = pathKindOf(field as z.ZodType);
    if (kind === undefined) {
      // Nested options (Kafka's sslStores.truststore.location) are walked too.
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && unwrap(field as z.ZodType) instanceof z.ZodObject)
        out.push(...pathProblems(field as z.ZodType, value as Record<string, unknown>, `${prefix}${option}.`));
      continue;
    }
    // A record (taildir's file groups) names each value's key, so the problem points at its property.
    const values: [string, unknown][] = Array.isArray(value)
      ? value.map((v) => [option, v])
      : typeof value === 'object' && value !== null
        ? Object.entries(value).map(([k, v]) => [`${option}.${k}`, v])
        : [[option, value]];
    for (const [at, p] of values) {
      if (typeof p !== 'string') continue;
      const problem = kind === 'patternDirectory' ? checkPath(path.dirname(expandHome(p)), 'readDirectory') : checkPath(expandHome(p), kind);
      if (problem) out.push({ option: `${prefix}${at}`, message: `${JSON.stringify(p)}: ${problem}` });
    }
  }
  return out;
}

function pathKindOf(schema: z.ZodType): PathKind | undefined {
  for (let at: z.ZodType | undefined = schema; at; ) {
    const kind = (at.meta() as { path?: PathKind } | undefined)?.path;
    if (kind) return kind;
    const inner: z.ZodType | undefined =
      at instanceof z.ZodOptional || at instanceof z.ZodDefault || at instanceof z.ZodNullable || at instanceof z.ZodPrefault
        ? (at.def.innerType as z.ZodType)
        : at instanceof z.ZodArray
          ? (at.element as z.ZodType)
          : at instanceof z.ZodRecord
            ? (at.valueType as z.ZodType)
            : at instanceof z.ZodUnion
            ? (at.options as z.ZodType[]).find((o) => pathKindOf(o) !== undefined)
            : undefined;
    at = inner;
  }
  return undefined;
}

/** `~` and `~/…` as the user's home, as the components resolve them. */
export function expandHome(p: string): string {
  return path.resolve(p === '~' ? os().homedir() : p.startsWith('~/') ? path.join(os().homedir(), p.slice(2)) : p);
}

function checkPath(p: string, kind: PathKind): string | undefined {
  const stat = statOrUndefined(p);
  const wantsDir = kind !== 'readFile' && kind !== 'createFile';
  if (stat === undefined) {
    if (kind === 'readFile' || kind === 'readDirectory' || kind === 'writeDirectory') return `no such ${wantsDir ? 'directory' : 'file'}`;
    // Created at start: the nearest existing ancestor must be a directory we may write.
    let parent = path.dirname(p);
    while (statOrUndefined(parent) === undefined && path.dirname(parent) !== parent) parent = path.dirname(parent);
    const ps = statOrUndefined(parent);
    if (!ps?.isDirectory()) return `cannot be created: ${parent} is not a directory`;
    return access(parent, fs().constants.W_OK | fs().constants.X_OK) ? undefined : `cannot be created: ${parent} is not writable`;
  }
  if (wantsDir && !stat.isDirectory()) return 'is not a directory';
  if (!wantsDir && stat.isDirectory()) return 'is a directory, expected a file';
  const { R_OK, W_OK, X_OK } = fs().constants;
  const mode = kind === 'readFile' || kind === 'readDirectory' ? R_OK : R_OK | W_OK;
  if (!access(p, wantsDir ? mode | X_OK : mode)) return mode & W_OK ? 'is not writable' : 'is not readable';
  return undefined;
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return fs().statSync(p);
  } catch {
    return undefined;
  }
}

function access(p: string, mode: number): boolean {
  try {
    fs().accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}
