import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../lib/agent/diagnostic.js';
import type { Located } from '../../../lib/agent/flumeConfig.js';
import { registry } from '../../../lib/agent/components.js';
import { planComponent, type PlanRequest } from '../../../lib/agent/plan.js';

/** Properties at consecutive lines from 1, as `key = value` pairs. */
function props(prefix: string, ...lines: [string, string][]): Map<string, Located> {
  return new Map(lines.map(([key, value], i) => [key, { key: `${prefix}${key}`, value, line: i + 1 }]));
}
function plan(r: Omit<PlanRequest, 'line'>) {
  const out: Omit<Diagnostic, 'file'>[] = [];
  const p = planComponent(registry, (severity, at, message) => out.push({ severity, line: at.line, key: at.key, message }), { line: 99, ...r });
  return { p, diagnostics: out };
}

describe('planComponent', () => {
  it('resolves the type, maps Flume keys to options through the spec, names it, and validates', () => {
    const { p, diagnostics } = plan({ kind: 'sinkProcessor', name: 'g1', keyPrefix: 'a1.sinkgroups.g1.processor.', props: props('a1.sinkgroups.g1.processor.', ['type', 'failover'], ['maxpenalty', '5000'], ['priority.k1', '7']) });
    expect(diagnostics).toEqual([]);
    expect(p).toMatchObject({ spec: { name: 'failoverSink' }, options: { name: 'g1', maxPenaltyMs: 5000, priority: { k1: 7 } }, line: 1 });
  });

  it('takes the default type when there is no `type`, and names no `name` for a component without that option', () => {
    const { p } = plan({ kind: 'selector', name: 'r1', keyPrefix: 'a1.sources.r1.selector.', props: props('a1.sources.r1.selector.', ['optional', 'c2']), defaultType: 'replicating' });
    expect(p).toMatchObject({ spec: { name: 'replicating' }, options: { optional: 'c2' }, line: 99 });
  });

  it('reports an unknown type with a suggestion, a missing one, and an unsupported one', () => {
    const at = 'a1.sinkgroups.g1.processor.';
    expect(plan({ kind: 'sinkProcessor', name: 'g1', keyPrefix: at, props: props(at, ['type', 'failovr']) }).diagnostics).toEqual([
      { severity: 'error', line: 1, key: `${at}type`, message: 'unknown sink processor type `failovr` (did you mean `failover`?); supported: default, failover, load_balance' },
    ]);
    expect(plan({ kind: 'channel', name: 'c1', keyPrefix: 'a1.channels.c1.', props: new Map() }).diagnostics[0]).toMatchObject({ line: 99, key: 'a1.channels.c1.type', message: expect.stringMatching(/^missing `type`; expected one of memory, /) });
    expect(plan({ kind: 'sink', name: 'k1', keyPrefix: 'a1.sinks.k1.', props: props('a1.sinks.k1.', ['type', 'hbase']) }).diagnostics[0]!.message).toMatch(/^sink type `hbase` is a Flume type rxflume does not support yet/);
  });

  it('reports a bad entry of a record option at its own property', () => {
    const at = 'a1.sinkgroups.g1.processor.';
    const { diagnostics } = plan({ kind: 'sinkProcessor', name: 'g1', keyPrefix: at, props: props(at, ['type', 'failover'], ['priority.k2', 'high'], ['priority.k1', '7']) });
    expect(diagnostics).toEqual([{ severity: 'error', line: 2, key: `${at}priority.k2`, message: 'expected number, received "high"' }]);
  });
});
