import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors.js';
import { event } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { regexExtractorInterceptor } from '../../../operators/interceptors/regexExtractorInterceptor.js';
import { events, run, through, tracked } from './support.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('no ConfigError');
}

describe('regexExtractorInterceptor', () => {
  it("runs Flume's user-guide example", () => {
    const three = regexExtractorInterceptor({ regex: '(\\d):(\\d):(\\d)', serializers: [{ name: 'one' }, { name: 'two' }, { name: 'three' }] });
    expect(through(three, events('1:2:3.4foobar5'))[0]!.headers).toEqual({ one: '1', two: '2', three: '3' });
    const two = regexExtractorInterceptor({ regex: '(\\d):(\\d):(\\d)', serializers: [{ name: 'one' }, { name: 'two' }] });
    expect(through(two, events('1:2:3.4foobar5'))[0]!.headers).toEqual({ one: '1', two: '2' });
  });

  it('removes the header of a group that did not take part (Java null, which Flume stores in its place)', () => {
    const op = regexExtractorInterceptor({ regex: '(\\w+)(?:=(\\d+))?', serializers: [{ name: 'key' }, { name: 'value' }] });
    const [withValue, without] = through(op, [event('a=1'), event('b', { value: 'earlier' })]);
    expect(withValue!.headers).toEqual({ key: 'a', value: '1' });
    expect(without!.headers).toEqual({ key: 'b' });
  });

  it('numbers groups as Java does around atomic groups and possessive quantifiers', () => {
    const op = regexExtractorInterceptor({ regex: '(?>(\\p{L}+))\\s++(\\d++)', serializers: [{ name: 'word' }, { name: 'n' }] });
    expect(through(op, events('prix été  42'))[0]!.headers).toEqual({ word: 'été', n: '42' });
  });

  it('parses dates to epoch ms with the millis serializer', () => {
    const op = regexExtractorInterceptor({
      regex: '^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d)\\S* (\\w+)',
      serializers: [{ name: 'timestamp', type: 'millis', pattern: 'yyyy-MM-dd HH:mm' }, { name: 'level' }],
    });
    const [e] = through(op, events('2012-10-17 14:34:44 ERROR disk full'));
    expect(e!.headers).toEqual({ timestamp: String(new Date(2012, 9, 17, 14, 34).getTime()), level: 'ERROR' });
  });

  it("accepts Flume's serializer class names as types", () => {
    const op = regexExtractorInterceptor({
      regex: '(\\S+) (\\S+)',
      serializers: [
        { name: 't', type: 'org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer', pattern: "yyyy-MM-dd'T'HH:mm:ssZZ" },
        { name: 'v', type: 'DEFAULT' },
      ],
    });
    expect(through(op, events('2024-02-29T12:00:00+01:00 x'))[0]!.headers).toEqual({ t: String(Date.UTC(2024, 1, 29, 11)), v: 'x' });
  });

  it('leaves events without a match, and groups that did not take part, untouched', () => {
    const op = regexExtractorInterceptor({ regex: 'id=(\\d+)|name=(\\w+)', serializers: [{ name: 'id' }, { name: 'name' }] });
    const { batch } = tracked([event('name=bob'), event('nothing', { id: 'kept' })]);
    const [out] = run(op, batch);
    expect(out).toBe(batch);
    expect(out!.events.map((e) => e.headers)).toEqual([{ name: 'bob' }, { id: 'kept' }]);
  });

  it('fails the batch on a date it cannot parse, as Flume does', () => {
    const op = regexExtractorInterceptor({ regex: '^(\\S+)', serializers: [{ name: 'ts', type: 'millis', pattern: 'yyyy-MM-dd' }] });
    const { batch, log } = tracked(events('2024-01-01', '2024-02-30'));
    expect(run(op, batch)).toEqual([]);
    expect(log.nacks).toBe(1);
    expect(log.errors[0]).toMatchObject({ code: 'FLUME_INTERCEPTOR_FAILED', retriable: false, component: 'regexExtractorInterceptor' });
    expect(log.errors[0]!.message).toBe(
      'regexExtractorInterceptor: header "ts": cannot parse "2024-02-30" with pattern "yyyy-MM-dd": day 30 is not in 1–29',
    );
    expect(metricsOf(op)!.snapshot()).toMatchObject({ EventFailedCount: 2 });
  });

  it('rejects bad options, naming each', () => {
    expect(configError(() => regexExtractorInterceptor({} as never)).issues.map((i) => i.path)).toEqual([
      'regexExtractorInterceptor.regex',
      'regexExtractorInterceptor.serializers',
    ]);
    expect(configError(() => regexExtractorInterceptor({ regex: '(a', serializers: [] })).issues.map((i) => i.path)).toEqual([
      'regexExtractorInterceptor.regex',
      'regexExtractorInterceptor.serializers',
    ]);
    const bad = configError(() =>
      regexExtractorInterceptor({
        regex: '(a)(b)(c)',
        serializers: [{ name: 'a', type: 'millis' }, { name: 'b', type: 'millis', pattern: 'yy-MM hh' }, { name: 'c', type: 'json' }],
      }),
    );
    expect(bad.issues.map((i) => i.path)).toEqual([
      'regexExtractorInterceptor.serializers.0.pattern',
      'regexExtractorInterceptor.serializers.1.pattern',
      'regexExtractorInterceptor.serializers.2.type',
    ]);
    expect(bad.message).toContain("unsupported pattern letters 'yy' (two-digit years)");
  });
});
