import { z } from 'zod';
import { closest, component, describeValue, parseOptions, type Component, type ComponentSpec } from '../../lib/core/config.js';
import { ConfigError, type ConfigIssue } from '../../lib/core/errors.js';
import type { FlumeEvent } from '../../lib/core/event.js';

/**
 * The mechanism the channel selectors share (Flume's `ChannelSelector`): for each event, the
 * channels that must store it (required) and those written best-effort (optional). `fanOut` applies
 * a selector to a source; `replicating` and `multiplexing` build one.
 */

/** A channel named by its position in the fan-out's channel list, or by its name. */
export type ChannelRef = string | number;

export const channelRef = z.union([z.string().min(1), z.number().int().min(0)]);

/** A list of channels: an array of refs, or Flume's whitespace-separated names (`"c1 c2"`). */
export const channelList = z
  .union([z.string(), z.array(channelRef)])
  .transform((value): ChannelRef[] => (typeof value === 'string' ? splitNames(value) : value));

export function splitNames(value: string): string[] {
  return value.split(/\s+/).filter((s) => s.length > 0);
}

/** Where one event goes, as channel positions. A channel never appears in both lists. */
export interface Route {
  readonly required: readonly number[];
  readonly optional: readonly number[];
}

/** A selector resolved against the fan-out's channels. */
export interface BoundSelector {
  /** Set when every event takes the same route (replicating): the fan-out then skips the per-event lookup. */
  readonly constant?: Route;
  route(event: FlumeEvent): Route;
}

/** What `replicating(...)`, `multiplexing(...)` and `loadBalancing(...)` return: a routing rule, resolved by `fanOut` against its channels. */
export interface ChannelSelector {
  readonly type: 'replicating' | 'multiplexing' | 'load_balancing';
  /**
   * Resolves the channel refs against the channels by position (`names[i]` is channel i's name, or
   * undefined when it has none). Throws `ConfigError` naming every unknown ref.
   */
  bind(names: readonly (string | undefined)[]): BoundSelector;
}

/**
 * A selector component from its spec and its binding: the factory validates its options when called
 * (a `ConfigError` before anything runs); `bind` resolves them against the fan-out's channels.
 */
export function selector<S extends z.ZodType>(
  spec: ComponentSpec<S>,
  type: ChannelSelector['type'],
  bind: (options: z.output<S>, names: readonly (string | undefined)[]) => BoundSelector,
): Component<(options?: z.input<S>) => ChannelSelector, S> {
  return component(spec, (options?: z.input<S>): ChannelSelector => {
    const opts = parseOptions(spec, options);
    return { type, bind: (names) => bind(opts, names) };
  });
}

/** Resolves refs to positions, in order, without duplicates; pushes an issue per bad ref. */
export function resolveRefs(
  path: string,
  refs: readonly ChannelRef[],
  names: readonly (string | undefined)[],
  issues: ConfigIssue[],
): number[] {
  const out: number[] = [];
  const known = names.filter((n): n is string => n !== undefined);
  refs.forEach((ref, k) => {
    let index = -1;
    if (typeof ref === 'number') {
      if (ref < names.length) index = ref;
    } else {
      const first = names.indexOf(ref);
      if (first >= 0 && names.indexOf(ref, first + 1) >= 0) {
        issues.push({ path: `${path}.${k}`, expected: `a channel name that is unique (${ref} names several channels; use its index)`, received: describeValue(ref) });
        return;
      }
      index = first;
    }
    if (index < 0) {
      const suggestion = typeof ref === 'string' ? closest(ref, known) : undefined;
      issues.push({
        path: `${path}.${k}`,
        expected: known.length ? `one of the channels ${known.join(', ')}` : `a channel index < ${names.length}`,
        received: describeValue(ref),
        ...(suggestion ? { suggestion } : {}),
      });
      return;
    }
    if (!out.includes(index)) out.push(index);
  });
  return out;
}

/** A route with optional channels that are also required removed (Flume: required wins). */
export function makeRoute(required: readonly number[], optional: readonly number[]): Route {
  return { required, optional: optional.filter((i) => !required.includes(i)) };
}

export function throwIfIssues(component: string, issues: readonly ConfigIssue[]): void {
  if (issues.length > 0) throw new ConfigError(issues, { component });
}
