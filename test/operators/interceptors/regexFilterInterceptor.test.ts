import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, text } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { regexFilterInterceptor } from '../../../operators/interceptors/regexFilterInterceptor.js';
import { events, run, through, tracked } from './support.js';

describe('regexFilterInterceptor', () => {
  it('keeps every event with the default .*', () => {
    const evs = events('a', '', 'b');
    expect(through(regexFilterInterceptor(), evs)).toEqual(evs);
  });

  it('drops every event with .* and excludeEvents', () => {
    const { batch, log } = tracked(events('a', 'b'));
    const op = regexFilterInterceptor({ excludeEvents: true });
    expect(run(op, batch)).toEqual([]);
    expect(log.acks).toBe(1);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventDroppedCount: 2 });
  });

  it('keeps the events whose body contains a match (Java find)', () => {
    const out = through(regexFilterInterceptor({ regex: 'ERR(OR)?' }), events('an ERROR here', 'fine', 'ERR', 'err'));
    expect(out.map((e) => text(e))).toEqual(['an ERROR here', 'ERR']);
  });

  it('drops the matching events with excludeEvents, counting them', () => {
    const op = regexFilterInterceptor({ regex: '^DEBUG\\b', excludeEvents: true });
    const out = through(op, events('DEBUG x', 'INFO DEBUG', 'DEBUGGER'));
    expect(out.map((e) => text(e))).toEqual(['INFO DEBUG', 'DEBUGGER']);
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventReceivedCount: 3, EventDroppedCount: 1 });
  });

  it('runs Java-only syntax with Java meaning: possessive, atomic, ASCII \\w, Unicode \\b, scoped flags', () => {
    const keep = (regex: string, ...bodies: string[]): string[] => through(regexFilterInterceptor({ regex }), events(...bodies)).map((e) => text(e));
    expect(keep('^[a-z]*+z', 'abcz', 'zz')).toEqual([]);
    expect(keep('(?>ab|a)c', 'abc', 'ac')).toEqual(['abc', 'ac']);
    expect(keep('^\\w+$', 'naive', 'naïve')).toEqual(['naive']);
    expect(keep('\\bété\\b', 'un été chaud', 'unété')).toEqual(['un été chaud']);
    expect(keep('(?i)error', 'ERROR', 'Error')).toEqual(['ERROR', 'Error']);
    expect(keep('(?i)école', 'ÉCOLE', 'éCOLE')).toEqual(['éCOLE']);
  });

  it("reads Java's $ as matching before a final newline", () => {
    expect(through(regexFilterInterceptor({ regex: 'done$' }), [event('job done\n')])).toHaveLength(1);
  });

  it('rejects an invalid or Java-only regex, naming the option', () => {
    expect(() => regexFilterInterceptor({ regex: 'a**' })).toThrow(ConfigError);
    expect(() => regexFilterInterceptor({ regex: 'a**' })).toThrow(/^regexFilterInterceptor\.regex: expected a Java regular expression rxflume can run \(dangling meta character '\*' at index 2\), received "a\*\*"/);
    expect(() => regexFilterInterceptor({ regex: 'x\\p{InGreek}' })).toThrow(/regexFilterInterceptor\.regex: .*Unicode blocks \(\\p\{InGreek\}\) cannot be expressed in JavaScript at index 1\), received "x/);
    expect(regexFilterInterceptor.spec.flumeTypes).toContain('regex_filter');
  });
});
