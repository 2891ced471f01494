import { z } from 'zod';
import { closest, schemaAt, unwrap, type ComponentSpec } from '../core/config.js';
import { displayValue } from '../core/secrets.js';
import type { Located } from './flumeConfig.js';

export interface Mapped {
  options: Record<string, unknown>;
  /** Option name (and a nested option's dotted path) → where its value came from. */
  locations: Map<string, Located>;
  problems: { at: Located; message: string; severity?: 'error' | 'warning' }[];
}

/** Maps a component's Flume properties onto its options, coercing strings by the schema's types. */
export function mapOptions(spec: ComponentSpec, props: Map<string, Located>, structural: Set<string>): Mapped {
  const options: Record<string, unknown> = {};
  const locations = new Map<string, Located>();
  const problems: Mapped['problems'] = [];
  const shape = (unwrap(spec.schema) as z.ZodObject | undefined)?.shape ?? {};
  const optionNames = Object.keys(shape).filter((k) => k !== 'name');
  const remaining = new Map<string, string>();
  for (const [k, at] of props) if (!structural.has(k)) remaining.set(k, at.value);

  if (spec.fromFlume) {
    const { options: special, consumed, problems: found = [] } = spec.fromFlume(remaining);
    for (const p of found) {
      const at = props.get(p.key) ?? props.values().next().value;
      if (at) problems.push({ at, message: `\`${p.key}\` = ${JSON.stringify(displayValue(p.key, at.value))}: ${p.message}`, severity: p.severity ?? 'error' });
    }
    for (const [k, v] of Object.entries(special)) {
      options[k] = v;
      const at = props.get(consumed[0] ?? k);
      if (at) locations.set(k, at);
    }
    for (const k of consumed) remaining.delete(k);
  }

  for (const [key] of remaining) {
    const at = props.get(key)!;
    const mapping = spec.flumeKeys?.[key];
    let option: string;
    let value: unknown = at.value;
    let path: string[];
    if (mapping !== undefined) {
      option = typeof mapping === 'string' ? mapping : mapping.option;
      path = option.split('.');
      if (typeof mapping !== 'string') value = mapping.convert(at.value);
      else value = coerce(schemaAt(spec.schema, path), at.value);
    } else {
      path = key.split('.');
      option = path[0]!;
      if (!(option in shape) || option === 'name') {
        const known = [...new Set([...Object.keys(spec.flumeKeys ?? {}), ...optionNames])];
        const suggestion = closest(key, known);
        problems.push({
          at,
          message: `unknown property \`${key}\` for ${spec.name}${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}; ${known.length ? `known: ${known.join(', ')}` : 'it takes none'}`,
        });
        continue;
      }
      value = coerce(schemaAt(spec.schema, path), at.value);
    }
    setPath(options, path, value);
    locations.set(path[0]!, at);
    if (path.length > 1) locations.set(path.join('.'), at);
  }
  return { options, locations, problems };
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at = target;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1]!] = value;
}

/** A property string as the option's type wants it; left as a string when it cannot be, so the schema reports it. */
export function coerce(schema: z.ZodType | undefined, raw: string): unknown {
  if (!schema) return raw;
  if (schema instanceof z.ZodNumber) return numeric(raw);
  if (schema instanceof z.ZodBoolean) {
    const v = raw.toLowerCase();
    return v === 'true' ? true : v === 'false' ? false : raw;
  }
  if (schema instanceof z.ZodEnum) {
    const match = (schema.options as string[]).find((o) => o.toLowerCase() === raw.toLowerCase());
    return match ?? raw;
  }
  if (schema instanceof z.ZodArray) return raw.split(/[\s,]+/).filter(Boolean).map((v) => coerce(unwrap(schema.element as z.ZodType), v));
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as z.ZodType[]) {
      const c = coerce(unwrap(option), raw);
      if (option.safeParse(c).success) return c;
    }
  }
  return raw;
}

function numeric(raw: string): unknown {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) return Number(raw);
  if (raw.trim() === 'Infinity') return Infinity;
  return raw;
}
